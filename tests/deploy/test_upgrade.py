"""The upgrade procedure of docs/upgrade.md, on PostgreSQL + Redis with two servers.

The database is put in the state an earlier release left it in (``civmil migrate core
0010_outbox_horizon``: core.0011 and later are not applied), which is what a newly installed
version finds. Then, as the document says: ``civmil migrate --check`` (every server's
``ExecStartPre``) refuses and names the missing migrations; a backup is taken; ``civmil migrate
--plan`` shows what will run; ``civmil migrate``; the check passes; two servers start and answer
``/health/ready`` 200; each is restarted in turn, and the other answers every request meanwhile
(what nginx relies on to fail over).

Runs on the PostgreSQL pass of ``make test`` (its own database and Redis db, dropped after).
"""

from __future__ import annotations

import json
import subprocess
import tarfile
import tempfile
import threading
from pathlib import Path

import pytest

from tests.deploy.services import status, wait_ready
from tests.scale.stack import CIVMIL, ROOT, Stack, free_port

pytestmark = pytest.mark.postgres

EARLIER = ("core", "0010_outbox_horizon")
#: Applied by this version, not by the earlier release the database comes from.
NEWER = "core.0011_approvals_and_windows"


def _civmil(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CIVMIL, *args], cwd=ROOT, env=stack.env, capture_output=True, text=True, timeout=180,
                          check=False)


class _Watch:
    """Asks one server's /health/ready again and again, until stopped; keeps every answer."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.answers: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.answers.append(status(self.port))
            self._stop.wait(0.05)

    def __enter__(self) -> _Watch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.answers.append(status(self.port))  # at least one answer after the restart
        self._stop.set()
        self._thread.join(timeout=10)


def test_upgrade_check_backup_migrate_and_restart_one_server_at_a_time(services: tuple[str, str]) -> None:
    database, redis_url = services
    with tempfile.TemporaryDirectory(prefix="civmil-upgrade-") as var_dir:
        stack = Stack(database, redis_url, var_dir)
        try:
            stack.run(CIVMIL, "migrate", "--no-input", "-v", "0", timeout=180)
            stack.run(CIVMIL, "collectstatic", "--no-input", "-v", "0", timeout=180)
            stack.setup_members()
            stack.run(CIVMIL, "migrate", *EARLIER, "-v", "0", timeout=180)  # the earlier release's schema

            # 1. The gate refuses, and says what is missing and what to do.
            gate = _civmil(stack, "migrate", "--check")
            assert gate.returncode == 1
            assert NEWER in gate.stderr and "not applied" in gate.stderr
            assert "civmil migrate" in gate.stderr and "Traceback" not in gate.stderr

            # 2. Backup first: it records the schema it was taken at.
            backups = Path(var_dir) / "backups"
            done = _civmil(stack, "backup", "--output", str(backups))
            assert done.returncode == 0, done.stderr
            (archive,) = backups.glob("civmil-backup-*.tar.gz")
            with tarfile.open(archive) as tar:
                manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
            assert manifest["database"]["migrations"]["core"] == EARLIER[1]

            # 3. The plan names what will run; 4. migrate; the gate passes.
            plan = _civmil(stack, "migrate", "--plan")
            assert plan.returncode == 0 and NEWER in plan.stdout
            stack.run(CIVMIL, "migrate", "--no-input", "-v", "0", timeout=180)
            assert _civmil(stack, "migrate", "--check").returncode == 0

            # 5. Servers started after answer ready.
            ports = {"web-a": free_port(), "web-b": free_port()}
            for name, port in ports.items():
                stack.serve(name, port)
                assert wait_ready(port) == 200, stack.log(name)

            # 6. One server at a time: while one restarts (gate first), the other answers every request.
            for name, other in (("web-a", "web-b"), ("web-b", "web-a")):
                with _Watch(ports[other]) as watch:
                    stack.stop(name)
                    assert status(ports[name]) == 0  # down, for real
                    assert _civmil(stack, "migrate", "--check").returncode == 0
                    stack.serve(name, ports[name])
                    assert wait_ready(ports[name]) == 200, stack.log(name)
                assert len(watch.answers) >= 2 and set(watch.answers) == {200}, watch.answers
        finally:
            stack.stop_all()

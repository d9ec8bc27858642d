"""``civmil restore --force`` over a live PostgreSQL database, as docs/backup.md shows it.

A server and a worker keep running, with their pooled connections open, while the database they
use is replaced by a backup: ``restore`` without ``--force`` refuses and says to add it; with
``--force`` the content goes back to the backup's (an entry written after it is gone, one written
before it is there), the ledger verifies, and the server answers ready and takes new writes.

Runs on the PostgreSQL pass of ``make test`` (its own database and Redis db, dropped after).
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.deploy.services import status, wait_ready
from tests.scale.stack import CIVMIL, ROOT, Stack, free_port, post_entry

pytestmark = pytest.mark.postgres


def _entry_status(port: int, token: str, entry_id: str) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/liaison-log/{entry_id}",
                                     headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_restore_with_force_over_a_live_database(services: tuple[str, str]) -> None:
    database, redis_url = services
    with tempfile.TemporaryDirectory(prefix="civmil-restore-") as var_dir:
        stack = Stack(database, redis_url, var_dir)
        try:
            stack.run(CIVMIL, "migrate", "--no-input", "-v", "0", timeout=180)
            stack.run(CIVMIL, "collectstatic", "--no-input", "-v", "0", timeout=180)
            setup = stack.setup_members()
            port = free_port()
            stack.serve("web", port)
            stack.start("worker", CIVMIL, "worker", "--tick", "1", "--poll", "0.5")
            token, org = setup["token"], setup["author_org"]
            kept = post_entry(port, token, org, "written before the backup")
            stack.run(CIVMIL, "ledger", "checkpoint")
            backups = Path(var_dir) / "backups"
            stack.run(CIVMIL, "backup", "--output", str(backups), timeout=120)
            (archive,) = backups.glob("civmil-backup-*.tar.gz")
            lost = post_entry(port, token, org, "written after the backup")

            def restore(*extra: str) -> subprocess.CompletedProcess[str]:
                return subprocess.run([CIVMIL, "restore", str(archive), *extra], cwd=ROOT, env=stack.env,
                                      capture_output=True, text=True, timeout=180, check=False)

            refused = restore()
            assert refused.returncode == 1 and "--force" in refused.stderr, refused.stderr
            assert _entry_status(port, token, lost) == 200  # nothing was touched

            done = restore("--force")
            assert done.returncode == 0, done.stdout + done.stderr
            assert "ledger intact" in done.stdout and "Restart every civmil process" in done.stdout

            # The running server (pooled connections and all) serves the restored content.
            assert wait_ready(port) == 200, stack.log("web")
            assert _entry_status(port, token, kept) == 200
            assert _entry_status(port, token, lost) == 404
            assert post_entry(port, token, org, "written after the restore")
            assert stack.procs["worker"].poll() is None, stack.log("worker")
            verified = stack.run(CIVMIL, "ledger", "verify")
            assert "intact" in verified or "verified" in verified, verified
            # The restart the command asks for.
            stack.stop("web")
            stack.serve("web", port)
            assert status(port) == 200
            listing = json.loads(urllib.request.urlopen(urllib.request.Request(
                f"http://127.0.0.1:{port}/api/v1/liaison-log", headers={"Authorization": f"Bearer {token}"}),
                timeout=10).read())
            summaries = {item["summary"] for item in listing["items"]}
            assert summaries == {"written before the backup", "written after the restore"}, summaries
        finally:
            stack.stop_all()

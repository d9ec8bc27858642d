"""``civmil migrate --check``, the gate before each server starts (docs/upgrade.md): exit 1 naming
the migrations a database lacks and the next step; exit 0 once migrated; a clear refusal, not a
traceback, when the database cannot be opened."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CIVMIL = str(Path(sys.executable).with_name("civmil"))


def _civmil(tmp_path: Path, *args: str, db: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CIVMIL_", "DJANGO_"))}
    env.update(CIVMIL_VAR_DIR=str(tmp_path / "var"), DATABASE_URL=db or f"sqlite:///{tmp_path / 'db.sqlite3'}")
    return subprocess.run([CIVMIL, *args], env=env, capture_output=True, text=True, timeout=180, check=False)


def test_check_names_what_is_missing_until_migrated(tmp_path: Path) -> None:
    assert _civmil(tmp_path, "migrate", "-v", "0").returncode == 0
    assert _civmil(tmp_path, "migrate", "--check").returncode == 0
    assert _civmil(tmp_path, "migrate", "core", "0010_outbox_horizon", "-v", "0").returncode == 0
    gate = _civmil(tmp_path, "migrate", "--check")
    assert gate.returncode == 1
    assert "core.0011_approvals_and_windows" in gate.stderr and "not applied" in gate.stderr
    assert "civmil migrate" in gate.stderr and "Traceback" not in gate.stderr
    assert _civmil(tmp_path, "migrate", "-v", "0").returncode == 0
    passed = _civmil(tmp_path, "migrate", "--check")
    assert passed.returncode == 0 and passed.stderr == ""


def test_a_database_that_cannot_be_opened_is_named_not_a_traceback(tmp_path: Path) -> None:
    gate = _civmil(tmp_path, "migrate", "--check", db=f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'db.sqlite3'}")
    assert gate.returncode == 1
    assert "Cannot use the database (DATABASE_URL)" in gate.stderr and "Traceback" not in gate.stderr


def test_an_unreachable_postgresql_is_refused_at_once_with_one_line(tmp_path: Path) -> None:
    """Not the server's pool waiting out its timeout and logging each failed attempt."""
    gate = _civmil(tmp_path, "migrate", "--check", db="postgres://civmil:s3cret@127.0.0.1:1/civmil")
    assert gate.returncode == 1
    assert "Cannot use the database (DATABASE_URL)" in gate.stderr
    assert "couldn't get a connection" not in gate.stderr and "Traceback" not in gate.stderr
    assert "s3cret" not in gate.stderr

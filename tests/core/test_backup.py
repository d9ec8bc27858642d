"""``civmil backup`` and ``civmil restore``: a round trip on SQLite keeps the ledger verifiable.

The backups run outside a test transaction (``transactional_db``), as the command does.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sqlite3
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from civmil.core import ledger
from civmil.core.management.commands import backup as backup_command
from civmil.core.models import LedgerEntry
from tests.factories import make_member, make_org


@pytest.fixture
def var_dir(settings: Any, tmp_path: Path) -> Path:
    var = tmp_path / "var"
    (var / "media" / "attachments").mkdir(parents=True)
    (var / "secret_key").write_text("the-secret\n")
    (var / "ledger_signing_key").write_text(settings.CIVMIL_LEDGER_SIGNING_KEY + "\n")
    (var / "media" / "attachments" / "photo.jpg").write_bytes(b"\xff\xd8 not really a photo")
    settings.CIVMIL_VAR_DIR = var
    settings.MEDIA_ROOT = var / "media"
    return var


def _backup(output: Path, *extra: str) -> Path:
    out = io.StringIO()
    call_command("backup", "--output", str(output), *extra, stdout=out, stderr=io.StringIO())
    archives = sorted(output.glob("*.tar.gz")) if output.is_dir() else [output]
    assert len(archives) == 1, out.getvalue()
    return archives[0]


def _civmil(*args: str, var: Path, db: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CIVMIL_VAR_DIR": str(var), "DATABASE_URL": f"sqlite:///{db}"}
    env.pop("CIVMIL_LEDGER_SIGNING_KEY", None)
    return subprocess.run([sys.executable, "-m", "django", *args], env=env, capture_output=True, text=True,
                          timeout=120, check=False)


def test_backup_restore_round_trip_keeps_the_ledger_verifiable(
        transactional_db: Any, var_dir: Path, tmp_path: Path) -> None:
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("restores into a fresh SQLite file; a PostgreSQL backup is a pg_dump archive for pg_restore")
    make_member()
    make_org()
    ledger.checkpoint()
    entries = LedgerEntry.objects.count()
    archive = _backup(tmp_path / "backups")
    assert archive.name.startswith("civmil-backup-")
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
        for name, member in manifest["members"].items():
            assert hashlib.sha256(tar.extractfile(name).read()).hexdigest() == member["sha256"]  # type: ignore[union-attr]
    assert names[0] == "manifest.json"
    assert set(manifest["members"]) == {"database/civmil.sqlite3", "var/secret_key", "var/ledger_signing_key",
                                        "media/attachments/photo.jpg"}
    assert manifest["database"]["vendor"] == "sqlite"
    assert manifest["database"]["migrations"]["core"] >= "0006_periodic_runs"
    assert {"civmil", "django"} <= set(manifest["versions"])
    # Restore into a fresh var dir and database file, in another process (as an operator would).
    fresh, db_file = tmp_path / "fresh-var", tmp_path / "fresh.sqlite3"
    done = _civmil("restore", str(archive), var=fresh, db=db_file)
    assert done.returncode == 0, done.stderr
    assert "ledger intact" in done.stdout
    assert (fresh / "secret_key").read_text() == "the-secret\n"
    assert (fresh / "media" / "attachments" / "photo.jpg").read_bytes() == b"\xff\xd8 not really a photo"
    with sqlite3.connect(db_file) as check:
        assert check.execute("SELECT count(*) FROM core_ledgerentry").fetchone() == (entries,)
    verified = _civmil("ledger", "verify", var=fresh, db=db_file)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert f"{entries} entries" in verified.stdout


def test_restore_refuses_a_non_empty_database(transactional_db: Any, var_dir: Path, tmp_path: Path) -> None:
    make_org()
    archive = _backup(tmp_path / "b.tar.gz")
    with pytest.raises(CommandError, match="--force"):
        call_command("restore", str(archive), stdout=io.StringIO(), stderr=io.StringIO())


def _tampered(archive: Path, target: Path, member: str, data: bytes) -> Path:
    with tarfile.open(archive) as src, tarfile.open(target, "w:gz") as dst:
        for info in src:
            content = src.extractfile(info).read()  # type: ignore[union-attr]
            if info.name == member:
                content = data
            info.size = len(content)
            dst.addfile(info, io.BytesIO(content))
    return target


def test_restore_refuses_an_altered_backup(transactional_db: Any, var_dir: Path, tmp_path: Path) -> None:
    make_org()
    archive = _backup(tmp_path / "b.tar.gz")
    bad = _tampered(archive, tmp_path / "bad.tar.gz", "var/secret_key", b"swapped\n")
    with pytest.raises(CommandError, match="SHA-256"):
        call_command("restore", str(bad), "--force", stdout=io.StringIO(), stderr=io.StringIO())
    assert (var_dir / "secret_key").read_text() == "the-secret\n"  # nothing restored


def test_restore_refuses_members_the_manifest_does_not_list(
        transactional_db: Any, var_dir: Path, tmp_path: Path) -> None:
    make_org()
    archive = _backup(tmp_path / "b.tar.gz")
    bad = tmp_path / "extra.tar.gz"
    with tarfile.open(archive) as src, tarfile.open(bad, "w:gz") as dst:
        for info in src:
            dst.addfile(info, src.extractfile(info))
        info = tarfile.TarInfo("../outside")
        info.size = 1
        dst.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(CommandError, match="does not list"):
        call_command("restore", str(bad), "--force", stdout=io.StringIO(), stderr=io.StringIO())
    assert not (tmp_path / "outside").exists()


def test_restore_refuses_what_is_not_a_backup(db: Any, tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a tarball")
    with pytest.raises(CommandError, match="not a civmil backup"):
        call_command("restore", str(junk), stdout=io.StringIO(), stderr=io.StringIO())


def test_backup_without_keys_and_refusing_to_overwrite(transactional_db: Any, var_dir: Path, tmp_path: Path) -> None:
    make_org()
    archive = _backup(tmp_path / "nokeys.tar.gz", "--no-keys")
    with tarfile.open(archive) as tar:
        assert not [n for n in tar.getnames() if n.startswith("var/")]
    with pytest.raises(CommandError, match="exists already"):
        _backup(archive)


def test_postgresql_without_client_tools_is_refused_clearly(monkeypatch: Any) -> None:
    monkeypatch.setattr(backup_command.shutil, "which", lambda tool: None)
    with pytest.raises(CommandError, match="pg_dump is not on PATH"):
        backup_command._pg_args("pg_dump")

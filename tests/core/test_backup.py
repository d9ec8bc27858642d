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
    archives = sorted(output.glob("civmil-backup-*")) if output.is_dir() else [output]
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
    assert names[-1] == "manifest.json"  # written last: it lists what went before it
    assert set(manifest["members"]) == {"database/civmil.sqlite3", "var/secret_key", "var/ledger_signing_key",
                                        "media/attachments/photo.jpg"}
    assert manifest["database"]["vendor"] == "sqlite"
    assert manifest["keys_included"] and manifest["media_included"]
    assert manifest["database"]["migrations"]["core"] >= "0006_periodic_runs"
    assert {"civmil", "django"} <= set(manifest["versions"])
    # Restore into a fresh var dir and database file, in another process (as an operator would).
    fresh, db_file = tmp_path / "fresh-var", tmp_path / "fresh.sqlite3"
    leftover = fresh / "civmil-restore-killed"  # what a restore killed half-way left, keys in the clear
    leftover.mkdir(parents=True)
    (leftover / "secret_key").write_text("old secret\n")
    done = _civmil("restore", str(archive), var=fresh, db=db_file)
    assert done.returncode == 0, done.stderr
    assert not leftover.exists() and not list(fresh.glob("civmil-restore-*"))
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


# ---------------------------------------------------------------------------------------------
# Encrypted to an age public key


@pytest.fixture
def age_key(tmp_path: Path) -> tuple[str, Path]:
    """A recipient (public key) and the identity file holding its private key, as age-keygen writes it."""
    import pyrage

    identity = pyrage.x25519.Identity.generate()
    key_file = tmp_path / "offhost" / "key.txt"
    key_file.parent.mkdir()
    key_file.write_text(f"# created: for the test\n# public key: {identity.to_public()}\n{identity}\n")
    return str(identity.to_public()), key_file


def _plain_members(archive_bytes: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(archive_bytes), mode="r:gz") as tar:
        return {info.name: tar.extractfile(info).read() for info in tar}  # type: ignore[union-attr]


def test_an_encrypted_backup_restores_with_its_identity_only(
        transactional_db: Any, var_dir: Path, tmp_path: Path, age_key: tuple[str, Path]) -> None:
    import pyrage
    from django.db import connection

    recipient, key_file = age_key
    make_member()
    ledger.checkpoint()
    entries = LedgerEntry.objects.count()
    archive = _backup(tmp_path / "backups", "--encrypt-to", recipient)
    assert archive.name.endswith(".tar.gz.age")
    data = archive.read_bytes()
    assert data.startswith(b"age-encryption.org/v1\n")
    with pytest.raises(tarfile.TarError):
        tarfile.open(archive).close()
    assert oct(archive.stat().st_mode & 0o777) == "0o600"
    # Any age implementation decrypts it with the private key: here pyrage, below the age CLI.
    identity = pyrage.x25519.Identity.from_str(key_file.read_text().splitlines()[-1])
    members = _plain_members(pyrage.decrypt(data, [identity]))
    manifest = json.loads(members["manifest.json"])
    assert manifest["members"]["var/secret_key"]["sha256"] == hashlib.sha256(b"the-secret\n").hexdigest()
    assert members["media/attachments/photo.jpg"] == b"\xff\xd8 not really a photo"

    # Without the identity, or with another one, restore refuses and says what to give it.
    refused = _civmil("restore", str(archive), var=tmp_path / "v0", db=tmp_path / "d0.sqlite3")
    assert refused.returncode == 1 and "--identity" in refused.stderr and "Traceback" not in refused.stderr
    other = tmp_path / "other.txt"
    other.write_text(f"{pyrage.x25519.Identity.generate()}\n")
    wrong = _civmil("restore", str(archive), "--identity", str(other), var=tmp_path / "v1", db=tmp_path / "d1.sqlite3")
    assert wrong.returncode == 1 and "cannot be decrypted with the identity" in wrong.stderr
    assert "Traceback" not in wrong.stderr
    if connection.vendor != "sqlite":
        return  # the round trip below restores into a fresh SQLite file
    fresh, db_file = tmp_path / "fresh-var", tmp_path / "fresh.sqlite3"
    done = _civmil("restore", str(archive), "--identity", str(key_file), var=fresh, db=db_file)
    assert done.returncode == 0, done.stderr
    assert "ledger intact" in done.stdout
    assert (fresh / "secret_key").read_text() == "the-secret\n"
    assert (fresh / "media" / "attachments" / "photo.jpg").read_bytes() == b"\xff\xd8 not really a photo"
    with sqlite3.connect(db_file) as check:
        assert check.execute("SELECT count(*) FROM core_ledgerentry").fetchone() == (entries,)


def test_the_age_command_decrypts_a_backup_off_host(
        transactional_db: Any, var_dir: Path, tmp_path: Path, age_key: tuple[str, Path]) -> None:
    import shutil

    age = shutil.which("age")
    if age is None:
        print("SKIPPED: the age command is not installed (apt install age)")
        pytest.skip("the age command is not installed")
    recipient, key_file = age_key
    make_org()
    archive = _backup(tmp_path / "backups", "--encrypt-to", recipient)
    done = subprocess.run([age, "-d", "-i", str(key_file), str(archive)], capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "manifest.json" in _plain_members(done.stdout)


def test_a_damaged_encrypted_backup_is_refused_before_anything_is_restored(
        transactional_db: Any, var_dir: Path, tmp_path: Path, age_key: tuple[str, Path]) -> None:
    recipient, key_file = age_key
    make_org()
    archive = _backup(tmp_path / "backups", "--encrypt-to", recipient)
    data = archive.read_bytes()
    (var_dir / "secret_key").write_text("current\n")
    for name, damaged in (("truncated", data[:-40]), ("flipped", data[:-100] + bytes([data[-100] ^ 1]) + data[-99:])):
        bad = tmp_path / f"{name}.tar.gz.age"
        bad.write_bytes(damaged)
        with pytest.raises(CommandError, match="cannot be decrypted"):
            call_command("restore", str(bad), "--force", "--identity", str(key_file),
                         stdout=io.StringIO(), stderr=io.StringIO())
    assert (var_dir / "secret_key").read_text() == "current\n"


def test_recipients_come_from_the_command_line_a_file_or_the_environment(
        transactional_db: Any, var_dir: Path, tmp_path: Path, age_key: tuple[str, Path], monkeypatch: Any) -> None:
    import pyrage

    recipient, _key = age_key
    second = pyrage.x25519.Identity.generate()
    listed = tmp_path / "recipients.txt"
    listed.write_text(f"# the mission's off-site key\n{recipient}\n\n{second.to_public()}  \n")
    make_org()
    from_file = _backup(tmp_path / "f", "--recipients-file", str(listed))
    members = _plain_members(pyrage.decrypt(from_file.read_bytes(), [second]))
    assert "manifest.json" in members
    monkeypatch.setenv("CIVMIL_BACKUP_RECIPIENTS", f"{recipient}, {second.to_public()}")
    from_env = _backup(tmp_path / "e")
    assert from_env.name.endswith(".age")
    assert "manifest.json" in _plain_members(pyrage.decrypt(from_env.read_bytes(), [second]))
    plain = _backup(tmp_path / "p", "--no-encrypt")
    assert plain.name.endswith(".tar.gz") and tarfile.is_tarfile(plain)


@pytest.mark.parametrize(("args", "message"), [
    (["--encrypt-to", "age1notakey"], "--encrypt-to: “age1notakey” is not an age public key"),
    (["--recipients-file", "{tmp}/missing.txt"], "Cannot read the recipients file"),
    (["--recipients-file", "{tmp}/empty.txt"], "lists no public key"),
    (["--recipients-file", "{tmp}/bad.txt"], "bad.txt, line 2: “ssh-rsa AAAA” is not an age public key"),
    (["--output", "{tmp}/x.tar.gz.age"], "no recipient is given"),
    (["--no-encrypt", "--encrypt-to", "age1x"], "--no-encrypt cannot be combined"),
    (["--output", "{tmp}/one.tar.gz", "--keep-daily", "3"], "give a directory as --output"),
])
def test_bad_backup_options_are_refused_clearly(
        transactional_db: Any, var_dir: Path, tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "empty.txt").write_text("# nobody yet\n")
    (tmp_path / "bad.txt").write_text("# keys\nssh-rsa AAAA\n")
    args = [arg.replace("{tmp}", str(tmp_path)) for arg in args]
    if "--output" not in args:
        args = ["--output", str(tmp_path / "out"), *args]
    with pytest.raises(CommandError, match=message.replace(".", r"\.").replace("*", r"\*")):
        call_command("backup", *args, stdout=io.StringIO(), stderr=io.StringIO())
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_an_encrypted_backup_named_as_a_plain_one_is_refused(
        transactional_db: Any, var_dir: Path, tmp_path: Path, age_key: tuple[str, Path]) -> None:
    with pytest.raises(CommandError, match=r"name the file b\.tar\.gz\.age"):
        call_command("backup", "--output", str(tmp_path / "b.tar.gz"), "--encrypt-to", age_key[0],
                     stdout=io.StringIO())


def test_a_bad_identity_file_is_refused_clearly(db: Any, var_dir: Path, tmp_path: Path) -> None:
    archive = tmp_path / "b.tar.gz.age"
    archive.write_bytes(b"age-encryption.org/v1\n")
    garbage = tmp_path / "garbage.txt"
    garbage.write_text("# a comment\nnot a key\n")
    with pytest.raises(CommandError, match=r"garbage\.txt, line 2 is not an age private key"):
        call_command("restore", str(archive), "--identity", str(garbage), stdout=io.StringIO())
    with pytest.raises(CommandError, match="Cannot read the identity file"):
        call_command("restore", str(archive), "--identity", str(tmp_path / "nope.txt"), stdout=io.StringIO())


def test_the_database_copy_never_lies_on_disk_in_plaintext(transactional_db: Any, tmp_path: Path) -> None:
    from django.db import connection

    make_org()
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    copy = backup_command.copy_database(scratch)
    with copy.open() as plain:
        head = plain.read(16)
    on_disk = list(scratch.iterdir())
    if connection.vendor == "sqlite":
        assert head.startswith(b"SQLite format 3") and on_disk == []  # copied in memory
    else:
        assert head.startswith(b"PGDMP")
        assert [p.read_bytes()[:22] for p in on_disk] == [b"age-encryption.org/v1\n"]


# ---------------------------------------------------------------------------------------------
# Run as the service user


@pytest.mark.parametrize("command", [["backup", "--output", "{tmp}/out"], ["restore", "{tmp}/b.tar.gz"],
                                     ["ledger", "rotate-key"]])
def test_root_is_told_to_run_as_the_owner_of_the_var_directory(
        db: Any, var_dir: Path, tmp_path: Path, monkeypatch: Any, command: list[str]) -> None:
    from civmil.core.backups import service_user

    if os.geteuid() == 0:
        os.chown(var_dir, 65534, 65534)  # the service user's directory, as the guide makes it
    monkeypatch.setattr(service_user.os, "geteuid", lambda: 0)
    (tmp_path / "b.tar.gz").write_bytes(b"")
    owner = service_user.pwd.getpwuid(var_dir.stat().st_uid).pw_name
    args = [arg.replace("{tmp}", str(tmp_path)) for arg in command]
    with pytest.raises(CommandError, match=f"is running as root, but CIVMIL_VAR_DIR .* belongs to {owner}") as refused:
        call_command(*args, stdout=io.StringIO(), stderr=io.StringIO())
    assert f"sudo -E -u {owner}" in str(refused.value) and f"civmil-admin {args[0]}" in str(refused.value)
    assert not (tmp_path / "out").exists()


def test_root_may_run_them_when_the_var_directory_is_roots(
        transactional_db: Any, var_dir: Path, tmp_path: Path, monkeypatch: Any) -> None:
    from civmil.core.backups import service_user

    if os.geteuid() != 0:
        pytest.skip("needs root to own the var directory")
    monkeypatch.setattr(service_user.os, "geteuid", lambda: 0)
    make_org()
    assert _backup(tmp_path / "out").is_file()


def test_an_archive_with_its_manifest_first_still_restores(
        transactional_db: Any, var_dir: Path, tmp_path: Path) -> None:
    # Archives written before the manifest moved to the end list it first: both orders are read.
    make_org()
    archive = _backup(tmp_path / "b.tar.gz")
    first = tmp_path / "manifest-first.tar.gz"
    with tarfile.open(archive) as src:
        members = [(info, src.extractfile(info).read()) for info in src]  # type: ignore[union-attr]
    with tarfile.open(first, "w:gz") as dst:
        for info, content in sorted(members, key=lambda m: m[0].name != "manifest.json"):
            dst.addfile(info, io.BytesIO(content))
    out = io.StringIO()
    call_command("restore", str(first), "--force", stdout=out, stderr=io.StringIO())
    assert "ledger intact" in out.getvalue()

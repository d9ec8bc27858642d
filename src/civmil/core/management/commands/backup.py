"""``civmil backup --output DIR_OR_FILE``: the database, the keys in var/ and the attachments in one
``.tar.gz`` with a manifest (SHA-256 and size of every member, versions); encrypted to age public
keys (``.tar.gz.age``) when recipients are given; old archives in DIR pruned by ``--keep-*``.

SQLite is copied with its online backup API into memory (the server may keep running);
PostgreSQL with ``pg_dump`` (custom format), which must be on PATH, through a scratch file
encrypted to a key held only in memory. The archive is written as a stream (encrypted as it is
written when recipients are given), so no plaintext copy of the database is left on disk. The
attachments are read through the default storage (the media directory, or an S3 bucket).
Restore with ``civmil restore FILE`` (``--identity KEY`` for an encrypted one). See docs/backup.md.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import importlib.metadata
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import pyrage
from django.conf import settings
from django.core.files.storage import Storage, storages
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from civmil.core.backups import encryption, retention
from civmil.core.backups.service_user import refuse_root

BACKUP_KIND = "civmil-backup"
BACKUP_VERSION = 1
MANIFEST = "manifest.json"
#: Files under CIVMIL_VAR_DIR that belong in a backup (those that exist).
VAR_FILES = ("secret_key", "ledger_signing_key", "ledger_trusted_keys")
DB_MEMBER = {"sqlite": "database/civmil.sqlite3", "postgresql": "database/civmil.pgdump"}
_BLOCK = 1 << 20


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _pg_args(tool: str) -> tuple[list[str], dict[str, str]]:
    """Command line and environment for ``pg_dump``/``pg_restore`` against the default database."""
    db = settings.DATABASES["default"]
    path = shutil.which(tool)
    if path is None:
        raise CommandError(_("%(tool)s is not on PATH: install the PostgreSQL client tools (the same major version "
                             "as the server) to back up or restore a PostgreSQL database.") % {"tool": tool})
    args = [path, "--no-password"]
    if db.get("HOST"):
        args += ["--host", str(db["HOST"])]
    if db.get("PORT"):
        args += ["--port", str(db["PORT"])]
    if db.get("USER"):
        args += ["--username", str(db["USER"])]
    env = dict(os.environ)
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    return args, env


class _Hashing(io.RawIOBase):
    """Reads through ``source``, counting the bytes and hashing them."""

    def __init__(self, source: Any) -> None:
        self.source = source
        self.digest = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.source.read(len(buffer))
        buffer[: len(data)] = data
        self.digest.update(data)
        self.size += len(data)
        return len(data)


@dataclass(frozen=True)
class DatabaseCopy:
    """A copy of the database, read back with :meth:`open`."""

    vendor: str
    size: int
    open: Callable[[], contextlib.AbstractContextManager[BinaryIO]]


def _sqlite_copy() -> DatabaseCopy:
    if connection.in_atomic_block:  # the copy would wait forever for its own transaction to end
        raise CommandError(_("A SQLite database cannot be backed up from inside a transaction."))
    connection.ensure_connection()
    target = sqlite3.connect(":memory:")
    try:
        connection.connection.backup(target)
        data = target.serialize()
    finally:
        target.close()
    return DatabaseCopy("sqlite", len(data), lambda: contextlib.nullcontext(io.BytesIO(data)))


def _postgresql_copy(scratch: Path) -> DatabaseCopy:
    """``pg_dump`` into ``scratch``, encrypted to a key that lives only in this process."""
    args, env = _pg_args("pg_dump")
    args += ["--format=custom", "--no-owner", str(settings.DATABASES["default"]["NAME"])]
    key = pyrage.x25519.Identity.generate()
    with tempfile.TemporaryFile() as errors, scratch.open("xb") as out:
        dump = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=errors)  # noqa: S603
        assert dump.stdout is not None
        counted = _Hashing(dump.stdout)
        try:
            pyrage.encrypt_io(counted, out, [key.to_public()])
        finally:
            dump.stdout.close()
            returncode = dump.wait()
        if returncode != 0:
            errors.seek(0)
            message = errors.read().decode(errors="replace").strip()
            raise CommandError(_("pg_dump failed: %(error)s") % {"error": message})

    @contextlib.contextmanager
    def read_back() -> Iterator[BinaryIO]:
        with scratch.open("rb") as fh, encryption.decrypting(fh, [key], str(scratch)) as plain:
            yield plain

    return DatabaseCopy("postgresql", counted.size, read_back)


def copy_database(scratch_dir: Path) -> DatabaseCopy:
    """A consistent copy of the default database (nothing of it left on disk in plaintext)."""
    if connection.vendor == "sqlite":
        return _sqlite_copy()
    if connection.vendor == "postgresql":
        return _postgresql_copy(scratch_dir / "database.age")
    raise CommandError(_("Backing up a %(vendor)s database is not supported (SQLite and PostgreSQL are).")
                       % {"vendor": connection.vendor})


def _applied_migrations() -> dict[str, str]:
    from django.db.migrations.recorder import MigrationRecorder

    latest: dict[str, str] = {}
    for app, name in MigrationRecorder(connection).applied_migrations():
        latest[app] = max(latest.get(app, ""), name)
    return dict(sorted(latest.items()))


def media_names(storage: Storage, directory: str = "") -> Iterator[str]:
    """Every file name in ``storage`` (the attachments), sorted, walking sub-directories."""
    try:
        dirs, files = storage.listdir(directory)
    except FileNotFoundError:  # no media directory yet
        return
    for name in sorted(files):
        yield f"{directory}/{name}" if directory else name
    for name in sorted(dirs):
        yield from media_names(storage, f"{directory}/{name}" if directory else name)


def output_path(output: str, now: dt.datetime, *, encrypted: bool) -> Path:
    """The archive to write: ``output`` itself when it names a file (``.tar.gz``/``.tgz``, ``.age``
    when encrypted), else a dated file in the directory ``output``."""
    path = Path(output)
    if path.name.endswith(".age"):
        if not encrypted:
            raise CommandError(_("%(file)s ends in .age, but no recipient is given to encrypt it to (--encrypt-to, "
                                 "--recipients-file or CIVMIL_BACKUP_RECIPIENTS).") % {"file": path})
        return path
    if path.name.endswith((".tar.gz", ".tgz")):
        if encrypted:
            raise CommandError(_("The backup is encrypted: name the file %(name)s.age.") % {"name": path.name})
        return path
    return path / retention.archive_name(now, encrypted=encrypted)


class _Archive:
    """The tar stream being written, and the SHA-256 and size of what went in."""

    def __init__(self, tar: tarfile.TarFile, mtime: int) -> None:
        self.tar, self.mtime = tar, mtime
        self.members: dict[str, dict[str, Any]] = {}

    def add(self, name: str, size: int, source: Any) -> None:
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = size, self.mtime, 0o600
        counted = _Hashing(source)
        self.tar.addfile(info, counted)
        self.members[name] = {"sha256": counted.digest.hexdigest(), "size": size}


def write_backup(archive: Path, *, keys: bool = True, media: bool = True,
                 recipients: list[Any] | None = None) -> dict[str, Any]:
    """Write the backup archive (encrypted to ``recipients`` when there are any); returns its manifest.

    The manifest is the archive's last member: it lists what went before it.
    """
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    var_dir = Path(settings.CIVMIL_VAR_DIR)
    storage = storages["default"]
    archive.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = archive.with_name(archive.name + ".partial")
    with tempfile.TemporaryDirectory(prefix="civmil-backup-") as scratch:
        database = copy_database(Path(scratch))
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as out:
                sink = encryption.encrypting(out, recipients) if recipients else contextlib.nullcontext(out)
                with sink as stream, tarfile.open(fileobj=stream, mode="w|gz") as tar:
                    written = _Archive(tar, int(now.timestamp()))
                    with database.open() as source:
                        written.add(DB_MEMBER[database.vendor], database.size, source)
                    for name in VAR_FILES if keys else ():
                        with contextlib.suppress(FileNotFoundError):
                            data = (var_dir / name).read_bytes()
                            written.add(f"var/{name}", len(data), io.BytesIO(data))
                    for name in media_names(storage) if media else ():
                        try:
                            handle = storage.open(name, "rb")
                        except FileNotFoundError:  # deleted since it was listed
                            continue
                        with handle:
                            written.add(f"media/{name}", handle.size, handle)
                    manifest: dict[str, Any] = {
                        "kind": BACKUP_KIND,
                        "version": BACKUP_VERSION,
                        "created_at": now.isoformat().replace("+00:00", "Z"),
                        "database": {"vendor": database.vendor, "member": DB_MEMBER[database.vendor],
                                     "migrations": _applied_migrations()},
                        "versions": {"civmil": _version("civmil"), "django": _version("django"),
                                     "sqlite": sqlite3.sqlite_version, "django-tasks": _version("django-tasks")},
                        "keys_included": keys,
                        "media_included": media,
                        "members": dict(sorted(written.members.items())),
                    }
                    data = json.dumps(manifest, indent=2, sort_keys=True).encode() + b"\n"
                    written.add(MANIFEST, len(data), io.BytesIO(data))
                out.flush()
                os.fsync(out.fileno())
            partial.replace(archive)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    return manifest


def _count(value: str) -> int:
    import argparse

    if not value.isdigit():
        raise argparse.ArgumentTypeError(_("a whole number (0 or more), not %(value)r") % {"value": value})
    return int(value)


class Command(BaseCommand):
    help = ("Back up the database, the keys in var/ and the attachments into one .tar.gz with a manifest, "
            "encrypted to age public keys when recipients are given, and prune old backups.")
    # Must run on an empty database, and when an unrelated part of the configuration is broken.
    requires_system_checks: list[str] = []  # type: ignore[assignment]

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", required=True, metavar="DIR_OR_FILE",
                            help="A directory (a dated civmil-backup-*.tar.gz, or .tar.gz.age, is written in it) or "
                                 "a file name ending in .tar.gz (.tar.gz.age when encrypted).")
        parser.add_argument("--no-keys", action="store_true",
                            help="Leave out secret_key and the ledger keys (keep them elsewhere).")
        parser.add_argument("--no-media", action="store_true",
                            help="Leave out the attachments (when their storage is backed up by its own means).")
        crypt = parser.add_argument_group("encryption (age)")
        crypt.add_argument("--encrypt-to", action="append", default=[], metavar="AGE_PUBLIC_KEY",
                           help="Encrypt to this age public key (age1..., from age-keygen); may be repeated. "
                                "Default: the keys in CIVMIL_BACKUP_RECIPIENTS.")
        crypt.add_argument("--recipients-file", action="append", default=[], metavar="FILE", type=Path,
                           help="Encrypt to the public keys listed in FILE, one a line (# comments).")
        crypt.add_argument("--no-encrypt", action="store_true",
                           help="Write a plain archive even when CIVMIL_BACKUP_RECIPIENTS is set.")
        keep = parser.add_argument_group("retention (when --output is a directory; only civmil-backup-* archives "
                                         "in it are ever deleted)")
        keep.add_argument("--keep-daily", type=_count, default=0, metavar="N",
                          help="Keep the newest backup of each of the last N days that have one.")
        keep.add_argument("--keep-weekly", type=_count, default=0, metavar="N",
                          help="Keep the newest backup of each of the last N ISO weeks that have one.")
        keep.add_argument("--keep-monthly", type=_count, default=0, metavar="N",
                          help="Keep the newest backup of each of the last N months that have one.")

    def handle(self, *args: Any, **options: Any) -> None:
        refuse_root("backup")
        if options["no_encrypt"]:
            if options["encrypt_to"] or options["recipients_file"]:
                raise CommandError(_("--no-encrypt cannot be combined with --encrypt-to or --recipients-file."))
            to: list[Any] = []
        else:
            to = encryption.recipients(options["encrypt_to"], options["recipients_file"])
        policy = retention.Policy(options["keep_daily"], options["keep_weekly"], options["keep_monthly"])
        archive = output_path(options["output"], dt.datetime.now(dt.UTC), encrypted=bool(to))
        if policy.active and archive.parent != Path(options["output"]):
            raise CommandError(_("--keep-daily, --keep-weekly and --keep-monthly prune a directory of backups: give "
                                 "a directory as --output, not a file name."))
        if archive.exists():
            raise CommandError(_("%(file)s exists already: choose another name.") % {"file": archive})
        try:
            manifest = write_backup(archive, keys=not options["no_keys"], media=not options["no_media"],
                                    recipients=to)
        except OSError as exc:
            raise CommandError(_("Cannot write the backup %(file)s: %(error)s")
                               % {"file": archive, "error": exc.strerror or exc}) from exc
        encrypted = ngettext(", encrypted to %(n)d public key", ", encrypted to %(n)d public keys", len(to))
        self.stdout.write(_("backup written to %(file)s: %(n)d files (database: %(vendor)s)%(encrypted)s.")
                          % {"file": archive, "n": len(manifest["members"]), "vendor": manifest["database"]["vendor"],
                             "encrypted": encrypted % {"n": len(to)} if to else ""})
        for path in retention.prune(archive.parent, policy, protect=[archive]):
            self.stdout.write(_("deleted %(file)s (beyond --keep-*)") % {"file": path})

"""``civmil backup --output DIR_OR_TARBALL``: the database, the keys in var/ and the attachments,
in one ``.tar.gz`` with a manifest (SHA-256 of every member, versions).

SQLite is copied with its online backup API (the server may keep running); PostgreSQL with
``pg_dump`` (custom format), which must be on PATH. Restore with ``civmil restore FILE``.

The archive holds the platform's secrets (``secret_key``, ``ledger_signing_key``): keep it
encrypted, and apart from the database's other copies (see docs/deploy.md).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.metadata
import io
import json
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.utils.translation import gettext as _

BACKUP_KIND = "civmil-backup"
BACKUP_VERSION = 1
MANIFEST = "manifest.json"
#: Files under CIVMIL_VAR_DIR that belong in a backup (those that exist).
VAR_FILES = ("secret_key", "ledger_signing_key", "ledger_trusted_keys")
DB_MEMBER = {"sqlite": "database/civmil.sqlite3", "postgresql": "database/civmil.pgdump"}


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _pg_args(tool: str) -> tuple[list[str], dict[str, str]]:
    """Command line and environment for ``pg_dump``/``pg_restore`` against the default database."""
    import os

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


def dump_database(dest: Path) -> str:
    """Copy the default database into ``dest``; returns its vendor."""
    vendor = connection.vendor
    if vendor == "sqlite":
        if connection.in_atomic_block:  # the copy would wait forever for its own transaction to end
            raise CommandError(_("A SQLite database cannot be backed up from inside a transaction."))
        connection.ensure_connection()
        target = sqlite3.connect(dest)
        try:
            connection.connection.backup(target)
        finally:
            target.close()
    elif vendor == "postgresql":
        args, env = _pg_args("pg_dump")
        args += ["--format=custom", "--no-owner", "--file", str(dest), str(settings.DATABASES["default"]["NAME"])]
        done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)  # noqa: S603
        if done.returncode != 0:
            raise CommandError(_("pg_dump failed: %(error)s") % {"error": done.stderr.strip()})
    else:
        raise CommandError(_("Backing up a %(vendor)s database is not supported (SQLite and PostgreSQL are).")
                           % {"vendor": vendor})
    return vendor


def _applied_migrations() -> dict[str, str]:
    from django.db.migrations.recorder import MigrationRecorder

    latest: dict[str, str] = {}
    for app, name in MigrationRecorder(connection).applied_migrations():
        latest[app] = max(latest.get(app, ""), name)
    return dict(sorted(latest.items()))


def output_path(output: str, now: dt.datetime) -> Path:
    """The archive to write: ``output`` itself when it names a ``.tar.gz``/``.tgz``, else a dated file in it."""
    path = Path(output)
    if path.name.endswith((".tar.gz", ".tgz")):
        return path
    return path / f"civmil-backup-{now.strftime('%Y%m%dT%H%M%SZ')}.tar.gz"


def write_backup(archive: Path, *, keys: bool = True) -> dict[str, Any]:
    """Write the backup archive; returns its manifest."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    var_dir = Path(settings.CIVMIL_VAR_DIR)
    media = Path(settings.MEDIA_ROOT)
    with tempfile.TemporaryDirectory(prefix="civmil-backup-") as tmp:
        staging = Path(tmp)
        vendor = connection.vendor
        if vendor not in DB_MEMBER:
            raise CommandError(_("Backing up a %(vendor)s database is not supported (SQLite and PostgreSQL are).")
                               % {"vendor": vendor})
        files: dict[str, Path] = {}
        db_file = staging / "db"
        dump_database(db_file)
        files[DB_MEMBER[vendor]] = db_file
        if keys:
            for name in VAR_FILES:
                if (var_dir / name).is_file():
                    files[f"var/{name}"] = var_dir / name
        if media.is_dir():
            for path in sorted(media.rglob("*")):
                if path.is_file() and not path.is_symlink():
                    files[f"media/{path.relative_to(media).as_posix()}"] = path
        manifest: dict[str, Any] = {
            "kind": BACKUP_KIND,
            "version": BACKUP_VERSION,
            "created_at": now.isoformat().replace("+00:00", "Z"),
            "database": {"vendor": vendor, "member": DB_MEMBER[vendor], "migrations": _applied_migrations()},
            "versions": {"civmil": _version("civmil"), "django": _version("django"),
                         "sqlite": sqlite3.sqlite_version, "django-tasks": _version("django-tasks")},
            "keys_included": keys,
            "members": {name: {"sha256": sha256_file(path), "size": path.stat().st_size}
                        for name, path in sorted(files.items())},
        }
        archive.parent.mkdir(parents=True, exist_ok=True)
        partial = archive.with_name(archive.name + ".partial")
        with tarfile.open(partial, "w:gz") as tar:
            data = json.dumps(manifest, indent=2, sort_keys=True).encode() + b"\n"
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mtime, info.mode = len(data), int(now.timestamp()), 0o600
            tar.addfile(info, io.BytesIO(data))
            for name, path in sorted(files.items()):
                info = tar.gettarinfo(str(path), arcname=name)
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                info.mode = 0o600
                with path.open("rb") as fh:
                    tar.addfile(info, fh)
        partial.chmod(0o600)
        partial.replace(archive)
    return manifest


class Command(BaseCommand):
    help = "Back up the database, the keys in var/ and the attachments into one .tar.gz with a manifest."
    # Must run on an empty database, and when an unrelated part of the configuration is broken.
    requires_system_checks: list[str] = []  # type: ignore[assignment]

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", required=True, metavar="DIR_OR_TARBALL",
                            help="A directory (a dated civmil-backup-*.tar.gz is written in it) or a file name "
                                 "ending in .tar.gz.")
        parser.add_argument("--no-keys", action="store_true",
                            help="Leave out secret_key and the ledger keys (keep them elsewhere).")

    def handle(self, *args: Any, **options: Any) -> None:
        archive = output_path(options["output"], dt.datetime.now(dt.UTC))
        if archive.exists():
            raise CommandError(_("%(file)s exists already: choose another name.") % {"file": archive})
        try:
            manifest = write_backup(archive, keys=not options["no_keys"])
        except OSError as exc:
            raise CommandError(_("Cannot write the backup %(file)s: %(error)s")
                               % {"file": archive, "error": exc.strerror or exc}) from exc
        self.stdout.write(_("backup written to %(file)s: %(n)d files (database: %(vendor)s).")
                          % {"file": archive, "n": len(manifest["members"]),
                             "vendor": manifest["database"]["vendor"]})

"""``civmil restore FILE [--force]``: put back a backup written by ``civmil backup``.

Checks the manifest first (every member listed, present, of the right SHA-256, nothing else),
refuses to overwrite a database that holds tables unless ``--force``, then restores the database,
the keys into var/ and the attachments into MEDIA_ROOT, and verifies the ledger. Run
``civmil migrate`` afterwards when the backup comes from an older version.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import tarfile
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.utils.translation import gettext as _

from civmil.core.management.commands.backup import (
    BACKUP_KIND,
    BACKUP_VERSION,
    DB_MEMBER,
    MANIFEST,
    VAR_FILES,
    _pg_args,
)


def _safe_name(name: str) -> bool:
    path = PurePosixPath(name)
    return not path.is_absolute() and ".." not in path.parts and bool(path.parts)


def _member_allowed(name: str) -> bool:
    if name in DB_MEMBER.values():
        return True
    if name.startswith("var/"):
        return name[4:] in VAR_FILES
    return name.startswith("media/") and len(name) > 6


def read_verified(archive: Path, into: Path) -> dict[str, Any]:
    """Check the archive against its manifest and extract its members into ``into``; the manifest.

    Raises ``CommandError`` on anything wrong, before anything is restored.
    """
    bad = _("%(file)s is not a civmil backup: %(why)s")
    try:
        tar = tarfile.open(archive, "r:gz")  # noqa: SIM115 - closed by the with below
    except (OSError, tarfile.TarError) as exc:
        raise CommandError(bad % {"file": archive, "why": exc}) from exc
    with tar:
        try:
            manifest_file = tar.extractfile(MANIFEST)
            manifest = json.loads(manifest_file.read()) if manifest_file else None
        except (KeyError, ValueError, tarfile.TarError, OSError) as exc:
            raise CommandError(bad % {"file": archive, "why": _("no readable manifest.json")}) from exc
        if not isinstance(manifest, dict) or manifest.get("kind") != BACKUP_KIND:
            raise CommandError(bad % {"file": archive, "why": _("the manifest is not a civmil backup manifest")})
        if manifest.get("version") != BACKUP_VERSION:
            raise CommandError(_("%(file)s is a backup of version %(v)s; this civmil reads version %(ours)s.")
                               % {"file": archive, "v": manifest.get("version"), "ours": BACKUP_VERSION})
        members = manifest.get("members")
        database = manifest.get("database")
        if not isinstance(members, dict) or not isinstance(database, dict) or database.get("member") not in members:
            raise CommandError(bad % {"file": archive, "why": _("the manifest lists no database")})
        seen: set[str] = set()
        try:
            for info in tar:
                if info.name == MANIFEST:
                    continue
                expected = members.get(info.name)
                if expected is None or not info.isfile() or not _safe_name(info.name) or \
                        not _member_allowed(info.name) or info.name in seen:
                    raise CommandError(_("%(file)s holds %(member)s, which its manifest does not list: refusing it.")
                                       % {"file": archive, "member": info.name})
                seen.add(info.name)
                source = tar.extractfile(info)
                assert source is not None
                target = into / info.name
                target.parent.mkdir(parents=True, exist_ok=True)
                digest = hashlib.sha256()
                with target.open("wb") as out:
                    while block := source.read(1 << 20):
                        digest.update(block)
                        out.write(block)
                if not isinstance(expected, dict) or digest.hexdigest() != expected.get("sha256"):
                    raise CommandError(_("%(member)s in %(file)s does not match its SHA-256 in the manifest: the "
                                         "backup is damaged or altered.") % {"member": info.name, "file": archive})
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise CommandError(bad % {"file": archive, "why": exc}) from exc
        missing = sorted(set(members) - seen)
        if missing:
            raise CommandError(_("%(file)s lacks members its manifest lists: %(names)s")
                               % {"file": archive, "names": ", ".join(missing)})
    return manifest


def database_is_empty() -> bool:
    return not connection.introspection.table_names()


def restore_database(vendor: str, dump: Path) -> None:
    if vendor != connection.vendor:
        raise CommandError(_("The backup holds a %(theirs)s database; this civmil uses %(ours)s. Restore it into "
                             "a %(theirs)s database (DATABASE_URL).") % {"theirs": vendor, "ours": connection.vendor})
    if vendor == "sqlite":
        connection.ensure_connection()
        source = sqlite3.connect(dump)
        try:
            source.backup(connection.connection)
        finally:
            source.close()
    else:
        args, env = _pg_args("pg_restore")
        args += ["--clean", "--if-exists", "--no-owner", "--single-transaction",
                 "--dbname", str(settings.DATABASES["default"]["NAME"]), str(dump)]
        done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)  # noqa: S603
        if done.returncode != 0:
            raise CommandError(_("pg_restore failed: %(error)s") % {"error": done.stderr.strip()})
    connection.close()


def _place(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.restore")
    with source.open("rb") as src, open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as out:
        out.write(src.read())
    os.replace(tmp, target)


class Command(BaseCommand):
    help = "Restore a backup written by 'civmil backup' (database, keys in var/, attachments)."
    # Must run on an empty database, and when an unrelated part of the configuration is broken.
    requires_system_checks: list[str] = []  # type: ignore[assignment]

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", metavar="FILE", help="The civmil-backup-*.tar.gz to restore.")
        parser.add_argument("--force", action="store_true",
                            help="Overwrite a database that already holds tables (its content is lost).")

    def handle(self, *args: Any, **options: Any) -> None:
        from civmil.core.ledger import signing

        archive = Path(options["file"])
        if not archive.is_file():
            raise CommandError(_("%(file)s is not a file.") % {"file": archive})
        var_dir = Path(settings.CIVMIL_VAR_DIR)
        with tempfile.TemporaryDirectory(prefix="civmil-restore-") as tmp:
            staging = Path(tmp)
            manifest = read_verified(archive, staging)
            if not database_is_empty() and not options["force"]:
                raise CommandError(_("The database already holds tables: restoring would overwrite them. Point "
                                     "DATABASE_URL at an empty database, or add --force to replace its content."))
            key_file_used = signing.key_file_in_use() is not None
            restore_database(str(manifest["database"].get("vendor")), staging / manifest["database"]["member"])
            for name in VAR_FILES:
                if (staging / "var" / name).is_file():
                    _place(staging / "var" / name, var_dir / name)
            media_dir = staging / "media"
            seed_in_backup = (staging / "var" / "ledger_signing_key").is_file()
            restored_media = 0
            if media_dir.is_dir():
                for path in sorted(media_dir.rglob("*")):
                    if path.is_file():
                        _place(path, Path(settings.MEDIA_ROOT) / path.relative_to(media_dir))
                        restored_media += 1
        seed = var_dir / "ledger_signing_key"
        if key_file_used and seed.is_file():
            # This process read the former key at start-up: sign and verify with the restored one.
            settings.CIVMIL_LEDGER_SIGNING_KEY = seed.read_text(encoding="utf-8").strip()
        elif seed_in_backup:
            self.stderr.write(_("warning: CIVMIL_LEDGER_SIGNING_KEY is set in the environment; the restored "
                                "var/ledger_signing_key is not used."))
        self.stdout.write(_("restored %(file)s (made %(when)s): database, %(keys)s, %(n)d attachments.")
                          % {"file": archive, "when": manifest.get("created_at"), "n": restored_media,
                             "keys": _("keys") if manifest.get("keys_included") else _("no keys")})
        self._verify_ledger()
        self.stdout.write(_("Restart every civmil process; run 'civmil migrate' if this version is newer than "
                            "the backup's."))

    def _verify_ledger(self) -> None:
        from django.db.utils import DatabaseError

        from civmil.core import ledger

        try:
            result = ledger.verify()
        except DatabaseError as exc:
            self.stderr.write(_("warning: the ledger could not be verified (%(error)s); run 'civmil migrate', "
                                "then 'civmil ledger verify'.") % {"error": exc})
            return
        if not result.ok:
            raise CommandError(_("restored, but the ledger does not verify: %(why)s (run 'civmil ledger verify')")
                               % {"why": result.first}, returncode=1)
        self.stdout.write(_("ledger intact: %(entries)d entries, %(cps)d checkpoints verified.")
                          % {"entries": result.entries, "cps": result.checkpoints})

"""``civmil restore FILE [--force] [--identity KEY]``: put back a backup written by ``civmil backup``.

Reads the archive as a stream (decrypting an age-encrypted one with ``--identity``), checks it
against its manifest (every member listed, present, of the right SHA-256, nothing else), refuses to
overwrite a database that holds tables unless ``--force``, then restores the database, the keys
into var/ and the attachments into the default storage (the media directory, or an S3 bucket), and
verifies the ledger. Run ``civmil migrate`` afterwards when the backup comes from an older version.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import zlib
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from django.conf import settings
from django.core.files import File
from django.core.files.storage import storages
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.utils.translation import gettext as _

from civmil.core.backups import encryption
from civmil.core.backups.service_user import refuse_root
from civmil.core.management.commands.backup import (
    BACKUP_KIND,
    BACKUP_VERSION,
    DB_MEMBER,
    MANIFEST,
    VAR_FILES,
    _pg_args,
)

#: A manifest larger than this is not one ``civmil backup`` wrote.
MAX_MANIFEST = 64 * 1024 * 1024


def _safe_name(name: str) -> bool:
    path = PurePosixPath(name)
    return not path.is_absolute() and ".." not in path.parts and bool(path.parts)


def _member_allowed(name: str) -> bool:
    if name in DB_MEMBER.values():
        return True
    if name.startswith("var/"):
        return name[4:] in VAR_FILES
    return name.startswith("media/") and len(name) > 6


def _check_manifest(manifest: Any, archive: Path) -> dict[str, Any]:
    bad = _("%(file)s is not a civmil backup: %(why)s")
    if manifest is None:
        raise CommandError(bad % {"file": archive, "why": _("no readable manifest.json")})
    if not isinstance(manifest, dict) or manifest.get("kind") != BACKUP_KIND:
        raise CommandError(bad % {"file": archive, "why": _("the manifest is not a civmil backup manifest")})
    if manifest.get("version") != BACKUP_VERSION:
        raise CommandError(_("%(file)s is a backup of version %(v)s; this civmil reads version %(ours)s.")
                           % {"file": archive, "v": manifest.get("version"), "ours": BACKUP_VERSION})
    members = manifest.get("members")
    database = manifest.get("database")
    if not isinstance(members, dict) or not isinstance(database, dict) or database.get("member") not in members:
        raise CommandError(bad % {"file": archive, "why": _("the manifest lists no database")})
    return manifest


def _read_members(stream: BinaryIO, archive: Path, into: Path) -> tuple[Any, dict[str, str]]:
    """Extract every member of the tar stream into ``into``; the manifest and the members' SHA-256."""
    bad = _("%(file)s is not a civmil backup: %(why)s")
    manifest: Any = None
    digests: dict[str, str] = {}
    try:
        with tarfile.open(fileobj=stream, mode="r|gz") as tar:
            for info in tar:
                if info.name == MANIFEST and manifest is None and info.isfile() and info.size <= MAX_MANIFEST:
                    source = tar.extractfile(info)
                    try:
                        manifest = json.loads(source.read()) if source else None
                    except ValueError:
                        manifest = None
                    continue
                if not info.isfile() or not _safe_name(info.name) or not _member_allowed(info.name) or \
                        info.name in digests:
                    raise CommandError(_("%(file)s holds %(member)s, which its manifest does not list: refusing it.")
                                       % {"file": archive, "member": info.name})
                source = tar.extractfile(info)
                assert source is not None
                target = into / info.name
                target.parent.mkdir(parents=True, exist_ok=True)
                digest = hashlib.sha256()
                with target.open("wb") as out:
                    while block := source.read(1 << 20):
                        digest.update(block)
                        out.write(block)
                digests[info.name] = digest.hexdigest()
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise CommandError(bad % {"file": archive, "why": exc}) from exc
    return manifest, digests


def read_verified(archive: Path, into: Path, identities: list[Any] | None = None) -> dict[str, Any]:
    """Extract the archive (decrypting it with ``identities`` when it is an age file) into ``into``
    and check it against its manifest; returns the manifest.

    Raises ``CommandError`` on anything wrong, before anything is restored.
    """
    try:
        encrypted = encryption.is_encrypted(archive)
    except OSError as exc:
        raise CommandError(_("Cannot read %(file)s: %(error)s") % {"file": archive, "error": exc.strerror}) from exc
    if encrypted and not identities:
        raise CommandError(_("%(file)s is encrypted (age): give the private key it was encrypted to with "
                             "--identity FILE.") % {"file": archive})
    with archive.open("rb") as raw:
        if encrypted:
            with encryption.decrypting(raw, identities or [], str(archive)) as plain:
                manifest, digests = _read_members(plain, archive, into)
        else:
            manifest, digests = _read_members(raw, archive, into)
    manifest = _check_manifest(manifest, archive)
    members = manifest["members"]
    for name, digest in digests.items():
        expected = members.get(name)
        if expected is None:
            raise CommandError(_("%(file)s holds %(member)s, which its manifest does not list: refusing it.")
                               % {"file": archive, "member": name})
        if not isinstance(expected, dict) or digest != expected.get("sha256"):
            raise CommandError(_("%(member)s in %(file)s does not match its SHA-256 in the manifest: the "
                                 "backup is damaged or altered.") % {"member": name, "file": archive})
    missing = sorted(set(members) - set(digests))
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


def restore_media(media_dir: Path) -> int:
    """Write the files under ``media_dir`` into the default storage, under the same names; how many."""
    storage = storages["default"]
    count = 0
    for path in sorted(media_dir.rglob("*")):
        if not path.is_file():
            continue
        name = path.relative_to(media_dir).as_posix()
        if storage.exists(name):
            storage.delete(name)
        with path.open("rb") as fh:
            saved = storage.save(name, File(fh, name=name))
        if saved != name:
            raise CommandError(_("The attachment %(name)s was stored as %(saved)s: another process wrote the same "
                                 "name during the restore.") % {"name": name, "saved": saved})
        count += 1
    return count


class Command(BaseCommand):
    help = "Restore a backup written by 'civmil backup' (database, keys in var/, attachments)."
    # Must run on an empty database, and when an unrelated part of the configuration is broken.
    requires_system_checks: list[str] = []  # type: ignore[assignment]

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", metavar="FILE", help="The civmil-backup-*.tar.gz (or .tar.gz.age) to restore.")
        parser.add_argument("--force", action="store_true",
                            help="Overwrite a database that already holds tables (its content is lost).")
        parser.add_argument("--identity", action="append", default=[], type=Path, metavar="FILE",
                            help="An age private key file (from age-keygen) to decrypt an encrypted backup; "
                                 "may be repeated.")

    def handle(self, *args: Any, **options: Any) -> None:
        from civmil.core.ledger import signing

        refuse_root("restore")
        archive = Path(options["file"])
        if not archive.is_file():
            raise CommandError(_("%(file)s is not a file.") % {"file": archive})
        identities = encryption.read_identities(options["identity"])
        var_dir = Path(settings.CIVMIL_VAR_DIR)
        # The archive is unpacked inside the var directory (the service's own, never world-readable
        # like /tmp), and what an interrupted restore left there is removed first: it holds the
        # database and the keys in the clear.
        var_dir.mkdir(parents=True, exist_ok=True)
        for leftover in var_dir.glob("civmil-restore-*"):
            shutil.rmtree(leftover, ignore_errors=True)
        with tempfile.TemporaryDirectory(prefix="civmil-restore-", dir=var_dir) as tmp:
            staging = Path(tmp)
            manifest = read_verified(archive, staging, identities)
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
            restored_media = restore_media(media_dir) if media_dir.is_dir() else 0
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

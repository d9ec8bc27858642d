"""Backups encrypted to public keys, in the age format (https://age-encryption.org/v1), with pyrage.

An encrypted backup is an ordinary age file: ``age -d -i key.txt civmil-backup-….tar.gz.age >
backup.tar.gz`` decrypts it on any machine, and ``civmil restore FILE --identity key.txt`` reads it
directly. Only the recipients' public keys (``age1…``, printed by ``age-keygen``) are on the host
that makes the backup; the private key (the identity) stays off it.

Both directions stream through a pipe and a thread, so the plaintext archive is never written to
disk while it is encrypted, nor held whole in memory.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import pyrage
from django.core.management.base import CommandError
from django.utils.translation import gettext as _

#: The first line of every (binary) age file.
AGE_MAGIC = b"age-encryption.org/v1\n"
#: Recipients used when the command names none: age public keys, separated by commas or spaces.
RECIPIENTS_ENV = "CIVMIL_BACKUP_RECIPIENTS"
IDENTITY_PREFIX = "AGE-SECRET-KEY-"


def _shown(value: str) -> str:
    return value if len(value) <= 80 else value[:77] + "..."


def parse_recipient(value: str, source: str) -> Any:
    """The age X25519 recipient ``value`` (``age1…``); ``source`` names where it came from."""
    try:
        return pyrage.x25519.Recipient.from_str(value.strip())
    except pyrage.RecipientError as exc:
        raise CommandError(_("%(source)s: “%(value)s” is not an age public key (age1…, as age-keygen prints it): "
                             "%(error)s") % {"source": source, "value": _shown(value.strip()), "error": exc}) from exc


def read_recipients_file(path: Path) -> list[Any]:
    """The recipients listed in ``path``: one public key a line; blank lines and ``#`` comments skipped."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(_("Cannot read the recipients file %(file)s: %(error)s")
                           % {"file": path, "error": getattr(exc, "strerror", None) or exc}) from exc
    found = [parse_recipient(line, f"{path}, line {number}")
             for number, line in enumerate(lines, start=1) if line.strip() and not line.lstrip().startswith("#")]
    if not found:
        raise CommandError(_("The recipients file %(file)s lists no public key.") % {"file": path})
    return found


def recipients(keys: Iterable[str], files: Iterable[Path], environ: dict[str, str] | None = None) -> list[Any]:
    """The recipients a backup is encrypted to: those named on the command line (``keys`` and
    ``files``), or else those of ``CIVMIL_BACKUP_RECIPIENTS``; an empty list means no encryption."""
    found = [parse_recipient(key, "--encrypt-to") for key in keys]
    for path in files:
        found += read_recipients_file(path)
    if found:
        return found
    env = (os.environ if environ is None else environ).get(RECIPIENTS_ENV, "")
    return [parse_recipient(key, RECIPIENTS_ENV) for key in env.replace(",", " ").split()]


def read_identities(paths: Iterable[Path]) -> list[Any]:
    """The private keys in the identity files ``paths`` (as ``age-keygen`` writes them)."""
    found: list[Any] = []
    for path in paths:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(_("Cannot read the identity file %(file)s: %(error)s")
                               % {"file": path, "error": getattr(exc, "strerror", None) or exc}) from exc
        before = len(found)
        for number, line in enumerate(lines, start=1):
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            try:
                if not text.startswith(IDENTITY_PREFIX):
                    raise pyrage.IdentityError(_("it does not start with %(prefix)s") % {"prefix": IDENTITY_PREFIX})
                found.append(pyrage.x25519.Identity.from_str(text))
            except pyrage.IdentityError as exc:
                raise CommandError(_("%(file)s, line %(line)d is not an age private key: %(error)s")
                                   % {"file": path, "line": number, "error": exc}) from exc
        if len(found) == before:
            raise CommandError(_("The identity file %(file)s holds no age private key (AGE-SECRET-KEY-…).")
                               % {"file": path})
    return found


def is_encrypted(path: Path) -> bool:
    """Whether ``path`` is an age file."""
    with path.open("rb") as fh:
        return fh.read(len(AGE_MAGIC)) == AGE_MAGIC


@contextlib.contextmanager
def encrypting(out: BinaryIO, to: list[Any]) -> Iterator[BinaryIO]:
    """A writable stream whose bytes are encrypted to ``to`` into ``out`` as they come.

    The age file is complete when the block ends; a failure of the encryption is raised then.
    """
    read_fd, write_fd = os.pipe()
    reader, writer = os.fdopen(read_fd, "rb"), os.fdopen(write_fd, "wb")
    failure: list[BaseException] = []

    def pump() -> None:
        try:
            pyrage.encrypt_io(reader, out, to)
        except BaseException as exc:  # reported by the caller's thread
            failure.append(exc)
        finally:
            reader.close()  # a writer still writing gets a broken pipe instead of waiting forever

    thread = threading.Thread(target=pump, name="civmil-backup-encrypt", daemon=True)
    thread.start()
    try:
        yield writer
    finally:
        with contextlib.suppress(OSError):
            writer.close()
        thread.join()
        if failure:
            raise CommandError(_("Encrypting the backup failed: %(error)s") % {"error": failure[0]}) from failure[0]


@contextlib.contextmanager
def decrypting(source: BinaryIO, identities: list[Any], name: str = "") -> Iterator[BinaryIO]:
    """A readable stream of ``source`` decrypted with ``identities``, as it is read.

    Whatever the block leaves unread is read to the end on leaving it, so that a damaged or
    truncated file is reported (age authenticates every chunk and the end of the file).
    """
    read_fd, write_fd = os.pipe()
    reader, writer = os.fdopen(read_fd, "rb"), os.fdopen(write_fd, "wb")
    failure: list[BaseException] = []

    def pump() -> None:
        try:
            pyrage.decrypt_io(source, writer, identities)
        except BaseException as exc:  # reported by the caller's thread
            failure.append(exc)
        finally:
            with contextlib.suppress(OSError):
                writer.close()

    thread = threading.Thread(target=pump, name="civmil-backup-decrypt", daemon=True)
    thread.start()
    completed = False
    try:
        yield reader
        while reader.read(1 << 16):
            pass
        completed = True
    finally:
        reader.close()  # a pump still writing gets a broken pipe instead of waiting forever
        thread.join()
        error = failure[0] if failure else None
        # A broken pipe only means the reader stopped early (its own error is the one to report).
        if error is not None and not (isinstance(error, BrokenPipeError) and not completed):
            if isinstance(error, pyrage.DecryptError):
                raise CommandError(_("%(file)s cannot be decrypted with the identity given: %(error)s (is it the "
                                     "private key of one of the public keys the backup was encrypted to?)")
                                   % {"file": name, "error": error}) from error
            raise CommandError(_("%(file)s cannot be decrypted: %(error)s (the file is damaged or truncated)")
                               % {"file": name, "error": error}) from error

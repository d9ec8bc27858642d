"""Signed checkpoints: the statement the platform's Ed25519 key signs, and its offline check.

A checkpoint says "the ledger's Merkle tree had ``tree_size`` leaves and root ``root`` at
``signed_at``". The signature covers the RFC 8785 canonical JSON of :func:`statement`. The
functions :func:`checkpoint_problem` and :func:`statement` are pure: they need neither Django
settings nor a database, so a checkpoint or a receipt can be checked anywhere.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nacl.encoding import HexEncoder
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from civmil.core.ledger.chain import _jsonable, canonical

if TYPE_CHECKING:
    from civmil.core.models import Checkpoint



def _(message: str) -> str:
    """gettext when Django is configured; the message as it is in a plain offline verifier."""
    from django.apps import apps
    from django.conf import settings

    if settings.configured and apps.ready:
        from django.utils.translation import gettext

        return gettext(message)
    return message


CHECKPOINT_KIND = "civmil-ledger-checkpoint"
CHECKPOINT_VERSION = 1
CHECKPOINT_FIELDS = ("kind", "version", "tree_size", "root", "signed_at", "public_key", "signature")


def statement(tree_size: int, root: str, signed_at: Any, public_key: str) -> bytes:
    """The bytes a checkpoint's signature covers."""
    return canonical({
        "kind": CHECKPOINT_KIND,
        "version": CHECKPOINT_VERSION,
        "tree_size": tree_size,
        "root": root,
        "signed_at": _jsonable(signed_at),
        "public_key": public_key,
    })


@lru_cache(maxsize=4)
def _signing_key(seed_hex: str) -> SigningKey:
    from django.core.exceptions import ImproperlyConfigured

    try:
        return SigningKey(seed_hex.strip().encode(), encoder=HexEncoder)
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            "CIVMIL_LEDGER_SIGNING_KEY must be an Ed25519 seed of 64 hexadecimal characters") from exc


def signing_key() -> SigningKey:
    """The platform's key, from ``settings.CIVMIL_LEDGER_SIGNING_KEY`` (a hex seed)."""
    from django.conf import settings

    return _signing_key(str(settings.CIVMIL_LEDGER_SIGNING_KEY))


def public_key() -> str:
    """The platform's public key, hex."""
    return signing_key().verify_key.encode(encoder=HexEncoder).decode()


#: File under ``CIVMIL_VAR_DIR`` listing former public keys, one per line (``civmil ledger rotate-key``).
TRUSTED_KEYS_FILE = "ledger_trusted_keys"
#: File under ``CIVMIL_VAR_DIR`` holding the signing seed when the environment does not set one.
SIGNING_KEY_FILE = "ledger_signing_key"


def _var_dir() -> Path | None:
    from django.conf import settings

    var = getattr(settings, "CIVMIL_VAR_DIR", None)
    return Path(var) if var else None


def read_trusted_keys_file(path: Path) -> list[str]:
    """The public keys listed in ``path`` (hex, one a line; ``#`` starts a comment); none if absent."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    keys = []
    for line in text.splitlines():
        key = line.split("#", 1)[0].strip().lower()
        if key:
            if not _is_hex(key, 64):
                from django.core.exceptions import ImproperlyConfigured

                raise ImproperlyConfigured(f"{path} lists {key!r}, which is not a 64-character hex public key")
            keys.append(key)
    return keys


def trusted_keys() -> frozenset[str]:
    """Keys whose checkpoints this platform accepts: its own, and any listed after a key rotation.

    ``settings.CIVMIL_LEDGER_TRUSTED_KEYS`` (optional) lists former public keys, hex; so does the
    file ``ledger_trusted_keys`` under ``CIVMIL_VAR_DIR``, which ``civmil ledger rotate-key`` writes.
    """
    from django.conf import settings

    former = getattr(settings, "CIVMIL_LEDGER_TRUSTED_KEYS", ()) or ()
    var = _var_dir()
    listed = read_trusted_keys_file(var / TRUSTED_KEYS_FILE) if var else []
    return frozenset({public_key(), *(str(k).strip().lower() for k in former), *listed})


def fingerprint(public_key_hex: str) -> str:
    """A short name for a public key, as ``ssh-keygen -l`` shows one: ``SHA256:`` and the base64 of
    the SHA-256 of the key's 32 bytes (a key that is not hex is fingerprinted as text)."""
    import base64
    import hashlib

    try:
        raw = bytes.fromhex(public_key_hex.strip())
    except ValueError:
        raw = public_key_hex.encode("utf-8", "replace")
    return "SHA256:" + base64.b64encode(hashlib.sha256(raw).digest()).decode().rstrip("=")


def trusted_keys_path() -> Path | None:
    """Where the former public keys this platform trusts are listed (``$CIVMIL_VAR_DIR/ledger_trusted_keys``)."""
    var = _var_dir()
    return var / TRUSTED_KEYS_FILE if var else None


def untrusted_key_message(public_key_hex: str, *, kept: bool = False) -> str:
    """Why a checkpoint signed by ``public_key_hex`` is refused, naming the key and where trusted keys are."""
    values = {"fingerprint": fingerprint(public_key_hex), "key": public_key_hex,
              "file": trusted_keys_path() or TRUSTED_KEYS_FILE}
    if kept:
        return _("the kept checkpoint is signed by key %(fingerprint)s (public key %(key)s), which this platform "
                 "does not trust: it is not the platform's signing key, nor listed in %(file)s") % values
    return _("the checkpoint is signed by key %(fingerprint)s (public key %(key)s), which this platform does not "
             "trust: it is not the platform's signing key, nor listed in %(file)s") % values


@dataclass(frozen=True)
class Rotation:
    """What :func:`rotate_key` did."""

    previous_public_key: str
    public_key: str
    checkpoint: Checkpoint


class KeyFromEnvironment(Exception):
    """The signing key is set in the environment: only the operator can change it there."""


def _write_private(path: Path, text: str) -> None:
    """Replace ``path`` atomically with ``text``, readable by the owner only."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def key_file_in_use() -> Path | None:
    """The file under ``CIVMIL_VAR_DIR`` the current signing key was read from; ``None`` when the
    key comes from the environment (the file is absent or holds another key)."""
    from django.conf import settings

    var = _var_dir()
    if var is None:
        return None
    path = var / SIGNING_KEY_FILE
    try:
        stored = path.read_text(encoding="utf-8").strip().lower()
    except FileNotFoundError:
        return None
    return path if stored == str(settings.CIVMIL_LEDGER_SIGNING_KEY).strip().lower() else None


def rotate_key() -> Rotation:
    """Replace the signing key kept under ``CIVMIL_VAR_DIR`` by a new one (console operation).

    The former public key is added to ``ledger_trusted_keys`` first (so checkpoints it signed keep
    verifying), then the new seed replaces ``ledger_signing_key``, the ledger records the rotation
    (``ledger.key_rotated``, with both public keys and no acting user) and a checkpoint is signed
    with the new key. Raises :class:`KeyFromEnvironment` when the key is set in the environment.
    Other running processes keep signing with the former key until restarted; their checkpoints
    verify, the former key being trusted.
    """
    from django.conf import settings
    from django.db import transaction

    from civmil.core.ledger import chain
    from civmil.core.ledger.services import checkpoint

    path = key_file_in_use()
    if path is None:
        raise KeyFromEnvironment(_("The ledger signing key is set in the environment (CIVMIL_LEDGER_SIGNING_KEY)."))
    previous = public_key()
    trusted_path = path.with_name(TRUSTED_KEYS_FILE)
    listed = read_trusted_keys_file(trusted_path)
    if previous not in listed:
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        existing = trusted_path.read_text(encoding="utf-8") if trusted_path.exists() else (
            "# Former ledger signing keys (public, hex): checkpoints they signed still verify.\n")
        _write_private(trusted_path, existing + f"{previous}  # retired {now}\n")
    new_seed = SigningKey.generate().encode(encoder=HexEncoder).decode()
    _write_private(path, new_seed + "\n")
    settings.CIVMIL_LEDGER_SIGNING_KEY = new_seed
    new_public = public_key()
    with transaction.atomic():
        chain.append(None, "ledger.key_rotated", "core.ledgerkey", new_public,
                     {"previous_public_key": previous, "public_key": new_public})
        signed = checkpoint()
    return Rotation(previous_public_key=previous, public_key=new_public, checkpoint=signed)


def sign(tree_size: int, root: str, signed_at: dt.datetime) -> tuple[str, str]:
    """Sign a checkpoint statement with the platform key: ``(public_key, signature)``, both hex."""
    key = signing_key()
    pub = key.verify_key.encode(encoder=HexEncoder).decode()
    signature = key.sign(statement(tree_size, root, signed_at, pub)).signature.hex()
    return pub, signature


def checkpoint_to_dict(checkpoint: Checkpoint) -> dict[str, Any]:
    """A stored checkpoint as the JSON object that files and receipts carry."""
    return {
        "kind": CHECKPOINT_KIND,
        "version": CHECKPOINT_VERSION,
        "tree_size": checkpoint.tree_size,
        "root": checkpoint.root,
        "signed_at": _jsonable(checkpoint.signed_at),
        "public_key": checkpoint.public_key,
        "signature": checkpoint.signature,
    }


def _is_hex(value: Any, length: int) -> bool:
    if not isinstance(value, str) or len(value) != length:
        return False
    try:
        bytes.fromhex(value)
    except ValueError:
        return False
    return True


def checkpoint_problem(data: Any) -> str | None:
    """Why ``data`` is not a well-formed checkpoint with a valid signature by its own key; else ``None``.

    Pure. Whether the key is one to trust is the caller's question (see :func:`trusted_keys`).
    """
    if not isinstance(data, dict):
        return _("a checkpoint must be a JSON object")
    missing = [name for name in CHECKPOINT_FIELDS if name not in data]
    if missing:
        return _("the checkpoint lacks %(fields)s") % {"fields": ", ".join(missing)}
    if data["kind"] != CHECKPOINT_KIND or data["version"] != CHECKPOINT_VERSION:
        return _("not a civmil ledger checkpoint of a known version")
    size = data["tree_size"]
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        return _("the tree size must be a whole number")
    if not isinstance(data["signed_at"], str):
        return _("the signing time must be a string")
    if not _is_hex(data["root"], 64) or not _is_hex(data["public_key"], 64) or not _is_hex(data["signature"], 128):
        return _("the root, public key or signature is not hexadecimal of the right length")
    try:
        VerifyKey(bytes.fromhex(data["public_key"])).verify(
            statement(size, data["root"], data["signed_at"], data["public_key"]), bytes.fromhex(data["signature"]))
    except (BadSignatureError, ValueError, TypeError):
        return _("the signature does not verify")
    return None

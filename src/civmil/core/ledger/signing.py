"""Signed checkpoints: the statement the platform's Ed25519 key signs, and its offline check.

A checkpoint says "the ledger's Merkle tree had ``tree_size`` leaves and root ``root`` at
``signed_at``". The signature covers the RFC 8785 canonical JSON of :func:`statement`. The
functions :func:`checkpoint_problem` and :func:`statement` are pure: they need neither Django
settings nor a database, so a checkpoint or a receipt can be checked anywhere.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
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


def trusted_keys() -> frozenset[str]:
    """Keys whose checkpoints this platform accepts: its own, and any listed after a key rotation.

    ``settings.CIVMIL_LEDGER_TRUSTED_KEYS`` (optional) lists former public keys, hex.
    """
    from django.conf import settings

    former = getattr(settings, "CIVMIL_LEDGER_TRUSTED_KEYS", ()) or ()
    return frozenset({public_key(), *(str(k).strip().lower() for k in former)})


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

"""Receipts: proof, checkable offline, that an entry is in the ledger.

A receipt holds the entry's fields and hash (never the change itself), an inclusion proof of the
entry in the Merkle tree of a signed checkpoint, the checkpoint and the public key. Whoever holds
it can run :func:`verify_receipt` without the platform, its database or Django settings; someone
who also holds the change (the movement they notified, the allegation they made) can pass it to
check that too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pymerkle import InvalidChallenge, InvalidProof

from civmil.core.ledger.chain import _jsonable, change_hash, entry_fields, entry_hash
from civmil.core.ledger.signing import _, checkpoint_problem, checkpoint_to_dict
from civmil.core.ledger.tree import check_inclusion, inclusion_proof_from_dict, proof_to_dict

if TYPE_CHECKING:
    from civmil.core.models import LedgerEntry

RECEIPT_KIND = "civmil-ledger-receipt"
RECEIPT_VERSION = 1
_UNSET: Any = object()
ENTRY_FIELDS = ("seq", "recorded_at", "space", "actor_user", "actor_membership", "action", "object_type",
                "object_id", "change_hash", "prev_hash")


class LedgerIntegrityError(RuntimeError):
    """The stored ledger does not agree with its own signed checkpoint; run ``civmil ledger verify``."""


def entry_record(entry: LedgerEntry) -> dict[str, Any]:
    """An entry's hashed fields and its hash, as JSON data."""
    record: dict[str, Any] = _jsonable(entry_fields(entry))
    record["entry_hash"] = entry.entry_hash
    return record


def receipt(entry_seq: int, *, sign_if_needed: bool = True) -> dict[str, Any]:
    """The receipt of entry ``entry_seq`` against the latest checkpoint that covers it.

    If no checkpoint covers it yet, one is signed on demand (rate-capped; see
    :func:`civmil.core.ledger.services.checkpoint_covering`, which raises ``ReceiptPending``).
    Raises :class:`civmil.core.errors.NotFound` for an unknown entry.
    """
    from django.utils.translation import gettext

    from civmil.core.errors import NotFound
    from civmil.core.ledger.services import checkpoint_covering
    from civmil.core.ledger.tree import LedgerTree
    from civmil.core.models import LedgerEntry

    entry = LedgerEntry.objects.filter(seq=entry_seq).first()
    if entry is None:
        raise NotFound(gettext("No ledger entry #%(seq)s.") % {"seq": entry_seq})
    cp = checkpoint_covering(entry.seq, sign_if_needed=sign_if_needed)
    tree = LedgerTree()
    try:
        proof = tree.prove_inclusion(entry.seq, cp.tree_size)
    except InvalidChallenge as exc:  # fewer entries than the checkpoint signed
        raise LedgerIntegrityError(f"checkpoint {cp.pk} covers {cp.tree_size} entries, the ledger has fewer") from exc
    data = {
        "kind": RECEIPT_KIND,
        "version": RECEIPT_VERSION,
        "entry": entry_record(entry),
        "inclusion_proof": proof_to_dict(proof),
        "checkpoint": checkpoint_to_dict(cp),
        "public_key": cp.public_key,
    }
    check = verify_receipt(data)
    if not check.ok:
        raise LedgerIntegrityError(f"receipt for entry #{entry.seq} does not verify: {check.reason}")
    return data


@dataclass(frozen=True)
class ReceiptCheck:
    """The answer of :func:`verify_receipt`; true when the receipt verifies."""

    ok: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.ok


def _entry_problem(entry: Any) -> str | None:
    if not isinstance(entry, dict) or set(entry) != {*ENTRY_FIELDS, "entry_hash"}:
        return _("the entry is not a ledger entry record")
    seq = entry["seq"]
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        return _("the entry number is not valid")
    if not isinstance(entry["entry_hash"], str) or not isinstance(entry["change_hash"], str):
        return _("the entry's hashes are not valid")
    fields = {name: entry[name] for name in ENTRY_FIELDS}
    if entry_hash(fields) != entry["entry_hash"]:
        return _("the entry's fields do not match its hash")
    return None


def verify_receipt(data: Any, *, public_key: str | None = None, change: Any = _UNSET) -> ReceiptCheck:
    """Check a receipt offline (pure: no database, no settings needed).

    Verifies that the entry's fields hash to its entry hash, that the checkpoint is signed by the
    key the receipt names (and, given ``public_key``, that this is the key you trust), and that
    the inclusion proof places the entry at its number in the checkpoint's tree. Given ``change``,
    also checks that it is the change the entry recorded.
    """
    if not isinstance(data, dict) or data.get("kind") != RECEIPT_KIND or data.get("version") != RECEIPT_VERSION:
        return ReceiptCheck(False, _("not a civmil ledger receipt of a known version"))
    entry = data.get("entry")
    reason = _entry_problem(entry)
    if reason is not None:
        return ReceiptCheck(False, reason)
    assert isinstance(entry, dict)
    checkpoint = data.get("checkpoint")
    reason = checkpoint_problem(checkpoint)
    if reason is not None:
        return ReceiptCheck(False, reason)
    assert isinstance(checkpoint, dict)
    key = data.get("public_key")
    if not isinstance(key, str) or key.lower() != checkpoint["public_key"].lower():
        return ReceiptCheck(False, _("the checkpoint is not signed by the receipt's public key"))
    if public_key is not None and key.lower() != public_key.strip().lower():
        return ReceiptCheck(False, _("the receipt is not signed by the key you trust"))
    if entry["seq"] > checkpoint["tree_size"]:
        return ReceiptCheck(False, _("the checkpoint does not cover the entry"))
    try:
        proof = inclusion_proof_from_dict(data.get("inclusion_proof"))
        check_inclusion(entry["entry_hash"], entry["seq"], checkpoint["tree_size"],
                        bytes.fromhex(checkpoint["root"]), proof)
    except (InvalidProof, ValueError, TypeError):
        return ReceiptCheck(False, _("the inclusion proof does not place the entry in the signed tree"))
    if change is not _UNSET and change_hash(change) != entry["change_hash"]:
        return ReceiptCheck(False, _("the change given is not the one the entry recorded"))
    return ReceiptCheck(True)

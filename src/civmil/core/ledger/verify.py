"""Verifying the ledger: chain, stored changes, Merkle tree and signed checkpoints.

:func:`verify` reads the tables once and answers with every problem it found, the first bad
entry first. :func:`verify_against` proves, with a consistency proof, that the current ledger
extends a checkpoint kept elsewhere (a file), which catches truncation and wholesale rewriting
that the tables alone cannot show.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.utils.translation import gettext as _
from pymerkle import InvalidChallenge, InvalidProof

from civmil.core.ledger.chain import GENESIS, change_hash, entry_fields, entry_hash
from civmil.core.ledger.services import ERASED_ACTION, ERASED_OBJECT_TYPE
from civmil.core.ledger.signing import checkpoint_problem, checkpoint_to_dict, trusted_keys
from civmil.core.ledger.tree import LedgerTree, check_consistency

_CHUNK = 2000
_NULL_CHANGE = change_hash(None)


@dataclass(frozen=True)
class Problem:
    """One thing that does not verify. ``seq`` is the first entry it concerns, if one can be named."""

    seq: int | None
    reason: str
    checkpoint: int | None = None

    def __str__(self) -> str:
        where = []
        if self.seq is not None:
            where.append(_("entry #%(seq)d") % {"seq": self.seq})
        if self.checkpoint is not None:
            where.append(_("checkpoint %(id)d") % {"id": self.checkpoint})
        return f"{', '.join(where)}: {self.reason}" if where else self.reason


@dataclass
class VerifyResult:
    """What :func:`verify` found. ``ok`` when there is no problem."""

    entries: int = 0
    checkpoints: int = 0
    root: str = ""
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first(self) -> Problem | None:
        """The problem with the lowest entry number (problems naming no entry come last)."""
        if not self.problems:
            return None
        return min(self.problems, key=lambda p: (p.seq is None, p.seq or 0))

    @property
    def first_bad_seq(self) -> int | None:
        first = self.first
        return first.seq if first else None

    def merge(self, other: VerifyResult) -> VerifyResult:
        return VerifyResult(entries=self.entries, checkpoints=self.checkpoints + other.checkpoints,
                            root=self.root or other.root, problems=[*self.problems, *other.problems])


def _stored_change_problem(data: Any, erased_by: int | None, expected: str) -> str | None:
    """A stored change with data must hash to the entry's change hash and not be marked erased."""
    if erased_by is not None:
        return _("the change is marked erased but its data is still stored")
    if change_hash(data) != expected:
        return _("the stored change does not match the entry's change hash")
    return None


def _missing_change_problems(rows: list[tuple[int, bool, int | None]], erasures: dict[int, int]) -> list[Problem]:
    """Changes without data (nulled or absent rows) are accepted only where an erasure entry exists."""
    problems = []
    for seq, present, erased_by in rows:
        by = erasures.get(seq)
        if by is None:
            problems.append(Problem(seq, _("the stored change was nulled without an erasure entry") if present
                                    else _("the stored change is missing and no erasure entry accounts for it")))
        elif present and erased_by != by:
            problems.append(Problem(seq, _("the change names erasure entry #%(by)s, but the erasure is entry "
                                           "#%(real)d") % {"by": erased_by, "real": by}))
    return problems


def verify(*, using: str = "default") -> VerifyResult:
    """Walk the whole ledger and name every entry, change and checkpoint that does not verify.

    Checks: ``seq`` runs 1, 2, 3... without a gap; each entry's ``prev_hash`` is the previous
    entry's hash and its own hash matches its fields; each stored change hashes to the entry's
    ``change_hash`` (a nulled change only where a ``ledger.erased`` entry exists for it); each
    checkpoint is signed by a trusted key and its root is the Merkle root of the first
    ``tree_size`` entries.
    """
    from civmil.core.models import Checkpoint, LedgerEntry

    result = VerifyResult()
    problems = result.problems
    hashes: list[str] = []
    without_data: list[tuple[int, bool, int | None]] = []  # (seq, row present, erased_by_seq)
    erasures: dict[int, int] = {}
    prev = GENESIS
    expected_seq = 1
    rows = LedgerEntry.objects.using(using).select_related("change").order_by("seq")
    for entry in rows.iterator(chunk_size=_CHUNK):
        if entry.seq != expected_seq:
            if entry.seq > expected_seq:
                problems.append(Problem(expected_seq, _("the entry is missing (the next stored entry is #%(seq)d)")
                                        % {"seq": entry.seq}))
            else:
                problems.append(Problem(entry.seq, _("the entry is out of sequence")))
        if entry.prev_hash != prev:
            problems.append(Problem(entry.seq, _("its previous hash is not the hash of the entry before it")))
        if entry_hash(entry_fields(entry)) != entry.entry_hash:
            problems.append(Problem(entry.seq, _("its fields do not match its hash (the entry was altered)")))
        if entry.action == ERASED_ACTION and entry.object_type == ERASED_OBJECT_TYPE and entry.object_id.isdigit():
            erasures.setdefault(int(entry.object_id), entry.seq)
        try:
            change = entry.change
        except ObjectDoesNotExist:
            without_data.append((entry.seq, False, None))
        else:
            if change.data is not None:
                reason = _stored_change_problem(change.data, change.erased_by_seq, entry.change_hash)
                if reason:
                    problems.append(Problem(entry.seq, reason))
            elif change.erased_by_seq is not None or entry.change_hash != _NULL_CHANGE:
                without_data.append((entry.seq, True, change.erased_by_seq))
            # else: the write recorded no change (``None``)
        hashes.append(entry.entry_hash)
        prev = entry.entry_hash
        expected_seq = entry.seq + 1
    result.entries = len(hashes)
    problems.extend(_missing_change_problems(without_data, erasures))

    tree = LedgerTree.from_hashes(hashes)
    result.root = tree.root_hex()
    keys = trusted_keys()
    entry_problems = sorted(p.seq for p in problems if p.seq is not None)
    vouched = 0  # entries up to here are vouched for by a checkpoint that verified
    for cp in Checkpoint.objects.using(using).order_by("tree_size", "id"):
        result.checkpoints += 1
        # a root that does not match is first explained by the first entry found bad after `vouched`
        suspect = next((seq for seq in entry_problems if seq > vouched), vouched + 1)
        found = _checkpoint_problems(cp.pk, checkpoint_to_dict(cp), tree, keys, vouched, suspect)
        problems.extend(found)
        if not found:
            vouched = max(vouched, cp.tree_size)
    return result


def _checkpoint_problems(cp_id: int | None, data: dict[str, Any], tree: LedgerTree, keys: frozenset[str],
                         vouched: int, suspect: int) -> list[Problem]:
    reason = checkpoint_problem(data)
    if reason is not None:
        return [Problem(None, _("the checkpoint does not verify: %(why)s") % {"why": reason}, cp_id)]
    if data["public_key"].lower() not in keys:
        return [Problem(None, _("the checkpoint is signed by a key this platform does not trust"), cp_id)]
    size = tree.get_size()
    signed_size = int(data["tree_size"])
    if signed_size > size:
        return [Problem(size + 1, _("the checkpoint covers %(signed)d entries but the ledger now has %(now)d: "
                                    "entries were removed") % {"signed": signed_size, "now": size}, cp_id)]
    if signed_size and bytes(tree.get_root(signed_size)) != bytes.fromhex(data["root"]):
        if vouched >= signed_size:
            return [Problem(None, _("its root contradicts another checkpoint of the same size"), cp_id)]
        first = suspect if suspect <= signed_size else vouched + 1
        return [Problem(first, _("entries #%(first)d to #%(last)d are not the ones the checkpoint signed")
                        % {"first": first, "last": signed_size}, cp_id)]
    return []


def verify_against(data: Any, *, using: str = "default") -> VerifyResult:
    """Prove that the current ledger extends the checkpoint ``data`` (e.g. read from a kept file).

    The checkpoint must carry a valid signature by a trusted key; then a consistency proof from
    its tree to the current tree must verify against its root. Fails after truncation (fewer
    entries than the checkpoint signed) or rewriting (same size, other hashes).
    """
    result = VerifyResult(checkpoints=1)
    reason = checkpoint_problem(data)
    if reason is not None:
        result.problems.append(Problem(None, _("the kept checkpoint does not verify: %(why)s") % {"why": reason}))
        return result
    if data["public_key"].lower() not in trusted_keys():
        result.problems.append(Problem(None, _("the kept checkpoint is signed by a key this platform does not trust")))
        return result
    tree = LedgerTree(using=using)
    size = tree.get_size()
    result.entries = size
    result.root = tree.root_hex(size)
    prior = int(data["tree_size"])
    if prior > size:
        result.problems.append(Problem(size + 1, _("the kept checkpoint covers %(signed)d entries but the ledger "
                                                   "has %(now)d: the ledger was truncated")
                                       % {"signed": prior, "now": size}))
        return result
    if prior == 0:
        return result
    try:
        proof = tree.prove_consistency(prior, size)
        check_consistency(prior, bytes.fromhex(data["root"]), size, bytes(tree.get_root(size)), proof)
    except (InvalidProof, InvalidChallenge):
        result.problems.append(Problem(1, _("the ledger does not extend the kept checkpoint: its first %(n)d "
                                            "entries are not the ones that were signed") % {"n": prior}))
    return result

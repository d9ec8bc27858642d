"""Verifying the ledger: chain, stored changes, Merkle tree and signed checkpoints.

:func:`verify` reads the tables once and answers with every problem it found, the first bad
entry first. :func:`verify_against` proves, with a consistency proof, that the current ledger
extends a checkpoint kept elsewhere (a file), which catches truncation and wholesale rewriting
that the tables alone cannot show.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import rfc8785
from django.db import connections, models
from django.db.models import Exists, OuterRef
from django.db.models.functions import Cast
from django.db.models.sql.constants import MULTI
from django.utils.translation import gettext as _
from pymerkle import InvalidChallenge, InvalidProof

from civmil.core.ledger.chain import GENESIS, change_hash, entry_fields, entry_hash
from civmil.core.ledger.services import ERASED_ACTION, ERASED_OBJECT_TYPE
from civmil.core.ledger.signing import checkpoint_problem, checkpoint_to_dict, trusted_keys, untrusted_key_message
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
    try:
        stored = change_hash(data)
    except _UNHASHABLE:
        return _("the stored change cannot be hashed (it holds a value no write produces)")
    if stored != expected:
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


# ---------------------------------------------------------------------------------------------
# Reading stored values without trusting them
#
# The tables are read as the database holds them, and each value is converted and checked on its
# own: a value garbled behind the database's back (an id that is no id, a time that is no time, a
# number out of range, text where a number belongs) is named with its entry instead of stopping
# the walk with an exception.

#: Errors of hashing a value no write produces (a number out of JSON's range, deep nesting...).
_UNHASHABLE = (ValueError, TypeError, OverflowError, RecursionError, rfc8785.CanonicalizationError)
_HEX64 = re.compile(r"[0-9a-f]{64}")
_DIGITS = re.compile(r"[0-9]{1,18}")
#: JSON (RFC 8785) represents integers exactly up to this magnitude.
_SAFE_INT = 2**53 - 1
_SHOWN_CHARS = 40


class _Garbled:
    """A stored value that could not be read as its column's type."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw


class _Missing:
    """The stored change of an entry has no row at all."""


_ABSENT = _Missing()

ENTRY_COLUMNS = ("seq", "recorded_at", "space_id", "actor_user_id", "actor_membership_id", "action",
                 "object_type", "object_id", "change_hash", "prev_hash", "entry_hash")
#: The stored change, read beside its entry: its own key, its data, the erasure that nulled it.
CHANGE_COLUMNS = ("change__entry_id", "change__data", "change__erased_by_seq")
CHECKPOINT_COLUMNS = ("id", "tree_size", "root", "signed_at", "public_key", "signature")


def _is_int(value: Any, bound: int = 2**63 - 1) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and -bound <= value <= bound


def _well_formed(column: str, value: Any) -> bool:
    """Whether ``value`` (converted, not ``None``) is of the kind the column holds."""
    if column in ("seq", "id", "tree_size", "entry_id", "change__entry_id", "change__erased_by_seq"):
        return _is_int(value)
    if column == "actor_user_id":
        return _is_int(value, _SAFE_INT)
    if column in ("recorded_at", "signed_at"):
        return isinstance(value, dt.datetime) and value.tzinfo is not None
    if column in ("space_id", "actor_membership_id"):
        return isinstance(value, uuid.UUID)
    if column in ("change_hash", "prev_hash", "entry_hash"):
        return isinstance(value, str) and bool(_HEX64.fullmatch(value))
    if column == "change__data":
        return True  # any JSON; its hash decides
    return isinstance(value, str)


def _shown(raw: Any) -> str:
    text = repr(raw)
    return text if len(text) <= _SHOWN_CHARS else text[:_SHOWN_CHARS] + "..."


def _column_label(column: str) -> str:
    return column.removeprefix("change__").removesuffix("_id") if column.startswith("change__") else column


def _field(model: type[models.Model], column: str) -> models.Field[Any, Any]:
    """The model field a ``values_list`` column names (``change__data``: through the relation)."""
    *path, name = column.split("__")
    for step in path:
        model = model._meta.get_field(step).related_model  # type: ignore[assignment]
    found = model._meta.get_field(name)
    assert isinstance(found, models.Field)
    return found


def _stored_rows(qs: models.QuerySet[Any], columns: tuple[str, ...], using: str) -> Iterator[dict[str, Any]]:
    """The rows of ``qs`` as ``{column: value}``, each value converted on its own.

    A value its column's converters refuse, or that is not of the column's kind, comes back as
    :class:`_Garbled`; nothing a row holds raises. Rows are fetched in chunks (a server-side
    cursor on PostgreSQL). SQLite's driver would parse date-time columns while fetching (and
    raise on a garbled one), so they are fetched as text and parsed here.
    """
    connection = connections[using]
    fields = [_field(qs.model, column) for column in columns]
    selected: list[str] = []
    for index, (column, model_field) in enumerate(zip(columns, fields, strict=True)):
        if connection.vendor == "sqlite" and isinstance(model_field, models.DateTimeField):
            alias = f"verify_text_{index}"
            qs = qs.annotate(**{alias: Cast(column, output_field=models.TextField())})
            selected.append(alias)
        else:
            selected.append(column)
    converters = []
    for model_field in fields:
        col = model_field.get_col(model_field.model._meta.db_table)
        converters.append((connection.ops.get_db_converters(col) + col.get_db_converters(connection), col))
    compiler = qs.values_list(*selected).query.get_compiler(using=using)
    chunks = compiler.execute_sql(MULTI, chunked_fetch=True, chunk_size=_CHUNK)
    if chunks is None:
        return
    for chunk in chunks:
        for raw_row in chunk:
            row: dict[str, Any] = {}
            for index, column in enumerate(columns):
                raw = value = raw_row[index]
                functions, expression = converters[index]
                if raw is not None:
                    try:
                        for convert in functions:
                            value = convert(value, expression, connection)
                    except Exception:  # a garbled value: named by the caller, never raised
                        value = _Garbled(raw)
                    else:
                        if value is None or not _well_formed(column, value):
                            value = _Garbled(raw)
                row[column] = value
            yield row


def _entry_hash_of(row: dict[str, Any]) -> str | None:
    """The hash of an entry's stored fields, or ``None`` when they cannot be hashed."""
    from civmil.core.models import LedgerEntry

    entry = LedgerEntry(**{column: row[column] for column in ENTRY_COLUMNS})
    try:
        return entry_hash(entry_fields(entry))
    except _UNHASHABLE:
        return None


def _unreadable(row: dict[str, Any], columns: tuple[str, ...], nullable: frozenset[str]) -> list[str]:
    """Why values of ``row`` cannot be trusted as stored: garbled, or missing where one is required."""
    reasons = []
    for column in columns:
        value = row[column]
        label = _column_label(column)
        if isinstance(value, _Garbled):
            reasons.append(_("its stored %(column)s is garbled (%(value)s)") % {
                "column": label, "value": _shown(value.raw)})
        elif value is None and column not in nullable:
            reasons.append(_("its stored %(column)s is missing") % {"column": label})
    return reasons


_NULLABLE_ENTRY = frozenset({"space_id", "actor_user_id", "actor_membership_id"})
_NULLABLE_CHECKPOINT: frozenset[str] = frozenset()


def verify(*, using: str = "default") -> VerifyResult:
    """Walk the whole ledger and name every entry, change and checkpoint that does not verify.

    Checks: ``seq`` runs 1, 2, 3... without a gap; each entry's ``prev_hash`` is the previous
    entry's hash and its own hash matches its fields; each stored change hashes to the entry's
    ``change_hash`` (a nulled change only where a ``ledger.erased`` entry exists for it), and no
    change is stored without its entry; each checkpoint is signed by a trusted key and its root
    is the Merkle root of the first ``tree_size`` entries. A stored value that is garbled (not of
    its column's kind), missing or out of range is named with its entry; nothing stored makes the
    walk stop with an exception.
    """
    from civmil.core.models import LedgerChange, LedgerEntry

    result = VerifyResult()
    problems = result.problems
    hashes: list[str] = []
    without_data: list[tuple[int, bool, int | None]] = []  # (seq, row present, erased_by_seq)
    erasures: dict[int, int] = {}
    prev: str | None = GENESIS
    expected_seq = 1
    rows = LedgerEntry.objects.using(using).order_by("seq")
    for row in _stored_rows(rows, ENTRY_COLUMNS + CHANGE_COLUMNS, using):
        seq, seq_readable = row["seq"], _is_int(row["seq"])
        prev_hash, stored_hash = row["prev_hash"], row["entry_hash"]
        if not seq_readable:
            seq = _place_in_chain(prev_hash, using) or expected_seq
        reasons = _unreadable(row, ENTRY_COLUMNS, _NULLABLE_ENTRY)
        problems.extend(Problem(seq, reason) for reason in reasons)
        if seq_readable and seq != expected_seq:
            if seq > expected_seq:
                problems.append(Problem(expected_seq, _("the entry is missing (the next stored entry is #%(seq)d)")
                                        % {"seq": seq}))
            else:
                problems.append(Problem(seq, _("the entry is out of sequence")))
        if seq_readable and prev is not None and isinstance(prev_hash, str) and prev_hash != prev:
            problems.append(Problem(seq, _("its previous hash is not the hash of the entry before it")))
        if not reasons and _entry_hash_of(row) != stored_hash:
            problems.append(Problem(seq, _("its fields do not match its hash (the entry was altered)")))
        object_id = row["object_id"]
        if (row["action"] == ERASED_ACTION and row["object_type"] == ERASED_OBJECT_TYPE
                and isinstance(object_id, str) and _DIGITS.fullmatch(object_id)):
            erasures.setdefault(int(object_id), seq)
        _check_change(seq, row, problems, without_data)
        hashes.append(stored_hash if isinstance(stored_hash, str) else _shown(getattr(stored_hash, "raw", None)))
        if seq_readable or seq == expected_seq:  # an entry whose number is garbled may sort anywhere
            prev = stored_hash if isinstance(stored_hash, str) else None
            expected_seq = seq + 1
    result.entries = len(hashes)
    problems.extend(_missing_change_problems(without_data, erasures))
    problems.extend(_orphan_change_problems(LedgerChange.objects.using(using), using))

    tree = LedgerTree.from_hashes(hashes)
    result.root = tree.root_hex()
    keys = trusted_keys()
    entry_problems = sorted(p.seq for p in problems if p.seq is not None)
    vouched = 0  # entries up to here are vouched for by a checkpoint that verified
    for cp_id, data in _stored_checkpoints(using, problems):
        result.checkpoints += 1
        if data is None:
            continue
        # a root that does not match is first explained by the first entry found bad after `vouched`
        suspect = next((seq for seq in entry_problems if seq > vouched), vouched + 1)
        found = _checkpoint_problems(cp_id, data, tree, keys, vouched, suspect)
        problems.extend(found)
        if not found:
            vouched = max(vouched, int(data["tree_size"]))
    return result


def _place_in_chain(prev_hash: Any, using: str) -> int | None:
    """The number an entry whose own is garbled should have: one after the entry its previous hash
    names (``None`` when that cannot be told). Its place in the table's order would mislead: a
    garbled number sorts anywhere."""
    from civmil.core.models import LedgerEntry

    if prev_hash == GENESIS:
        return 1
    if not isinstance(prev_hash, str):
        return None
    before = LedgerEntry.objects.using(using).filter(entry_hash=prev_hash)
    for row in _stored_rows(before, ("seq",), using):
        if _is_int(row["seq"]):
            return int(row["seq"]) + 1
    return None


def _check_change(seq: int, row: dict[str, Any], problems: list[Problem],
                  without_data: list[tuple[int, bool, int | None]]) -> None:
    """The change stored beside entry ``seq`` (read in the same row)."""
    key, data, erased_by = row["change__entry_id"], row["change__data"], row["change__erased_by_seq"]
    if key is None:  # no row joined: the change is absent
        without_data.append((seq, False, None))
        return
    garbled = [column for column in CHANGE_COLUMNS if isinstance(row[column], _Garbled)]
    if garbled:
        problems.extend(Problem(seq, _("its stored change is garbled: %(column)s (%(value)s)") % {
            "column": _column_label(column), "value": _shown(row[column].raw)}) for column in garbled)
        return
    expected = row["change_hash"]
    if data is not None:
        if isinstance(expected, str):
            reason = _stored_change_problem(data, erased_by, expected)
            if reason:
                problems.append(Problem(seq, reason))
        elif erased_by is not None:
            problems.append(Problem(seq, _("the change is marked erased but its data is still stored")))
    elif erased_by is not None or expected != _NULL_CHANGE:
        without_data.append((seq, True, erased_by))
    # else: the write recorded no change (``None``)


def _orphan_change_problems(changes: models.QuerySet[Any], using: str) -> list[Problem]:
    """Changes stored with no entry of their own (an extra row, or one whose key was garbled)."""
    from civmil.core.models import LedgerEntry

    orphans = changes.exclude(Exists(LedgerEntry.objects.using(using).filter(seq=OuterRef("pk")))).order_by("pk")
    problems = []
    for row in _stored_rows(orphans, ("entry_id",), using):
        key = row["entry_id"]
        if _is_int(key):
            problems.append(Problem(key, _("a change is stored under this entry number, but no such entry exists")))
        else:
            problems.append(Problem(None, _("a change is stored under a garbled entry number (%(value)s) that "
                                            "names no entry") % {"value": _shown(getattr(key, "raw", key))}))
    return problems


def _stored_hashes(using: str) -> list[str]:
    """Every entry's stored hash in ``seq`` order (a garbled one as a text no hash equals)."""
    from civmil.core.models import LedgerEntry

    rows = LedgerEntry.objects.using(using).order_by("seq")
    return [h if isinstance(h, str) else _shown(getattr(h, "raw", None))
            for h in (row["entry_hash"] for row in _stored_rows(rows, ("entry_hash",), using))]


def _stored_checkpoints(using: str, problems: list[Problem]) -> Iterator[tuple[int | None, dict[str, Any] | None]]:
    """Each stored checkpoint as the JSON object it signs, or ``None`` (and a problem) when unreadable."""
    from civmil.core.models import Checkpoint

    rows = Checkpoint.objects.using(using).order_by("tree_size", "id")
    for row in _stored_rows(rows, CHECKPOINT_COLUMNS, using):
        cp_id = row["id"] if _is_int(row["id"]) else None
        reasons = _unreadable(row, CHECKPOINT_COLUMNS, _NULLABLE_CHECKPOINT)
        if reasons:
            problems.extend(Problem(None, _("the checkpoint cannot be read: %(why)s") % {"why": reason}, cp_id)
                            for reason in reasons)
            yield cp_id, None
            continue
        yield cp_id, checkpoint_to_dict(Checkpoint(**row))


def _checkpoint_problems(cp_id: int | None, data: dict[str, Any], tree: LedgerTree, keys: frozenset[str],
                         vouched: int, suspect: int) -> list[Problem]:
    reason = checkpoint_problem(data)
    if reason is not None:
        return [Problem(None, _("the checkpoint does not verify: %(why)s") % {"why": reason}, cp_id)]
    if data["public_key"].lower() not in keys:
        return [Problem(None, untrusted_key_message(str(data["public_key"])), cp_id)]
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
        result.problems.append(Problem(None, untrusted_key_message(str(data["public_key"]), kept=True)))
        return result
    tree = LedgerTree.from_hashes(_stored_hashes(using))
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

"""Three-way merge of a stale edit, for every record type.

An editor loads version *b* of a record (the *base*), changes some fields (*mine*) and saves; in
the meantime someone else saved version *n* (*theirs*). Nothing is written (the service raises
:class:`~civmil.core.errors.StaleEdit`); the edit comes back merged, field by field:

============================  ===========================  =====================
mine vs base                  theirs vs base               outcome
============================  ===========================  =====================
mine == theirs                (any)                        ``same``: either
unchanged                     changed                      ``theirs``
changed                       unchanged                    ``mine``
changed                       changed differently          ``conflict``
base unknown, mine != theirs  base unknown                 ``conflict``
============================  ===========================  =====================

A conflict is shown to the editor beside the field (their value and theirs), who chooses; the
merged form carries version *n*. So a field the editor did not touch never reverts what another
person saved, and nothing is reverted unless the person saving saw it in the merge.

The base comes from the ledger, not from the browser: every write of a protected record stores
the fields it wrote with the version it made (``core.services.create_record`` and
``update_record``), so the values of version *b* are the fold of the record's stored changes up to
*b* (:func:`version_values`). A change erased since (``ledger.erase_change``) makes the fields it
could have touched unknown again, and an unknown base is a conflict whenever the two sides
differ: the merge errs towards asking. See docs/decisions/0004-three-way-merge.md.

Values are compared in the ledger's JSON form (``ledger.snapshot``): times as UTC ISO strings,
related records as ids, many-to-many fields as sets of ids. A caller may pass its own ``same``
(a form that writes times to the minute compares them to the minute) and pack fields that only
make sense together (latitude and longitude) into one value before merging.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from django.db import models

Outcome = Literal["same", "theirs", "mine", "conflict"]
Choice = Literal["theirs", "mine"]
CHOICES: tuple[Choice, ...] = ("theirs", "mine")


class _Unknown:
    """A base value the ledger can no longer tell (never stored, or erased since)."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __bool__(self) -> bool:
        return False


UNKNOWN: Any = _Unknown()


def comparable(value: Any) -> Any:
    """``value`` in a form where equal meaning compares equal: empty text is ``None``, lists and
    sets are sets (many-to-many ids), tuples stay ordered, times are UTC, ids are strings."""
    if value is None or value == "":
        return None
    if isinstance(value, list | set | frozenset):
        return frozenset(str(comparable(v)) for v in value)
    if isinstance(value, tuple):
        return tuple(comparable(v) for v in value)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, models.Model):
        return str(value.pk)
    if isinstance(value, str) and value.endswith("Z") and "T" in value:
        try:
            return dt.datetime.fromisoformat(value).astimezone(dt.UTC).isoformat()
        except ValueError:
            return value
    return value


def same_value(_name: str, a: Any, b: Any) -> bool:
    """The default comparison: equal once made :func:`comparable`."""
    return bool(comparable(a) == comparable(b))


Same = Callable[[str, Any, Any], bool]


@dataclass(frozen=True)
class FieldMerge:
    """One field of a merge: the three values and what the merge made of them."""

    name: str
    base: Any
    mine: Any
    theirs: Any
    outcome: Outcome

    @property
    def conflict(self) -> bool:
        return self.outcome == "conflict"

    @property
    def differs(self) -> bool:
        """The editor's value is not the record's current one."""
        return self.outcome != "same"

    @property
    def changed_by(self) -> Literal["them", "you", "both"] | None:
        """Who changed the field since the base, when the two values differ."""
        return {"theirs": "them", "mine": "you", "conflict": "both"}.get(self.outcome)  # type: ignore[return-value]

    def value(self, choice: Choice | None = None) -> Any:
        """The merged value; a conflict needs the editor's ``choice``."""
        if self.outcome == "theirs" or (self.outcome == "conflict" and choice == "theirs"):
            return self.theirs
        if self.outcome in ("mine", "same") or choice == "mine":
            return self.mine
        raise ValueError(f"{self.name}: both sides changed it; choose theirs or mine")


@dataclass(frozen=True)
class Merge:
    """A stale edit merged with the record's current version."""

    base_version: int
    current_version: int
    fields: dict[str, FieldMerge] = field(default_factory=dict)

    @property
    def conflicts(self) -> list[str]:
        """Fields both sides changed differently (the editor must choose)."""
        return [name for name, f in self.fields.items() if f.conflict]

    @property
    def differing(self) -> list[FieldMerge]:
        """Fields where the editor's value differs from the current one, in field order."""
        return [f for f in self.fields.values() if f.differs]

    def outcome(self, name: str) -> Outcome | None:
        found = self.fields.get(name)
        return found.outcome if found else None

    def merged(self, choices: Mapping[str, Choice] | None = None) -> dict[str, Any]:
        """The merged values of every field decided (by the merge, or by ``choices`` for conflicts)."""
        choices = choices or {}
        return {name: f.value(choices.get(name)) for name, f in self.fields.items()
                if not f.conflict or choices.get(name) in CHOICES}

    def remerge(self, *, same: Same = same_value, pack: Callable[[dict[str, Any]], dict[str, Any]] | None = None
                ) -> Merge:
        """The same three sides merged again with another comparison or packing (see :func:`three_way`)."""
        sides = [{n: getattr(f, side) for n, f in self.fields.items()} for side in ("base", "mine", "theirs")]
        if pack is not None:
            sides = [pack(s) for s in sides]
        return three_way(sides[0], sides[1], sides[2], base_version=self.base_version,
                         current_version=self.current_version, same=same)


def decide(name: str, base: Any, mine: Any, theirs: Any, same: Same = same_value) -> Outcome:
    """The outcome of one field (the table of the module's docstring)."""
    if same(name, mine, theirs):
        return "same"
    if base is UNKNOWN:
        return "conflict"
    if same(name, mine, base):
        return "theirs"
    if same(name, theirs, base):
        return "mine"
    return "conflict"


def three_way(base: Mapping[str, Any] | None, mine: Mapping[str, Any], theirs: Mapping[str, Any], *,
              base_version: int, current_version: int, same: Same = same_value) -> Merge:
    """Merge every field of ``mine`` (a field missing from ``base`` is unknown, from ``theirs`` is
    empty). ``same(name, a, b)`` decides whether two values of a field are equal."""
    base = base or {}
    fields = {}
    for name, value in mine.items():
        b = base.get(name, UNKNOWN)
        t = theirs.get(name)
        fields[name] = FieldMerge(name=name, base=b, mine=value, theirs=t, outcome=decide(name, b, value, t, same))
    return Merge(base_version=base_version, current_version=current_version, fields=fields)


# ---------------------------------------------------------------------------------------------
# The sides, from a record and its ledger


def _ledger_key(obj: models.Model) -> tuple[str, str]:
    return f"{obj._meta.app_label}.{obj._meta.model_name}", str(obj.pk)


def version_values(obj: models.Model, version: int, fields: Iterable[str]) -> dict[str, Any]:
    """The values ``fields`` had at ``version`` of ``obj``, in the ledger's JSON form; a field the
    ledger cannot tell (never stored, or its change erased since) is left out.

    ``obj`` is the record now: when it is still at ``version`` its own values are the answer.
    Callers have checked that the reader may edit ``obj`` (the editor sees it in full).
    """
    from civmil.core import ledger
    from civmil.core.models import LedgerEntry

    wanted = list(fields)
    if getattr(obj, "version", None) == version:
        return ledger.snapshot(obj, wanted)
    object_type, object_id = _ledger_key(obj)
    values: dict[str, Any] = {}
    found = False
    entries = (LedgerEntry.objects.filter(object_type=object_type, object_id=object_id)
               .select_related("change").order_by("seq"))
    for entry in entries:
        change = getattr(entry, "change", None)
        data = change.data if change is not None else None
        if data is None:
            values.clear()  # an erased change could have written any field
            continue
        if not isinstance(data, dict) or "version" not in data:
            continue  # releases, grants: no field of the record changes
        try:
            at = int(data["version"])
        except (TypeError, ValueError):
            values.clear()
            continue
        if at > version:
            break
        values.update({name: data[name] for name in wanted if name in data})
        if at == version:
            found = True
            break
    return values if found else {}


def json_values(changes: Mapping[str, Any], m2m: Mapping[str, Iterable[Any]] | None = None) -> dict[str, Any]:
    """Submitted values in the ledger's JSON form (many-to-many as sorted id lists)."""
    from civmil.core.ledger.chain import _jsonable

    out = {name: _jsonable(value) for name, value in changes.items()}
    for name, items in (m2m or {}).items():
        out[name] = sorted(str(getattr(item, "pk", item)) for item in items)
    return out


def stale_merge(obj: models.Model, base_version: int, changes: Mapping[str, Any],
                m2m: Mapping[str, Iterable[Any]] | None = None) -> Merge:
    """The three-way merge of an edit of ``obj`` made from ``base_version`` (``obj`` is current)."""
    from civmil.core import ledger

    mine = json_values(changes, m2m)
    names = list(mine)
    return three_way(version_values(obj, base_version, names), mine, ledger.snapshot(obj, names),
                     base_version=base_version, current_version=int(getattr(obj, "version", 0)))

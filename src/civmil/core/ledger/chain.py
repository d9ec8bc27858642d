"""Appending to the hash chain."""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import rfc8785
from django.db import connection, models
from django.utils import timezone

if TYPE_CHECKING:
    from civmil.core.acting import Actor
    from civmil.core.models import LedgerEntry

GENESIS = "0" * 64
#: Key of the PostgreSQL advisory lock that serialises appends.
_PG_LOCK_KEY = 0x63_69_76_6D_69_6C  # "civmil"


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_jsonable(v) for v in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return value
    if isinstance(value, models.Model):
        return str(value.pk)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def canonical(value: Any) -> bytes:
    """RFC 8785 canonical JSON of ``value`` (dates, UUIDs and models made JSON first)."""
    return bytes(rfc8785.dumps(_jsonable(value)))


def change_hash(change: Any) -> str:
    return hashlib.sha256(canonical(change)).hexdigest()


def entry_hash(fields: dict[str, Any]) -> str:
    """Hash of an entry's own fields (everything but ``entry_hash``)."""
    return hashlib.sha256(canonical(fields)).hexdigest()


def entry_fields(entry: LedgerEntry) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "recorded_at": entry.recorded_at,
        "space": entry.space_id,
        "actor_user": entry.actor_user_id,
        "actor_membership": entry.actor_membership_id,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "change_hash": entry.change_hash,
        "prev_hash": entry.prev_hash,
    }


def snapshot(obj: models.Model, fields: Iterable[str]) -> dict[str, Any]:
    """The values of ``fields`` of ``obj`` as JSON-ready data (many-to-many as sorted id lists)."""
    data: dict[str, Any] = {}
    for name in fields:
        field = obj._meta.get_field(name)
        if field.many_to_many:
            data[name] = sorted(str(pk) for pk in getattr(obj, name).values_list("pk", flat=True))
        elif field.is_relation:
            data[name] = _jsonable(getattr(obj, getattr(field, "attname", name)))
        else:
            data[name] = _jsonable(getattr(obj, name))
    return data


def _lock() -> None:
    lock_writes()


def lock_writes() -> None:
    """Take the lock that serialises the mission's writes (PostgreSQL: a transaction advisory lock,
    held until commit; SQLite serialises writers itself). A service that locks rows other writers
    also lock (the level counters of the audience) takes it first, so every writer takes the two
    in the same order and none waits for the other in a circle."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_PG_LOCK_KEY])


def append(
    actor: Actor | None,
    action: str,
    object_type: str,
    object_id: Any,
    change: dict[str, Any] | None,
    *,
    space_id: uuid.UUID | None = None,
) -> LedgerEntry:
    """Append one entry for a write; must run inside the service's transaction.

    ``change`` is stored beside the entry (erasable later); the entry keeps only its hash.
    """
    from civmil.core.models import LedgerChange, LedgerEntry

    if not connection.in_atomic_block:
        raise RuntimeError("ledger.append must run inside the service's transaction")
    _lock()
    last = LedgerEntry.objects.order_by("-seq").values_list("seq", "entry_hash").first()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    data = _jsonable(change) if change is not None else None
    now = timezone.now()
    entry = LedgerEntry(
        seq=seq,
        recorded_at=now.replace(microsecond=now.microsecond // 1000 * 1000),
        space_id=space_id if space_id is not None else (actor.space_id if actor else None),
        actor_user_id=actor.user_id if actor else None,
        actor_membership_id=actor.membership_id if actor else None,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        change_hash=change_hash(data),
        prev_hash=prev,
    )
    entry.entry_hash = entry_hash(entry_fields(entry))
    entry.save(force_insert=True)
    LedgerChange.objects.create(entry=entry, data=data)
    return entry

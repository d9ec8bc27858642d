"""Appending to the hash chain."""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import math
import uuid
from collections.abc import Iterable, Sequence
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


#: Integers RFC 8785 writes (the doubles that hold them exactly).
_SAFE_INT = 2**53 - 1


def _plain(value: Any) -> bool:
    """Whether the standard library's compact, key-sorted JSON of ``value`` is byte for byte its
    RFC 8785 form: strings (escaped alike by both), integers in JSON's safe range, booleans, null,
    floats that both write as their shortest plain decimal (not integral, 1e-4 <= |x| < 1e16), and
    lists and objects of these with ASCII keys (sorted alike by code point and by UTF-16)."""
    if value is None or isinstance(value, str | bool):
        return True
    if isinstance(value, int):
        return -_SAFE_INT <= value <= _SAFE_INT
    if isinstance(value, float):
        return math.isfinite(value) and not value.is_integer() and 1e-4 <= abs(value) < 1e16
    if isinstance(value, dict):
        return all(isinstance(k, str) and k.isascii() and _plain(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return all(_plain(v) for v in value)
    return False


def _checked(value: Any, odd: list[Any]) -> Any:
    """:func:`_jsonable` of ``value``, adding to ``odd`` what :func:`_plain` would refuse, in one
    pass (the common types first; any other goes the general way)."""
    kind = type(value)
    if kind is str or value is None or kind is bool:
        return value
    if kind is int:
        if not -_SAFE_INT <= value <= _SAFE_INT:
            odd.append(value)
        return value
    if kind is dict:
        out = {}
        for k, v in value.items():
            key = k if type(k) is str else str(k)
            if not key.isascii():
                odd.append(key)
            leaf = type(v)
            out[key] = v if leaf is str or v is None or leaf is bool else _checked(v, odd)
        return out
    if kind is list or kind is tuple:
        return [_checked(v, odd) for v in value]
    if kind is uuid.UUID:
        return str(value)
    if kind is float:  # as _jsonable (itself) and _plain would have it
        if not (math.isfinite(value) and not value.is_integer() and 1e-4 <= abs(value) < 1e16):
            odd.append(value)
        return value
    if kind is dt.datetime:
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    data = _jsonable(value)
    if not _plain(data):
        odd.append(data)
    return data


def canonical(value: Any) -> bytes:
    """RFC 8785 canonical JSON of ``value`` (dates, UUIDs and models made JSON first).

    Values whose RFC 8785 form the standard library's JSON writes identically (:func:`_plain`:
    nearly every change) take that path, several times faster; anything else (a float RFC 8785
    writes differently, a non-ASCII key, a lone surrogate) goes through ``rfc8785``, which also
    refuses what JSON cannot hold."""
    return _json_and_canonical(value)[1]


def _json_and_canonical(value: Any) -> tuple[Any, bytes]:
    """``value`` made JSON (:func:`_jsonable`) and its canonical JSON (:func:`canonical`)."""
    odd: list[Any] = []
    data = _checked(value, odd)
    return data, _dumps(data) if not odd else bytes(rfc8785.dumps(data))


def _canonical_json(data: Any) -> bytes:
    """:func:`canonical` of a value already made JSON (:func:`_jsonable`)."""
    return _dumps(data) if _plain(data) else bytes(rfc8785.dumps(data))


#: What ``json.dumps`` builds for each call with these arguments, built once.
_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)
_string = json.encoder.encode_basestring  # a string as _ENCODER writes it


def _dumps(data: Any) -> bytes:
    """The standard library's compact, key-sorted JSON of ``data``, which :func:`_plain` accepts."""
    try:
        return _ENCODER.encode(data).encode()
    except UnicodeEncodeError:  # a lone surrogate: rfc8785 refuses it
        return bytes(rfc8785.dumps(data))


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


def _recorded_at() -> dt.datetime:
    now = timezone.now()
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


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
    entry = LedgerEntry(
        seq=seq,
        recorded_at=_recorded_at(),
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


#: One write for :func:`append_many`: (actor, action, object type, object id, change).
Planned = tuple["Actor | None", str, str, Any, "dict[str, Any] | None"]


def append_many(planned: Sequence[Planned]) -> int:
    """Append one entry per planned write, in order, as :func:`append` would one by one (the same
    fields, hashes and chain), in two bulk inserts; must run inside the writing transaction.
    Returns the sequence number of the last entry (0 when nothing was planned)."""
    from civmil.core.bulk import Table
    from civmil.core.models import LedgerChange, LedgerEntry

    if not connection.in_atomic_block:
        raise RuntimeError("ledger.append_many must run inside the service's transaction")
    if not planned:
        return 0
    _lock()
    last = LedgerEntry.objects.order_by("-seq").values_list("seq", "entry_hash").first()
    seq, prev = (last[0], last[1]) if last else (0, GENESIS)
    recorded_at = _recorded_at()
    when = _jsonable(recorded_at)
    when_text = _string(when)
    # On SQLite the change's canonical JSON is stored as the column's text (the same data, read
    # back by any JSON reader); elsewhere the field's own adapter writes it.
    text_column = connection.vendor == "sqlite"
    sha256 = hashlib.sha256
    actors: dict[int, tuple[Any, ...]] = {}
    entries: list[tuple[Any, ...]] = []
    changes: list[tuple[Any, ...]] = []
    for actor, action, object_type, object_id, change in planned:
        seq += 1
        if change is None:
            data, text = None, _dumps(None)
        else:
            data, text = _json_and_canonical(change)
        who = actors.get(id(actor))  # the actor's columns and their JSON, once per actor
        if who is None:
            space = actor.space_id if actor else None
            membership = actor.membership_id if actor else None
            user = actor.user_id if actor else None
            space_json, membership_json = _jsonable(space), _jsonable(membership)
            plain_actor = _plain([space_json, user, membership_json])
            texts = tuple(_ENCODER.encode(v) for v in (membership_json, user, space_json)) if plain_actor else ()
            who = actors[id(actor)] = (space, user, membership, space_json, membership_json, plain_actor, *texts)
        space, user, membership, space_json, membership_json, plain_actor = who[:6]
        digest = sha256(text).hexdigest()
        object_text = str(object_id)
        # The entry's fields are text, the actor's columns and the sequence number: the quick path
        # holds whenever the actor's do and the number is within JSON's safe integers.
        plain = plain_actor and seq <= _SAFE_INT and type(action) is str and type(object_type) is str
        entry_json = None
        if plain:
            membership_text, user_text, space_text = who[6:]
            # What _dumps() writes of entry_fields() for the entry (keys in order, each value as
            # the encoder writes it), put together without building the object for each entry.
            try:
                entry_json = (f'{{"action":{_string(action)},"actor_membership":{membership_text},'
                              f'"actor_user":{user_text},"change_hash":"{digest}",'
                              f'"object_id":{_string(object_text)},"object_type":{_string(object_type)},'
                              f'"prev_hash":{_string(prev)},"recorded_at":{when_text},"seq":{seq},'
                              f'"space":{space_text}}}').encode()
            except UnicodeEncodeError:  # a lone surrogate: the general way below refuses it
                entry_json = None
        if entry_json is None:
            # What entry_fields() gives for the entry, made JSON as entry_hash() would.
            fields = {
                "seq": seq, "recorded_at": when, "space": space_json, "actor_user": user,
                "actor_membership": membership_json, "action": action, "object_type": object_type,
                "object_id": object_text, "change_hash": digest, "prev_hash": prev,
            }
            entry_json = _dumps(fields) if plain else _canonical_json(fields)
        entry = sha256(entry_json).hexdigest()
        entries.append((seq, recorded_at, space, user, membership, action, object_type, object_text, digest, prev,
                        entry))
        changes.append((seq, text.decode() if text_column and data is not None else data))
        prev = entry
    Table(LedgerEntry, ["seq", "recorded_at", "space_id", "actor_user_id", "actor_membership_id", "action",
                        "object_type", "object_id", "change_hash", "prev_hash", "entry_hash"]).insert(entries)
    Table(LedgerChange, ["entry", "data"], raw=("data",) if text_column else ()).insert(changes)
    return seq

"""Writing many protected records of one type at once: load tests and benchmark data.

:func:`create_records` writes what :func:`civmil.core.services.create_record` and
:func:`civmil.core.services.release_record` would write for each record, one batch at a time:
the record, its many-to-many rows, its releases, its audience and the level counts
(:func:`civmil.core.access.audience_keys`, :func:`civmil.core.services.count_levels`), one ledger
entry per record and per release (:func:`civmil.core.ledger.append_many`, the same chain as
one append after another), the box of a :class:`~civmil.core.models.Placed` record (its spatial
index follows the box: triggers on SQLite, a GiST index on PostgreSQL) and, through
:data:`records_created`, what other apps keep of each record (the search index). Each record
passes the access policy as in the services (:func:`civmil.core.access.creation_refused`).

It publishes no live event: a load of thousands of records is no news for anyone's screen, and
the outbox would only be pruned again. It skips the model's ``full_clean`` (a query per foreign
key) and model instances altogether (rows go to the database as plain tuples, which is what
makes it fast): the database's constraints still refuse what the model forbids, and the callers
are the demo's generator and the benchmarks, never user input.

:class:`Draft` is what a record type's ``synthesize`` hook (:class:`civmil.core.registry.RecordType`)
is given when ``civmil demo scale`` makes up one of its records.
"""

from __future__ import annotations

import datetime as dt
import gc
import random
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import connection, models, transaction
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext as _

from civmil.core import access, ledger, registry, spatial
from civmil.core.choices import Level
from civmil.core.errors import Forbidden, Invalid

if TYPE_CHECKING:
    from civmil.core.acting import Actor
    from civmil.core.models import Organisation, Person

#: Sent inside the writing transaction after each batch of :func:`create_records`, with
#: ``rows``: each record's values by field name (related records by id: ``id``, ``space``,
#: ``owner``, ``level``, ``created_by``, ...). What other apps keep of every
#: saved record (the search index) they add here in bulk, since ``post_save`` is not sent.
records_created = Signal()

BATCH = 5000
#: SQLite's page cache while a bulk write runs, in KiB (the default is 2 MiB): the indexes it
#: inserts into at random places (UUID keys) stay in memory instead of being read and spilled
#: again and again. Put back when the write ends.
SQLITE_CACHE_KIB = 262_144


@dataclass(frozen=True)
class PlannedRelease:
    """One release of a planned record by its owner: to one target, in full (``fields`` None) or
    of some of the type's release fields."""

    organisation_id: Any = None
    component: str = ""
    person_id: Any = None
    fields: tuple[str, ...] | None = None


@dataclass
class PlannedRecord:
    """A record to write for ``actor``'s organisation, which owns it; ``actor`` is its submitter.

    ``values`` maps the model's field names to values (related records by id; an ``id`` may be
    given); fields left out take their defaults. ``m2m`` maps many-to-many fields to ids.
    """

    actor: Actor
    level: str
    values: dict[str, Any]
    m2m: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    releases: Sequence[PlannedRelease] = ()


@dataclass
class Written:
    records: int = 0
    releases: int = 0
    ledger_entries: int = 0
    audience_rows: int = 0

    def add(self, other: Written) -> None:
        self.records += other.records
        self.releases += other.releases
        self.ledger_entries += other.ledger_entries
        self.audience_rows += other.audience_rows


@dataclass
class Draft:
    """A made-up record a type's ``synthesize`` hook may adjust before it is written.

    ``values`` maps field names to what the generator chose from the model's fields (related
    records as ids, many-to-many as lists of ids); the hook changes it in place so that the record
    meets rules the generator cannot read from the fields (a check constraint, a service's rule).
    ``actor`` writes the record for its ``owner``; ``members(org_id)`` gives the people with a
    current membership of an organisation; ``organisations`` and ``people`` are the ones to pick
    from.
    """

    rng: random.Random
    actor: Actor
    owner: Organisation
    level: str
    values: dict[str, Any]
    organisations: Sequence[Organisation]
    people: Sequence[Person]
    members: Callable[[Any], Sequence[Person]]


class TimeOrderedIds:
    """Ids for made-up records that sort in the order they are made: RFC 9562 version 7 UUIDs
    holding the milliseconds of ``now`` since 1970, then a counter (42 bits, across ``rand_a``
    and the top of ``rand_b``, as the RFC's "fixed bit-length dedicated counter" method), then
    32 bits from ``rng`` (the same seed and ``now`` give the same ids).

    Random (version 4) keys put each new row at a random place of every index keyed by the
    record's id, so a batch of thousands rewrites most of those indexes' pages; these land
    together, after the ids of any earlier run. Only the bulk path's synthetic records use
    them: what people create keeps random ids, which reveal nothing of when or in which order
    records were made.
    """

    _COUNTER_BITS = 42

    def __init__(self, rng: random.Random, now: dt.datetime) -> None:
        self.rng = rng
        self.prefix = (int(now.timestamp() * 1000) & (2**48 - 1)) << 80 | 0x7 << 76 | 0b10 << 62
        self.count = 0

    def __call__(self) -> uuid.UUID:
        n = self.count
        if n >= 2**self._COUNTER_BITS:
            raise OverflowError("time-ordered ids: counter exhausted")
        self.count = n + 1
        return uuid.UUID(int=self.prefix | (n >> 30) << 64 | (n & (2**30 - 1)) << 32 | self.rng.getrandbits(32))


# ---------------------------------------------------------------------------------------------
# Rows as the database stores them


def _utc_text(value: Any) -> Any:
    """An aware datetime as SQLite stores it (what ``adapt_datetimefield_value`` gives with
    ``USE_TZ``: naive UTC, ISO with a space)."""
    if value is None:
        return None
    return str(value.astimezone(dt.UTC).replace(tzinfo=None))


def _adapter(model_field: Any) -> Callable[[Any], Any] | None:
    """How a value of ``model_field`` goes to the database (what the field's ``get_db_prep_save``
    does, without its per-call dispatch where that is plain); ``None``: as it is."""
    target = model_field.target_field if model_field.is_relation else model_field
    sqlite = connection.vendor == "sqlite"
    if isinstance(target, models.UUIDField) and not connection.features.has_native_uuid_field:
        return lambda v: None if v is None else (v.hex if isinstance(v, uuid.UUID) else uuid.UUID(str(v)).hex)
    if isinstance(target, models.UUIDField | models.BigAutoField | models.AutoField):
        return None
    if isinstance(target, models.DateTimeField):
        return _utc_text if sqlite and settings.USE_TZ else connection.ops.adapt_datetimefield_value
    if isinstance(target, models.DateField):
        return connection.ops.adapt_datefield_value
    if isinstance(target, models.CharField | models.TextField):
        return lambda v: v if v is None or type(v) is str else str(v)  # choices are str subclasses
    if isinstance(target, models.IntegerField | models.FloatField | models.BooleanField):
        return None
    return lambda v: model_field.get_db_prep_save(v, connection)


class Table:
    """Plain-tuple inserts into one model's table: ``insert(rows)`` with one value per column, in
    the order of ``fields`` (model field names), adapted as the model fields store them, except
    the ``raw`` fields, whose values are given as the database stores them."""

    def __init__(self, model: type[models.Model], fields: Sequence[str], raw: Sequence[str] = ()) -> None:
        meta = model._meta
        chosen: list[Any] = [meta.get_field(name) for name in fields]
        quote = connection.ops.quote_name
        columns = ", ".join(quote(str(f.column)) for f in chosen)
        self.sql = (f"INSERT INTO {quote(meta.db_table)} ({columns}) "  # noqa: S608 - names from the model
                    f"VALUES ({', '.join(['%s'] * len(chosen))})")
        self.adapters = [(i, a) for i, a in enumerate(None if name in raw else _adapter(f)
                                                      for name, f in zip(fields, chosen, strict=True))
                         if a is not None]

    def insert(self, rows: Iterable[Sequence[Any]]) -> int:
        if not self.adapters:
            given = rows if isinstance(rows, list) else list(rows)
            return self._execute(given)
        adapted = [list(row) for row in rows]
        for i, adapt in self.adapters:  # column by column: one call per value, no per-row dispatch
            last: Any = _UNSET
            done: Any = None
            for row in adapted:
                value = row[i]
                if value is not last:  # rows in a run often share a value (a time, an owner, a record's id)
                    last, done = value, adapt(value)
                row[i] = done
        return self._execute(adapted)

    def _execute(self, rows: Sequence[Sequence[Any]]) -> int:
        if rows:
            with connection.cursor() as cursor:
                cursor.executemany(self.sql, rows)
        return len(rows)


_UNSET = object()


# ---------------------------------------------------------------------------------------------
# Records


def _refused(record_type: registry.RecordType, planned: PlannedRecord) -> str | None:
    actor = planned.actor
    owner = actor.organisation
    if owner is None:
        return _("You need a current membership of an organisation to create records.")
    reason = access.creation_refused(actor, record_type.model, owner, planned.level)
    if reason:
        return reason
    for release in planned.releases:
        if planned.level == Level.OVERSIGHT:
            return _("Oversight records are opened only by case grants, never by releases.")
        unknown = set(release.fields or ()) - set(record_type.release_fields)
        if release.fields is not None and (not release.fields or unknown):
            return _("These fields cannot be released one by one: %(f)s. Releasable: %(ok)s.") % {
                "f": ", ".join(sorted(unknown)) or "-", "ok": ", ".join(record_type.release_fields)}
        if sum(x is not None and x != "" for x in (release.organisation_id, release.component,
                                                   release.person_id)) != 1:
            return _("A release needs exactly one target: an organisation, a component or a person.")
    return None


class _Writer:
    """What one type's batches share: its columns, adapters and ledger names."""

    def __init__(self, record_type: registry.RecordType, action: str, fields: Sequence[str]) -> None:
        from civmil.core.models import Placed, Release
        from civmil.core.models.records import Audience
        from civmil.core.services import object_type

        model = record_type.model
        self.record_type, self.model, self.action = record_type, model, action
        self.key = object_type(model)
        self.content_type = ContentType.objects.get_for_model(model)
        self.placed = issubclass(model, Placed)
        self.period = {"starts_at", "ends_at"} <= {f.name for f in model._meta.concrete_fields}
        self.columns = [f for f in model._meta.concrete_fields]
        self.table = Table(model, [f.name for f in self.columns])
        self.stored_id = _adapter(model._meta.pk) or (lambda v: v)
        self.defaults = {f.name: f.get_default() for f in self.columns}
        meta_fields = {f.name: f for f in model._meta.get_fields()}
        self.plain = [name for name in fields if not getattr(meta_fields[name], "many_to_many", False)]
        self.related = [name for name in self.plain if meta_fields[name].is_relation]
        self.m2m: dict[str, tuple[Table, str, str]] = {}
        for f in model._meta.many_to_many:
            many: Any = f
            through = many.remote_field.through
            source, target = many.m2m_field_name(), many.m2m_reverse_field_name()
            self.m2m[f.name] = (Table(through, [source, target]), source, target)
        self.releases = Table(Release, ["id", "content_type", "object_id", "target_organisation", "target_component",
                                        "target_person", "fields", "released_by", "created_at"])
        self.audience = Table(Audience, ["content_type", "object_id", "space", "key", "level"])

    def values(self, planned: PlannedRecord, now: Any) -> dict[str, Any]:
        """Every column's value by field name (attname for relations), as the services would save."""
        from civmil.core.geometry import parse_stored

        actor = planned.actor
        given = planned.values
        row = {**self.defaults, **given}
        row["id"] = given.get("id") or uuid.uuid4()
        row.update(space=actor.space_id, owner=actor.organisation_id, level=str(planned.level),
                   created_by=actor.person_id, created_at=now, updated_at=now, version=1)
        if self.placed:
            geometry = row.get("geometry")
            if geometry in (None, ""):
                row.update(geometry=None, west=None, south=None, east=None, north=None)
            else:
                stored, box = parse_stored(geometry, allowed=self.model.GEOMETRY_TYPES)  # type: ignore[attr-defined]
                row.update(geometry=stored, west=box.west, south=box.south, east=box.east, north=box.north)
        if self.period:
            if row.get("starts_at") is not None and row.get("ends_at") is None:
                row["ends_at"] = row["starts_at"]
            if row.get("ends_at") is not None and row["ends_at"] < row["starts_at"]:
                message = _("The end is before the start.")
                raise Invalid(message, errors={"ends_at": [message]})
        return row

    def write(self, batch: Sequence[PlannedRecord]) -> Written:
        allowed: set[tuple[Any, str]] = set()  # (membership, level) the policy already allowed
        for planned in batch:
            if (planned.actor.membership_id, planned.level) in allowed and not planned.releases:
                continue
            reason = _refused(self.record_type, planned)
            if reason:
                raise Forbidden(reason, errors={"level": [reason]})
            allowed.add((planned.actor.membership_id, planned.level))
        now = timezone.now()
        rows = [self.values(p, now) for p in batch]
        table_rows = [[row[f.name] for f in self.columns] for row in rows]
        if self.placed:  # the spatial index filled for the batch at once
            stored_id = self.stored_id
            spatial.insert_many(self.model, [stored_id(row["id"]) for row in rows],
                                lambda: self.table.insert(table_rows))
        else:
            self.table.insert(table_rows)

        ct, key = self.content_type.pk, self.key
        m2m_rows: dict[str, list[tuple[Any, Any]]] = {name: [] for name in self.m2m}
        releases: list[tuple[Any, ...]] = []
        audience: list[tuple[Any, ...]] = []
        counts: Counter[tuple[Any, str]] = Counter()
        entries: list[ledger.chain.Planned] = []
        texts: dict[Any, str] = {}  # the text of ids that recur from record to record (owners, people)
        audiences: dict[tuple[Any, str, Any, Any], list[str]] = {}  # the keys of a record without releases

        def text(value: Any) -> Any:
            if type(value) is not uuid.UUID:
                return value
            found = texts.get(value)
            if found is None:
                found = texts[value] = str(value)
            return found

        for planned, row in zip(batch, rows, strict=True):
            actor, pk, level, space = planned.actor, row["id"], row["level"], row["space"]
            change: dict[str, Any] = {"version": 1}
            for name in self.plain:
                change[name] = row[name]
            for name in self.related:  # as the ledger writes them (text), each id made text once
                change[name] = text(change[name])
            for name, ids in planned.m2m.items():
                unique = list(dict.fromkeys(ids))
                m2m_rows[name].extend([(pk, i) for i in unique])
                change[name] = sorted([str(text(i)) for i in unique])
            entries.append((actor, self.action, key, pk, change))
            targets = []
            for r in planned.releases:
                release_id = uuid.uuid4()
                fields = sorted(r.fields) if r.fields is not None else None
                releases.append((release_id, ct, pk, r.organisation_id, r.component or "", r.person_id, fields,
                                 actor.person_id, now))
                targets.append((r.organisation_id, r.component or "", r.person_id))
                entries.append((actor, "release.added", key, pk, {
                    "release": release_id, "fields": fields, "target_organisation": r.organisation_id,
                    "target_component": r.component or None, "target_person": r.person_id}))
            counts[(space, level)] += 1
            if targets:
                keys = sorted(access.audience_keys(level, row["owner"], row["created_by"], targets))
            else:
                group = (space, level, row["owner"], row["created_by"])
                keys = audiences.get(group) or audiences.setdefault(
                    group, sorted(access.audience_keys(level, row["owner"], row["created_by"])))
            audience.extend([(ct, pk, space, audience_key, level) for audience_key in keys])
        for name, pairs in m2m_rows.items():
            self.m2m[name][0].insert(pairs)
        self.releases.insert(releases)
        self.audience.insert(audience)
        from civmil.core.services import count_levels

        count_levels(self.content_type, counts)
        ledger.append_many(entries)
        records_created.send(sender=self.model, rows=rows)
        return Written(records=len(rows), releases=len(releases), ledger_entries=len(entries),
                       audience_rows=len(audience))


def create_records(model: type[models.Model], planned: Sequence[PlannedRecord], *, action: str,
                   fields: Sequence[str], batch_size: int = BATCH) -> Written:
    """Write ``planned`` records of ``model`` as the services would (module docstring), each batch
    of ``batch_size`` in one transaction (a savepoint inside the caller's). ``action`` and
    ``fields`` are those of the type's create service: the ledger entry of each record holds
    ``{"version": 1, ...}`` with the values of ``fields`` and of its many-to-many fields.

    A record the policy refuses (a level its owner may not hold) stops the write with
    :class:`~civmil.core.errors.Forbidden`, nothing of its batch written.
    """
    writer = _Writer(registry.get(model), action, fields)
    written = Written()
    with _roomy_cache(), _no_cycle_collection():
        for start in range(0, len(planned), batch_size):
            with transaction.atomic():
                written.add(writer.write(planned[start:start + batch_size]))
    return written


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """The block runs without Python's cycle collector (as it was afterwards): a bulk write makes
    hundreds of thousands of short-lived rows, none in a cycle, and the collector would walk them
    and every other live object again and again (a fifth of the write's time)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@contextmanager
def _roomy_cache() -> Iterator[None]:
    """A larger SQLite page cache for the block (:data:`SQLITE_CACHE_KIB`); nothing elsewhere."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        before = int(cursor.fetchone()[0])
        cursor.execute(f"PRAGMA cache_size = -{int(SQLITE_CACHE_KIB)}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {before}")


def check_size(n: int, most: int) -> None:
    """Refuse a number of records that is not positive or beyond ``most``."""
    if n <= 0 or n > most:
        message = _("Give a number of records between 1 and %(most)s (got %(n)s).") % {"most": f"{most:,}", "n": n}
        raise Invalid(message, errors={"records": [message]})

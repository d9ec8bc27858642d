"""The spatial index of records with a place (and a time), chosen by ``bench/spatial_index.py``.

See docs/decisions/0007-spatial-index.md. A model built on :class:`civmil.core.models.Placed`
gets its index from one migration operation, :class:`SpatialIndex`, and sets
``spatial_index = True``; :func:`overlapping` then finds its records by box and time window
through the index. The index has a time dimension when the model has a time (:func:`time_fields`):
a :class:`~civmil.core.models.Period` (``starts_at``..``ends_at``), or the field(s) named by
``spatial_time`` -- one field for a record of an instant (``spatial_time = ("occurred_at",)``:
it starts and ends then), or its start and end.

- **SQLite**: an R*Tree virtual table ``<table>_rtree`` on (west..east, south..north[, start..end]),
  keyed by ``<table>_place_key`` (an integer key per record: an R*Tree's id is an integer, the
  records' ids are UUIDs, and SQLite's own rowid may change on VACUUM). Triggers on the table keep
  both in step with every insert, update and delete, bulk ones included, in the same transaction
  (the kernel's bulk path fills the index for a whole batch instead: :func:`insert_many`).
- **PostgreSQL**: one GiST index on ``box(point(west, south), point(east, north))`` (and
  ``tstzrange(start, end, '[]')``), built-in types only.

The index narrows; the box and period columns decide (an R*Tree keeps 32-bit floats, rounded outward).
The SQL here names only the model's own table and columns (quoted); every value is a parameter.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, connections, models, transaction
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ProjectState
from django.db.models.expressions import RawSQL

from civmil.core.geometry import Bounds

BOX = ("west", "east", "south", "north")
#: Records from which a bulk insert on SQLite fills the index in two statements rather than
#: through its insert trigger (:func:`insert_many`).
BULK_ROWS = 200
#: The time columns of a :class:`~civmil.core.models.Period`.
PERIOD = ("starts_at", "ends_at")


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _seconds(column: str) -> str:
    """An SQLite datetime column (Django's ISO text, UTC) as seconds since 1970."""
    return f"CAST(strftime('%s', {column}) AS INTEGER)"


def create_statements(table: str, pk: str, vendor: str, *, period: bool = False,
                      time: tuple[str, str] | None = None) -> list[str]:
    """The SQL that builds (and fills) the spatial index of ``table`` on ``vendor``; its time
    dimension runs from column ``time[0]`` to ``time[1]`` (the same column for an instant), or
    from ``starts_at`` to ``ends_at`` with ``period``, and there is none without either."""
    t = _q(table)
    time = time or (PERIOD if period else None)
    if vendor == "postgresql":
        expressions = "(box(point(west, south), point(east, north)))"
        if time:
            expressions += f", (tstzrange({_q(time[0])}, {_q(time[1])}, '[]'))"
        return [f"CREATE INDEX {_q(table + '_place_gist')} ON {t} USING gist ({expressions})"]
    if vendor != "sqlite":
        return []
    keys, rtree, id_ = _q(table + "_place_key"), _q(table + "_rtree"), _q(pk)
    dims = "west, east, south, north" + (", starts, ends" if time else "")

    def values(row: str) -> str:
        return _entry(row, time)

    def put(row: str) -> str:
        return (f"INSERT OR IGNORE INTO {keys}(record) VALUES ({row}.{id_}); "  # noqa: S608
                f"INSERT INTO {rtree} SELECT k.key, {values(row)} FROM {keys} k "
                f"WHERE k.record = {row}.{id_} AND {row}.west IS NOT NULL;")

    def drop(row: str) -> str:
        return f"DELETE FROM {rtree} WHERE id = (SELECT key FROM {keys} WHERE record = {row}.{id_});"  # noqa: S608

    watched = ", ".join(dict.fromkeys([*BOX, *(_q(c) for c in time or ())]))
    return [
        f"CREATE TABLE {keys} (key INTEGER PRIMARY KEY, record char(32) NOT NULL UNIQUE)",
        f"CREATE VIRTUAL TABLE {rtree} USING rtree(id, {dims})",
        f"INSERT INTO {keys}(record) SELECT {id_} FROM {t}",  # noqa: S608
        f"INSERT INTO {rtree} SELECT k.key, {values('r')} FROM {t} r JOIN {keys} k ON k.record = r.{id_} "  # noqa: S608
        "WHERE r.west IS NOT NULL",
        f"CREATE TRIGGER {_q(table + '_place_insert')} AFTER INSERT ON {t} BEGIN {put('new')} END",
        f"CREATE TRIGGER {_q(table + '_place_update')} AFTER UPDATE OF {watched} ON {t} "
        f"BEGIN {drop('old')} {put('new')} END",
        f"CREATE TRIGGER {_q(table + '_place_delete')} AFTER DELETE ON {t} "  # noqa: S608
        f"BEGIN {drop('old')} DELETE FROM {keys} WHERE record = old.{id_}; END",
    ]


def _entry(row: str, time: tuple[str, str] | None) -> str:
    """The R*Tree's columns after its id for the record ``row`` (a table alias or ``new``)."""
    cols = ", ".join(f"{row}.{c}" for c in BOX)
    if time:
        cols += f", {_seconds(row + '.' + _q(time[0]))}, {_seconds(row + '.' + _q(time[1]))}"
    return cols


def _fill_statements(table: str, pk: str, time: tuple[str, str] | None) -> list[str]:
    """SQLite: what the insert trigger of :func:`create_statements` does for one new record, for
    every record whose primary key (as stored) is in the JSON array given as each statement's
    parameter, in two statements (keys in the array's order, then their R*Tree entries)."""
    t, keys, rtree, id_ = _q(table), _q(table + "_place_key"), _q(table + "_rtree"), _q(pk)
    entry = _entry("r", time).replace("%", "%%")  # strftime's '%s' is no parameter
    return [f"INSERT OR IGNORE INTO {keys}(record) SELECT value FROM json_each(%s) ORDER BY key",  # noqa: S608
            f"INSERT INTO {rtree} SELECT k.key, {entry} FROM json_each(%s) j "  # noqa: S608
            f"JOIN {t} r ON r.{id_} = j.value JOIN {keys} k ON k.record = r.{id_} "
            "WHERE r.west IS NOT NULL ORDER BY k.key"]


def insert_many(model: type[models.Model], ids: Sequence[str], insert: Callable[[], int]) -> int:
    """Run ``insert``, which adds to ``model``'s table the records whose primary keys (as the
    database stores them) are ``ids``, and return what it returns, the records in the spatial
    index as after one insert at a time.

    On SQLite, from :data:`BULK_ROWS` records, the index is filled by two statements for the
    whole batch after the insert: the insert trigger would run its two statements once per
    record, which costs about three times what the R*Tree's own insert does. The trigger is
    dropped and created again inside a savepoint of the caller's transaction, which holds the
    write lock: no other writer ever sees the table without it, and a failure rolls the drop back
    with the rows. Elsewhere (PostgreSQL's GiST index follows by itself) and for fewer records,
    the rows simply go in."""
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.vendor != "sqlite" or not getattr(model, "spatial_index", False) or len(ids) < BULK_ROWS:
        return insert()
    table = model._meta.db_table
    trigger_name = table + "_place_insert"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = %s", [trigger_name])
        trigger = cursor.fetchone()
        if trigger is None:  # no index on this table (a database not migrated this far)
            return insert()
        cursor.execute(f"DROP TRIGGER {_q(trigger_name)}")
        added = insert()
        batch = json.dumps(list(ids))
        for sql in _fill_statements(table, model._meta.pk.column, _time_columns(model)):  # type: ignore[union-attr]
            cursor.execute(sql, [batch])
        cursor.execute(str(trigger[0]))
    return added


def drop_statements(table: str, vendor: str) -> list[str]:
    if vendor == "postgresql":
        return [f"DROP INDEX IF EXISTS {_q(table + '_place_gist')}"]
    if vendor != "sqlite":
        return []
    return [*(f"DROP TRIGGER IF EXISTS {_q(table + suffix)}" for suffix in ("_place_insert", "_place_update",
                                                                            "_place_delete")),
            f"DROP TABLE IF EXISTS {_q(table + '_rtree')}", f"DROP TABLE IF EXISTS {_q(table + '_place_key')}"]


def time_fields(model: type[models.Model], declared: tuple[str, ...] | None = None) -> tuple[str, str] | None:
    """The fields the time dimension of ``model``'s spatial index runs between: the one or two
    named by ``declared`` or else its ``spatial_time``, else a period's ``starts_at`` and
    ``ends_at``, else none.

    They must be datetimes that are never null (a record is in the index with its time)."""
    declared = tuple(declared or getattr(model, "spatial_time", ()) or ())
    if not declared:
        names = {f.name for f in model._meta.get_fields()}
        return PERIOD if set(PERIOD) <= names else None
    if len(declared) > 2:
        raise ImproperlyConfigured(f"{model.__name__}.spatial_time names one field (an instant) or two (a start "
                                   f"and an end), not {len(declared)}.")
    for name in declared:
        f = model._meta.get_field(name)
        if not isinstance(f, models.DateTimeField) or f.null:
            raise ImproperlyConfigured(f"{model.__name__}.spatial_time: {name} is not a datetime field that is "
                                       "never null.")
    return declared[0], declared[-1]


def _time_columns(model: type[models.Model], declared: tuple[str, ...] | None = None) -> tuple[str, str] | None:
    names = time_fields(model, declared)
    if names is None:
        return None
    first, last = (model._meta.get_field(n) for n in names)
    assert isinstance(first, models.Field) and isinstance(last, models.Field)
    return str(first.column), str(last.column)


def install(model: type[models.Model], schema_editor: BaseDatabaseSchemaEditor,
            time: tuple[str, ...] | None = None) -> None:
    """Build the spatial index of ``model``'s table (what :class:`SpatialIndex` does), its time
    dimension on the fields ``time`` names or else on :func:`time_fields`."""
    for sql in create_statements(model._meta.db_table, model._meta.pk.column,  # type: ignore[union-attr]
                                 schema_editor.connection.vendor, time=_time_columns(model, time)):
        schema_editor.execute(sql, params=None)


def uninstall(model: type[models.Model], schema_editor: BaseDatabaseSchemaEditor) -> None:
    for sql in drop_statements(model._meta.db_table, schema_editor.connection.vendor):
        schema_editor.execute(sql, params=None)


class SpatialIndex(Operation):
    """Migration operation: the spatial index of a Placed model (after the model's CreateModel).

    ``time`` names the field(s) of its time dimension as the model's ``spatial_time`` does (a
    migration's models do not carry that attribute); without it a period's fields, if any."""

    reversible = True
    reduces_to_sql = True

    def __init__(self, model_name: str, time: tuple[str, ...] = ()) -> None:
        self.model_name = model_name
        self.time = tuple(time)

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return (self.__class__.__qualname__, [self.model_name], {"time": self.time} if self.time else {})

    def state_forwards(self, app_label: str, state: ProjectState) -> None:
        pass

    def _install(self, app_label: str, schema_editor: BaseDatabaseSchemaEditor, state: ProjectState) -> None:
        install(state.apps.get_model(app_label, self.model_name), schema_editor, self.time)

    def _uninstall(self, app_label: str, schema_editor: BaseDatabaseSchemaEditor, state: ProjectState) -> None:
        uninstall(state.apps.get_model(app_label, self.model_name), schema_editor)

    def database_forwards(self, app_label: str, schema_editor: BaseDatabaseSchemaEditor, from_state: ProjectState,
                          to_state: ProjectState) -> None:
        self._install(app_label, schema_editor, to_state)

    def database_backwards(self, app_label: str, schema_editor: BaseDatabaseSchemaEditor, from_state: ProjectState,
                           to_state: ProjectState) -> None:
        self._uninstall(app_label, schema_editor, from_state)

    def describe(self) -> str:
        return f"Spatial index of {self.model_name}"

    @property
    def migration_name_fragment(self) -> str:
        return f"{self.model_name.lower()}_spatial_index"


class DropSpatialIndex(SpatialIndex):
    """Migration operation: drop the spatial index :class:`SpatialIndex` built with the same
    arguments (built again on the way back), e.g. before building it with another time dimension."""

    def database_forwards(self, app_label: str, schema_editor: BaseDatabaseSchemaEditor, from_state: ProjectState,
                          to_state: ProjectState) -> None:
        self._uninstall(app_label, schema_editor, from_state)

    def database_backwards(self, app_label: str, schema_editor: BaseDatabaseSchemaEditor, from_state: ProjectState,
                           to_state: ProjectState) -> None:
        self._install(app_label, schema_editor, to_state)

    def describe(self) -> str:
        return f"Drop the spatial index of {self.model_name}"

    @property
    def migration_name_fragment(self) -> str:
        return f"drop_{self.model_name.lower()}_spatial_index"


def overlapping(queryset: models.QuerySet[Any], box: Bounds | None = None, starts: dt.datetime | None = None,
                ends: dt.datetime | None = None) -> models.QuerySet[Any]:
    """Records of ``queryset`` whose box meets ``box`` and whose time meets ``starts``..``ends``.

    Either may be left out; edges that touch meet. The time is the model's (:func:`time_fields`:
    its ``spatial_time`` or its period). Through the spatial index when the model has one
    (``spatial_index = True``) on this database, box and window in one probe, on the plain columns
    otherwise.
    """
    model = queryset.model
    first, last = time_fields(model) or PERIOD
    q = models.Q()
    if box is not None:
        q &= models.Q(east__gte=box.west, west__lte=box.east, north__gte=box.south, south__lte=box.north)
    if starts is not None:
        q &= models.Q(**{f"{last}__gte": starts})
    if ends is not None:
        q &= models.Q(**{f"{first}__lte": ends})
    narrowed = None
    if getattr(model, "spatial_index", False) and box is not None:  # records without a place are in no index
        sql, params = index_condition(model, connections[queryset.db].vendor, box, starts, ends)
        narrowed = RawSQL(sql, params, output_field=models.BooleanField()) if sql else None  # noqa: S611
    queryset = queryset.filter(q)
    return queryset.filter(narrowed) if narrowed is not None else queryset


def index_condition(model: type[models.Model], vendor: str, box: Bounds, starts: dt.datetime | None = None,
                    ends: dt.datetime | None = None) -> tuple[str, list[Any]]:
    """The SQL condition (and its parameters) by which the spatial index of ``model`` narrows its
    table (named as itself) to the records whose box may meet ``box`` and whose time may meet
    ``starts``..``ends``: what :func:`overlapping` adds to the exact comparisons. Empty on a
    database without the index."""
    table = _q(model._meta.db_table)
    time = _time_columns(model)
    if vendor == "postgresql":
        parts = [f"box(point({table}.west, {table}.south), point({table}.east, {table}.north)) "
                 "&& box(point(%s, %s), point(%s, %s))"]
        params: list[Any] = [box.west, box.south, box.east, box.north]
        if time and (starts is not None or ends is not None):
            parts.append(f"tstzrange({table}.{_q(time[0])}, {table}.{_q(time[1])}, '[]') && tstzrange(%s, %s, '[]')")
            params += [starts, ends]
        return " AND ".join(parts), params
    if vendor == "sqlite":
        conditions = ["r.east >= %s AND r.west <= %s AND r.north >= %s AND r.south <= %s"]
        params = [box.west, box.east, box.south, box.north]
        # Seconds, a second wider (strftime drops the fraction); the R*Tree rounds outward too.
        if time and starts is not None:
            conditions.append("r.ends >= %s")
            params.append(int(starts.timestamp()) - 1)
        if time and ends is not None:
            conditions.append("r.starts <= %s")
            params.append(int(ends.timestamp()) + 1)
        keys, rtree = _q(model._meta.db_table + "_place_key"), _q(model._meta.db_table + "_rtree")
        pk = _q(model._meta.pk.column)  # type: ignore[union-attr]
        return (f"{table}.{pk} IN (SELECT k.record FROM {rtree} r JOIN {keys} k ON k.key = r.id "  # noqa: S608
                f"WHERE {' AND '.join(conditions)})", params)
    return "", []

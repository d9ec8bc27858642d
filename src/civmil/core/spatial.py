"""The spatial index of records with a place (and a period), chosen by ``bench/spatial_index.py``.

See docs/decisions/0007-spatial-index.md. A model built on :class:`civmil.core.models.Placed`
(and, when it has one, :class:`~civmil.core.models.Period`) gets its index from one migration
operation, :class:`SpatialIndex`, and sets ``spatial_index = True``; :func:`overlapping` then
finds its records by box and time window through the index:

- **SQLite**: an R*Tree virtual table ``<table>_rtree`` on (west..east, south..north[, start..end]),
  keyed by ``<table>_place_key`` (an integer key per record: an R*Tree's id is an integer, the
  records' ids are UUIDs, and SQLite's own rowid may change on VACUUM). Triggers on the table keep
  both in step with every insert, update and delete, bulk ones included, in the same transaction.
- **PostgreSQL**: one GiST index on ``box(point(west, south), point(east, north))`` (and
  ``tstzrange(starts_at, ends_at, '[]')``), built-in types only.

The index narrows; the box and period columns decide (an R*Tree keeps 32-bit floats, rounded outward).
The SQL here names only the model's own table and columns (quoted); every value is a parameter.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.operations.base import Operation
from django.db.migrations.state import ProjectState
from django.db.models.expressions import RawSQL

from civmil.core.geometry import Bounds

BOX = ("west", "east", "south", "north")


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _seconds(column: str) -> str:
    """An SQLite datetime column (Django's ISO text, UTC) as seconds since 1970."""
    return f"CAST(strftime('%s', {column}) AS INTEGER)"


def create_statements(table: str, pk: str, vendor: str, *, period: bool) -> list[str]:
    """The SQL that builds (and fills) the spatial index of ``table`` on ``vendor``."""
    t = _q(table)
    if vendor == "postgresql":
        expressions = "(box(point(west, south), point(east, north)))"
        if period:
            expressions += ", (tstzrange(starts_at, ends_at, '[]'))"
        return [f"CREATE INDEX {_q(table + '_place_gist')} ON {t} USING gist ({expressions})"]
    if vendor != "sqlite":
        return []
    keys, rtree, id_ = _q(table + "_place_key"), _q(table + "_rtree"), _q(pk)
    dims = "west, east, south, north" + (", starts, ends" if period else "")

    def values(row: str) -> str:
        cols = ", ".join(f"{row}.{c}" for c in BOX)
        if period:
            cols += f", {_seconds(row + '.starts_at')}, {_seconds(row + '.ends_at')}"
        return cols

    def put(row: str) -> str:
        return (f"INSERT OR IGNORE INTO {keys}(record) VALUES ({row}.{id_}); "  # noqa: S608
                f"INSERT INTO {rtree} SELECT k.key, {values(row)} FROM {keys} k "
                f"WHERE k.record = {row}.{id_} AND {row}.west IS NOT NULL;")

    def drop(row: str) -> str:
        return f"DELETE FROM {rtree} WHERE id = (SELECT key FROM {keys} WHERE record = {row}.{id_});"  # noqa: S608

    watched = ", ".join([*BOX, *(("starts_at", "ends_at") if period else ())])
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


def drop_statements(table: str, vendor: str) -> list[str]:
    if vendor == "postgresql":
        return [f"DROP INDEX IF EXISTS {_q(table + '_place_gist')}"]
    if vendor != "sqlite":
        return []
    return [*(f"DROP TRIGGER IF EXISTS {_q(table + suffix)}" for suffix in ("_place_insert", "_place_update",
                                                                            "_place_delete")),
            f"DROP TABLE IF EXISTS {_q(table + '_rtree')}", f"DROP TABLE IF EXISTS {_q(table + '_place_key')}"]


def _has_period(model: type[models.Model]) -> bool:
    names = {f.name for f in model._meta.get_fields()}
    return {"starts_at", "ends_at"} <= names


def install(model: type[models.Model], schema_editor: BaseDatabaseSchemaEditor) -> None:
    """Build the spatial index of ``model``'s table (what :class:`SpatialIndex` does)."""
    for sql in create_statements(model._meta.db_table, model._meta.pk.column,  # type: ignore[union-attr]
                                 schema_editor.connection.vendor, period=_has_period(model)):
        schema_editor.execute(sql, params=None)


def uninstall(model: type[models.Model], schema_editor: BaseDatabaseSchemaEditor) -> None:
    for sql in drop_statements(model._meta.db_table, schema_editor.connection.vendor):
        schema_editor.execute(sql, params=None)


class SpatialIndex(Operation):
    """Migration operation: the spatial index of a Placed model (after the model's CreateModel)."""

    reversible = True
    reduces_to_sql = True

    def __init__(self, model_name: str) -> None:
        self.model_name = model_name

    def deconstruct(self) -> tuple[str, list[Any], dict[str, Any]]:
        return (self.__class__.__qualname__, [self.model_name], {})

    def state_forwards(self, app_label: str, state: ProjectState) -> None:
        pass

    def database_forwards(self, app_label: str, schema_editor: BaseDatabaseSchemaEditor, from_state: ProjectState,
                          to_state: ProjectState) -> None:
        install(to_state.apps.get_model(app_label, self.model_name), schema_editor)

    def database_backwards(self, app_label: str, schema_editor: BaseDatabaseSchemaEditor, from_state: ProjectState,
                           to_state: ProjectState) -> None:
        uninstall(from_state.apps.get_model(app_label, self.model_name), schema_editor)

    def describe(self) -> str:
        return f"Spatial index of {self.model_name}"

    @property
    def migration_name_fragment(self) -> str:
        return f"{self.model_name.lower()}_spatial_index"


def overlapping(queryset: models.QuerySet[Any], box: Bounds | None = None, starts: dt.datetime | None = None,
                ends: dt.datetime | None = None) -> models.QuerySet[Any]:
    """Records of ``queryset`` whose box meets ``box`` and whose period meets ``starts``..``ends``.

    Either may be left out; edges that touch meet. Through the spatial index when the model has
    one (``spatial_index = True``) on this database, on the plain columns otherwise.
    """
    q = models.Q()
    if box is not None:
        q &= models.Q(east__gte=box.west, west__lte=box.east, north__gte=box.south, south__lte=box.north)
    if starts is not None:
        q &= models.Q(ends_at__gte=starts)
    if ends is not None:
        q &= models.Q(starts_at__lte=ends)
    model = queryset.model
    narrowed = _through_index(model, queryset.db, box, starts, ends) if getattr(model, "spatial_index", False) else None
    queryset = queryset.filter(q)
    return queryset.filter(narrowed) if narrowed is not None else queryset


def _through_index(model: type[models.Model], alias: str, box: Bounds | None, starts: dt.datetime | None,
                   ends: dt.datetime | None) -> RawSQL | None:
    from django.db import connections

    vendor = connections[alias].vendor
    table = _q(model._meta.db_table)
    period = _has_period(model)
    if box is None:  # records without a place are in no spatial index
        return None
    if vendor == "postgresql":
        parts = [f"box(point({table}.west, {table}.south), point({table}.east, {table}.north)) "
                 "&& box(point(%s, %s), point(%s, %s))"]
        params: list[Any] = [box.west, box.south, box.east, box.north]
        if period and (starts is not None or ends is not None):
            parts.append(f"tstzrange({table}.starts_at, {table}.ends_at, '[]') && tstzrange(%s, %s, '[]')")
            params += [starts, ends]
        return RawSQL(" AND ".join(parts), params, output_field=models.BooleanField())  # noqa: S611
    if vendor == "sqlite":
        conditions = ["r.east >= %s AND r.west <= %s AND r.north >= %s AND r.south <= %s"]
        params = [box.west, box.east, box.south, box.north]
        if period and starts is not None:
            conditions.append("r.ends >= %s")
            params.append(int(starts.timestamp()) - 1)
        if period and ends is not None:
            conditions.append("r.starts <= %s")
            params.append(int(ends.timestamp()) + 1)
        keys, rtree = _q(model._meta.db_table + "_place_key"), _q(model._meta.db_table + "_rtree")
        pk = _q(model._meta.pk.column)  # type: ignore[union-attr]
        return RawSQL(f"{table}.{pk} IN (SELECT k.record FROM {rtree} r JOIN {keys} k ON k.key = r.id "  # noqa: S611, S608
                      f"WHERE {' AND '.join(conditions)})", params, output_field=models.BooleanField())
    return None

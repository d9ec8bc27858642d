"""The migration that moves the liaison log's place onto core's Placed base (actors 0004): entries
keep their point (now GeoJSON with its box, found through the spatial index), releases that named
both coordinates name the geometry, and the way back gives the coordinates again."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from civmil.actors.models import LiaisonLogEntry
from civmil.core.geometry import Bounds
from civmil.core.models import Space
from civmil.core.spatial import overlapping
from tests.factories import make_org

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("actors", "0003_assignment_confirmation")]
AFTER = [("actors", "0004_liaison_entry_placed")]


def _migrate(target: list[tuple[str, str]]) -> Any:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(target)
    return executor.loader.project_state(target).apps


@pytest.fixture(autouse=True)
def _back_to_the_latest_schema() -> Any:
    """Each test moves the schema back; later tests need it whole again."""
    yield
    executor = MigrationExecutor(connection)
    _migrate(executor.loader.graph.leaf_nodes())


def _release(apps: Any, entry_id: Any, org_id: Any, fields: list[str]) -> Any:
    ContentType = apps.get_model("contenttypes", "ContentType")
    Release = apps.get_model("core", "Release")
    ct, _created = ContentType.objects.get_or_create(app_label="actors", model="liaisonlogentry")
    return Release.objects.create(content_type=ct, object_id=entry_id, target_organisation_id=org_id, fields=fields)


def test_points_and_releases_move_onto_the_geometry_and_back() -> None:
    owner, partner = make_org(), make_org()
    old = _migrate(BEFORE)
    Entry = old.get_model("actors", "LiaisonLogEntry")
    common = {"space_id": Space.live().pk, "owner_id": owner.pk, "level": "mission", "channel": "meeting",
              "occurred_at": timezone.now() - dt.timedelta(days=1)}
    placed = Entry.objects.create(summary="At the ford", latitude=10.25, longitude=-30.5, **common)
    nowhere = Entry.objects.create(summary="By phone", **common)
    both = _release(old, placed.pk, partner.pk, ["summary", "latitude", "longitude"])
    half = _release(old, placed.pk, partner.pk, ["latitude", "place_name"])
    whole = _release(old, placed.pk, partner.pk, None)

    new = _migrate(AFTER)
    Release = new.get_model("core", "Release")
    entry = LiaisonLogEntry.objects.get(pk=placed.pk)
    assert entry.geometry == {"type": "Point", "coordinates": [-30.5, 10.25]}
    assert (entry.west, entry.south, entry.east, entry.north) == (-30.5, 10.25, -30.5, 10.25)
    assert LiaisonLogEntry.objects.get(pk=nowhere.pk).geometry is None
    # The spatial index was built with the rows already there.
    found = overlapping(LiaisonLogEntry.objects.all(), Bounds(west=-31, south=10, east=-30, north=11))
    assert list(found.values_list("pk", flat=True)) == [placed.pk]
    assert Release.objects.get(pk=both.pk).fields == ["summary", "geometry"]
    # Half a point was never shown anywhere: it is not widened to the whole place.
    assert Release.objects.get(pk=half.pk).fields == ["place_name"]
    assert Release.objects.get(pk=whole.pk).fields is None

    back = _migrate(BEFORE)
    Entry = back.get_model("actors", "LiaisonLogEntry")
    Release = back.get_model("core", "Release")
    again = Entry.objects.get(pk=placed.pk)
    assert (again.latitude, again.longitude) == (10.25, -30.5)
    assert Entry.objects.get(pk=nowhere.pk).latitude is None
    assert Release.objects.get(pk=both.pk).fields == ["summary", "latitude", "longitude"]


def test_area_boxes_are_renamed_onto_the_placed_columns_and_back() -> None:
    """actors 0005: an area's min_lon/min_lat/max_lon/max_lat are its west/south/east/north, found
    through the spatial index built with the rows already there."""
    square = {"type": "Polygon", "coordinates": [[[30, 10], [31, 10], [31, 11], [30, 11], [30, 10]]]}
    old = _migrate(AFTER)
    Area = old.get_model("actors", "Area")
    area = Area.objects.create(name="Ford district", pcode="KV0101", admin_level=2, geometry=square,
                               min_lon=30, min_lat=10, max_lon=31, max_lat=11)

    _migrate([("actors", "0005_area_placed")])
    from civmil.actors.models import Area as PlacedArea

    moved = PlacedArea.objects.get(pk=area.pk)
    assert (moved.west, moved.south, moved.east, moved.north) == (30, 10, 31, 11)
    found = overlapping(PlacedArea.objects.all(), Bounds(west=30.5, south=10.5, east=30.5, north=10.5))
    assert list(found.values_list("pk", flat=True)) == [area.pk]

    back = _migrate(AFTER).get_model("actors", "Area").objects.get(pk=area.pk)
    assert (back.min_lon, back.min_lat, back.max_lon, back.max_lat) == (30, 10, 31, 11)


def _rtree_width() -> int | None:
    """Columns of the log's R*Tree (SQLite), or whether its GiST index has the time (PostgreSQL: 7
    with it, 5 without, as the R*Tree would)."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute('SELECT * FROM "actors_liaisonlogentry_rtree" LIMIT 0')
            return len(cursor.description)
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'actors_liaisonlogentry_place_gist'")
        (definition,) = cursor.fetchone()
        return 7 if "tstzrange" in definition else 5


def test_the_log_spatial_index_gets_the_time_of_the_contact_and_back() -> None:
    """actors 0006: the log's index is built again with a time dimension (occurred_at), the rows
    already there included; the way back drops it again."""
    from django.db import models
    from django.db.models.expressions import RawSQL

    from civmil.core.spatial import index_condition

    owner = make_org()
    before = _migrate([("actors", "0005_area_placed")])
    assert _rtree_width() == 5
    Entry = before.get_model("actors", "LiaisonLogEntry")
    when = dt.datetime(2025, 3, 1, 12, tzinfo=dt.UTC)
    entry = Entry.objects.create(space_id=Space.live().pk, owner_id=owner.pk, level="mission", channel="meeting",
                                 occurred_at=when, summary="At the ford",
                                 geometry={"type": "Point", "coordinates": [30.5, 10.5]},
                                 west=30.5, east=30.5, south=10.5, north=10.5)

    _migrate([("actors", "0006_liaison_entry_spatial_time")])
    assert _rtree_width() == 7
    box = Bounds(west=30, south=10, east=31, north=11)

    def narrowed(starts: dt.datetime, ends: dt.datetime) -> list[Any]:
        sql, params = index_condition(LiaisonLogEntry, connection.vendor, box, starts, ends)
        return list(LiaisonLogEntry.objects.filter(RawSQL(sql, params, output_field=models.BooleanField()))  # noqa: S611
                    .values_list("pk", flat=True))

    assert narrowed(when - dt.timedelta(days=1), when + dt.timedelta(days=1)) == [entry.pk]
    assert narrowed(when + dt.timedelta(days=1), when + dt.timedelta(days=2)) == []

    _migrate([("actors", "0005_area_placed")])
    assert _rtree_width() == 5
    found = overlapping(LiaisonLogEntry.objects.all(), box)
    assert list(found.values_list("pk", flat=True)) == [entry.pk]

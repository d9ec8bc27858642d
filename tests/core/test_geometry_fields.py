"""The geometry bases on every channel: the form field, the API type, and the Placed/Period models."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django import forms
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models.expressions import RawSQL
from django.test.utils import isolate_apps
from ninja import NinjaAPI, Schema
from ninja.testing import TestClient

from civmil.core.errors import Invalid
from civmil.core.forms_geometry import GeometryField
from civmil.core.models import Period, Placed
from civmil.core.schemas_geometry import Geometry, geometry_schema
from civmil.core.spatial import install, overlapping, uninstall

SQUARE = {"type": "Polygon", "coordinates": [[[10.0, 10.0], [11.0, 10.0], [11.0, 11.0], [10.0, 11.0], [10.0, 10.0]]]}
BOWTIE = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}


class PlaceForm(forms.Form):
    place = GeometryField(required=False)


class AreaForm(forms.Form):
    place = GeometryField(geometry_types=("Polygon", "MultiPolygon"))


# ---- the form field ---------------------------------------------------------------------------


def test_a_drawn_geometry_round_trips_through_the_form() -> None:
    form = PlaceForm(data={"place": json.dumps(SQUARE), "place_location": ""})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["place"] == SQUARE
    again = PlaceForm(initial={"place": form.cleaned_data["place"]})
    html = str(again["place"])
    assert 'type="hidden" name="place" id="id_place"' in html
    assert json.loads(again["place"].value() and json.dumps(again["place"].value())) == SQUARE
    assert "&quot;Polygon&quot;" in html  # the stored GeoJSON is in the hidden input, escaped
    assert 'data-geometry-input="id_place"' in html and "leaflet-geoman.min.js" in html
    assert 'name="place_location" id="id_place_location"' in html


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("12.34, -1.5", [-1.5, 12.34]), ("12.34N 1.5W", [-1.5, 12.34])],
)
def test_a_typed_point_wins_over_the_drawing(typed: str, expected: list[float]) -> None:
    form = PlaceForm(data={"place": json.dumps(SQUARE), "place_location": typed})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["place"] == {"type": "Point", "coordinates": expected}


def test_an_mgrs_point_is_accepted() -> None:
    form = PlaceForm(data={"place": "", "place_location": "31U DQ 48252 11954"})
    assert form.is_valid(), form.errors
    lon, lat = form.cleaned_data["place"]["coordinates"]
    assert abs(lat - 48.8584) < 1e-4 and abs(lon - 2.2945) < 1e-4


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"place": "{oops", "place_location": ""}, "not valid JSON"),
        ({"place": json.dumps(BOWTIE), "place_location": ""}, "crosses itself"),
        ({"place": json.dumps({"type": "Point", "coordinates": [200, 0]}), "place_location": ""}, "out of range"),
        ({"place": "", "place_location": "north of the river"}, "neither"),
    ],
)
def test_refusals_come_back_on_the_form_with_the_reason(data: dict[str, str], reason: str) -> None:
    form = PlaceForm(data=data)
    assert not form.is_valid()
    assert reason in form.errors["place"][0]
    html = str(form["place"])
    assert 'aria-invalid="true"' in html.split('name="place_location"')[1]  # on the input people type in
    assert f'value="{data["place_location"]}"' in html  # what was typed is shown again


def test_an_empty_optional_field_is_none_and_a_required_one_says_what_to_do() -> None:
    form = PlaceForm(data={"place": "", "place_location": ""})
    assert form.is_valid() and form.cleaned_data["place"] is None
    area = AreaForm(data={"place": "", "place_location": ""})
    assert not area.is_valid()
    assert "Draw the place on the map" in area.errors["place"][0]


def test_types_limit_both_drawing_and_typing() -> None:
    form = AreaForm(data={"place": json.dumps({"type": "Point", "coordinates": [1, 1]})})
    assert not form.is_valid() and "not accepted" in form.errors["place"][0]
    html = str(AreaForm()["place"])
    assert 'data-tools="Polygon"' in html and "place_location" not in html
    assert 'data-tools="Line,Marker,Polygon"' in str(PlaceForm()["place"])


def test_has_changed_compares_geometries_not_text() -> None:
    field = PlaceForm().fields["place"]
    assert not field.has_changed(SQUARE, {"geojson": json.dumps(SQUARE, indent=2), "location": ""})
    assert field.has_changed(SQUARE, {"geojson": "", "location": "10.5, 10.5"})


# ---- the API type -----------------------------------------------------------------------------


class PlaceIn(Schema):
    place: Geometry  # type: ignore[valid-type]
    area: geometry_schema(("Polygon",), limit=50) | None = None  # type: ignore[valid-type]


def _api() -> tuple[NinjaAPI, TestClient]:
    api = NinjaAPI(urls_namespace="test-geometry-api")

    @api.post("/places")
    def create(request: Any, payload: PlaceIn) -> dict[str, Any]:
        return {"place": payload.place, "area": payload.area}

    return api, TestClient(api)


def test_the_api_stores_what_the_form_stores_and_refuses_with_the_reason() -> None:
    _, client = _api()
    ok = client.post("/places", json={"place": {"type": "Feature", "properties": None, "geometry": SQUARE}})
    assert ok.status_code == 200 and ok.json()["place"] == SQUARE
    bad = client.post("/places", json={"place": BOWTIE})
    assert bad.status_code == 422
    assert "crosses itself" in json.dumps(bad.json())
    for value in ("POINT(1 2)", [1, 2], {"type": "Point", "coordinates": [1e308, 0]}):
        assert client.post("/places", json={"place": value}).status_code == 422
    ring = [[30 + i * 0.001, 5] for i in range(60)]
    too_many = client.post("/places", json={"place": SQUARE, "area": {"type": "Polygon", "coordinates": [
        [*ring, [30, 6], ring[0]]]}})
    assert too_many.status_code == 422 and "more than 50 vertices" in json.dumps(too_many.json())


def test_the_openapi_document_carries_the_constraints() -> None:
    api, _client = _api()
    schemas = api.get_openapi_schema(path_prefix="/api/")["components"]["schemas"]
    place = schemas["PlaceIn"]["properties"]["place"]
    assert [kind["title"] for kind in place["oneOf"]] == [
        "Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon"]
    polygon = place["oneOf"][4]["properties"]["coordinates"]
    ring = polygon["items"]
    assert ring["minItems"] == 4 and ring["maxItems"] == 10_000
    lon, lat = ring["items"]["prefixItems"][:2]
    assert (lon["minimum"], lon["maximum"], lat["minimum"], lat["maximum"]) == (-180, 180, -90, 90)
    assert "at most 10000 vertices" in place["description"]
    area = json.dumps(schemas["PlaceIn"]["properties"]["area"])
    assert '"maxItems": 50' in area and "MultiPolygon" not in area


# ---- the models -------------------------------------------------------------------------------


def test_placed_keeps_its_box_from_its_geometry() -> None:
    with isolate_apps("civmil.core"):
        class Spot(Placed):
            class Meta:
                app_label = "core"

        spot = Spot(geometry={"type": "LineString", "coordinates": [[30, 4], [31.5, 3], [29.25, 5]]})
        spot.clean()
        assert (spot.west, spot.south, spot.east, spot.north) == (29.25, 3, 31.5, 5)
        spot.geometry = json.dumps(SQUARE)
        spot.clean()
        assert spot.geometry == SQUARE and (spot.west, spot.north) == (10, 11)
        spot.geometry = None
        spot.clean()
        assert spot.west is spot.north is None
        spot.geometry = BOWTIE
        with pytest.raises(ValidationError) as info:
            spot.clean()
        assert "crosses itself" in info.value.message_dict["geometry"][0]


def test_a_period_ends_at_or_after_its_start() -> None:
    with isolate_apps("civmil.core"):
        class Span(Period):
            class Meta:
                app_label = "core"

        start = dt.datetime(2025, 3, 1, 9, tzinfo=dt.UTC)
        span = Span(starts_at=start)
        span.clean()
        assert span.ends_at == start  # an instant
        span.ends_at = start - dt.timedelta(seconds=1)
        with pytest.raises(ValidationError) as info:
            span.clean()
        assert "before the start" in info.value.message_dict["ends_at"][0]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("indexed", [False, True], ids=["columns", "spatial index"])
def test_placed_and_period_in_a_table(indexed: bool) -> None:
    """Save keeps the box columns (update_fields too), the constraints hold in the database, and
    :func:`overlapping` finds the same records by box and window with the spatial index as without,
    through inserts, updates, bulk writes and deletes."""
    from django.db import IntegrityError, transaction

    from civmil.core.geometry import Bounds

    with isolate_apps("civmil.core"):
        class Event(Placed, Period):
            spatial_index = indexed

            class Meta:
                app_label = "core"
                constraints = [*Placed.Meta.constraints, *Period.Meta.constraints]

        with connection.schema_editor() as editor:
            editor.create_model(Event)
        day = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)
        before = Event(geometry={"type": "Point", "coordinates": [30.6, 4.9]}, starts_at=day)
        before.save()  # written before the index is built: the index picks it up
        try:
            if indexed:
                with connection.schema_editor() as editor:
                    install(Event, editor)
            point = Event(geometry={"type": "Point", "coordinates": [30.5, 4.85]}, starts_at=day)
            point.save()
            area = Event(geometry=SQUARE, starts_at=day, ends_at=day + dt.timedelta(days=10))
            area.save()
            nowhere = Event(starts_at=day)
            nowhere.save()
            assert Event.objects.get(pk=point.pk).west == 30.5
            area.geometry = {"type": "Point", "coordinates": [12, 12]}
            area.save(update_fields=["geometry"])
            stored = Event.objects.get(pk=area.pk)
            assert (stored.west, stored.south, stored.east, stored.north) == (12, 12, 12, 12)

            def found(box: Bounds, starts: dt.datetime | None = None, ends: dt.datetime | None = None) -> set:
                return set(overlapping(Event.objects.all(), box, starts, ends).values_list("pk", flat=True))

            assert found(Bounds(11, 11, 13, 13), day + dt.timedelta(days=5), day + dt.timedelta(days=6)) == {area.pk}
            assert found(Bounds(11, 11, 13, 13), day + dt.timedelta(days=11)) == set()
            assert found(Bounds(10, 10, 11.5, 11.5)) == set()  # its old place is forgotten
            assert found(Bounds(30, 4, 31, 5)) == {point.pk, before.pk}
            assert found(Bounds(30.5, 4.85, 30.5, 4.85), day, day) == {point.pk}  # edges that touch meet
            assert set(overlapping(Event.objects.all(), None, day, day).values_list("pk", flat=True)) == {
                before.pk, point.pk, area.pk, nowhere.pk}

            Event.objects.bulk_create([Event(geometry={"type": "Point", "coordinates": [31, 4]}, west=31, east=31,
                                             south=4, north=4, starts_at=day, ends_at=day)])
            Event.objects.filter(pk=point.pk).update(west=40, east=40)
            Event.objects.filter(pk=before.pk).delete()
            assert len(found(Bounds(30, 4, 31, 5))) == 1 and not found(Bounds(30, 4, 31, 5)) & {point.pk, before.pk}
            assert found(Bounds(39, 4, 41, 5)) == {point.pk}
            if indexed and connection.vendor == "sqlite":  # no entry outlives its record or its old place
                with connection.cursor() as cursor:
                    cursor.execute(f'SELECT count(*) FROM "{Event._meta.db_table}_rtree"')  # noqa: S608
                    assert cursor.fetchone()[0] == Event.objects.filter(west__isnull=False).count() == 3

            with pytest.raises(Invalid):
                Event(geometry={"type": "Point", "coordinates": [0, 100]}, starts_at=day).save()
            with pytest.raises(IntegrityError), transaction.atomic():  # the database refuses what bypasses save()
                Event.objects.bulk_create([Event(starts_at=day, ends_at=day - dt.timedelta(days=1))])
            with pytest.raises(IntegrityError), transaction.atomic():
                Event.objects.bulk_create([Event(starts_at=day, ends_at=day, west=20, east=10, south=0, north=0)])
        finally:
            with connection.schema_editor() as editor:
                if indexed:
                    uninstall(Event, editor)
                editor.delete_model(Event)


def test_the_spatial_index_statements_name_the_table() -> None:
    from civmil.core.spatial import create_statements, drop_statements

    sqlite = create_statements("app_event", "id", "sqlite", period=True)
    assert any("USING rtree(id, west, east, south, north, starts, ends)" in s for s in sqlite)
    assert sum("CREATE TRIGGER" in s for s in sqlite) == 3
    assert len(drop_statements("app_event", "sqlite")) == 5
    (gist,) = create_statements("app_event", "id", "postgresql", period=False)
    assert "USING gist ((box(point(west, south), point(east, north))))" in gist


@pytest.mark.django_db(transaction=True)
def test_the_spatial_index_of_a_record_of_an_instant_narrows_box_and_window_at_once() -> None:
    """A Placed model whose time is one field (``spatial_time = ("occurred_at",)``): its index has
    the time dimension, so the index's own condition (what ``overlapping()`` adds, and the map
    benchmark's bare SQL uses) leaves out a record in the box but outside the window, and follows
    inserts, updates of the time, and deletes; edges that touch meet, to the second."""
    from django.db import models

    from civmil.core.geometry import Bounds
    from civmil.core.spatial import index_condition, time_fields

    with isolate_apps("civmil.core"):
        class Sighting(Placed):
            spatial_index = True
            spatial_time = ("occurred_at",)
            occurred_at = models.DateTimeField()

            class Meta:
                app_label = "core"
                constraints = [*Placed.Meta.constraints]

        assert time_fields(Sighting) == ("occurred_at", "occurred_at")
        with connection.schema_editor() as editor:
            editor.create_model(Sighting)
        noon = dt.datetime(2025, 3, 1, 12, tzinfo=dt.UTC)
        here = {"type": "Point", "coordinates": [30.5, 4.85]}
        early = Sighting.objects.create(geometry=here, occurred_at=noon - dt.timedelta(days=30))
        try:
            with connection.schema_editor() as editor:
                install(Sighting, editor)
            at_noon = Sighting.objects.create(geometry=here, occurred_at=noon)
            late = Sighting.objects.create(geometry=here, occurred_at=noon + dt.timedelta(days=30))
            elsewhere = Sighting.objects.create(geometry={"type": "Point", "coordinates": [40, 4.85]}, occurred_at=noon)
            box = Bounds(30, 4, 31, 5)

            def narrowed(starts: dt.datetime | None, ends: dt.datetime | None) -> set:
                sql, params = index_condition(Sighting, connection.vendor, box, starts, ends)
                return set(Sighting.objects.filter(
                    RawSQL(sql, params, output_field=models.BooleanField())).values_list("pk", flat=True))  # noqa: S611

            def found(starts: dt.datetime | None, ends: dt.datetime | None) -> set:
                return set(overlapping(Sighting.objects.all(), box, starts, ends).values_list("pk", flat=True))

            day = (noon - dt.timedelta(days=1), noon + dt.timedelta(days=1))
            assert narrowed(*day) == found(*day) == {at_noon.pk}
            assert found(None, None) == {early.pk, at_noon.pk, late.pk}
            assert found(noon, None) == {at_noon.pk, late.pk} and found(None, noon) == {early.pk, at_noon.pk}
            assert found(noon, noon) == {at_noon.pk}  # an instant at the window's edge meets it
            second = dt.timedelta(seconds=1)
            assert found(noon + second, noon + dt.timedelta(days=1)) == set()  # the columns decide
            assert found(noon - dt.timedelta(days=1), noon - second) == set()
            assert elsewhere.pk not in narrowed(None, None)

            Sighting.objects.filter(pk=late.pk).update(occurred_at=noon + dt.timedelta(hours=1))
            assert narrowed(*day) == found(*day) == {at_noon.pk, late.pk}
            at_noon.delete()
            assert narrowed(*day) == found(*day) == {late.pk}
            if connection.vendor == "sqlite":
                with connection.cursor() as cursor:
                    cursor.execute(f'SELECT * FROM "{Sighting._meta.db_table}_rtree"')  # noqa: S608
                    assert {len(row) for row in cursor.fetchall()} == {7}  # id, the box, and the time
        finally:
            with connection.schema_editor() as editor:
                uninstall(Sighting, editor)
                editor.delete_model(Sighting)


def test_a_spatial_time_is_a_datetime_that_is_never_null() -> None:
    from django.core.exceptions import ImproperlyConfigured
    from django.db import models

    from civmil.core.spatial import time_fields

    with isolate_apps("civmil.core"):
        class Visit(Placed):
            spatial_time = ("arrived_at", "left_at")
            arrived_at = models.DateTimeField()
            left_at = models.DateTimeField(null=True)
            on = models.DateField()

            class Meta:
                app_label = "core"

        with pytest.raises(ImproperlyConfigured, match="left_at"):
            time_fields(Visit)
        with pytest.raises(ImproperlyConfigured, match="on"):
            time_fields(Visit, ("on",))
        assert time_fields(Visit, ("arrived_at",)) == ("arrived_at", "arrived_at")


def test_an_instants_spatial_index_statements() -> None:
    from civmil.core.spatial import create_statements

    sqlite = create_statements("app_log", "id", "sqlite", time=("occurred_at", "occurred_at"))
    assert any("USING rtree(id, west, east, south, north, starts, ends)" in s for s in sqlite)
    assert any("AFTER UPDATE OF west, east, south, north, \"occurred_at\" ON" in s for s in sqlite)
    (gist,) = create_statements("app_log", "id", "postgresql", time=("occurred_at", "occurred_at"))
    assert "tstzrange(\"occurred_at\", \"occurred_at\", '[]')" in gist

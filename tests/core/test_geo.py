from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from civmil.core import geo
from civmil.core.errors import Invalid

SQUARE = {"type": "Polygon", "coordinates": [[[10, 10], [11, 10], [11, 11], [10, 11], [10, 10]]]}


def test_valid_polygon_and_its_bbox() -> None:
    geom = geo.validate_geometry(SQUARE)
    assert geo.bbox(geom).as_fields() == {"min_lon": 10, "min_lat": 10, "max_lon": 11, "max_lat": 11}
    assert geo.contains(SQUARE, 10.5, 10.5)
    assert not geo.contains(SQUARE, 12, 12)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("{not json", "not valid JSON"),
        ([1, 2], "GeoJSON geometry object"),
        ({"type": "Circle", "coordinates": [1, 2]}, "not accepted"),
        ({"type": "Point"}, "no coordinates"),
        ({"type": "Point", "coordinates": [200, 10]}, "out of range"),
        ({"type": "Point", "coordinates": [10, -91]}, "out of range"),
        ({"type": "Point", "coordinates": ["a", 1]}, "finite numbers"),
        ({"type": "Point", "coordinates": [float("nan"), 1]}, "finite numbers"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]}, "not closed"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 0]]]}, "at least 4"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}, "not valid"),
        ({"type": "Polygon", "coordinates": [[0, 0]]}, "[longitude, latitude]"),
        ({"type": "LineString", "coordinates": [[0, 0]]}, "two positions"),
    ],
)
def test_bad_geometry_is_refused_with_the_reason(value: object, reason: str) -> None:
    with pytest.raises(Invalid) as info:
        geo.validate_geometry(value)
    assert reason in info.value.message


# What real files get wrong (modelled on the RFC 7946 fixtures of the geojson/schema project): each
# was accepted, or refused with "geometry type None", before these checks.
POINT = {"type": "Point", "coordinates": [0, 0]}


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ({"type": "Feature", "id": False, "geometry": POINT, "properties": {}}, '"id" of a Feature'),
        ({"type": "Feature", "id": {"foo": "bar"}, "geometry": POINT, "properties": {}}, '"id" of a Feature'),
        ({"type": "Feature", "id": "1", "geometry": POINT}, 'needs a "properties" member'),
        ({"type": "Feature", "geometry": POINT, "properties": ["a"]}, '"properties" of a Feature'),
        ({"type": "Feature", "geometry": POINT, "properties": {}, "bbox": [0, 0]}, '"bbox" must be'),
        ({"type": "LineString", "coordinates": [[-110, 45], [110, -45]], "bbox": [-110, -45, 110]}, '"bbox" must be'),
        ({**POINT, "bbox": [0, 0]}, '"bbox" must be'),
        ({**SQUARE, "bbox": 42}, '"bbox" must be'),
        ({**POINT, "bbox": [0, "0", 0, 0]}, '"bbox" must be'),
        ({**POINT, "bbox": [0, 10, 0, -10]}, "south edge is above its north edge"),
        ({**POINT, "bbox": [0, 0, 200, 0]}, "out of range"),
        ({"coordinates": [0, 0]}, 'no "type" member'),
        ({"kind": "LineString", "coordinates": [[-110, 45], [110, -45]]}, 'no "type" member'),
        ({"type": "Point", "coordinates": [0, 0, float("inf")]}, "finite numbers"),
        ({"type": "Point", "coordinates": [0, 0, "high"]}, "finite numbers"),
        ({"type": "Point", "coordinates": [0, 0, 1, 2]}, "more than three numbers"),
        ({"type": "LineString", "coordinates": [[0, 0], [1, 1, 5]]}, "same number of values"),
        ({"type": "MultiLineString", "coordinates": [[[0, 0], [1, 1]], [[2, 2]]]}, "two positions"),
    ],
)
def test_rfc7946_faults_are_refused_with_the_reason(value: object, reason: str) -> None:
    with pytest.raises(Invalid) as info:
        geo.validate_geometry(value)
    assert reason in info.value.message
    assert "None" not in info.value.message


@pytest.mark.parametrize(
    "value",
    [
        {"type": "Feature", "id": "feature.1", "geometry": POINT, "properties": {"name": "basic"}},
        {"type": "Feature", "id": 42, "geometry": POINT, "properties": None},
        {"type": "Feature", "geometry": POINT, "properties": {}, "bbox": [0, 0, 0, 0]},
        {**POINT, "bbox": [0, 0, 0, 0], "title": "Null Island"},
        {"type": "Point", "coordinates": [-110, 45, 100], "bbox": [-110, 45, 100, -110, 45, 100]},
        {**SQUARE, "bbox": [170, -10, -170, 10]},  # across the antimeridian: west > east is allowed
        {"type": "MultiLineString",
         "coordinates": [[[-111, 45, 10], [111, -45, 20]], [[-111, -45, 30], [111, 45, 40]]]},
    ],
)
def test_rfc7946_features_bboxes_and_heights_are_accepted(value: object) -> None:
    assert not geo.validate_geometry(value).is_empty


def test_allowed_types_are_enforced() -> None:
    with pytest.raises(Invalid, match="not accepted"):
        geo.validate_geometry({"type": "Point", "coordinates": [1, 1]}, allowed=("Polygon",))


def test_decimal_and_mgrs_points() -> None:
    assert geo.parse_point("12.5, -3.25") == (12.5, -3.25)
    assert geo.parse_point(" -1.0 ; 30 ") == (-1.0, 30.0)
    lat, lon = geo.parse_point("31U DQ 48252 11954")
    assert abs(lat - 48.8584) < 0.0001 and abs(lon - 2.2945) < 0.0001
    assert geo.parse_point("31udq4825211954") == (lat, lon)


@pytest.mark.parametrize("text", ["", "north of the river", "95, 10", "10, 190", "33U XP 0425 689", "99Z ZZ 1 1"])
def test_unparseable_locations_say_why(text: str) -> None:
    with pytest.raises(Invalid) as info:
        geo.parse_point(text)
    assert info.value.message


@given(st.floats(min_value=-79.9, max_value=83.9), st.floats(min_value=-179.9, max_value=179.9))
def test_mgrs_round_trip_within_two_metres(lat: float, lon: float) -> None:
    ref = geo.to_mgrs(lat, lon)
    back_lat, back_lon = geo.parse_point(ref)
    # 1 m precision: the round trip lands within a few metres, whatever the latitude.
    metres_per_degree_lon = 111_320 * math.cos(math.radians(lat))
    assert abs(back_lat - lat) * 110_574 < 3
    assert abs(back_lon - lon) * metres_per_degree_lon < 3


def test_utm_zone() -> None:
    assert geo.utm_epsg(12.0, 15.5) == "EPSG:32633"
    assert geo.utm_epsg(-1.0, 30.0) == "EPSG:32736"

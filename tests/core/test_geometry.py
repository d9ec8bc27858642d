"""core.geometry: what a place may be, why one is refused, and points typed by people."""

from __future__ import annotations

import json
import math

import pytest
from django.test import override_settings

from civmil.core import geometry
from civmil.core.errors import Invalid

SQUARE = {"type": "Polygon", "coordinates": [[[10, 10], [11, 10], [11, 11], [10, 11], [10, 10]]]}
BOWTIE = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}


def refusal(value: object, **kwargs: object) -> str:
    """Why ``value`` is refused, which is also why the bulk path's quick parse refuses it."""
    with pytest.raises(Invalid) as info:
        geometry.parse(value, **kwargs)  # type: ignore[arg-type]
    if "where" not in kwargs:
        with pytest.raises(Invalid) as quick:
            geometry.parse_stored(value, **kwargs)  # type: ignore[arg-type]
        assert quick.value.message == info.value.message
    return info.value.message


@pytest.mark.parametrize(
    "value",
    [
        {"type": "Point", "coordinates": [30.5, 4.85]},
        {"type": "MultiPoint", "coordinates": [[30.5, 4.85], [31, 5]]},
        {"type": "LineString", "coordinates": [[30, 4], [31, 5], [30, 6]]},
        {"type": "MultiLineString", "coordinates": [[[30, 4], [31, 5]], [[32, 4], [33, 5]]]},
        SQUARE,
        {"type": "Polygon", "coordinates": [[[0, 0], [4, 0], [4, 4], [0, 4], [0, 0]],
                                            [[1, 1], [1, 2], [2, 2], [2, 1], [1, 1]]]},
        {"type": "MultiPolygon", "coordinates": [SQUARE["coordinates"],
                                                 [[[20, 20], [21, 20], [21, 21], [20, 21], [20, 20]]]]},
    ],
)
def test_every_geojson_type_is_accepted_and_stored_as_given(value: dict) -> None:
    parsed = geometry.parse(json.dumps(value))
    assert parsed.type == value["type"]
    assert json.loads(json.dumps(parsed.geojson)) == json.loads(json.dumps(value))
    assert set(parsed.geojson) == {"type", "coordinates"}
    assert geometry.parse_stored(value) == (parsed.geojson, parsed.bounds)  # the bulk path's parse


@pytest.mark.parametrize("position", [[30.5, 4.85], [-180, -90], [180, 90], [12, -3.25, 410.5], [0, 0]])
def test_a_point_stored_in_bulk_is_what_parse_gives(position: list[float]) -> None:
    """The bulk path's parse makes no shape of a point: the same GeoJSON (floats) and box."""
    parsed = geometry.parse({"type": "Point", "coordinates": position})
    stored, box = geometry.parse_stored({"type": "Point", "coordinates": position})
    assert (stored, box) == (parsed.geojson, parsed.bounds)
    assert [type(v) for v in (*stored["coordinates"], *box.as_list())] == [float] * (len(position) + 4)


def test_the_stored_form_drops_feature_wrappers_and_foreign_members() -> None:
    feature = {"type": "Feature", "properties": {"name": "x"}, "geometry": {**SQUARE, "bbox": [10, 10, 11, 11],
                                                                          "title": "kept out"}}
    assert geometry.parse(feature).geojson == {
        "type": "Polygon", "coordinates": [[[10.0, 10.0], [11.0, 10.0], [11.0, 11.0], [10.0, 11.0], [10.0, 10.0]]]}


def test_bounding_box() -> None:
    line = {"type": "LineString", "coordinates": [[30.1, 4.5], [31.75, 3.25], [29.5, 5.0]]}
    assert geometry.parse(line).bounds.as_fields() == {"west": 29.5, "south": 3.25, "east": 31.75, "north": 5.0}
    assert geometry.parse({"type": "Point", "coordinates": [-1.5, 12.34]}).bounds.as_list() == [-1.5, 12.34, -1.5,
                                                                                                 12.34]
    assert geometry.bounds(SQUARE).as_list() == [10, 10, 11, 11]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("not json at all", "not valid JSON"),
        ("[1, 2]", "must be a GeoJSON geometry object"),
        ({"coordinates": [0, 0]}, 'no "type" member'),
        ({"type": "Circle", "coordinates": [0, 0], "radius": 5}, "geometry type \"Circle\" is not accepted"),
        ({"type": "GeometryCollection", "geometries": []}, "is not accepted"),
        ({"type": "Point"}, "no coordinates"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]}, "not closed"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 0]]]}, "at least 4 positions"),
        ({"type": "Point", "coordinates": [181, 0]}, "out of range"),
        ({"type": "Point", "coordinates": [0, 90.5]}, "out of range"),
        ({"type": "LineString", "coordinates": [[0, 0], [0, -91]]}, "out of range"),
        ({"type": "LineString", "coordinates": [[0, 0]]}, "at least two positions"),
        ({"type": "Polygon", "coordinates": [[0, 0], [1, 1]]}, "[longitude, latitude]"),
    ],
)
def test_each_refusal_says_why(value: object, reason: str) -> None:
    assert reason in refusal(value)


def test_a_self_intersecting_ring_is_told_as_a_sentence_with_where() -> None:
    message = refusal(BOWTIE)
    assert "crosses itself (a self-intersection) near longitude 0.500000, latitude 0.500000" in message
    assert "Self-intersection" not in message and "[" not in message


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ({"type": "Polygon", "coordinates": [[[0, 0], [4, 0], [4, 4], [0, 4], [0, 0]],
                                             [[5, 5], [5, 6], [6, 6], [6, 5], [5, 5]]]}, "a hole lies outside"),
        ({"type": "MultiPolygon", "coordinates": [SQUARE["coordinates"],
                                                  [[[10.5, 10.5], [12, 10.5], [12, 12], [10.5, 12], [10.5, 10.5]]]]},
         "crosses itself"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [2, 2], [0, 0]]]}, "is not valid:"),
    ],
)
def test_other_invalid_shapes_are_refused_with_a_reason(value: object, reason: str) -> None:
    assert reason in refusal(value)


def test_allowed_types() -> None:
    assert "accepted: Polygon, MultiPolygon" in refusal({"type": "Point", "coordinates": [1, 1]},
                                                       allowed=("Polygon", "MultiPolygon"))


def _ring(n: int) -> list[list[float]]:
    ring = [[30 + math.cos(2 * math.pi * i / n), 5 + math.sin(2 * math.pi * i / n)] for i in range(n)]
    return [*ring, ring[0]]


def test_the_vertex_limit_is_the_setting() -> None:
    polygon = {"type": "Polygon", "coordinates": [_ring(120)]}  # 121 positions
    assert geometry.parse(polygon).type == "Polygon"
    with override_settings(CIVMIL_MAX_VERTICES=100):
        assert geometry.max_vertices() == 100
        assert "more than 100 vertices" in refusal(polygon)
        assert geometry.parse({"type": "Polygon", "coordinates": [_ring(99)]}).type == "Polygon"
    assert geometry.max_vertices() == geometry.DEFAULT_MAX_VERTICES == 10_000


# ---- hostile input ----------------------------------------------------------------------------


def test_a_million_vertices_are_refused_with_the_reason() -> None:
    line = {"type": "LineString", "coordinates": [[30 + i * 1e-7, 5.0] for i in range(1_000_000)]}
    assert "more than 10000 vertices" in refusal(line)
    assert "more than 10000 vertices" in refusal({"type": "MultiPoint", "coordinates": [[0, 0]] * 1_000_000})
    text = json.dumps(line)
    assert "too large: at most 10000 vertices" in refusal(text)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ('{"type": "Point", "coordinates": [NaN, 0]}', "finite numbers"),
        ('{"type": "Point", "coordinates": [Infinity, 0]}', "finite numbers"),
        ('{"type": "Point", "coordinates": [1e400, 0]}', "finite numbers"),
        ({"type": "Point", "coordinates": [10**400, 0]}, "finite numbers"),
        ({"type": "Point", "coordinates": [10**300, 0]}, "out of range"),
        ('{"type": "Point", "coordinates": [' + "9" * 5000 + ", 0]}", "not valid JSON"),
        ({"type": "Point", "coordinates": [True, False]}, "finite numbers"),
        ({"type": "Point", "coordinates": ["10", "5"]}, "finite numbers"),
        ({"type": "Point", "coordinates": [1e308, -1e308]}, "out of range"),
        ('{"type": "Point", "coordinates": ' + "[" * 100_000 + "]" * 100_000 + "}", "not valid JSON"),
        ({"type": "Polygon", "coordinates": [[[[[[[[0]]]]]]]]}, "[longitude, latitude]"),
        ({"type": ["Point"], "coordinates": [0, 0]}, "is not accepted"),
        ({"type": {"$where": 1}, "coordinates": [0, 0]}, "is not accepted"),
        ({"type": "Point", "coordinates": {"0": 1, "1": 2}}, "[longitude, latitude]"),
        ({"type": "MultiPolygon", "coordinates": "[[[[0,0],[1,0],[1,1],[0,0]]]]"}, "not nested"),
    ],
)
def test_hostile_input_is_refused_with_a_reason(value: object, reason: str) -> None:
    message = refusal(value)
    assert reason in message
    assert len(message) < 300


def test_a_deeply_nested_dict_is_refused_without_recursing() -> None:
    nested: list = []
    for _ in range(100_000):
        nested = [nested]
    assert "[longitude, latitude]" in refusal({"type": "Point", "coordinates": nested})


# ---- points typed by people -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12.34, -1.5", (12.34, -1.5)),
        ("12.34 -1.5", (12.34, -1.5)),
        ("-4.85; 31.6", (-4.85, 31.6)),
        ("12.34N, 1.5W", (12.34, -1.5)),
        ("12.34 n 1.5 w", (12.34, -1.5)),
        ("1.5W 12.34N", (12.34, -1.5)),
        ("N 12.34, W 1.5", (12.34, -1.5)),
        ("S4.85 E31.6", (-4.85, 31.6)),
        ("12.34° N, 1.5° E", (12.34, 1.5)),
    ],
)
def test_decimal_degrees_with_or_without_hemisphere_letters(text: str, expected: tuple[float, float]) -> None:
    assert geometry.parse_point(text) == expected


def test_mgrs() -> None:
    lat, lon = geometry.parse_point("31U DQ 48252 11954")
    assert abs(lat - 48.8584) < 1e-4 and abs(lon - 2.2945) < 1e-4
    assert geometry.parse_point("31udq4825211954") == (lat, lon)
    assert geometry.to_mgrs(lat, lon) == "31U DQ 48252 11954"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "Give a location"),
        ("12.34N, 1.5N", "one latitude (N or S) and one longitude (E or W)"),
        ("95N, 1.5W", "out of range"),
        ("12.34, 190", "out of range"),
        ("33U XP 0425 689", "odd number of digits"),
        ("north of the river", "neither"),
        ("1" * 500, "at most 100 characters"),
    ],
)
def test_points_that_do_not_parse_say_why(text: str, reason: str) -> None:
    with pytest.raises(Invalid) as info:
        geometry.parse_point(text)
    assert reason in info.value.message


def test_point_geojson_puts_longitude_first() -> None:
    assert geometry.point(12.34, -1.5) == {"type": "Point", "coordinates": [-1.5, 12.34]}
    with pytest.raises(Invalid, match="out of range"):
        geometry.point(91, 0)

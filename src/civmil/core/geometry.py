"""Geometry of records: GeoJSON in WGS84, validated with shapely, and points typed by people.

:func:`parse` turns a GeoJSON geometry (a dict, or JSON text from a form or a file) into a
:class:`Geometry`: the stored form (``{"type", "coordinates"}``, nothing else), the shapely
shape and its bounding box. It refuses, with a reason a user can act on:

- what is not JSON, not a GeoJSON object, or has no ``type`` or no coordinates;
- a type other than Point, LineString, Polygon and their Multi forms (or the ones allowed);
- coordinates that are not finite numbers or are out of range (longitude -180..180, latitude -90..90);
- more vertices than ``CIVMIL_MAX_VERTICES`` (10,000 unless the setting says otherwise);
- an unclosed ring, a ring of fewer than 4 positions, a line of fewer than 2;
- a shape shapely finds invalid (a ring that crosses itself, a hole outside its polygon...), told
  as a sentence rather than as GEOS's diagnostic.

Work is bounded by the vertex limit before anything costly: text longer than the limit allows
is refused unread, the walk over positions stops at the first one past the limit, and shapely
only sees a geometry that passed both.

:func:`parse_point` reads a point as people type it: decimal degrees (``12.34, -1.5``,
``12.34N 1.5W``, ``N 12.34 W 1.5``) or an MGRS reference (``31U DQ 48252 11954``).

Every refusal is :class:`~civmil.core.errors.Invalid`; forms, the API and imports show its message.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import mgrs
import shapely
from django.conf import settings
from django.utils.translation import gettext as _
from shapely.geometry import shape as to_shape
from shapely.geometry.base import BaseGeometry

from civmil.core.errors import Invalid

GEOMETRY_TYPES = ("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon")
#: Vertices accepted in one geometry unless ``settings.CIVMIL_MAX_VERTICES`` says otherwise.
DEFAULT_MAX_VERTICES = 10_000
#: Characters of JSON text allowed per vertex (pretty-printed, three coordinates, 17 digits each):
#: longer text cannot hold a geometry within the limit and is refused before it is parsed.
CHARS_PER_VERTEX = 200

#: How deep the coordinates of each type are nested (0: a position).
DEPTH = {"Point": 0, "MultiPoint": 1, "LineString": 1, "MultiLineString": 2, "Polygon": 2, "MultiPolygon": 3}


def max_vertices() -> int:
    """The configured vertex limit (``CIVMIL_MAX_VERTICES``)."""
    value = getattr(settings, "CIVMIL_MAX_VERTICES", DEFAULT_MAX_VERTICES)
    return int(value) if isinstance(value, int) and not isinstance(value, bool) and value > 0 else DEFAULT_MAX_VERTICES


@dataclass(frozen=True)
class Bounds:
    """A bounding box in WGS84 degrees."""

    west: float
    south: float
    east: float
    north: float

    def as_fields(self) -> dict[str, float]:
        """The values of :class:`civmil.core.models.Placed`'s box columns."""
        return {"west": self.west, "south": self.south, "east": self.east, "north": self.north}

    def as_list(self) -> list[float]:
        """``[west, south, east, north]``, GeoJSON's ``bbox`` order."""
        return [self.west, self.south, self.east, self.north]


@dataclass(frozen=True)
class Geometry:
    """A valid geometry: its stored GeoJSON, its shapely shape and its bounding box."""

    geojson: dict[str, Any]
    shape: BaseGeometry

    @property
    def type(self) -> str:
        return str(self.geojson["type"])

    @property
    def bounds(self) -> Bounds:
        return bounds_of(self.shape)


def bounds_of(geom: BaseGeometry) -> Bounds:
    west, south, east, north = geom.bounds
    return Bounds(float(west), float(south), float(east), float(north))


# ---------------------------------------------------------------------------------------------
# Positions, Features and bbox members


def _finite_number(v: Any) -> bool:
    """A JSON number a double holds (an integer too large for one is not: it would overflow)."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        return False
    if isinstance(v, int):
        return -(2**1023) < v < 2**1023
    return math.isfinite(v)


def _check_position(pos: Any, where: str) -> None:
    if not isinstance(pos, list | tuple) or len(pos) < 2:
        raise Invalid(_("%(where)s: a position must be [longitude, latitude].") % {"where": where})
    if not all(_finite_number(v) for v in pos):
        raise Invalid(_("%(where)s: coordinates must be finite numbers.") % {"where": where})
    if len(pos) > 3:
        raise Invalid(_("%(where)s: a position has more than three numbers (longitude, latitude, height).")
                      % {"where": where})
    lon, lat = pos[0], pos[1]
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise Invalid(
            _("%(where)s: position %(lon)s, %(lat)s is out of range (longitude -180..180, latitude -90..90).")
            % {"where": where, "lon": _short(lon), "lat": _short(lat)}
        )


def _short(v: float) -> str:
    """A number as a message shows it: at most 20 characters (a huge integer would be thousands)."""
    text = repr(v)
    return text if len(text) <= 20 else f"{float(v):.6g}"


def _too_many(where: str, limit: int) -> Invalid:
    return Invalid(_("%(where)s: more than %(n)s vertices.") % {"where": where, "n": limit})


def _walk_positions(coords: Any, depth: int, where: str, counter: list[int], limit: int) -> None:
    """Check every position; ``counter`` is [positions seen, numbers per position (0 until the first)]."""
    if depth == 0:
        _check_position(coords, where)
        counter[0] += 1
        if counter[0] > limit:
            raise _too_many(where, limit)
        if counter[1] and counter[1] != len(coords):
            raise Invalid(_("%(where)s: some positions have a height and others do not; give every position "
                            "the same number of values.") % {"where": where})
        counter[1] = len(coords)
        return
    if not isinstance(coords, list | tuple):
        raise Invalid(_("%(where)s: coordinates are not nested as the geometry type requires.") % {"where": where})
    if len(coords) > limit:
        raise _too_many(where, limit)
    for item in coords:
        _walk_positions(item, depth - 1, where, counter, limit)


def check_bbox(value: Any, where: str) -> None:
    """Refuse a GeoJSON ``bbox`` member that is not [west, south, east, north] (or 6 numbers with heights).

    West may exceed east (a box across the antimeridian); south may not exceed north.
    """
    if not isinstance(value, list | tuple) or len(value) not in (4, 6) or not all(_finite_number(v) for v in value):
        raise Invalid(_("%(where)s: \"bbox\" must be an array of 4 numbers (west, south, east, north), or 6 "
                        "with heights.") % {"where": where})
    half = len(value) // 2
    west, south, east, north = value[0], value[1], value[half], value[half + 1]
    if not (-180 <= west <= 180 and -180 <= east <= 180 and -90 <= south <= north <= 90):
        raise Invalid(_("%(where)s: \"bbox\" is out of range or its south edge is above its north edge.")
                      % {"where": where})


def check_feature(value: dict[str, Any], where: str) -> None:
    """Refuse a GeoJSON Feature's members that RFC 7946 does not allow (its geometry is checked apart).

    A Feature has a ``properties`` member (an object, or null); its ``id``, if any, is a string
    or a number; its ``bbox``, if any, is a bounding box.
    """
    if "properties" not in value:
        raise Invalid(_("%(where)s: a Feature needs a \"properties\" member (an object, or null).")
                      % {"where": where})
    if value["properties"] is not None and not isinstance(value["properties"], dict):
        raise Invalid(_("%(where)s: the \"properties\" of a Feature must be an object or null.") % {"where": where})
    if "id" in value and not (isinstance(value["id"], str) or _finite_number(value["id"])):
        raise Invalid(_("%(where)s: the \"id\" of a Feature must be a string or a number.") % {"where": where})
    if "bbox" in value:
        check_bbox(value["bbox"], where)


# ---------------------------------------------------------------------------------------------
# Why shapely finds a shape invalid, as a sentence

_REASON_AT = re.compile(r"^(?P<what>[A-Za-z -]+?)\s*\[(?P<x>[-+0-9.eE]+)\s+(?P<y>[-+0-9.eE]+)")


def invalidity(geom: BaseGeometry) -> str:
    """Why shapely finds ``geom`` invalid, as a translated sentence (GEOS's diagnostic otherwise)."""
    raw = str(shapely.is_valid_reason(geom))
    m = _REASON_AT.match(raw)
    what = (m.group("what") if m else raw).strip().lower()
    near = {"lon": f"{float(m.group('x')):.6f}", "lat": f"{float(m.group('y')):.6f}"} if m else None
    reasons = {
        "self-intersection": _("its boundary crosses itself (a self-intersection)"),
        "ring self-intersection": _("one of its rings touches or crosses itself (a self-intersection)"),
        "hole lies outside shell": _("a hole lies outside its outer ring"),
        "nested holes": _("a hole lies inside another hole"),
        "interior is disconnected": _("its holes cut its interior into separate pieces"),
        "nested shells": _("one of its polygons lies inside another"),
        "duplicate rings": _("a ring is given twice"),
        "too few points": _("a ring or line has too few distinct points"),
        "ring is not closed": _("a ring is not closed"),
        "invalid coordinate": _("a coordinate is not a number"),
    }
    reason = reasons.get(what)
    if reason is None:
        return _("its shape is not valid (%(detail)s)") % {"detail": raw[:100]}
    if near:
        return _("%(reason)s near longitude %(lon)s, latitude %(lat)s") % {"reason": reason, **near}
    return reason


# ---------------------------------------------------------------------------------------------
# Parsing


def _canonical(coords: Any, depth: int) -> Any:
    """The coordinates as nested lists of floats (what is stored and served)."""
    if depth == 0:
        return [float(v) for v in coords]
    return [_canonical(item, depth - 1) for item in coords]


def parse(
    value: Any,
    *,
    where: str | None = None,
    allowed: Sequence[str] = GEOMETRY_TYPES,
    limit: int | None = None,
) -> Geometry:
    """Parse a GeoJSON geometry (a dict, a Feature, or their JSON text) into a valid :class:`Geometry`.

    ``limit`` is the most vertices accepted (``CIVMIL_MAX_VERTICES`` when not given). Raises
    :class:`~civmil.core.errors.Invalid` with the reason.
    """
    where = where or _("Geometry")
    return _valid(_checked_geojson(value, where, allowed, limit), where)


def parse_stored(
    value: Any,
    *,
    allowed: Sequence[str] = GEOMETRY_TYPES,
    limit: int | None = None,
) -> tuple[dict[str, Any], Bounds]:
    """What :func:`parse` gives of ``value`` to store: its GeoJSON and its bounding box (refusing
    what :func:`parse` refuses, in the same words).

    A Point is not made a shape: once its position is checked it is valid and not empty, and its
    box is its position. The kernel's bulk path stores thousands of places at a time, and building
    each point's shape cost several times all the checks."""
    where = _("Geometry")
    stored = _checked_geojson(value, where, allowed, limit)
    if stored["type"] == "Point":
        lon, lat = stored["coordinates"][:2]
        return stored, Bounds(lon, lat, lon, lat)
    return stored, _valid(stored, where).bounds


def _checked_geojson(value: Any, where: str, allowed: Sequence[str], limit: int | None) -> dict[str, Any]:
    """The stored GeoJSON of ``value`` (type and coordinates as floats), every rule checked but
    those of the shape itself (:func:`_valid`)."""
    limit = limit or max_vertices()
    if isinstance(value, str | bytes):
        if len(value) > limit * CHARS_PER_VERTEX + 10_000:
            raise Invalid(_("%(where)s is too large: at most %(n)s vertices are accepted.")
                          % {"where": where, "n": limit})
        try:
            value = json.loads(value)
        except (ValueError, RecursionError) as exc:
            raise Invalid(_("%(where)s is not valid JSON.") % {"where": where}) from exc
    if not isinstance(value, dict):
        raise Invalid(_("%(where)s must be a GeoJSON geometry object.") % {"where": where})
    if value.get("type") == "Feature":
        check_feature(value, where)
        value = value.get("geometry")
        if not isinstance(value, dict):
            raise Invalid(_("%(where)s: the feature has no geometry.") % {"where": where})
    gtype = value.get("type")
    if gtype is None:
        raise Invalid(_("%(where)s has no \"type\" member (such as \"Point\" or \"Polygon\").") % {"where": where})
    if not isinstance(gtype, str) or gtype not in allowed or gtype not in DEPTH:
        raise Invalid(
            _("%(where)s: geometry type %(t)s is not accepted here (accepted: %(ok)s).")
            % {"where": where, "t": json.dumps(gtype, ensure_ascii=False, default=str)[:40],
               "ok": ", ".join(t for t in allowed if t in DEPTH)}
        )
    coords = value.get("coordinates")
    if coords is None:
        raise Invalid(_("%(where)s has no coordinates.") % {"where": where})
    depth = DEPTH[gtype]
    _walk_positions(coords, depth, where, [0, 0], limit)
    if "bbox" in value:
        check_bbox(value["bbox"], where)
    if gtype in ("Polygon", "MultiPolygon"):
        polygons = [coords] if gtype == "Polygon" else coords
        for polygon in polygons:
            if not polygon:
                raise Invalid(_("%(where)s: a polygon has no rings.") % {"where": where})
            for ring in polygon:
                if len(ring) < 4:
                    raise Invalid(_("%(where)s: a polygon ring needs at least 4 positions.") % {"where": where})
                if list(ring[0][:2]) != list(ring[-1][:2]):
                    raise Invalid(
                        _("%(where)s: a polygon ring is not closed (its first and last positions differ).")
                        % {"where": where}
                    )
    lines = [coords] if gtype == "LineString" else coords if gtype == "MultiLineString" else []
    if any(len(line) < 2 for line in lines):
        raise Invalid(_("%(where)s: a line needs at least two positions.") % {"where": where})
    return {"type": gtype, "coordinates": _canonical(coords, depth)}


def _valid(stored: dict[str, Any], where: str) -> Geometry:
    """``stored`` (:func:`_checked_geojson`) as a :class:`Geometry`, refused when its shape is
    empty or not valid."""
    try:
        geom = to_shape(stored)
    except (ValueError, TypeError, AttributeError, shapely.errors.GEOSException) as exc:
        raise Invalid(_("%(where)s is not a valid geometry.") % {"where": where}) from exc
    if geom.is_empty:
        raise Invalid(_("%(where)s is empty.") % {"where": where})
    if not geom.is_valid:
        raise Invalid(_("%(where)s is not valid: %(why)s.") % {"where": where, "why": invalidity(geom)})
    return Geometry(stored, geom)


def bounds(geojson: dict[str, Any]) -> Bounds:
    """The bounding box of a stored (already valid) GeoJSON geometry."""
    return bounds_of(to_shape(geojson))


def point(lat: float, lon: float) -> dict[str, Any]:
    """The GeoJSON Point of a latitude and longitude (GeoJSON puts longitude first)."""
    check_lat_lon(lat, lon)
    return {"type": "Point", "coordinates": [float(lon), float(lat)]}


# ---------------------------------------------------------------------------------------------
# Points typed by people: decimal degrees or MGRS

_NUMBER = r"\d{1,3}(?:\.\d+)?"
_DECIMAL = re.compile(rf"^\s*([-+]?{_NUMBER})\s*°?\s*[,; ]\s*([-+]?{_NUMBER})\s*°?\s*$")
_LETTER_AFTER = re.compile(rf"^\s*({_NUMBER})\s*°?\s*([NSEW])\s*[,;]?\s*({_NUMBER})\s*°?\s*([NSEW])\s*$", re.I)
_LETTER_BEFORE = re.compile(rf"^\s*([NSEW])\s*({_NUMBER})\s*°?\s*[,;]?\s*([NSEW])\s*({_NUMBER})\s*°?\s*$", re.I)
_MGRS = re.compile(r"^\s*(\d{1,2})\s*([C-HJ-NP-X])\s*([A-HJ-NP-Z]{2})\s*((?:\d\s*){2,10})$", re.IGNORECASE)


@lru_cache(maxsize=1)
def _mgrs() -> mgrs.MGRS:
    return mgrs.MGRS()


def check_lat_lon(lat: float | None, lon: float | None) -> None:
    """Refuse a latitude or longitude that is missing alone, not finite or out of range."""
    if lat is None and lon is None:
        return
    if lat is None or lon is None:
        raise Invalid(_("Give both latitude and longitude, or neither."))
    if not (math.isfinite(lat) and math.isfinite(lon)):
        raise Invalid(_("Latitude and longitude must be finite numbers."))
    if not -90 <= lat <= 90:
        raise Invalid(_("Latitude %(v)s is out of range (-90 to 90).") % {"v": lat})
    if not -180 <= lon <= 180:
        raise Invalid(_("Longitude %(v)s is out of range (-180 to 180).") % {"v": lon})


def _with_letters(pairs: list[tuple[str, str]], text: str) -> tuple[float, float]:
    """``(lat, lon)`` from two (number, hemisphere letter) pairs, in either order."""
    lat = lon = None
    for number, letter in pairs:
        value = float(number)
        letter = letter.upper()
        if letter in "NS":
            if lat is not None:
                break
            lat = -value if letter == "S" else value
        else:
            if lon is not None:
                break
            lon = -value if letter == "W" else value
    if lat is None or lon is None:
        raise Invalid(_("%(text)s: give one latitude (N or S) and one longitude (E or W).") % {"text": text[:80]})
    check_lat_lon(lat, lon)
    return lat, lon


def to_mgrs(lat: float, lon: float, precision: int = 5) -> str:
    """MGRS reference of a point (``precision`` 5 = 1 m). Empty outside MGRS coverage."""
    try:
        raw = _mgrs().toMGRS(lat, lon, MGRSPrecision=precision)
    except Exception:
        return ""
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    m = re.match(r"^(\d{1,2}[A-Z])([A-Z]{2})(\d*)$", text)
    if not m:
        return text
    digits = m.group(3)
    half = len(digits) // 2
    return f"{m.group(1)} {m.group(2)} {digits[:half]} {digits[half:]}".strip()


def parse_point(text: str) -> tuple[float, float]:
    """Parse a point typed by a person into ``(lat, lon)``.

    Accepted: ``"lat, lon"`` in signed decimal degrees (comma, semicolon or space between);
    decimal degrees with hemisphere letters after or before each number (``12.34N 1.5W``,
    ``N 12.34, W 1.5``, in either order); an MGRS reference (``31U DQ 48252 11954``, spaces optional).
    """
    text = (text or "").strip()
    if not text:
        raise Invalid(_("Give a location as 'latitude, longitude' or as an MGRS reference."))
    if len(text) > 100:
        raise Invalid(_("A location is at most 100 characters long."))
    m = _DECIMAL.match(text)
    if m:
        lat, lon = float(m.group(1)), float(m.group(2))
        check_lat_lon(lat, lon)
        return lat, lon
    m = _LETTER_AFTER.match(text)
    if m:
        return _with_letters([(m.group(1), m.group(2)), (m.group(3), m.group(4))], text)
    m = _LETTER_BEFORE.match(text)
    if m:
        return _with_letters([(m.group(2), m.group(1)), (m.group(4), m.group(3))], text)
    m = _MGRS.match(text)
    if m:
        digits = re.sub(r"\s", "", m.group(4))
        if len(digits) % 2:
            raise Invalid(_("MGRS reference %(ref)s has an odd number of digits.") % {"ref": text})
        ref = f"{int(m.group(1)):02d}{m.group(2).upper()}{m.group(3).upper()}{digits}"
        try:
            lat, lon = _mgrs().toLatLon(ref)
        except Exception as exc:
            raise Invalid(_("MGRS reference %(ref)s does not parse: %(why)s") % {"ref": text, "why": exc}) from exc
        return round(float(lat), 6), round(float(lon), 6)
    raise Invalid(
        _("%(text)s is neither 'latitude, longitude' in decimal degrees nor an MGRS reference "
          "such as 34N CF 12345 67890.") % {"text": text[:80]}
    )

"""Geometry and coordinates: validation, bounding boxes, MGRS, point-in-area.

Geometry is GeoJSON in WGS84. Metric work uses the mission's projection (pyproj).
Every function raises :class:`~civmil.core.errors.Invalid` with a reason a user can act on.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import mgrs
import shapely
from django.utils.translation import gettext as _
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

from civmil.core.errors import Invalid

GEOMETRY_TYPES = ("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon")
MAX_VERTICES = 200_000

_DECIMAL = re.compile(r"^\s*([-+]?\d{1,3}(?:\.\d+)?)\s*[,; ]\s*([-+]?\d{1,3}(?:\.\d+)?)\s*$")
_MGRS = re.compile(r"^\s*(\d{1,2})\s*([C-HJ-NP-X])\s*([A-HJ-NP-Z]{2})\s*((?:\d\s*){2,10})$", re.IGNORECASE)


@dataclass(frozen=True)
class BBox:
    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float

    def as_fields(self) -> dict[str, float]:
        return {"min_lon": self.min_lon, "min_lat": self.min_lat, "max_lon": self.max_lon,
                "max_lat": self.max_lat}


def _finite_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


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
            % {"where": where, "lon": lon, "lat": lat}
        )


def _walk_positions(coords: Any, depth: int, where: str, counter: list[int]) -> None:
    """Check every position; ``counter`` is [positions seen, numbers per position (0 until the first)]."""
    if depth == 0:
        _check_position(coords, where)
        counter[0] += 1
        if counter[0] > MAX_VERTICES:
            raise Invalid(_("%(where)s: more than %(n)s vertices.") % {"where": where, "n": MAX_VERTICES})
        if counter[1] and counter[1] != len(coords):
            raise Invalid(_("%(where)s: some positions have a height and others do not; give every position "
                            "the same number of values.") % {"where": where})
        counter[1] = len(coords)
        return
    if not isinstance(coords, list | tuple):
        raise Invalid(_("%(where)s: coordinates are not nested as the geometry type requires.") % {"where": where})
    for item in coords:
        _walk_positions(item, depth - 1, where, counter)


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


_DEPTH = {"Point": 0, "MultiPoint": 1, "LineString": 1, "MultiLineString": 2, "Polygon": 2, "MultiPolygon": 3}


def validate_geometry(
    value: Any, *, where: str | None = None, allowed: tuple[str, ...] = GEOMETRY_TYPES
) -> BaseGeometry:
    """Parse a GeoJSON geometry (dict or JSON text) into a valid shapely geometry.

    Refuses what is not GeoJSON, out of range, unclosed or self-intersecting rings, and
    geometry types outside ``allowed``.
    """
    where = where or _("Geometry")
    if isinstance(value, str | bytes):
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
    if gtype not in allowed:
        raise Invalid(
            _("%(where)s: geometry type %(t)s is not accepted here (accepted: %(ok)s).")
            % {"where": where, "t": json.dumps(gtype, ensure_ascii=False, default=str)[:40], "ok": ", ".join(allowed)}
        )
    coords = value.get("coordinates")
    if coords is None:
        raise Invalid(_("%(where)s has no coordinates.") % {"where": where})
    _walk_positions(coords, _DEPTH[gtype], where, [0, 0])
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
    try:
        geom = shape(value)
    except (ValueError, TypeError, AttributeError, shapely.errors.GEOSException) as exc:
        raise Invalid(_("%(where)s is not a valid geometry.") % {"where": where}) from exc
    if geom.is_empty:
        raise Invalid(_("%(where)s is empty.") % {"where": where})
    if not geom.is_valid:
        raise Invalid(
            _("%(where)s is not valid: %(why)s (for example a self-intersecting ring).")
            % {"where": where, "why": explain_validity(geom)}
        )
    return geom


def bbox(geom: BaseGeometry) -> BBox:
    min_lon, min_lat, max_lon, max_lat = geom.bounds
    return BBox(float(min_lon), float(min_lat), float(max_lon), float(max_lat))


def to_geojson(geom: BaseGeometry) -> dict[str, Any]:
    return dict(mapping(geom))


@lru_cache(maxsize=1)
def _mgrs() -> mgrs.MGRS:
    return mgrs.MGRS()


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
    """Parse ``"lat, lon"`` in decimal degrees, or an MGRS reference, into ``(lat, lon)``."""
    text = (text or "").strip()
    if not text:
        raise Invalid(_("Give a location as 'latitude, longitude' or as an MGRS reference."))
    m = _DECIMAL.match(text)
    if m:
        lat, lon = float(m.group(1)), float(m.group(2))
        check_lat_lon(lat, lon)
        return lat, lon
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


def check_lat_lon(lat: float | None, lon: float | None) -> None:
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


def utm_epsg(lat: float, lon: float) -> str:
    """The EPSG code of the UTM zone containing a point (used for projection 'auto')."""
    zone = int((lon + 180) // 6) % 60 + 1
    return f"EPSG:{(32600 if lat >= 0 else 32700) + zone}"


def contains(geometry: dict[str, Any], lat: float, lon: float) -> bool:
    """Does a stored (already valid) GeoJSON geometry contain the point?"""
    return bool(shape(geometry).covers(shapely.Point(lon, lat)))

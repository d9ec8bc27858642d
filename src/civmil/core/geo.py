"""Geometry and coordinates: validation, bounding boxes, MGRS, point-in-area.

Geometry is GeoJSON in WGS84. Metric work uses the mission's projection (pyproj).
Every function raises :class:`~civmil.core.errors.Invalid` with a reason a user can act on.
Validation and point parsing live in :mod:`civmil.core.geometry`; the names here stay for
the areas and the liaison log, which use them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import shapely
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry

from civmil.core import geometry

GEOMETRY_TYPES = geometry.GEOMETRY_TYPES
#: Vertices accepted in an area's boundary (a record's geometry has ``CIVMIL_MAX_VERTICES``).
MAX_VERTICES = 200_000

check_bbox = geometry.check_bbox
check_feature = geometry.check_feature
check_lat_lon = geometry.check_lat_lon
parse_point = geometry.parse_point
to_mgrs = geometry.to_mgrs


@dataclass(frozen=True)
class BBox:
    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float

    def as_fields(self) -> dict[str, float]:
        return {"min_lon": self.min_lon, "min_lat": self.min_lat, "max_lon": self.max_lon,
                "max_lat": self.max_lat}


def validate_geometry(
    value: Any, *, where: str | None = None, allowed: tuple[str, ...] = GEOMETRY_TYPES
) -> BaseGeometry:
    """Parse a GeoJSON geometry (dict or JSON text) into a valid shapely geometry.

    Refuses what is not GeoJSON, out of range, unclosed or self-intersecting rings, and
    geometry types outside ``allowed`` (:func:`civmil.core.geometry.parse`, with
    :data:`MAX_VERTICES`).
    """
    return geometry.parse(value, where=where, allowed=allowed, limit=MAX_VERTICES).shape


def bbox(geom: BaseGeometry) -> BBox:
    min_lon, min_lat, max_lon, max_lat = geom.bounds
    return BBox(float(min_lon), float(min_lat), float(max_lon), float(max_lat))


def to_geojson(geom: BaseGeometry) -> dict[str, Any]:
    return dict(mapping(geom))


def utm_epsg(lat: float, lon: float) -> str:
    """The EPSG code of the UTM zone containing a point (used for projection 'auto')."""
    zone = int((lon + 180) // 6) % 60 + 1
    return f"EPSG:{(32600 if lat >= 0 else 32700) + zone}"


def contains(geometry: dict[str, Any], lat: float, lon: float) -> bool:
    """Does a stored (already valid) GeoJSON geometry contain the point?"""
    return bool(shape(geometry).covers(shapely.Point(lon, lat)))

"""The API type of a record's place: a GeoJSON geometry, validated as forms and imports validate it.

``Geometry`` (every type) and :func:`geometry_schema` (some types, another vertex limit) are
pydantic types for django-ninja schemas. Input goes through :func:`civmil.core.geometry.parse`,
so the API refuses what the form refuses, with the same reason; output is the stored GeoJSON. The
OpenAPI document states the constraints a client can check before sending: the types, positions
of two or three numbers with longitude in -180..180 and latitude in -90..90, rings of at least
four positions, lines of at least two, and at most the configured number of vertices.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import PlainValidator, WithJsonSchema

from civmil.core import geometry
from civmil.core.errors import Invalid


def _position() -> dict[str, Any]:
    return {
        "type": "array", "minItems": 2, "maxItems": 3,
        "prefixItems": [
            {"type": "number", "minimum": -180, "maximum": 180, "description": "Longitude (WGS84)."},
            {"type": "number", "minimum": -90, "maximum": 90, "description": "Latitude (WGS84)."},
            {"type": "number", "description": "Height (optional)."},
        ],
        "items": {"type": "number"},
    }


def _nested(depth: int, limit: int, min_items: tuple[int, ...]) -> dict[str, Any]:
    """Coordinates nested ``depth`` arrays deep around a position; ``min_items`` from the outside in."""
    schema = _position()
    for level in range(depth):
        schema = {"type": "array", "items": schema, "maxItems": limit}
        minimum = min_items[depth - 1 - level] if depth - 1 - level < len(min_items) else 1
        if minimum:
            schema["minItems"] = minimum
    return schema


def _type_schema(name: str, limit: int) -> dict[str, Any]:
    min_items = {
        "Point": (), "MultiPoint": (1,), "LineString": (2,), "MultiLineString": (1, 2),
        "Polygon": (1, 4), "MultiPolygon": (1, 1, 4),
    }[name]
    return {
        "type": "object", "title": name, "required": ["type", "coordinates"],
        "properties": {"type": {"type": "string", "enum": [name]},
                       "coordinates": _nested(geometry.DEPTH[name], limit, min_items)},
    }


def json_schema(allowed: Sequence[str], limit: int) -> dict[str, Any]:
    kinds = [t for t in allowed if t in geometry.DEPTH]
    return {
        "oneOf": [_type_schema(t, limit) for t in kinds],
        "description": (
            f"A GeoJSON geometry in WGS84 ({', '.join(kinds)}): [longitude, latitude] positions, polygon "
            f"rings closed (first position = last) and not crossing themselves or each other, at most {limit} "
            "vertices in all. A Feature is accepted and its geometry kept."
        ),
    }


def geometry_schema(allowed: Sequence[str] = geometry.GEOMETRY_TYPES, limit: int | None = None) -> Any:
    """A pydantic type for a GeoJSON geometry of the ``allowed`` types, with at most ``limit`` vertices."""
    allowed = tuple(allowed)
    limit = limit or geometry.max_vertices()

    def validate(value: Any) -> dict[str, Any]:
        if isinstance(value, geometry.Geometry):
            return value.geojson
        try:
            return geometry.parse(value if isinstance(value, dict) else [value], allowed=allowed,
                                  limit=limit).geojson
        except Invalid as exc:
            raise ValueError(exc.message) from exc

    return Annotated[dict[str, Any], PlainValidator(validate, json_schema_input_type=dict[str, Any]),
                     WithJsonSchema(json_schema(allowed, limit))]


#: Any geometry type, the configured vertex limit.
Geometry = geometry_schema()

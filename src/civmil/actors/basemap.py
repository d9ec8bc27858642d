"""The mission's offline basemap: a PMTiles (v3) archive of vector tiles, built from its own GeoJSON.

Missions are often offline, so every map draws its towns, roads, rivers, water and boundaries from
one file civmil serves itself (``CIVMIL_BASEMAP``, by default ``<var>/basemap.pmtiles``). The file
is either built here (``civmil basemap build``) from a folder of GeoJSON files and the areas of the
directory, or a PMTiles extract of the real country that the mission drops in its place.

The layers and their properties (the map's style, civmil/js/map.js, draws them by these names;
it also draws the layer names of a Protomaps basemap extract):

==============  ================  =====================================================================
layer           geometry          properties
==============  ================  =====================================================================
``towns``       points            ``name``, ``kind`` (capital, town, village, site)
``roads``       lines             ``name``, ``kind`` (major, minor, track)
``rivers``      lines             ``name``, ``kind`` (river, stream)
``water``       polygons, points  ``name``, ``kind`` (lake, reservoir, ...); a point labels each named one
``boundaries``  lines             ``kind`` (country, ...), ``admin_level`` (0 for a country)
``areas``       polygons          ``name``, ``pcode``, ``admin_level`` (the directory's areas; fills)
``area_lines``  lines             ``admin_level`` (their outlines, drawn without the tiles' cut edges)
``area_labels`` points            ``name``, ``pcode``, ``admin_level`` (one label point per area)
==============  ================  =====================================================================

Each feature may carry ``min_zoom`` (an integer): below it the feature is left out of the tiles, so
villages and tracks do not crowd the country-wide view. Without it the layer's default applies.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mapbox_vector_tile
import mercantile
import numpy
import shapely
from django.utils.translation import gettext as _
from mapbox_vector_tile.encoder import on_invalid_geometry_make_valid
from pmtiles.tile import Compression, TileType, zxy_to_tileid
from pmtiles.writer import Writer
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from civmil.core.errors import Invalid

#: The GeoJSON files a source folder may hold, one per layer, and the geometries each accepts.
SOURCE_LAYERS: dict[str, tuple[str, ...]] = {
    "towns": ("Point", "MultiPoint"),
    "roads": ("LineString", "MultiLineString"),
    "rivers": ("LineString", "MultiLineString"),
    "water": ("Polygon", "MultiPolygon"),
    "boundaries": ("Polygon", "MultiPolygon", "LineString", "MultiLineString"),
}
#: The smallest zoom at which a feature appears, by layer and kind, unless it says ``min_zoom``.
DEFAULT_MIN_ZOOM: dict[str, dict[str, int]] = {
    "towns": {"capital": 0, "city": 0, "town": 6, "village": 8, "site": 9, "": 8},
    "roads": {"major": 0, "minor": 7, "track": 9, "": 7},
    "rivers": {"river": 0, "stream": 8, "": 0},
    "water": {"": 0},
    "boundaries": {"": 0},
}
#: The areas of the directory by admin level: from which zoom their fill, outline and label appear.
AREA_MIN_ZOOM = {0: 0, 1: 0, 2: 7, 3: 9}
AREA_LABEL_MIN_ZOOM = {0: 0, 1: 5, 2: 8, 3: 10}
MIN_ZOOM, MAX_ZOOM = 2, 12
#: Highest zoom a build may ask for: tiles multiply by four per zoom.
MOST_ZOOM = 14
#: Vector tile resolution and the margin (in tile units) kept around each tile, so that lines and
#: outlines do not stop short of the tile's edge.
EXTENT = 4096
BUFFER = 64
#: Largest source file read (bytes): the basemap is built from the mission's own, modest data.
MAX_SOURCE_BYTES = 200 * 1024 * 1024
_EARTH_RADIUS = 6378137.0
_MAX_LAT = 85.0511287798


@dataclass
class BasemapFeature:
    layer: str
    geometry: BaseGeometry  # in Web Mercator metres
    properties: dict[str, Any]
    min_zoom: int = 0


@dataclass
class BuildReport:
    path: Path
    tiles: int
    bytes: int
    seconds: float
    min_zoom: int
    max_zoom: int
    counts: dict[str, int] = field(default_factory=dict)


def _mercator(geometry: BaseGeometry) -> BaseGeometry:
    """WGS84 longitude/latitude to Web Mercator metres (EPSG:3857), the tiles' own projection."""

    def project(coords: Any) -> Any:
        lon = coords[:, 0]
        lat = coords[:, 1].clip(-_MAX_LAT, _MAX_LAT)
        x = lon * (math.pi / 180.0) * _EARTH_RADIUS
        y = _EARTH_RADIUS * numpy.log(numpy.tan(math.pi / 4 + lat * (math.pi / 360.0)))
        return numpy.column_stack([x, y])

    return shapely.transform(geometry, project)


def _min_zoom(layer: str, properties: dict[str, Any]) -> int:
    given = properties.get("min_zoom")
    if isinstance(given, int) and not isinstance(given, bool) and 0 <= given <= MOST_ZOOM:
        return given
    defaults = DEFAULT_MIN_ZOOM[layer]
    return defaults.get(str(properties.get("kind") or ""), defaults[""])


def _plain_properties(properties: Any) -> dict[str, Any]:
    """The properties a vector tile can carry: strings, numbers and booleans (others are dropped)."""
    if not isinstance(properties, dict):
        return {}
    return {str(k): v for k, v in properties.items()
            if k != "min_zoom" and isinstance(v, str | int | float | bool) and v is not None}


def read_source_layer(path: Path, layer: str) -> list[BasemapFeature]:
    """One layer's GeoJSON FeatureCollection, checked: :class:`Invalid` names the file, the feature and the fault."""
    kinds = SOURCE_LAYERS[layer]
    try:
        size = path.stat().st_size
        if size > MAX_SOURCE_BYTES:
            raise Invalid(_("%(path)s is larger than %(most)s MB.") % {"path": path,
                                                                     "most": MAX_SOURCE_BYTES // 1024 // 1024})
        document = json.loads(path.read_bytes())
    except OSError as exc:
        raise Invalid(_("Cannot read %(path)s: %(why)s") % {"path": path, "why": exc.strerror or exc}) from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Invalid(_("%(path)s is not JSON: %(why)s") % {"path": path, "why": exc}) from exc
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection" \
            or not isinstance(document.get("features"), list):
        raise Invalid(_("%(path)s is not a GeoJSON FeatureCollection (its \"type\" must be \"FeatureCollection\" "
                        "with a \"features\" list).") % {"path": path})
    features: list[BasemapFeature] = []
    for number, feature in enumerate(document["features"], start=1):
        where = {"path": path, "number": number}
        geometry_json = feature.get("geometry") if isinstance(feature, dict) else None
        if not isinstance(geometry_json, dict):
            raise Invalid(_("%(path)s, feature %(number)s: it has no geometry.") % where)
        if geometry_json.get("type") not in kinds:
            raise Invalid(_("%(path)s, feature %(number)s: a %(layer)s file takes %(kinds)s geometries, not "
                            "%(found)s.") % {**where, "layer": layer, "kinds": ", ".join(kinds),
                                             "found": geometry_json.get("type")})
        try:
            geometry = shape(geometry_json)
        except (ValueError, TypeError, AttributeError, IndexError, shapely.errors.GEOSException) as exc:
            raise Invalid(_("%(path)s, feature %(number)s: its coordinates cannot be read (%(why)s).")
                          % {**where, "why": exc}) from exc
        if geometry.is_empty:
            raise Invalid(_("%(path)s, feature %(number)s: its geometry is empty.") % where)
        west, south, east, north = geometry.bounds
        if not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
            raise Invalid(_("%(path)s, feature %(number)s: its coordinates are not longitude, latitude in "
                            "degrees (WGS84).") % where)
        if not geometry.is_valid:
            geometry = shapely.make_valid(geometry)
        properties = feature.get("properties") if isinstance(feature.get("properties"), dict) else {}
        if layer == "boundaries":
            properties = {"kind": "country", "admin_level": 0, **properties}
            if geometry.geom_type in ("Polygon", "MultiPolygon"):
                geometry = geometry.boundary  # drawn as lines: a polygon's cut edges would show
        features.append(BasemapFeature(layer, _mercator(geometry), _plain_properties(properties),
                                       _min_zoom(layer, properties)))
        if layer == "water" and properties.get("name"):
            # One label point per lake: a polygon cut into tiles would be labelled once per tile.
            features.append(BasemapFeature(layer, _mercator(geometry.representative_point()),
                                           _plain_properties(properties), _min_zoom(layer, properties)))
    return features


def read_source_folder(folder: Path) -> list[BasemapFeature]:
    """Every ``<layer>.geojson`` file of ``folder`` (each one optional, but at least one)."""
    if not folder.is_dir():
        raise Invalid(_("%(path)s is not a folder. Give the folder that holds the basemap's GeoJSON files "
                        "(%(files)s).") % {"path": folder, "files": _file_names()})
    found = [(folder / f"{layer}.geojson", layer) for layer in SOURCE_LAYERS if (folder / f"{layer}.geojson").exists()]
    if not found:
        raise Invalid(_("%(path)s holds none of the basemap's GeoJSON files (%(files)s).")
                      % {"path": folder, "files": _file_names()})
    features: list[BasemapFeature] = []
    for path, layer in found:
        features.extend(read_source_layer(path, layer))
    return features


def _file_names() -> str:
    return ", ".join(f"{layer}.geojson" for layer in SOURCE_LAYERS)


def area_features(areas: Iterable[Any]) -> list[BasemapFeature]:
    """The directory's administrative areas as fills, outlines and label points, styled by admin level."""
    features: list[BasemapFeature] = []
    for area in areas:
        level = area.admin_level if area.admin_level is not None else 3
        try:
            geometry = shape(area.geometry)
        except (ValueError, TypeError, AttributeError, shapely.errors.GEOSException):
            continue  # stored areas were validated when written; a damaged one is left off the map
        if geometry.is_empty:
            continue
        if not geometry.is_valid:
            geometry = shapely.make_valid(geometry)
        zoom = AREA_MIN_ZOOM.get(level, AREA_MIN_ZOOM[3])
        properties = {"name": area.name, "pcode": area.pcode or "", "admin_level": level}
        projected = _mercator(geometry)
        features.append(BasemapFeature("areas", projected, properties, zoom))
        features.append(BasemapFeature("area_lines", projected.boundary, {"admin_level": level}, zoom))
        features.append(BasemapFeature("area_labels", _mercator(geometry.representative_point()), properties,
                                       AREA_LABEL_MIN_ZOOM.get(level, AREA_LABEL_MIN_ZOOM[3])))
    return features


def _tolerance(zoom: int) -> float:
    """Half a screen pixel at ``zoom``, in metres: finer detail cannot be seen there."""
    return math.pi * _EARTH_RADIUS / math.ldexp(256, zoom)


def _tiles(features: list[BasemapFeature], min_zoom: int, max_zoom: int) -> Iterator[tuple[int, int, int, bytes]]:
    """``(z, x, y, gzipped MVT)`` of every tile that holds a feature, zoom by zoom."""
    layers = sorted({f.layer for f in features})
    west, south, east, north = _extent_lonlat(features)
    for z in range(min_zoom, max_zoom + 1):
        by_layer: dict[str, tuple[list[BasemapFeature], list[BaseGeometry], shapely.STRtree]] = {}
        tolerance = _tolerance(z)
        for layer in layers:
            chosen = [f for f in features if f.layer == layer and f.min_zoom <= z]
            if not chosen:
                continue
            simple = [f.geometry if f.geometry.geom_type in ("Point", "MultiPoint")
                      else shapely.simplify(f.geometry, tolerance, preserve_topology=True) for f in chosen]
            by_layer[layer] = (chosen, simple, shapely.STRtree(simple))
        if not by_layer:
            continue
        for tile in mercantile.tiles(west, south, east, north, z):
            bounds = mercantile.xy_bounds(tile)
            margin = (bounds.right - bounds.left) * BUFFER / EXTENT
            clip = (bounds.left - margin, bounds.bottom - margin, bounds.right + margin, bounds.top + margin)
            encoded_layers = []
            for layer, (chosen, simple, tree) in by_layer.items():
                out = []
                for index in tree.query(shapely.box(*clip)):
                    part = shapely.clip_by_rect(simple[index], *clip)
                    if part.is_empty:
                        continue
                    out.append({"geometry": _in_tile(part, bounds), "properties": chosen[index].properties})
                if out:
                    encoded_layers.append({"name": layer, "features": out})
            if not encoded_layers:
                continue
            data = mapbox_vector_tile.encode(encoded_layers, default_options={
                "extents": EXTENT, "on_invalid_geometry": on_invalid_geometry_make_valid})
            yield z, tile.x, tile.y, gzip.compress(data, mtime=0)


def _in_tile(geometry: BaseGeometry, bounds: mercantile.Bbox) -> BaseGeometry:
    """Web Mercator metres to the tile's own grid (0 to EXTENT, y up; the encoder turns it down), whole units."""
    scale = EXTENT / (bounds.right - bounds.left)
    origin = numpy.array([bounds.left, bounds.bottom])
    return shapely.transform(geometry, lambda coords: numpy.rint((coords - origin) * scale))


def _extent_lonlat(features: list[BasemapFeature]) -> tuple[float, float, float, float]:
    west, south, east, north = shapely.total_bounds([f.geometry for f in features])
    lon_w, lat_s = mercantile.lnglat(west, south)
    lon_e, lat_n = mercantile.lnglat(east, north)
    return lon_w, lat_s, lon_e, lat_n


def build(features: list[BasemapFeature], output: Path, *, min_zoom: int = MIN_ZOOM, max_zoom: int = MAX_ZOOM,
          name: str = "civmil basemap") -> BuildReport:
    """Write ``features`` as a PMTiles v3 archive of gzipped Mapbox vector tiles at ``output``.

    The archive is written beside ``output`` and moved over it at the end, so a map being read
    while the basemap is rebuilt never sees half a file.
    """
    if not features:
        raise Invalid(_("There is nothing to draw: no towns, roads, rivers, water, boundaries or areas."))
    if not 0 <= min_zoom <= max_zoom <= MOST_ZOOM:
        raise Invalid(_("The zooms must run from 0 to %(most)s, the smallest first (given %(min)s to %(max)s).")
                      % {"most": MOST_ZOOM, "min": min_zoom, "max": max_zoom})
    started = time.monotonic()
    tiles = sorted(((zxy_to_tileid(z, x, y), data) for z, x, y, data in _tiles(features, min_zoom, max_zoom)),
                   key=lambda pair: pair[0])
    if not tiles:
        raise Invalid(_("There is nothing to draw at zooms %(min)s to %(max)s.") % {"min": min_zoom, "max": max_zoom})
    west, south, east, north = _extent_lonlat(features)
    counts: dict[str, int] = {}
    for f in features:
        counts[f.layer] = counts.get(f.layer, 0) + 1
    output.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".basemap-", suffix=".pmtiles", dir=output.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            writer = Writer(stream)  # type: ignore[no-untyped-call]
            for tile_id, data in tiles:
                writer.write_tile(tile_id, data)  # type: ignore[no-untyped-call]
            writer.finalize({  # type: ignore[no-untyped-call]
                "tile_type": TileType.MVT, "tile_compression": Compression.GZIP,
                "min_lon_e7": int(west * 1e7), "min_lat_e7": int(south * 1e7),
                "max_lon_e7": int(east * 1e7), "max_lat_e7": int(north * 1e7),
                "center_zoom": min(max(min_zoom, 7), max_zoom),
                "center_lon_e7": int((west + east) / 2 * 1e7), "center_lat_e7": int((south + north) / 2 * 1e7),
            }, {
                "name": name, "format": "pbf", "type": "baselayer", "generator": "civmil basemap build",
                "vector_layers": [{"id": layer, "fields": {}} for layer in sorted(counts)],
            })
        os.chmod(temporary, 0o644)
        os.replace(temporary, output)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return BuildReport(output, len(tiles), output.stat().st_size, time.monotonic() - started, min_zoom, max_zoom,
                       counts)

"""The fictional geography of the demo mission: the Republic of Karvenia.

Nothing here is a real place. The boundaries are drawn by code: a lattice of cells over the
mission area, with every lattice node nudged by a seeded random offset so that edges look
hand-drawn, the outline trimmed into an irregular shape, and each cell given to the nearest
district seed of its province. Districts are unions of whole cells and provinces are unions
of their districts, so the polygons never overlap, leave no gaps, and every district lies
inside its province.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from functools import cache
from typing import Any

from shapely import unary_union
from shapely.geometry import Point, Polygon, mapping
from shapely.geometry.base import BaseGeometry

COUNTRY_NAME = "Karvenia"
COUNTRY_PCODE = "KV"
SEED = 20240611

#: The mission area (WGS84): west, south, east, north.
BOUNDS = (27.2, 2.6, 31.6, 6.2)
COLUMNS, ROWS = 16, 12
#: How far a lattice node may move, as a fraction of a cell.
JITTER = 0.2
GEOMETRY_DIGITS = 4


@dataclass(frozen=True)
class DistrictSpec:
    pcode: str
    name: str
    seed: tuple[float, float]  # (lon, lat) of the district's heart
    places: tuple[str, ...]  # named places (towns, villages, camps) in the district


@dataclass(frozen=True)
class ProvinceSpec:
    pcode: str
    name: str
    seed: tuple[float, float]
    districts: tuple[DistrictSpec, ...]


PROVINCES: tuple[ProvinceSpec, ...] = (
    ProvinceSpec("KV01", "Orvalle", (29.2, 5.5), (
        DistrictSpec("KV0101", "Vintra", (28.3, 5.6), ("Vintra town", "Kessamo", "Vintra east quarter")),
        DistrictSpec("KV0102", "Halmoor", (29.5, 5.7), ("Halmoor", "Brennik ford")),
        DistrictSpec("KV0103", "Sarnet", (30.7, 5.5), ("Sarnet", "Sarnet river villages")),
    )),
    ProvinceSpec("KV02", "Tamsadi", (28.3, 3.7), (
        DistrictSpec("KV0201", "Lusenna", (28.6, 4.4), ("Lusenna", "Lusenna airstrip", "Moravel quarter")),
        DistrictSpec("KV0202", "Bekkar", (27.7, 4.3), ("Bekkar", "Talu crossroads")),
        DistrictSpec("KV0203", "Dovrin", (27.8, 3.2), ("Dovrin", "Dovrin displacement site")),
        DistrictSpec("KV0204", "Pellaro", (28.9, 3.2), ("Pellaro", "Senne hills")),
    )),
    ProvinceSpec("KV03", "Kereth", (30.5, 3.8), (
        DistrictSpec("KV0301", "Iskarn", (30.0, 4.5), ("Iskarn", "Iskarn displacement site")),
        DistrictSpec("KV0302", "Tolvena", (31.0, 4.3), ("Tolvena", "Orrin wells")),
        DistrictSpec("KV0303", "Grenmoor", (30.3, 3.2), ("Grenmoor", "Grenmoor market")),
    )),
)
CAPITAL = "Lusenna"


@dataclass(frozen=True)
class Place:
    name: str
    district_pcode: str
    lat: float
    lon: float


@dataclass(frozen=True)
class AdminArea:
    pcode: str
    name: str
    admin_level: int
    parent_pcode: str | None
    geometry: BaseGeometry

    def geojson(self) -> dict[str, Any]:
        return dict(_rounded(mapping(self.geometry)))


@dataclass(frozen=True)
class World:
    provinces: tuple[AdminArea, ...]
    districts: tuple[AdminArea, ...]
    places: tuple[Place, ...]
    outline: BaseGeometry

    @property
    def center(self) -> tuple[float, float]:
        """(lat, lon) of the middle of the country, for the map."""
        c = self.outline.centroid
        return round(float(c.y), 3), round(float(c.x), 3)

    def area(self, pcode: str) -> AdminArea:
        for area in (*self.provinces, *self.districts):
            if area.pcode == pcode:
                return area
        raise KeyError(pcode)

    def place(self, name: str) -> Place:
        for place in self.places:
            if place.name == name:
                return place
        raise KeyError(name)


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, GEOMETRY_DIGITS)
    if isinstance(value, list | tuple):
        return [_rounded(v) for v in value]
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


def _lattice(rng: random.Random) -> list[list[tuple[float, float]]]:
    west, south, east, north = BOUNDS
    dx, dy = (east - west) / COLUMNS, (north - south) / ROWS
    nodes: list[list[tuple[float, float]]] = []
    for j in range(ROWS + 1):
        row: list[tuple[float, float]] = []
        for i in range(COLUMNS + 1):
            ox = rng.uniform(-JITTER, JITTER) * dx
            oy = rng.uniform(-JITTER, JITTER) * dy
            row.append((round(west + i * dx + ox, GEOMETRY_DIGITS), round(south + j * dy + oy, GEOMETRY_DIGITS)))
        nodes.append(row)
    return nodes


def _inside_outline(i: int, j: int, rng: random.Random) -> bool:
    """Keep a cell if its centre falls in a noisy ellipse: an irregular, compact country."""
    u = (i + 0.5) / COLUMNS * 2 - 1
    v = (j + 0.5) / ROWS * 2 - 1
    angle = math.atan2(v, u)
    radius = 1.08 + 0.1 * math.sin(3 * angle + 0.7) + 0.06 * math.cos(5 * angle) + rng.uniform(-0.05, 0.05)
    return u * u + v * v <= radius * radius


def _nearest(point: tuple[float, float], seeds: list[tuple[float, float]]) -> int:
    # Scale longitude to the latitude of the mission so that "nearest" is measured on the ground.
    k = math.cos(math.radians((BOUNDS[1] + BOUNDS[3]) / 2))
    return min(range(len(seeds)), key=lambda n: ((point[0] - seeds[n][0]) * k) ** 2 + (point[1] - seeds[n][1]) ** 2)


def _single_polygon(geom: BaseGeometry, what: str) -> Polygon:
    if not isinstance(geom, Polygon) or geom.interiors or not geom.is_valid:
        raise RuntimeError(f"demo geography: {what} is not one valid polygon without holes")
    return geom


@cache
def build() -> World:
    """Draw the country. Deterministic: the same seed always draws the same map."""
    rng = random.Random(SEED)
    nodes = _lattice(rng)
    province_seeds = [p.seed for p in PROVINCES]
    cells: dict[str, list[Polygon]] = {d.pcode: [] for p in PROVINCES for d in p.districts}
    centres: dict[str, list[Point]] = {d.pcode: [] for p in PROVINCES for d in p.districts}
    for j in range(ROWS):
        for i in range(COLUMNS):
            if not _inside_outline(i, j, rng):
                continue
            ring = [nodes[j][i], nodes[j][i + 1], nodes[j + 1][i + 1], nodes[j + 1][i], nodes[j][i]]
            cell = Polygon(ring)
            centre = cell.centroid
            province = PROVINCES[_nearest((centre.x, centre.y), province_seeds)]
            district = province.districts[_nearest((centre.x, centre.y), [d.seed for d in province.districts])]
            cells[district.pcode].append(cell)
            centres[district.pcode].append(centre)
    provinces: list[AdminArea] = []
    districts: list[AdminArea] = []
    places: list[Place] = []
    for province in PROVINCES:
        parts = []
        for spec in province.districts:
            geom = _single_polygon(unary_union(cells[spec.pcode]), spec.name)
            districts.append(AdminArea(spec.pcode, spec.name, 2, province.pcode, geom))
            parts.append(geom)
            # Places sit at the centres of cells spread through the district, first the one
            # nearest the district's heart.
            heart = spec.seed
            ordered = sorted(centres[spec.pcode], key=lambda c: float((c.x - heart[0]) ** 2 + (c.y - heart[1]) ** 2))
            step = max(1, len(ordered) // len(spec.places))
            for n, name in enumerate(spec.places):
                c = ordered[min(n * step, len(ordered) - 1)]
                places.append(Place(name, spec.pcode, round(float(c.y), 4), round(float(c.x), 4)))
        provinces.append(AdminArea(province.pcode, province.name, 1, None,
                                   _single_polygon(unary_union(parts), province.name)))
    outline = _single_polygon(unary_union([p.geometry for p in provinces]), COUNTRY_NAME)
    return World(tuple(provinces), tuple(districts), tuple(places), outline)

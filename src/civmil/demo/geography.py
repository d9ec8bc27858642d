"""The demo country's towns, roads, rivers and lake, drawn for its basemap.

Nothing here is a real place. The towns are the named places of the demo's districts
(civmil.demo.world), so every town lies inside its district; roads link the towns, rivers cross
the country and pass the places named after them (Brennik ford, Sarnet river villages). The
drawing is deterministic and written once into GeoJSON files beside this module
(``geography/*.geojson``), which ``civmil basemap build --from`` reads like any mission's own data:

    python -m civmil.demo.geography   # redraw the files after changing the drawing
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

from shapely.geometry import LineString, Point, mapping

from civmil.demo import world

FOLDER = Path(__file__).resolve().parent / "geography"
DIGITS = 4

#: The named places that are towns; the capital is world.CAPITAL; places named as sites are sites;
#: every other place is a village.
TOWNS = {"Vintra town", "Halmoor", "Sarnet", "Bekkar", "Dovrin", "Pellaro", "Iskarn", "Tolvena", "Grenmoor"}
SITE_WORDS = ("displacement site", "airstrip", "wells", "market", "crossroads")

#: Roads between named places: (kind, name, the places it runs through).
ROADS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("major", "N1", ("Bekkar", "Talu crossroads", "Lusenna", "Iskarn displacement site", "Iskarn", "Tolvena")),
    ("major", "N2", ("Lusenna", "Lusenna airstrip", "Vintra town")),
    ("major", "N3", ("Lusenna", "Brennik ford", "Halmoor", "Sarnet river villages", "Sarnet")),
    ("major", "N4", ("Lusenna", "Pellaro", "Grenmoor market", "Grenmoor")),
    ("minor", "R10", ("Bekkar", "Dovrin displacement site", "Dovrin", "Senne hills", "Pellaro")),
    ("minor", "R11", ("Vintra east quarter", "Vintra town", "Halmoor")),
    ("minor", "R12", ("Kessamo", "Vintra town")),
    ("minor", "R13", ("Talu crossroads", "Moravel quarter", "Lusenna airstrip")),
    ("minor", "R14", ("Iskarn", "Sarnet")),
    ("minor", "R15", ("Tolvena", "Orrin wells")),
    ("track", "", ("Grenmoor", "Tolvena")),
    ("track", "", ("Kessamo", "Brennik ford")),
)

#: Rivers (kind, name, (lon, lat) waypoints from source to mouth).
RIVERS: tuple[tuple[str, str, tuple[tuple[float, float], ...]], ...] = (
    ("river", "Sarn", ((30.05, 6.30), (30.33, 5.80), (30.55, 5.30), (31.05, 4.90), (31.70, 4.70))),
    ("river", "Vell", ((27.10, 5.02), (28.18, 5.08), (28.80, 5.00), (29.27, 5.15), (29.90, 4.95), (30.60, 4.95),
                       (31.05, 4.90))),
    ("river", "Tamsa", ((28.30, 2.95), (28.70, 3.22), (29.00, 3.40), (29.81, 3.44), (30.35, 3.40), (30.90, 3.00),
                        (31.30, 2.55))),
    ("stream", "Dovrin stream", ((27.60, 3.90), (27.93, 3.55), (28.02, 3.20), (28.30, 2.95))),
)

#: A lake: name, centre (lon, lat), half-widths in degrees.
LAKES = (("Lake Orma", (29.45, 4.75), (0.26, 0.15)),)


def _wiggle(points: list[tuple[float, float]], amplitude: float, seed: int) -> list[tuple[float, float]]:
    """A line through ``points`` that meanders a little between them, the same way every time."""
    out: list[tuple[float, float]] = []
    for n, ((x0, y0), (x1, y1)) in enumerate(itertools.pairwise(points)):
        length = math.hypot(x1 - x0, y1 - y0)
        steps = max(2, int(length / 0.04))
        nx, ny = (-(y1 - y0) / length, (x1 - x0) / length) if length else (0.0, 0.0)
        for i in range(steps):
            t = i / steps
            offset = amplitude * math.sin(math.pi * t) * math.sin(7 * t + seed + n * 1.7)
            x, y = x0 + (x1 - x0) * t + nx * offset, y0 + (y1 - y0) * t + ny * offset
            out.append((round(x, DIGITS), round(y, DIGITS)))
    out.append((round(points[-1][0], DIGITS), round(points[-1][1], DIGITS)))
    return out


def _kind(name: str) -> str:
    if name == world.CAPITAL:
        return "capital"
    if name in TOWNS:
        return "town"
    if any(word in name for word in SITE_WORDS):
        return "site"
    return "village"


def _collection(features: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": features}


def draw() -> dict[str, dict[str, Any]]:
    """The basemap's GeoJSON, by layer file name."""
    country = world.build()
    where = {p.name: (p.lon, p.lat) for p in country.places}
    towns = [{"type": "Feature", "geometry": mapping(Point(p.lon, p.lat)),
              "properties": {"name": p.name, "kind": _kind(p.name), "pcode": p.district_pcode}}
             for p in country.places]
    roads = []
    for n, (kind, name, stops) in enumerate(ROADS):
        line = LineString(_wiggle([where[s] for s in stops], 0.015, n))
        roads.append({"type": "Feature", "geometry": mapping(line), "properties": {"name": name, "kind": kind}})
    rivers = []
    for n, (kind, name, points) in enumerate(RIVERS):
        line = LineString(_wiggle(list(points), 0.03, 10 + n))
        rivers.append({"type": "Feature", "geometry": mapping(line), "properties": {"name": name, "kind": kind}})
    water = []
    for name, (cx, cy), (rx, ry) in LAKES:
        ring = [(round(cx + rx * math.cos(a) * (1 + 0.12 * math.sin(3 * a)), DIGITS),
                 round(cy + ry * math.sin(a) * (1 + 0.1 * math.cos(2 * a)), DIGITS))
                for a in (2 * math.pi * i / 40 for i in range(40))]
        ring.append(ring[0])
        water.append({"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]},
                      "properties": {"name": name, "kind": "lake"}})
    boundaries = [{"type": "Feature", "geometry": dict(world._rounded(mapping(country.outline))),
                   "properties": {"name": world.COUNTRY_NAME, "kind": "country", "admin_level": 0}}]
    return {"towns": _collection(towns), "roads": _collection(roads), "rivers": _collection(rivers),
            "water": _collection(water), "boundaries": _collection(boundaries)}


def write(folder: Path = FOLDER) -> None:
    folder.mkdir(exist_ok=True)
    for layer, collection in draw().items():
        text = json.dumps(collection, ensure_ascii=False, separators=(",", ":"))
        (folder / f"{layer}.geojson").write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    write()

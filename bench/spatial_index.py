"""Which index answers "records in this box during this window" on a million records.

The data: ``--records`` records (1,000,000) in a 600 x 600 km region over two years, clustered
around towns (a few large, many small, a fifth of the records scattered), every level present.
Four in five are points, the rest small areas (boxes of 0.5 to 8 km); two in three are instants,
the rest last up to 60 days. Stored as :class:`civmil.core.models.Placed` and
:class:`civmil.core.models.Period` store them: the bounding box in four float columns, the
period in two datetime columns (ISO text on SQLite, as Django writes them; ``timestamptz`` on
PostgreSQL), a UUID primary key.

The queries: ``--queries`` (200) map views, each a box of 10 to 120 km around a town or
anywhere, with a window of 3 to 120 days, the same list for every index; each answer is read
whole (rows fetched), as a map layer would. p50 and p95 of the whole query, and the rows
returned, per index:

SQLite
  ``scan``        no index (the floor every index must beat; fewer queries, it is slow)
  ``b-tree``      one b-tree index on each box column and on each period column (what areas do
                  today), after ANALYZE: the baseline
  ``b-tree x,y``  composite b-trees on (west, south) and (starts_at), after ANALYZE
  ``R*Tree``      an R*Tree virtual table on (x, y, time) kept by triggers, joined back through an
                  integer key table: what :mod:`civmil.core.spatial` builds, queried as its
                  ``overlapping()`` does (the index narrows, the columns decide)

PostgreSQL (``--postgres URL``, built-in types only, no PostGIS)
  ``b-tree``      the same six b-tree indexes, after ANALYZE: the baseline
  ``GiST box``    a GiST index on ``box(point(west, south), point(east, north))``
  ``GiST box+period``  one multicolumn GiST index on that box and ``tstzrange(starts_at, ends_at, '[]')``:
                  what :mod:`civmil.core.spatial` builds, queried as its ``overlapping()`` does

Run: ``python -m bench.spatial_index`` (``--records``, ``--queries``, ``--postgres URL``,
``--keep PATH`` to keep the SQLite file). The figures go to ``bench/results/spatial_index.json``.
"""

# The SQL below is assembled from this file's own constants only (column lists, index expressions).
# ruff: noqa: S608

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import random
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from civmil.core.spatial import create_statements

RESULTS = Path(__file__).resolve().parent / "results"

CENTRE_LAT, CENTRE_LON = 7.0, 30.0  # the region's centre
SIDE_KM = 600
START = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
SPAN_S = 2 * 365 * 86400
LEVELS = ("public", "mission", "humanitarian", "military", "restricted", "oversight")
KM_PER_DEG_LAT = 110.574
SCAN_QUERIES = 10
#: Queries timed on the SQLite b-tree indexes (seconds each at a million records); 0: all of them.
BTREE_QUERIES = 0
WARMUP = 10


def _km_per_deg_lon(lat: float) -> float:
    return 111.320 * math.cos(math.radians(lat))


@dataclass(frozen=True)
class Region:
    west: float
    south: float
    east: float
    north: float

    @classmethod
    def around(cls, lat: float, lon: float, side_km: float) -> Region:
        half_lat = side_km / 2 / KM_PER_DEG_LAT
        half_lon = side_km / 2 / _km_per_deg_lon(lat)
        return cls(lon - half_lon, lat - half_lat, lon + half_lon, lat + half_lat)


REGION = Region.around(CENTRE_LAT, CENTRE_LON, SIDE_KM)


def _towns(rng: random.Random, n: int = 60) -> list[tuple[float, float, float, float]]:
    """(lat, lon, weight, spread in km): a few large towns and many small ones (Zipf-like)."""
    towns = []
    for rank in range(1, n + 1):
        lat = rng.uniform(REGION.south + 0.3, REGION.north - 0.3)
        lon = rng.uniform(REGION.west + 0.3, REGION.east - 0.3)
        towns.append((lat, lon, 1 / rank, 3 + 25 / math.sqrt(rank)))
    return towns


def _iso(seconds: float) -> str:
    """A datetime as Django stores it in SQLite (UTC, ``YYYY-MM-DD HH:MM:SS.ffffff``)."""
    return (START + dt.timedelta(seconds=seconds)).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


@dataclass(frozen=True)
class Record:
    id: uuid.UUID
    west: float
    south: float
    east: float
    north: float
    starts: float  # seconds from START
    ends: float
    level: str


def records(n: int, seed: int = 7) -> Iterator[Record]:
    rng = random.Random(seed)
    towns = _towns(rng)
    weights = [t[2] for t in towns]
    for i in range(n):
        if rng.random() < 0.2:
            lat, lon = rng.uniform(REGION.south, REGION.north), rng.uniform(REGION.west, REGION.east)
        else:
            tlat, tlon, _w, spread = rng.choices(towns, weights)[0]
            lat = min(max(rng.gauss(tlat, spread / KM_PER_DEG_LAT), REGION.south), REGION.north)
            lon = min(max(rng.gauss(tlon, spread / _km_per_deg_lon(tlat)), REGION.west), REGION.east)
        if rng.random() < 0.8:
            west = east = lon
            south = north = lat
        else:
            size = rng.uniform(0.5, 8)
            dlat, dlon = size / KM_PER_DEG_LAT / 2, size / _km_per_deg_lon(lat) / 2
            west, east, south, north = lon - dlon, lon + dlon, lat - dlat, lat + dlat
        starts = rng.uniform(0, SPAN_S)
        ends = starts if rng.random() < 2 / 3 else min(starts + rng.uniform(3600, 60 * 86400), SPAN_S)
        yield Record(uuid.UUID(int=rng.getrandbits(128), version=4), west, south, east, north,
                     starts, ends, LEVELS[i % len(LEVELS)])


@dataclass(frozen=True)
class Query:
    west: float
    south: float
    east: float
    north: float
    t0: float
    t1: float


def queries(n: int, seed: int = 11) -> list[Query]:
    rng = random.Random(seed)
    towns = _towns(random.Random(7))
    out = []
    for _ in range(n):
        if rng.random() < 0.7:
            lat, lon, _w, _s = rng.choice(towns)
        else:
            lat, lon = rng.uniform(REGION.south, REGION.north), rng.uniform(REGION.west, REGION.east)
        box = Region.around(lat, lon, rng.uniform(10, 120))
        days = rng.uniform(3, 120)
        t0 = rng.uniform(0, SPAN_S - days * 86400)
        out.append(Query(box.west, box.south, box.east, box.north, t0, t0 + days * 86400))
    return out


def _timed(run: Callable[[Query], int], qs: list[Query]) -> dict[str, Any]:
    for q in qs[:WARMUP]:
        run(q)
    samples, rows = [], []
    for q in qs[WARMUP:]:
        start = time.perf_counter()
        rows.append(run(q))
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return {"queries": len(samples), "p50_ms": round(statistics.median(samples), 2),
            "p95_ms": round(samples[min(len(samples) - 1, math.ceil(0.95 * len(samples)) - 1)], 2),
            "rows_p50": int(statistics.median(rows)), "rows_max": max(rows), "rows_total": sum(rows)}


# ---------------------------------------------------------------------------------------------
# SQLite

_SQLITE_WHERE = ("t.east >= ? AND t.west <= ? AND t.north >= ? AND t.south <= ? "
                 "AND t.ends_at >= ? AND t.starts_at <= ?")


def _sqlite_params(q: Query) -> tuple[Any, ...]:
    return (q.west, q.east, q.south, q.north, _iso(q.t0), _iso(q.t1))


def sqlite_load(path: str, n: int) -> sqlite3.Connection:
    db = sqlite3.connect(path)
    db.executescript("""
        PRAGMA journal_mode = WAL;
        PRAGMA synchronous = NORMAL;
        CREATE TABLE t (id char(32) NOT NULL PRIMARY KEY,
                        west real NULL, south real NULL, east real NULL, north real NULL,
                        starts_at datetime NOT NULL, ends_at datetime NOT NULL, level varchar(16) NOT NULL,
                        geometry text NOT NULL);
    """)
    batch: list[tuple[Any, ...]] = []
    for r in records(n):
        geometry = json.dumps({"type": "Point", "coordinates": [r.west, r.south]})
        batch.append((r.id.hex, r.west, r.south, r.east, r.north, _iso(r.starts), _iso(r.ends), r.level,
                      geometry))
        if len(batch) == 20_000:
            db.executemany("INSERT INTO t VALUES (?,?,?,?,?,?,?,?,?)", batch)
            batch.clear()
    db.executemany("INSERT INTO t VALUES (?,?,?,?,?,?,?,?,?)", batch)
    db.commit()
    return db


def _sqlite_runner(db: sqlite3.Connection, sql: str,
                   params: Callable[[Query], tuple[Any, ...]]) -> Callable[[Query], int]:
    def run(q: Query) -> int:
        return len(db.execute(sql, params(q)).fetchall())
    return run


def sqlite_bench(n: int, qs: list[Query], keep: str | None) -> list[dict[str, Any]]:
    path = keep or os.path.join(tempfile.mkdtemp(prefix="civmil-spatial-"), "spatial.sqlite3")
    if os.path.exists(path):
        os.remove(path)
    start = time.perf_counter()
    db = sqlite_load(path, n)
    load_s = time.perf_counter() - start
    columns = "t.id, t.west, t.south, t.east, t.north, t.starts_at, t.ends_at, t.level, t.geometry"
    rows: list[dict[str, Any]] = []

    scan = f"SELECT {columns} FROM t NOT INDEXED WHERE {_SQLITE_WHERE}"
    rows.append({"database": "SQLite", "index": "scan", **_timed(_sqlite_runner(db, scan, _sqlite_params),
                                                                 qs[:SCAN_QUERIES + WARMUP])})

    def build(statements: str) -> float:
        began = time.perf_counter()
        db.executescript(statements + "; ANALYZE;")
        return round(time.perf_counter() - began, 1)

    select = f"SELECT {columns} FROM t WHERE {_SQLITE_WHERE}"
    built = build(";".join(f"CREATE INDEX t_{c} ON t ({c})"
                           for c in ("west", "south", "east", "north", "starts_at", "ends_at")))
    slow = qs[:BTREE_QUERIES + WARMUP] if BTREE_QUERIES else qs
    rows.append({"database": "SQLite", "index": "b-tree", "build_s": built, "baseline": True,
                 **_timed(_sqlite_runner(db, select, _sqlite_params), slow)})
    build(";".join(f"DROP INDEX t_{c}" for c in ("west", "south", "east", "north", "starts_at", "ends_at")))

    built = build("CREATE INDEX t_ws ON t (west, south); CREATE INDEX t_starts ON t (starts_at)")
    rows.append({"database": "SQLite", "index": "b-tree x,y", "build_s": built,
                 **_timed(_sqlite_runner(db, select, _sqlite_params), slow)})
    build("DROP INDEX t_ws; DROP INDEX t_starts")

    built = build(";".join(create_statements("t", "id", "sqlite", period=True)))
    rtree = (f"SELECT {columns} FROM t WHERE t.id IN (SELECT k.record FROM t_rtree r JOIN t_place_key k "
             "ON k.key = r.id WHERE r.east >= ? AND r.west <= ? AND r.north >= ? AND r.south <= ? AND r.ends >= ? "
             f"AND r.starts <= ?) AND {_SQLITE_WHERE}")

    def rtree_params(q: Query) -> tuple[Any, ...]:
        t0, t1 = int(START.timestamp() + q.t0) - 1, int(START.timestamp() + q.t1) + 1
        return (q.west, q.east, q.south, q.north, t0, t1, *_sqlite_params(q))

    rows.append({"database": "SQLite", "index": "R*Tree", "build_s": built,
                 **_timed(_sqlite_runner(db, rtree, rtree_params), qs)})
    db.close()
    for row in rows:
        row["records"], row["load_s"] = n, round(load_s, 1)
    return rows


# ---------------------------------------------------------------------------------------------
# PostgreSQL


def postgres_bench(url: str, n: int, qs: list[Query]) -> list[dict[str, Any]]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as db:
        db.execute("DROP TABLE IF EXISTS bench_spatial")
        db.execute("""CREATE TABLE bench_spatial (id uuid PRIMARY KEY, west double precision NULL,
                      south double precision NULL, east double precision NULL, north double precision NULL,
                      starts_at timestamptz NOT NULL, ends_at timestamptz NOT NULL, level varchar(16) NOT NULL,
                      geometry jsonb NOT NULL)""")
        start = time.perf_counter()
        with db.cursor() as cur, cur.copy("COPY bench_spatial FROM STDIN") as copy:
            for r in records(n):
                geometry = json.dumps({"type": "Point", "coordinates": [r.west, r.south]})
                copy.write_row((r.id, r.west, r.south, r.east, r.north, START + dt.timedelta(seconds=r.starts),
                                START + dt.timedelta(seconds=r.ends), r.level, geometry))
        load_s = time.perf_counter() - start
        db.execute("VACUUM ANALYZE bench_spatial")
        columns = "id, west, south, east, north, starts_at, ends_at, level, geometry"
        where_time = "ends_at >= %(t0)s AND starts_at <= %(t1)s"
        where_box = "east >= %(w)s AND west <= %(e)s AND north >= %(s)s AND south <= %(n)s"
        box = "box(point(west, south), point(east, north))"

        def params(q: Query) -> dict[str, Any]:
            return {"w": q.west, "s": q.south, "e": q.east, "n": q.north,
                    "t0": START + dt.timedelta(seconds=q.t0), "t1": START + dt.timedelta(seconds=q.t1)}

        def runner(sql: str) -> Callable[[Query], int]:
            def run(q: Query) -> int:
                return len(db.execute(sql, params(q)).fetchall())  # type: ignore[arg-type]
            return run

        def build(*statements: str) -> float:
            began = time.perf_counter()
            for statement in statements:
                db.execute(statement)  # type: ignore[arg-type]
            db.execute("ANALYZE bench_spatial")
            return round(time.perf_counter() - began, 1)

        rows: list[dict[str, Any]] = []
        six = ("west", "south", "east", "north", "starts_at", "ends_at")
        built = build(*(f"CREATE INDEX bench_spatial_{c} ON bench_spatial ({c})" for c in six))
        rows.append({"database": "PostgreSQL", "index": "b-tree", "build_s": built, "baseline": True,
                     **_timed(runner(f"SELECT {columns} FROM bench_spatial WHERE {where_box} AND {where_time}"), qs)})
        build(*(f"DROP INDEX bench_spatial_{c}" for c in six))

        built = build(f"CREATE INDEX bench_spatial_box ON bench_spatial USING gist (({box}))")
        # PostgreSQL compares boxes within 1e-6 (its geometric EPSILON): the columns decide.
        by_box = (f"SELECT {columns} FROM bench_spatial WHERE {box} && box(point(%(w)s, %(s)s), point(%(e)s, %(n)s)) "
                  f"AND {where_box} AND {where_time}")
        rows.append({"database": "PostgreSQL", "index": "GiST box", "build_s": built, **_timed(runner(by_box), qs)})
        build("DROP INDEX bench_spatial_box")

        period = "tstzrange(starts_at, ends_at, '[]')"
        built = build(*create_statements("bench_spatial", "id", "postgresql", period=True))
        by_both = (f"SELECT {columns} FROM bench_spatial WHERE {box} && box(point(%(w)s, %(s)s), point(%(e)s, %(n)s)) "
                   f"AND {period} && tstzrange(%(t0)s, %(t1)s, '[]') AND {where_box} AND {where_time}")
        rows.append({"database": "PostgreSQL", "index": "GiST box+period", "build_s": built,
                     **_timed(runner(by_both), qs)})
        db.execute("DROP TABLE bench_spatial")
    for row in rows:
        row["records"], row["load_s"] = n, round(load_s, 1)
    return rows


# ---------------------------------------------------------------------------------------------


def _print(rows: list[dict[str, Any]]) -> None:
    table = Table(title="Box + time window on a map layer: whole query with rows fetched (ms)")
    for col in ("database", "index", "records", "queries", "p50", "p95", "x baseline p95", "rows p50", "rows max",
                "index build s"):
        table.add_column(col, justify="right")
    for database in dict.fromkeys(r["database"] for r in rows):
        group = [r for r in rows if r["database"] == database]
        base = next((r for r in group if r.get("baseline")), group[0])
        for r in group:
            ratio = r["p95_ms"] / base["p95_ms"] if base["p95_ms"] else float("nan")
            r["p95_vs_baseline"] = round(ratio, 2)
            table.add_row(database, r["index"] + (" (baseline)" if r.get("baseline") else ""), f'{r["records"]:,}',
                          str(r["queries"]), f'{r["p50_ms"]}', f'{r["p95_ms"]}', f"{ratio:.2f}",
                          f'{r["rows_p50"]:,}', f'{r["rows_max"]:,}', str(r.get("build_s", "")))
    Console(width=200).print(table)
    for problem in mismatches(rows):
        Console(width=200).print(f"[bold red]{problem}[/]")


def mismatches(rows: list[dict[str, Any]]) -> list[str]:
    """Indexes of one database that returned other rows than its baseline for the same queries."""
    problems = []
    for database in dict.fromkeys(r["database"] for r in rows):
        group = [r for r in rows if r["database"] == database and r["index"] != "scan"]
        base = next((r for r in group if r.get("baseline")), group[0])
        for r in group:
            if r["queries"] == base["queries"] and r["rows_total"] != base["rows_total"]:
                problems.append(f'{database} {r["index"]}: {r["rows_total"]} rows, baseline {base["rows_total"]}')
    return problems


def run(records_n: int = 1_000_000, query_n: int = 200, postgres: str | None = None,
        keep: str | None = None, sqlite: bool = True, btree_queries: int = 0) -> list[dict[str, Any]]:
    global BTREE_QUERIES
    BTREE_QUERIES = btree_queries
    qs = queries(query_n + WARMUP)
    rows = sqlite_bench(records_n, qs, keep) if sqlite else []
    if postgres:
        rows += postgres_bench(postgres, records_n, qs)
    _print(rows)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--postgres", default=os.environ.get("CIVMIL_BENCH_POSTGRES"),
                        help="a PostgreSQL URL (a scratch database: the table bench_spatial is made and dropped)")
    parser.add_argument("--keep", help="keep the SQLite database at this path")
    parser.add_argument("--btree-queries", type=int, default=0,
                        help="time only this many queries on the SQLite b-trees (they take seconds each)")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument("--out", default=str(RESULTS / "spatial_index.json"))
    args = parser.parse_args()
    rows = run(args.records, args.queries, args.postgres, args.keep, sqlite=not args.no_sqlite,
               btree_queries=args.btree_queries)
    out = Path(args.out)
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(rows, indent=2))
    print(f"\nresults written to {out}")
    return 1 if mismatches(rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())

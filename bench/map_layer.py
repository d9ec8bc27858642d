"""What a map layer query costs: one bounding-box + time window + filter query on the liaison
log's layer (``/api/v1/map/layers/actors.liaisonlogentry``) as a humanitarian (NGO) reader, timed
as the whole API request with its serialisation, against bare SQL with the same box, window and
filter (no policy) on the same database and indexes, in the same run: the bare SQL narrows
through the spatial index (box and time) with the very condition the layer's query gets from
:func:`civmil.core.spatial.index_condition`, then checks the box, time and level columns.

The data: N log entries with a place in a 600 x 600 km region, clustered around twenty towns,
over two years, spread evenly over the six levels and over organisations of every component,
releases on 5 % (full or of some fields), written by a bulk path (executemany) with each
entry's audience computed by the policy's own function, as ``bench/access_policy.py`` does (its
readers, organisations and clean-up are reused). Point ``DATABASE_URL`` at a scratch database.

``make bench`` runs a small size; the figure of issue 10 is::

    .venv/bin/python -m bench.map_layer --records 1000000
    DATABASE_URL=postgres://... .venv/bin/python -m bench.map_layer --records 1000000

Filling a million entries takes minutes: ``--keep`` leaves them in the database (and notes the
run's reader, organisations, towns and time in ``bench/results/map_layer-kept.json``, by
database), and ``--reuse`` then measures that database again without filling it (one size, the
kept one, leaving them there); ``--reuse --clean`` measures and then removes them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
import time
import uuid
from collections import Counter
from typing import Any

from rich.console import Console
from rich.table import Table

SIZES = (20_000,)
CHUNK = 10_000
RELEASED = 0.05
SEED = 20261205
#: The region: 600 x 600 km (about 5.4 degrees at the equator) from (30 E, 5 N).
WEST, SOUTH, SPAN = 30.0, 5.0, 5.4
TOWNS = 20
#: The query: a box of about 55 x 55 km around a town, a window of 60 days, one level.
BOX_DEG, WINDOW_DAYS, LEVEL = 0.5, 60, "humanitarian"


def _fill(n: int, seeded: Any) -> dict[str, Any]:
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection
    from django.utils import timezone

    from bench.access_policy import _insert, _owners_for
    from civmil.actors.models import LiaisonLogEntry
    from civmil.core import services
    from civmil.core.access import audience_keys
    from civmil.core.choices import Level
    from civmil.core.models import Release, Space
    from civmil.core.models.records import Audience

    rng = random.Random(SEED)
    space = Space.live()
    ct = ContentType.objects.get_for_model(LiaisonLogEntry)
    owners = _owners_for(seeded)
    levels = [lv for lv in Level.values if lv in {str(x) for x in (Level.MISSION, Level.HUMANITARIAN,
                                                                     Level.MILITARY, Level.RESTRICTED)}]
    orgs = [o for group in seeded.orgs.values() for o in group]
    towns = [(WEST + rng.random() * SPAN, SOUTH + rng.random() * SPAN) for _ in range(TOWNS)]
    now = timezone.now()
    uuid_db = (lambda u: u.hex) if connection.vendor == "sqlite" else (lambda u: u)
    adapt = connection.ops.adapt_datetimefield_value
    fields_db = Release._meta.get_field("fields").get_db_prep_save
    some = fields_db(["summary", "geometry", "occurred_at"], connection)
    geometry_db = LiaisonLogEntry._meta.get_field("geometry").get_db_prep_save
    full = fields_db(None, connection)
    space_id, ct_id, now_db = uuid_db(space.pk), ct.pk, adapt(now)
    entry_cols = ["id", "space_id", "owner_id", "level", "created_by_id", "created_at", "updated_at", "version",
                  "occurred_at", "channel", "summary", "follow_ups", "place_name", "geometry", "west", "south", "east",
                  "north"]
    release_cols = ["id", "content_type_id", "object_id", "target_organisation_id", "target_component",
                    "target_person_id", "fields", "created_at"]
    audience_cols = ["content_type_id", "object_id", "space_id", "key", "level"]
    channels = ["meeting", "phone", "email", "radio"]
    counts: Counter[str] = Counter()
    began = time.perf_counter()
    written = 0
    while written < n:
        size = min(CHUNK, n - written)
        entries, releases, audience = [], [], []
        for i in range(written, written + size):
            pk = uuid.UUID(int=rng.getrandbits(128), version=4)
            level = levels[i % len(levels)]
            owner = rng.choice(owners[level])
            submitter = rng.choice(seeded.writers[owner.pk]) if rng.random() < 0.8 else None
            x, y = rng.choice(towns)
            lon = min(180.0, max(-180.0, rng.gauss(x, 0.15)))
            lat = min(90.0, max(-90.0, rng.gauss(y, 0.15)))
            occurred = now - dt.timedelta(seconds=rng.randrange(2 * 365 * 86400))
            entries.append((uuid_db(pk), space_id, uuid_db(owner.pk), level,
                            uuid_db(submitter.pk) if submitter else None, now_db, now_db, 1, adapt(occurred),
                            rng.choice(channels), f"entry {i}", "", "",
                            geometry_db({"type": "Point", "coordinates": [lon, lat]}, connection), lon, lat, lon, lat))
            targets: list[tuple[Any, str, Any]] = []
            if rng.random() < RELEASED:
                target = (rng.choice(orgs).pk, "", None)
                targets.append(target)
                releases.append((uuid_db(uuid.uuid4()), ct_id, uuid_db(pk), uuid_db(target[0]), "", None,
                                 full if rng.random() < 0.5 else some, now_db))
            counts[level] += 1
            for key in sorted(audience_keys(level, owner.pk, submitter.pk if submitter else None, targets, [])):
                audience.append((ct_id, uuid_db(pk), space_id, key, level))
        _insert(LiaisonLogEntry._meta.db_table, entry_cols, entries)
        _insert(Release._meta.db_table, release_cols, releases)
        _insert(Audience._meta.db_table, audience_cols, audience)
        written += size
    services.count_levels(ct, {(space.pk, level): k for level, k in counts.items()})
    filled = time.perf_counter() - began
    return {"fill_s": round(filled, 1), "records_per_s": round(n / filled), "towns": towns, "now": now}


def _percentiles(samples: list[float]) -> tuple[float, float]:
    import math
    import statistics

    samples = sorted(samples)
    return round(statistics.median(samples), 2), round(samples[math.ceil(len(samples) * 0.95) - 1], 2)


def _measure(n: int, seeded: Any, fill: dict[str, Any], queries: int, profile: bool = False) -> dict[str, Any]:
    from django.db import connection
    from django.test import Client

    from civmil.actors.models import LiaisonLogEntry
    from civmil.core.geometry import Bounds
    from civmil.core.spatial import index_condition

    rng = random.Random(SEED + 1)
    reader = seeded.readers["humanitarian"]
    client = Client()
    client.force_login(reader.user)
    table = connection.ops.quote_name(LiaisonLogEntry._meta.db_table)
    params_of = []
    for _ in range(queries):
        x, y = rng.choice(fill["towns"])
        ends = fill["now"] - dt.timedelta(days=rng.randrange(2 * 365 - WINDOW_DAYS))
        starts = ends - dt.timedelta(days=WINDOW_DAYS)
        params_of.append((x - BOX_DEG / 2, y - BOX_DEG / 2, x + BOX_DEG / 2, y + BOX_DEG / 2, starts, ends))
    url = "/api/v1/map/layers/actors.liaisonlogentry"

    def bare(west: float, south: float, east: float, north: float, starts: dt.datetime,
             ends: dt.datetime) -> tuple[str, list[Any]]:
        """The query with no policy, narrowed by the condition the layer's ``overlapping()`` adds
        (core.spatial's own: the R*Tree on box and time, or the GiST index), then the exact box,
        time and level."""
        narrow, params = index_condition(LiaisonLogEntry, connection.vendor, Bounds(west, south, east, north),
                                         starts, ends)
        sql = (f"SELECT id, level, owner_id, occurred_at, channel, geometry FROM {table} "  # noqa: S608
               f"WHERE {narrow} AND north >= %s AND south <= %s AND east >= %s AND west <= %s "
               "AND occurred_at >= %s AND occurred_at <= %s AND level = %s ORDER BY id LIMIT 1001")
        return sql, [*params, south, north, west, east, starts, ends, LEVEL]

    api_ms, sql_ms, api_cpu, sql_cpu, features, rows, differ = [], [], [], [], [], [], 0

    def api(query: dict[str, str]) -> dict[str, Any]:
        began, cpu = time.perf_counter(), time.process_time()
        response = client.get(url, query)
        body = response.content
        api_ms.append((time.perf_counter() - began) * 1000)
        api_cpu.append((time.process_time() - cpu) * 1000)
        assert response.status_code == 200, body[:500]
        return json.loads(body)  # type: ignore[no-any-return]

    def bare_sql(sql: str, params: list[Any]) -> list[Any]:
        began, cpu = time.perf_counter(), time.process_time()
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            fetched = cursor.fetchall()
        sql_ms.append((time.perf_counter() - began) * 1000)
        sql_cpu.append((time.process_time() - cpu) * 1000)
        return fetched

    for i, (west, south, east, north, starts, ends) in enumerate([params_of[0], *params_of]):
        query = {"bbox": f"{west},{south},{east},{north}", "time_from": starts.isoformat(),
                 "time_to": ends.isoformat(), "level": LEVEL}
        sql, params = bare(west, south, east, north, starts, ends)
        # Each goes first every other query: the second reads pages the first brought into the
        # caches (SQLite's and the system's), which favoured the bare SQL when it always came second.
        if i % 2:
            found, fetched = api(query), bare_sql(sql, params)
        else:
            fetched, found = bare_sql(sql, params), api(query)
        # Both read one row past the layer's limit (to tell whether more matched); the rows returned
        # are the first ``limit``, and must be the layer's features, id for id, in the same order.
        bare_ids = [str(uuid.UUID(str(row[0]))) for row in fetched[:found["limit"]]]
        differ += [f["id"] for f in found["features"]] != bare_ids
        features.append(len(found["features"]))
        rows.append(len(bare_ids))
    if profile:  # where a request's time goes: the same queries again under cProfile
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        for west, south, east, north, starts, ends in params_of:
            query = {"bbox": f"{west},{south},{east},{north}", "time_from": starts.isoformat(),
                     "time_to": ends.isoformat(), "level": LEVEL}
            profiler.runcall(client.get, url, query)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(r"civmil/|execute|fetch|orjson", 45)
    if differ:
        raise SystemExit(f"the layer and the bare SQL returned different rows in {differ} queries")
    api, sql = _percentiles(api_ms[1:]), _percentiles(sql_ms[1:])  # the first of each warms the caches
    # This process's CPU for a request and for the bare SQL (SQLite's work included, PostgreSQL's
    # not): what each costs when the machine is shared, as the wall-clock times above are not.
    cpu, bare_cpu = _percentiles(api_cpu[1:]), _percentiles(sql_cpu[1:])
    return {"records": n, "database": connection.vendor, "queries": queries,
            "features_mean": round(sum(features[1:]) / queries, 1), "bare_rows_mean": round(sum(rows[1:]) / queries, 1),
            "api_p50_ms": api[0], "api_p95_ms": api[1], "sql_p50_ms": sql[0], "sql_p95_ms": sql[1],
            "api_cpu_p50_ms": cpu[0], "api_cpu_p95_ms": cpu[1], "sql_cpu_p50_ms": bare_cpu[0],
            "sql_cpu_p95_ms": bare_cpu[1],
            "ratio_p50": round(api[0] / sql[0], 1), "ratio_p95": round(api[1] / sql[1], 1),
            "fill_s": fill["fill_s"], "records_per_s": fill["records_per_s"]}


KEPT = "map_layer-kept.json"


class _Kept:
    """What ``--reuse`` needs of a kept run (the attributes of ``_Seeded`` that measuring and the
    clean-up read): its humanitarian reader and its organisations."""

    def __init__(self, state: dict[str, Any]) -> None:
        from django.contrib.auth import get_user_model

        from civmil.core.models import Organisation

        user = get_user_model().objects.get(pk=state["reader"])
        self.readers = {"humanitarian": type("Reader", (), {"user": user})()}
        self.orgs = {"all": list(Organisation.objects.filter(pk__in=state["orgs"]))}


def _kept_path() -> Any:
    from bench.__main__ import RESULTS

    return RESULTS / KEPT


def _database_key() -> str:
    import os

    return os.environ.get("DATABASE_URL", "")


def _note_kept(n: int, seeded: Any, fill: dict[str, Any]) -> None:
    path = _kept_path()
    path.parent.mkdir(exist_ok=True)
    kept = json.loads(path.read_text()) if path.exists() else {}
    kept[_database_key()] = {
        "records": n, "reader": str(seeded.readers["humanitarian"].user.pk),
        "orgs": [str(o.pk) for group in seeded.orgs.values() for o in group],
        "towns": fill["towns"], "now": fill["now"].isoformat(), "fill_s": fill["fill_s"],
        "records_per_s": fill["records_per_s"]}
    path.write_text(json.dumps(kept, indent=2))


def _reused() -> tuple[int, Any, dict[str, Any]]:
    path = _kept_path()
    state = (json.loads(path.read_text()) if path.exists() else {}).get(_database_key())
    if state is None:
        raise SystemExit(f"no kept run for this DATABASE_URL in {path}: fill one with --keep first")
    fill = {"towns": [tuple(t) for t in state["towns"]], "now": dt.datetime.fromisoformat(state["now"]),
            "fill_s": state["fill_s"], "records_per_s": state["records_per_s"]}
    return state["records"], _Kept(state), fill


def _forget_kept() -> None:
    path = _kept_path()
    if path.exists():
        kept = json.loads(path.read_text())
        kept.pop(_database_key(), None)
        path.write_text(json.dumps(kept, indent=2))


def run(sizes: tuple[int, ...] = SIZES, queries: int = 50, *, profile: bool = False,
        keep: bool = False, reuse: bool = False, clean: bool = False) -> list[dict[str, Any]]:
    from django.conf import settings
    from django.db import connection, transaction

    from bench.access_policy import _clean, _Seeded, _settle
    from civmil.core.memory import ready_to_serve

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]  # the test client's host
    # The process is prepared as a server process is at start-up (civmil.config.asgi calls it).
    ready_to_serve()
    rows = []
    if reuse:
        n, kept, fill = _reused()
        try:
            rows.append(_measure(n, kept, fill, queries, profile))
            print(json.dumps(rows[-1]), flush=True)
        finally:
            if clean:
                _clean(kept)
                _forget_kept()
        sizes = ()
    for n in sizes:
        with transaction.atomic():
            seeded = _Seeded()
            fill = _fill(n, seeded)
        try:
            _settle()
            if connection.vendor == "sqlite":
                # What PRAGMA optimize does on a live database: statistics, without which SQLite's
                # planner prefers the level index (a quarter of the log) to the spatial index.
                with connection.cursor() as cursor:
                    cursor.execute("ANALYZE")
            rows.append(_measure(n, seeded, fill, queries, profile))
            print(json.dumps(rows[-1]), flush=True)
        finally:
            if keep:
                _note_kept(n, seeded, fill)
            else:
                _clean(seeded)
    table = Table(title=f"Map layer on {connection.vendor}: box ~55 km + {WINDOW_DAYS} days + level, as an NGO "
                        "reader (ms; whole API request vs bare SQL)")
    for col in ("records", "features", "bare rows", "API p50 / p95", "SQL p50 / p95", "ratio p50 / p95",
                "CPU API / SQL p50"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(f'{r["records"]:,}', str(r["features_mean"]), str(r["bare_rows_mean"]),
                      f'{r["api_p50_ms"]} / {r["api_p95_ms"]}', f'{r["sql_p50_ms"]} / {r["sql_p95_ms"]}',
                      f'{r["ratio_p50"]}x / {r["ratio_p95"]}x', f'{r["api_cpu_p50_ms"]} / {r["sql_cpu_p50_ms"]}')
    Console().print(table)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--records", type=int, action="append",
                        help=f"entries to measure at (repeatable; default {', '.join(map(str, SIZES))})")
    parser.add_argument("--queries", type=int, default=50, help="queries timed per size (default 50)")
    parser.add_argument("--profile", action="store_true", help="then profile the same requests (cProfile)")
    parser.add_argument("--keep", action="store_true", help="leave the entries in the database afterwards")
    parser.add_argument("--reuse", action="store_true",
                        help="measure the entries a run with --keep left in this database, without filling "
                             "(they stay)")
    parser.add_argument("--clean", action="store_true", help="with --reuse: then remove the kept entries")
    args = parser.parse_args()
    if args.reuse and args.records:
        parser.error("--reuse measures the kept size; give no --records")
    if args.clean and not args.reuse:
        parser.error("--clean goes with --reuse (a run without --keep removes its entries itself)")
    from bench.__main__ import RESULTS, setup

    setup()
    rows = run(tuple(args.records) if args.records else SIZES, args.queries, profile=args.profile, keep=args.keep,
               reuse=args.reuse, clean=args.clean)
    RESULTS.mkdir(exist_ok=True)
    from django.db import connection

    out = RESULTS / f"map_layer-{connection.vendor}.json"
    out.write_text(json.dumps(rows, indent=2))
    print(f"results written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

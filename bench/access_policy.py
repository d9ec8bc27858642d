"""What the access policy costs: the first page of 50 liaison log entries with their views, and
the count, through the policy against the same query without it (the baseline), on the same data
in the same run, for a military, a humanitarian and a host-nation reader.

The data: N entries spread evenly over the liaison log's four levels and over some forty
organisations of every component (each owning only levels its component may see), two years of
dates, each written by a member of the owning organisation (its submitter), releases on 5 % (to
organisations, components and people, full or of some fields). They are written by the kernel's
bulk path (:func:`civmil.core.bulk.create_records`, what ``civmil demo scale`` uses): audience,
level counts, search rows and ledger entries as the services would write them; committed (on
PostgreSQL then vacuumed and analysed, as autovacuum would), measured, and removed afterwards.
Point ``DATABASE_URL`` at a scratch database: the run's organisations, people and ledger entries
stay.

``make bench`` runs small sizes; the figures in docs/benchmarks.md come from::

    .venv/bin/python -m bench.access_policy --records 1000000
    DATABASE_URL=postgres://... .venv/bin/python -m bench.access_policy --records 1000000
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import random
import statistics
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.table import Table

SIZES = (10_000, 100_000)
REPEAT = 21
CHUNK = 10_000
#: Ids named at once when removing a run's search rows (SQLite takes at most 32,766 parameters).
CLEAN_CHUNK = 5_000
RELEASED = 0.05
SEED = 20261204


def _insert(table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    from django.db import connection

    sql = f'INSERT INTO {connection.ops.quote_name(table)} ({", ".join(columns)}) VALUES ({", ".join(["%s"] * len(columns))})'  # noqa: E501, S608
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


class _Seeded:
    """The readers, the organisations and their people of one run."""

    def __init__(self) -> None:
        from django.conf import settings
        from tests.factories import make_member, make_org

        # Their accounts are never signed in to: a fast hasher, as in the tests.
        settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

        from civmil.core.choices import Component, Role

        self.readers = {
            "military": make_member(Component.MILITARY, role=Role.MILITARY_STAFF),
            "humanitarian": make_member(Component.HUMANITARIAN, role=Role.CMCOORD),
            "host nation": make_member(Component.HOST_NATION, role=Role.HOST_NATION_LIAISON),
        }
        self.orgs: dict[str, list[Any]] = {c: [make_org(c) for _ in range(6)] for c in Component.values}
        #: Who writes an organisation's entries: two of its members (the reader among them), as
        #: people (``writers``) and as the actors that write for the organisation (``actors``).
        self.writers: dict[Any, list[Any]] = {}
        self.actors: dict[Any, list[Any]] = {}
        for orgs in self.orgs.values():
            for org in orgs:
                members = [make_member(org=org) for _ in range(2)]
                self.writers[org.pk] = [m.person for m in members]
                self.actors[org.pk] = [m.actor for m in members]
        for m in self.readers.values():
            self.orgs[str(m.org.component)].append(m.org)
            other = make_member(org=m.org)
            self.writers[m.org.pk] = [m.person, other.person]
            self.actors[m.org.pk] = [m.actor, other.actor]
        self.people = [p for writers in self.writers.values() for p in writers]


def _owners_for(seeded: _Seeded) -> dict[str, list[Any]]:
    from civmil.core.access import LEVEL_AUDIENCE
    from civmil.core.choices import Level

    every = [o for orgs in seeded.orgs.values() for o in orgs]
    out = {}
    for level in Level.values:
        allowed = LEVEL_AUDIENCE[level]
        out[level] = [o for o in every if not allowed or o.component in allowed]
    return out


def _fill(n: int, seeded: _Seeded) -> dict[str, float]:
    """``n`` entries with their releases, audience, level counts, search rows and ledger entries,
    by the kernel's bulk path (:func:`civmil.core.bulk.create_records`). Returns the timings."""
    from civmil.actors.models import LiaisonLogEntry
    from civmil.actors.records import LIAISON_LEVELS
    from civmil.core import bulk
    from civmil.core.choices import Component
    from civmil.core.registry import get

    rng = random.Random(SEED)
    owners = _owners_for(seeded)
    levels = [str(level) for level in LIAISON_LEVELS]
    orgs = [o for group in seeded.orgs.values() for o in group]
    people = seeded.people
    release_fields = get(LiaisonLogEntry).release_fields
    now = dt.datetime.now(dt.UTC)
    began = time.perf_counter()
    written = 0
    while written < n:
        planned = []
        for i in range(written, min(n, written + CHUNK)):
            level = levels[i % len(levels)]
            owner = rng.choice(owners[level])
            releases = []
            if rng.random() < RELEASED:
                kind = rng.randrange(3)
                fields = None if rng.random() < 0.5 else tuple(rng.sample(release_fields, 2))
                releases.append(bulk.PlannedRelease(organisation_id=rng.choice(orgs).pk, fields=fields) if kind == 0
                                else bulk.PlannedRelease(component=rng.choice(Component.values), fields=fields)
                                if kind == 1 else bulk.PlannedRelease(person_id=rng.choice(people).pk, fields=fields))
            planned.append(bulk.PlannedRecord(
                actor=rng.choice(seeded.actors[owner.pk]), level=level, releases=releases, values={
                    "id": uuid.UUID(int=rng.getrandbits(128), version=4),
                    "occurred_at": now - dt.timedelta(seconds=rng.randrange(2 * 365 * 86400)),
                    "channel": "meeting", "summary": f"entry {i}"}))
        bulk.create_records(LiaisonLogEntry, planned, action="liaison.recorded",
                            fields=["occurred_at", "channel", "summary", "level", "owner"])
        written += len(planned)
    filled = time.perf_counter() - began
    return {"fill_s": round(filled, 1), "records_per_s": round(n / filled)}


def _settle() -> None:
    """What autovacuum does on a live database: statistics and the visibility map (PostgreSQL
    answers a count from an index alone only for pages it knows are all visible)."""
    from django.db import connection

    from civmil.actors.models import LiaisonLogEntry
    from civmil.core.models import Grant, Release
    from civmil.core.models.records import Audience, AudienceCount

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for model in (LiaisonLogEntry, Release, Grant, Audience, AudienceCount):
                cursor.execute(f"VACUUM ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


def _clean(seeded: _Seeded) -> None:
    """Remove the run's entries, their releases, grants, audience and search rows (the people and
    the ledger entries stay: the ledger is append-only)."""
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection, transaction

    from civmil.actors.models import LiaisonLogEntry
    from civmil.comms.models import SearchDocument
    from civmil.core import services
    from civmil.core.models import Grant, Release
    from civmil.core.models.records import Audience

    owners = [o.pk for orgs in seeded.orgs.values() for o in orgs]
    ct = ContentType.objects.get_for_model(LiaisonLogEntry)
    entries = LiaisonLogEntry.objects.filter(owner_id__in=owners)
    with transaction.atomic():
        counts = Counter(entries.values_list("space_id", "level"))
        ids = entries.values("pk")
        for model in (Audience, Release, Grant):
            model.objects.filter(content_type=ct, object_id__in=ids)._raw_delete(connection.alias)
        # The search rows name their record by its id as text, which no subquery on the entries
        # gives on every database: by lists, short enough for SQLite's limit on parameters.
        pks = [str(pk) for pk in entries.values_list("pk", flat=True)]
        for start in range(0, len(pks), CLEAN_CHUNK):
            SearchDocument.objects.filter(object_type="actors.liaisonlogentry",
                                          object_id__in=pks[start:start + CLEAN_CHUNK])._raw_delete(connection.alias)
        for through in (LiaisonLogEntry.organisations.through, LiaisonLogEntry.people.through):
            through.objects.filter(liaisonlogentry_id__in=ids)._raw_delete(connection.alias)
        entries._raw_delete(connection.alias)
        services.count_levels(ct, {k: -n for k, n in counts.items()})


def _time(fn: Callable[[], Any]) -> tuple[float, float]:
    fn()  # warm the caches
    samples = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return round(statistics.median(samples), 2), round(samples[math.ceil(len(samples) * 0.95) - 1], 2)


def _measure(n: int, seeded: _Seeded) -> list[dict[str, Any]]:
    from civmil.actors import queries
    from civmil.actors.models import LiaisonLogEntry
    from civmil.core import access

    rows = []
    page_base = _time(lambda: list(LiaisonLogEntry.objects.select_related("owner").order_by("-occurred_at", "id")[:50]))
    count_base = _time(lambda: LiaisonLogEntry.objects.count())
    for name, member in seeded.readers.items():
        actor = member.actor
        page = _time(lambda actor=actor: access.show_all(actor, queries.liaison_log(actor)[:50]))  # type: ignore[misc]
        count = _time(lambda actor=actor: access.visible(actor, LiaisonLogEntry.objects.all()).count())  # type: ignore[misc]
        seen = access.visible(actor, LiaisonLogEntry.objects.all()).count()
        rows.append({
            "records": n, "reader": name, "visible": seen,
            "page_baseline_p50_ms": page_base[0], "page_baseline_p95_ms": page_base[1],
            "page_policy_p50_ms": page[0], "page_policy_p95_ms": page[1],
            "page_ratio_p50": round(page[0] / page_base[0], 1),
            "count_baseline_p50_ms": count_base[0], "count_baseline_p95_ms": count_base[1],
            "count_policy_p50_ms": count[0], "count_policy_p95_ms": count[1],
            "count_ratio_p50": round(count[0] / count_base[0], 1),
        })
    return rows


def run(sizes: tuple[int, ...] = SIZES) -> list[dict[str, Any]]:
    from django.db import connection, transaction

    rows: list[dict[str, Any]] = []
    for n in sizes:
        with transaction.atomic():
            seeded = _Seeded()
            fill = _fill(n, seeded)
        try:
            _settle()
            for row in _measure(n, seeded):
                rows.append({**row, "database": connection.vendor, **fill})
                print(json.dumps(rows[-1]), flush=True)
        finally:
            _clean(seeded)
    table = Table(title=f"Access policy on {connection.vendor}: first page of 50 with views, and count "
                        f"(ms, p50 / p95 of {REPEAT} runs; ratio of p50s)")
    for col in ("records", "reader", "visible", "page: no policy", "page: policy", "ratio",
                "count: no policy", "count: policy", "ratio"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(
            f'{r["records"]:,}', r["reader"], f'{r["visible"]:,}',
            f'{r["page_baseline_p50_ms"]} / {r["page_baseline_p95_ms"]}',
            f'{r["page_policy_p50_ms"]} / {r["page_policy_p95_ms"]}', f'{r["page_ratio_p50"]}x',
            f'{r["count_baseline_p50_ms"]} / {r["count_baseline_p95_ms"]}',
            f'{r["count_policy_p50_ms"]} / {r["count_policy_p95_ms"]}', f'{r["count_ratio_p50"]}x')
    Console().print(table)
    for n in sizes:
        fill = next(r for r in rows if r["records"] == n)
        Console().print(f"{n:,} records written with their audience in {fill['fill_s']} s "
                        f"({fill['records_per_s']:,} records/s)")
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--records", type=int, action="append",
                        help=f"entries to measure at (repeatable; default {', '.join(map(str, SIZES))})")
    args = parser.parse_args()
    from bench.__main__ import RESULTS, setup

    setup()
    rows = run(tuple(args.records) if args.records else SIZES)
    RESULTS.mkdir(exist_ok=True)
    from django.db import connection

    out = RESULTS / f"access_policy-{connection.vendor}.json"
    out.write_text(json.dumps(rows, indent=2))
    print(f"results written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

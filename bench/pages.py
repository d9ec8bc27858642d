"""How long the everyday pages take at the server: the list, a record page and the form of every
registered record type, and the home, directory, areas, area, search, notifications and tokens
pages, as three demo readers (civilian, military, NGO), on the demo mission as loaded and again
after ``civmil demo scale --records N`` adds N made-up records of each type, in the same run.

Each page is asked ``--repeat`` times per reader through Django's handler in this process (the
server's work: middleware, policy, queries, templates; no network), the first ask warming the
caches. The table gives p50 and p95 per page over readers and repeats, and the share under the
goal (300 ms, issue 11). Point ``DATABASE_URL`` at a scratch database, or leave the default (a
scratch SQLite file).

``make bench`` runs a small size; the figure of issue 11 is::

    .venv/bin/python -m bench.pages --records 200000
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Any

from rich.console import Console
from rich.table import Table

SIZES = (2_000,)
READERS = ("civstaff", "milstaff", "ngostaff")
GOAL_MS = 300.0


def _pages() -> list[tuple[str, str]]:
    """(label, URL) of every page measured, a record of each type taken from the demo."""
    from django.urls import reverse

    from civmil.actors.models import Area
    from civmil.core import registry

    area = Area.objects.filter(admin_level=1).order_by("name").first()
    pages = [("home", "/"), ("directory", reverse("actors:index")), ("areas", reverse("actors:areas")),
             ("search", reverse("comms:search") + "?q=water"), ("notifications", reverse("comms:notifications")),
             ("tokens", reverse("core:tokens"))]
    if area is not None:
        pages.append(("area", reverse("actors:area", args=[area.pk])))
    lists = {"actors.liaisonlogentry": ("actors:liaison-log", "actors:liaison-new")}
    for record_type in registry.all_types():
        if not record_type.fields or not record_type.detail_url_name:
            continue
        list_name, new_name = lists.get(record_type.key, (record_type.list_url, f"{record_type.detail_url_name}-new"))
        record = record_type.model._default_manager.filter(level="mission").order_by("-pk").first()
        pages += [(f"{record_type.key} list", reverse(list_name)), (f"{record_type.key} new", reverse(new_name))]
        if record is not None:
            pages.append((f"{record_type.key} record", reverse(record_type.detail_url_name, kwargs={"pk": record.pk})))
    return pages


def _measure(repeat: int) -> dict[str, list[float]]:
    from django.test import Client

    from civmil.core.models import User

    times: dict[str, list[float]] = {}
    pages = _pages()
    for username in READERS:
        client = Client()
        client.force_login(User.objects.get(username=username))
        for label, url in pages:
            for i in range(repeat + 1):
                began = time.perf_counter()
                response = client.get(url)
                spent = (time.perf_counter() - began) * 1000
                if response.status_code != 200:
                    raise SystemExit(f"{url} answered {response.status_code} to {username}")
                if i:  # the first ask warms the caches
                    times.setdefault(label, []).append(spent)
    return times


def _summary(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return round(statistics.median(ordered), 1), round(ordered[max(0, -(-len(ordered) * 95 // 100) - 1)], 1)


def run(sizes: tuple[int, ...] = SIZES, repeat: int = 5) -> list[dict[str, Any]]:
    from django.conf import settings
    from django.core.management import call_command

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    call_command("collectstatic", interactive=False, verbosity=0)  # pages name their hashed assets
    call_command("demo", "--if-empty", verbosity=0)
    measured = [("demo", _measure(repeat))]
    added = 0
    for n in sizes:
        call_command("demo", "scale", "--records", str(n - added), verbosity=0)
        added = n
        measured.append((f"+{n:,} per type", _measure(repeat)))
    rows = []
    for label in measured[0][1]:
        row: dict[str, Any] = {"page": label}
        for name, times in measured:
            p50, p95 = _summary(times[label])
            row[name] = {"p50_ms": p50, "p95_ms": p95}
        row["under_goal"] = all(row[name]["p95_ms"] < GOAL_MS for name, _t in measured)
        rows.append(row)
    table = Table(title=f"Pages at the server (ms, p50 / p95 over {len(READERS)} readers x {repeat}; goal p95 < "
                        f"{GOAL_MS:.0f} ms)")
    table.add_column("page")
    for name, _t in measured:
        table.add_column(name, justify="right")
    table.add_column("goal", justify="center")
    for row in rows:
        table.add_row(row["page"], *(f'{row[name]["p50_ms"]} / {row[name]["p95_ms"]}' for name, _t in measured),
                      "met" if row["under_goal"] else "NOT MET")
    Console(width=150).print(table)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--records", type=int, action="append",
                        help=f"records of each type to add, cumulative (repeatable; default {SIZES[0]:,})")
    parser.add_argument("--repeat", type=int, default=5, help="asks per page and reader (default 5)")
    args = parser.parse_args()
    from bench.__main__ import RESULTS, setup

    setup()
    rows = run(tuple(args.records) if args.records else SIZES, args.repeat)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "pages.json"
    out.write_text(json.dumps(rows, indent=2))
    print(f"results written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

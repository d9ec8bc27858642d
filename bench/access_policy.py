"""What the access policy costs: listing liaison log entries through it, against the same
query without it (the baseline), on the same data in the same process."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.table import Table

SIZES = (1_000, 5_000)
REPEAT = 15


def _seed(n: int) -> tuple[Any, Any]:
    from django.contrib.contenttypes.models import ContentType
    from django.utils import timezone
    from tests.factories import make_member

    from civmil.actors.models import LiaisonLogEntry
    from civmil.core.choices import Component, Level, Role
    from civmil.core.models import Release, Space

    reader = make_member(Component.MILITARY, role=Role.MILITARY_STAFF)
    owners = {level: make_member(component) for level, component in (
        (Level.MISSION, Component.CIVILIAN), (Level.HUMANITARIAN, Component.HUMANITARIAN),
        (Level.MILITARY, Component.MILITARY), (Level.RESTRICTED, Component.CIVILIAN))}
    levels = list(owners)
    space = Space.live()
    now = timezone.now()
    entries = [
        LiaisonLogEntry(space=space, owner=owners[levels[i % 4]].org, level=levels[i % 4],
                        occurred_at=now - timezone.timedelta(minutes=i), channel="meeting", summary=f"entry {i}")
        for i in range(n)
    ]
    LiaisonLogEntry.objects.bulk_create(entries, batch_size=1000)
    ct = ContentType.objects.get_for_model(LiaisonLogEntry)
    Release.objects.bulk_create([
        Release(content_type=ct, object_id=e.pk, target_organisation=reader.org, fields=["summary"])
        for e in entries[1::20]
    ])
    return reader.actor, LiaisonLogEntry


def _time(fn: Callable[[], Any]) -> float:
    samples = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def _measure(n: int, actor: Any, model: Any) -> dict[str, Any]:
    from civmil.actors import queries
    from civmil.core import access

    baseline = _time(lambda: list(model.objects.order_by("-occurred_at")[:50]))
    filtered = _time(lambda: access.show_all(actor, queries.liaison_log(actor)[:50]))
    count_base = _time(lambda: model.objects.count())
    count_policy = _time(lambda: access.visible(actor, model.objects.all()).count())
    return {"entries": n, "first_page_baseline_ms": round(baseline, 2), "first_page_policy_ms": round(filtered, 2),
            "count_baseline_ms": round(count_base, 2), "count_policy_ms": round(count_policy, 2)}


def run() -> list[dict[str, Any]]:
    from django.db import transaction

    rows = []
    for n in SIZES:
        with transaction.atomic():
            rows.append(_measure(n, *_seed(n)))
            transaction.set_rollback(True)
    table = Table(title="Access policy: first page of 50 and count, median of 15 runs (ms)")
    for col in ("entries", "page: no policy", "page: policy + views", "count: no policy", "count: policy"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(str(r["entries"]), f'{r["first_page_baseline_ms"]}', f'{r["first_page_policy_ms"]}',
                      f'{r["count_baseline_ms"]}', f'{r["count_policy_ms"]}')
    Console().print(table)
    return rows

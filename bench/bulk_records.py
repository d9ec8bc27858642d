"""What the kernel's bulk path writes per second (``civmil demo scale``'s engine,
:func:`civmil.core.bulk.create_records`), against the same made-up records written one by one
through the services (:func:`civmil.core.services.create_record` and
:func:`~civmil.core.services.release_record`, the baseline), for each registered record type,
on the demo mission, in the same run.

Both write the record, its many-to-many rows, releases, audience, level counts, search index
rows and ledger entries; the services also validate each record (``full_clean``) and publish a
live event. Records per second are given by the wall clock and by the process's CPU time (the
second is steadier on a shared machine). The ledger is verified at the end.

``make bench`` runs a small size; the figure of issue 10 is::

    .venv/bin/python -m bench.bulk_records --records 100000
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from rich.console import Console
from rich.table import Table

SIZES = (5_000,)
#: Records written one by one through the services, per type (they are slow: a few suffice).
BASELINE = 300
SEED = 20261206


def _timed(fn: Any) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def _one_by_one(record_type: Any, batch: list[Any], action: str, fields: list[str]) -> None:
    from django.db import transaction

    from civmil.core import services
    from civmil.core.models import Organisation, Person

    model = record_type.model
    for planned in batch:
        values = dict(planned.values)
        kwargs = {model._meta.get_field(k).attname: v for k, v in values.items()}
        record = model(owner=planned.actor.organisation, level=planned.level, **kwargs)
        with transaction.atomic():
            services.create_record(planned.actor, record, action=action, fields=fields, m2m=planned.m2m)
            for r in planned.releases:
                organisation = Organisation.objects.get(pk=r.organisation_id) if r.organisation_id else None
                person = Person.objects.get(pk=r.person_id) if r.person_id else None
                services.release_record(planned.actor, record, organisation=organisation, component=r.component,
                                        person=person, fields=list(r.fields) if r.fields is not None else None)


def _row(key: str, path: str, n: int, wall: float, cpu: float) -> dict[str, Any]:
    from django.db import connection

    return {"database": connection.vendor, "type": key, "path": path, "records": n, "seconds": round(wall, 2),
            "records_per_s": round(n / wall), "cpu_seconds": round(cpu, 2), "records_per_cpu_s": round(n / cpu)}


def run(sizes: tuple[int, ...] = SIZES, baseline: int = BASELINE) -> list[dict[str, Any]]:
    from django.db import connection

    from civmil.core import bulk, ledger, registry
    from civmil.demo import loader, scale

    if not loader.present():
        loader.load()
    rows: list[dict[str, Any]] = []
    for n in sizes:
        for record_type in registry.all_types():
            action, fields = scale.ledger_names(record_type)
            mission = scale.mission_for(SEED + n)
            batches = list(scale.planned(record_type, n, mission))
            wall, cpu = _timed(lambda batches=batches, rt=record_type, a=action, f=fields: [  # type: ignore[misc]
                bulk.create_records(rt.model, b, action=a, fields=f) for b in batches])
            rows.append(_row(record_type.key, "bulk", n, wall, cpu))
            print(json.dumps(rows[-1]), flush=True)
            few = next(scale.planned(record_type, baseline, mission, chunk=baseline))
            wall, cpu = _timed(lambda few=few, rt=record_type, a=action, f=fields: _one_by_one(rt, few, a, f))  # type: ignore[misc]
            rows.append(_row(record_type.key, "services", len(few), wall, cpu))
            print(json.dumps(rows[-1]), flush=True)
    verified = ledger.verify()
    table = Table(title=f"Bulk path on {connection.vendor}: records written per second, with their audience, "
                        f"releases, search rows and ledger entries (ledger verifies: {verified.ok})")
    for col in ("type", "path", "records", "seconds", "records/s", "CPU s", "records/CPU s", "ratio (CPU)"):
        table.add_column(col, justify="right")
    for r in rows:
        base = next(b for b in rows if b["type"] == r["type"] and b["path"] == "services")
        r["ledger_ok"] = verified.ok
        table.add_row(r["type"], r["path"], f'{r["records"]:,}', f'{r["seconds"]}', f'{r["records_per_s"]:,}',
                      f'{r["cpu_seconds"]}', f'{r["records_per_cpu_s"]:,}',
                      f'{r["records_per_cpu_s"] / base["records_per_cpu_s"]:.0f}x')
    Console().print(table)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--records", type=int, action="append",
                        help=f"records of each type written in bulk (repeatable; default {', '.join(map(str, SIZES))})")
    parser.add_argument("--baseline", type=int, default=BASELINE,
                        help=f"records of each type written one by one through the services (default {BASELINE})")
    args = parser.parse_args()
    from bench.__main__ import RESULTS, setup

    setup()
    rows = run(tuple(args.records) if args.records else SIZES, args.baseline)
    RESULTS.mkdir(exist_ok=True)
    from django.db import connection

    out = RESULTS / f"bulk_records-{connection.vendor}.json"
    out.write_text(json.dumps(rows, indent=2))
    print(f"results written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

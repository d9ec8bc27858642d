"""Run every benchmark: ``python -m bench`` (``make bench``)."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def setup() -> None:
    """Django on a scratch SQLite database and var directory, migrated (unless the environment names others)."""
    tmp = tempfile.mkdtemp(prefix="civmil-bench-")
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{tmp}/bench.sqlite3")
    os.environ.setdefault("CIVMIL_VAR_DIR", tmp)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "civmil.config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def main() -> int:
    setup()
    from bench import (
        access_policy,
        bulk_records,
        fanout,
        live_events,
        map_layer,
        pages,
        signals,
        spatial_index,
        type_lines,
    )

    RESULTS.mkdir(exist_ok=True)
    results = {"access_policy": access_policy.run(), "live_events": live_events.run(), "fanout": fanout.run(),
               "signals": signals.run(), "map_layer": map_layer.run(), "bulk_records": bulk_records.run(),
               "type_lines": type_lines.run(), "pages": pages.run(),
               # A million records by default (CIVMIL_BENCH_SPATIAL_RECORDS to change it); PostgreSQL
               # too when CIVMIL_BENCH_POSTGRES names a scratch database.
               "spatial_index": spatial_index.run(
                   int(os.environ.get("CIVMIL_BENCH_SPATIAL_RECORDS", "1000000")), query_n=100, btree_queries=30,
                   postgres=os.environ.get("CIVMIL_BENCH_POSTGRES"))}
    out = RESULTS / "bench.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"\nresults written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

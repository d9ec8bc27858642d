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
    from bench import access_policy, fanout, live_events, signals

    RESULTS.mkdir(exist_ok=True)
    results = {"access_policy": access_policy.run(), "live_events": live_events.run(), "fanout": fanout.run(),
               "signals": signals.run()}
    out = RESULTS / "bench.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"\nresults written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

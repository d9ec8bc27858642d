"""``civmil worker``: tick the periodic jobs and run queued background tasks, until SIGTERM/SIGINT.

Run as many as you like (``civmil.core.schedule`` enqueues each periodic job once per period,
whichever worker ticks first). A signal lets the running task finish, then the worker exits 0.
It refuses to start while the database (or Redis, when REDIS_URL is set) cannot be used,
naming the variable (:func:`civmil.core.checks.connection_problems`). Each job run is logged.
"""

from __future__ import annotations

import signal
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from civmil.core import schedule


def _positive(value: str) -> float:
    import argparse

    try:
        number = float(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(_("must be a number of seconds")) from exc
    if not 0 < number <= 86400:
        raise argparse.ArgumentTypeError(_("must be more than 0 and at most 86400 seconds"))
    return number


class Command(BaseCommand):
    help = "Run periodic jobs and queued background tasks until stopped (SIGTERM or Ctrl+C)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tick", type=_positive, default=30.0, metavar="SECONDS",
                            help="Seconds between two looks at the periodic jobs (default: 30).")
        parser.add_argument("--poll", type=_positive, default=1.0, metavar="SECONDS",
                            help="Seconds to wait for new tasks when the queue is empty (default: 1).")
        parser.add_argument("--once", action="store_true",
                            help="Tick once, run every queued task, then exit.")

    def handle(self, *args: Any, **options: Any) -> None:
        from civmil.core.checks import connection_problems

        problems = connection_problems()
        if problems:
            lines = [f"  {m.id}: {m.msg}" + (f" ({m.hint})" if m.hint else "") for m in problems]
            raise CommandError(_("civmil worker will not start:") + "\n" + "\n".join(lines))
        from civmil.core.metrics import prepare_multiprocess_dir

        prepare_multiprocess_dir()  # its job counts join the servers' /metrics
        runner = schedule.Runner(tick_every=options["tick"], poll=options["poll"])
        if options["once"]:
            import time

            runner.round(time.monotonic())
            return
        jobs = ", ".join(f"{name} ({job.every})" for name, job in sorted(schedule.registered().items()))
        self.stdout.write(_("civmil worker running; periodic jobs: %(jobs)s (SIGTERM or Ctrl+C stops it).")
                          % {"jobs": jobs or _("none")})

        def _stop(signum: int, frame: FrameType | None) -> None:
            if runner.stopping:
                raise CommandError(_("stopped while a task was running"), returncode=1)
            self.stderr.write(_("stopping after the running task (signal again to abort it)"))
            runner.stop()

        previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            runner.run()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        self.stdout.write(_("civmil worker stopped."))

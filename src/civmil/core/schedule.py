"""Periodic jobs: a registry, and :func:`tick`, which enqueues each job once per period.

A job is a django-tasks task (``@task()`` at module level) registered with
:func:`register_periodic`. Periods are aligned on the Unix epoch (a 10-minute job's periods start
at :00, :10, :20...). Any number of processes may call :func:`tick` — every ``civmil worker``,
and the worker thread embedded in ``civmil serve``: the first one to tick in a period inserts a
:class:`~civmil.core.models.PeriodicRun` row (unique per job and period) and enqueues the job in
the same transaction; the others hit the unique constraint and skip it. Jobs must be idempotent:
a job enqueued late, or run after a crash half-way, must do no harm when it runs again.

The queued jobs are run by the django-tasks database worker (:func:`run_queued` here, the
``db_worker`` command elsewhere). Each run is logged on ``civmil.jobs`` when it ends (job name,
start, end, duration, outcome; a failure at ERROR with its traceback), with ``job-<task id>`` as
the request id of every line it logs, and counted in the metrics (``civmil_job_runs_total``).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django_tasks import DEFAULT_TASK_BACKEND_ALIAS, task
from django_tasks.base import Task

logger = logging.getLogger(__name__)
jobs_logger = logging.getLogger("civmil.jobs")

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
#: Seconds between the signed ledger checkpoints of the periodic job (a mission setting later).
LEDGER_CHECKPOINT_EVERY = dt.timedelta(minutes=10)
OUTBOX_PRUNE_EVERY = dt.timedelta(days=1)
#: ``PeriodicRun`` rows older than this many periods of their job are deleted by :func:`tick`.
_KEEP_PERIODS = 10


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    task: Task[[], Any]
    every: dt.timedelta

    def period_start(self, now: dt.datetime) -> dt.datetime:
        """Start of the period ``now`` falls in (periods aligned on the Unix epoch, in UTC)."""
        elapsed = now.astimezone(dt.UTC) - _EPOCH
        return _EPOCH + (elapsed // self.every) * self.every


_jobs: dict[str, PeriodicJob] = {}


def register_periodic(name: str, job: Task[[], Any], every: dt.timedelta) -> PeriodicJob:
    """Run the task ``job`` (no arguments, idempotent) once every ``every``; re-registering replaces."""
    if not name or len(name) > 100:
        raise ValueError("a periodic job needs a name of 1 to 100 characters")
    if every < dt.timedelta(seconds=1):
        raise ValueError("a periodic job's period must be at least one second")
    periodic = PeriodicJob(name=name, task=job, every=every)
    _jobs[name] = periodic
    return periodic


def unregister_periodic(name: str) -> None:
    _jobs.pop(name, None)


def registered() -> dict[str, PeriodicJob]:
    """The registered jobs by name (a copy)."""
    return dict(_jobs)


def tick(now: dt.datetime | None = None) -> list[str]:
    """Enqueue every registered job whose current period has not been enqueued yet.

    Returns the names of the jobs this call enqueued (others may have been enqueued by another
    process that ticked first).
    """
    from civmil.core.models import PeriodicRun

    now = now or timezone.now()
    enqueued: list[str] = []
    for job in list(_jobs.values()):
        start = job.period_start(now)
        try:
            with transaction.atomic():
                run = PeriodicRun.objects.create(name=job.name, period_start=start)
                result = job.task.enqueue()
                run.task_result_id = str(result.id)
                run.save(update_fields=["task_result_id"])
        except IntegrityError:
            continue  # another process enqueued this period first
        enqueued.append(job.name)
        logger.info("periodic job %s enqueued for the period starting %s", job.name, start.isoformat())
        PeriodicRun.objects.filter(name=job.name, period_start__lt=start - _KEEP_PERIODS * job.every).delete()
    return enqueued


def _worker(*, batch: bool, interval: float = 1.0, worker_id: str = "") -> Any:
    from django.utils.crypto import get_random_string
    from django_tasks_db.management.commands.db_worker import Worker

    return Worker(queue_names=["*"], interval=interval, batch=batch, backend_name=DEFAULT_TASK_BACKEND_ALIAS,
                  startup_delay=False, max_tasks=None, worker_id=worker_id or get_random_string(32),
                  excluded_queue_names=[])


class Runner:
    """Ticks and runs queued tasks until :meth:`stop`: the loop of ``civmil worker`` and of the
    worker thread embedded in ``civmil serve``.

    Each round ticks (at most every ``tick_every`` seconds), runs every queued task, then waits
    ``poll`` seconds. :meth:`stop` (from a signal handler or another thread) lets the task that is
    running finish and ends the loop.
    """

    def __init__(self, *, tick_every: float = 30.0, poll: float = 1.0, worker_id: str = "") -> None:
        self.tick_every = tick_every
        self.poll = poll
        self.worker_id = worker_id
        self._stop = threading.Event()
        self._current: Any = None
        self._last_tick: float | None = None

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def stop(self) -> None:
        self._stop.set()
        current = self._current
        if current is not None:
            current.running = False

    def round(self, monotonic: float) -> None:
        from django.db import close_old_connections

        close_old_connections()
        if self._last_tick is None or monotonic - self._last_tick >= self.tick_every:
            self._last_tick = monotonic
            try:
                tick()
            except Exception:  # a failed tick (database away) is retried next round
                logger.exception("periodic tick failed")
        if not self.stopping:
            self._current = _worker(batch=True, worker_id=self.worker_id)
            try:
                self._current.run()
            finally:
                self._current = None
        close_old_connections()

    def run(self, *, startup_delay: float = 0.0) -> None:
        import time

        if startup_delay:
            self._stop.wait(startup_delay)
        while not self.stopping:
            try:
                self.round(time.monotonic())
            except Exception:
                logger.exception("worker round failed")
            self._stop.wait(self.poll)


def run_queued() -> None:
    """Run every queued task, then return (what ``db_worker --batch --no-startup-delay`` does)."""
    _worker(batch=True).run()


_embedded: tuple[threading.Thread, Runner] | None = None
_embedded_lock = threading.Lock()


def start_embedded_worker(*, tick_every: float = 30.0, poll: float = 1.0, startup_delay: float = 1.0) -> Runner:
    """Start the worker loop in a daemon thread of this process (the server's embedded default).

    Its first round comes after ``startup_delay`` seconds. Starting it twice returns the running
    one. The thread stops with :func:`stop_embedded_worker` (``civmil serve`` calls it when the
    server stops) or at interpreter exit.
    """
    import atexit

    global _embedded
    with _embedded_lock:
        if _embedded is not None and _embedded[0].is_alive():
            return _embedded[1]
        runner = Runner(tick_every=tick_every, poll=poll, worker_id=f"embedded-{os.getpid()}")
        thread = threading.Thread(target=_run_embedded, args=(runner, startup_delay), name="civmil-embedded-worker",
                                  daemon=True)
        _embedded = (thread, runner)
        thread.start()
        atexit.register(stop_embedded_worker)
        return runner


def _run_embedded(runner: Runner, startup_delay: float) -> None:
    from django.db import connections

    try:
        runner.run(startup_delay=startup_delay)
    finally:
        connections.close_all()


def stop_embedded_worker(timeout: float | None = 10.0) -> None:
    global _embedded
    with _embedded_lock:
        if _embedded is None:
            return
        thread, runner = _embedded
        _embedded = None
    runner.stop()
    thread.join(timeout)


# ---------------------------------------------------------------------------------------------
# Each job run: a log line and the metrics


#: Task result id -> (the request id it set, when it started): the runs of this process in progress.
_runs: dict[str, tuple[Any, float]] = {}
_runs_lock = threading.Lock()


def job_name(task_result: Any) -> str:
    """The periodic job's registered name (``ledger.checkpoint``), else the task's dotted path."""
    path = task_result.task.module_path
    for job in list(_jobs.values()):
        if job.task.module_path == path:
            return job.name
    return str(path)


def _job_started(sender: Any, task_result: Any, **kwargs: Any) -> None:
    from civmil.core import observability

    token = observability.bind_request_id(f"job-{task_result.id}")
    with _runs_lock:
        _runs[str(task_result.id)] = (token, time.monotonic())
    jobs_logger.debug("job %s started", job_name(task_result), extra={"job": job_name(task_result),
                                                                       "task_id": str(task_result.id)})


def _job_finished(sender: Any, task_result: Any, **kwargs: Any) -> None:
    from django_tasks import TaskResultStatus

    from civmil.core import metrics, observability

    with _runs_lock:
        token, monotonic_start = _runs.pop(str(task_result.id), (None, None))
    started, finished = task_result.started_at, task_result.finished_at
    if monotonic_start is not None:
        seconds: float | None = time.monotonic() - monotonic_start
    elif started is not None and finished is not None:
        seconds = (finished - started).total_seconds()
    else:
        seconds = None
    name = job_name(task_result)
    succeeded = task_result.status == TaskResultStatus.SUCCESSFUL
    outcome = "succeeded" if succeeded else "failed"
    extra = {"job": name, "task_id": str(task_result.id), "outcome": outcome,
             "started_at": started.isoformat() if started else None,
             "finished_at": finished.isoformat() if finished else None,
             "duration_s": round(seconds, 3) if seconds is not None else None}
    took = f"{seconds:.2f} s" if seconds is not None else "an unknown time"
    try:
        if succeeded:
            jobs_logger.info("job %s succeeded in %s", name, took, extra=extra)
        else:  # sent from the worker's except block: exc_info is the task's exception
            jobs_logger.error("job %s failed after %s", name, took, extra=extra, exc_info=True)
        metrics.job_ran(name, outcome, seconds)
    finally:
        if token is not None:
            observability.unbind_request_id(token)


def _connect_job_signals() -> None:
    from django_tasks.signals import task_finished, task_started

    task_started.connect(_job_started, dispatch_uid="civmil.jobs.started")
    task_finished.connect(_job_finished, dispatch_uid="civmil.jobs.finished")


_connect_job_signals()


# ---------------------------------------------------------------------------------------------
# The jobs


@task()
def ledger_checkpoint() -> int | None:
    """Sign a ledger checkpoint if the ledger grew since the latest one; its id, else ``None``."""
    from civmil.core.ledger import periodic_checkpoint

    signed = periodic_checkpoint()
    return signed.pk if signed is not None else None


@task()
def prune_live_events() -> int:
    """Delete live events older than ``CIVMIL_OUTBOX_KEEP_DAYS`` (default 30); how many went."""
    from django.conf import settings

    from civmil.core import events

    return events.prune(dt.timedelta(days=int(getattr(settings, "CIVMIL_OUTBOX_KEEP_DAYS", 30))))


@task()
def sweep_staged_uploads() -> int:
    """Remove staged import uploads past their time to live; how many went."""
    from civmil.core import staging

    return staging.sweep_all()


#: Rows SQLite's ANALYZE reads per index (an estimate is enough for the planner, and it keeps the
#: job short on a large database).
ANALYSIS_LIMIT = 1000


@task()
def refresh_planner_statistics() -> bool:
    """Refresh SQLite's statistics for its query planner (``ANALYZE``, sampled), so that it goes
    through the right index: without them it may scan a level's quarter of a table where the
    spatial index would answer at once. PostgreSQL keeps its own (autovacuum); nothing to do there.
    Whether it ran."""
    from django.db import connection

    if connection.vendor != "sqlite":
        return False
    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA analysis_limit = {int(ANALYSIS_LIMIT)}")
        cursor.execute("ANALYZE")
    return True


def register_default_jobs() -> None:
    register_periodic("ledger.checkpoint", ledger_checkpoint, LEDGER_CHECKPOINT_EVERY)
    register_periodic("events.prune", prune_live_events, OUTBOX_PRUNE_EVERY)
    register_periodic("staging.sweep", sweep_staged_uploads, dt.timedelta(hours=1))
    register_periodic("database.statistics", refresh_planner_statistics, dt.timedelta(hours=6))


register_default_jobs()


__all__ = [
    "LEDGER_CHECKPOINT_EVERY",
    "PeriodicJob",
    "Runner",
    "ledger_checkpoint",
    "refresh_planner_statistics",
    "register_periodic",
    "registered",
    "run_queued",
    "start_embedded_worker",
    "stop_embedded_worker",
    "tick",
    "unregister_periodic",
]

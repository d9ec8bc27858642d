"""Periodic jobs: enqueued once per period whichever worker ticks first; run by the db worker."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from django.core.management import call_command
from django_tasks import task
from django_tasks_db.models import DBTaskResult

from civmil.core import schedule
from civmil.core.models import Checkpoint, LedgerEntry, PeriodicRun
from tests.factories import make_org

T0 = dt.datetime(2026, 11, 25, 12, 0, 0, tzinfo=dt.UTC)

CALLS: list[str] = []


@task()
def _note() -> str:
    CALLS.append("ran")
    return "ok"


@pytest.fixture
def only_checkpoint_job() -> Any:
    """Only the ledger checkpoint of the registry as shipped (these tests look at one job)."""
    saved = schedule.registered()
    for name in saved:
        schedule.unregister_periodic(name)
    schedule.register_periodic("ledger.checkpoint", schedule.ledger_checkpoint, schedule.LEDGER_CHECKPOINT_EVERY)
    yield
    for name in schedule.registered():
        schedule.unregister_periodic(name)
    for name, job in saved.items():
        schedule.register_periodic(name, job.task, job.every)


def _run_db_worker() -> None:
    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", "--queue-name", "*",
                 stdout=io.StringIO(), stderr=io.StringIO(), verbosity=0)


def test_checkpoint_job_is_registered_every_ten_minutes() -> None:
    job = schedule.registered()["ledger.checkpoint"]
    assert job.every == dt.timedelta(minutes=10)
    assert job.task is schedule.ledger_checkpoint


def test_live_events_are_pruned_daily() -> None:
    job = schedule.registered()["events.prune"]
    assert job.every == dt.timedelta(days=1)
    assert job.task is schedule.prune_live_events


def test_periods_are_aligned_and_each_enqueued_once(db: Any, only_checkpoint_job: Any) -> None:
    # Two workers ticking in the same period (here: the same process twice, and a second later).
    assert schedule.tick(T0 + dt.timedelta(minutes=3)) == ["ledger.checkpoint"]
    assert schedule.tick(T0 + dt.timedelta(minutes=3, seconds=1)) == []
    assert schedule.tick(T0 + dt.timedelta(minutes=9, seconds=59)) == []
    assert DBTaskResult.objects.count() == 1
    run = PeriodicRun.objects.get()
    assert run.period_start == T0  # 12:00 starts the period 12:03 falls in
    assert run.task_result_id == str(DBTaskResult.objects.get().id)
    # The next period is enqueued by its first tick.
    assert schedule.tick(T0 + dt.timedelta(minutes=10)) == ["ledger.checkpoint"]
    assert DBTaskResult.objects.count() == 2


def test_two_workers_ticking_the_same_period_enqueue_once(transactional_db: Any, only_checkpoint_job: Any) -> None:
    """Workers with their own database connections (threads here) tick the same period.

    (The test database is SQLite in shared-cache memory, which reports concurrent writers as
    "table locked" instead of waiting: the workers tick one after the other. On a database file
    or PostgreSQL the second writer waits, then hits the unique constraint the same way.)
    """
    import threading

    from django.db import connections

    results: list[list[str]] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            results.append(schedule.tick(T0 + dt.timedelta(minutes=1)))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    for _ in range(4):
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join(30)
    assert not errors
    assert sorted(len(r) for r in results) == [0, 0, 0, 1]
    assert DBTaskResult.objects.count() == 1 == PeriodicRun.objects.count()


# The job worker closes database connections between jobs, as it must in production: these
# tests run outside a wrapping transaction.
def test_enqueued_jobs_run_with_db_worker_batch(transactional_db: Any) -> None:
    schedule.register_periodic("test.note", _note, dt.timedelta(minutes=1))
    try:
        CALLS.clear()
        schedule.tick(T0)
        schedule.tick(T0 + dt.timedelta(seconds=30))
        _run_db_worker()
        assert CALLS == ["ran"]
        result = DBTaskResult.objects.get(task_path__endswith="_note")
        assert result.status == "SUCCESSFUL"
    finally:
        schedule.unregister_periodic("test.note")


def test_checkpoint_job_signs_only_when_the_ledger_grew(transactional_db: Any, only_checkpoint_job: Any) -> None:
    make_org()
    assert LedgerEntry.objects.exists()
    schedule.tick(T0)
    _run_db_worker()
    first = Checkpoint.objects.get()
    assert first.tree_size == LedgerEntry.objects.count()
    schedule.tick(T0 + dt.timedelta(minutes=10))  # nothing appended since: nothing to sign
    _run_db_worker()
    assert Checkpoint.objects.count() == 1
    make_org()
    schedule.tick(T0 + dt.timedelta(minutes=20))
    _run_db_worker()
    assert Checkpoint.objects.count() == 2
    assert Checkpoint.objects.order_by("-id").first().tree_size == LedgerEntry.objects.count()  # type: ignore[union-attr]
    assert set(DBTaskResult.objects.values_list("status", flat=True)) == {"SUCCESSFUL"}


def test_worker_once_ticks_and_runs(transactional_db: Any, only_checkpoint_job: Any) -> None:
    make_org()
    call_command("worker", "--once", stdout=io.StringIO(), stderr=io.StringIO())
    assert Checkpoint.objects.count() == 1
    assert PeriodicRun.objects.filter(name="ledger.checkpoint").count() == 1


def test_embedded_worker_runs_in_a_thread_and_stops(transactional_db: Any, only_checkpoint_job: Any) -> None:
    import threading

    from django_tasks.signals import task_finished

    make_org()
    finished = threading.Event()

    def on_finished(sender: Any, **kwargs: Any) -> None:
        finished.set()

    # (The test database is shared-cache SQLite memory: this thread waits for the worker's
    # signal rather than querying while the worker writes.)
    task_finished.connect(on_finished)
    try:
        runner = schedule.start_embedded_worker(tick_every=60, poll=0.05, startup_delay=0)
        try:
            assert schedule.start_embedded_worker() is runner  # one per process
            assert finished.wait(10)
        finally:
            schedule.stop_embedded_worker()
    finally:
        task_finished.disconnect(on_finished)
    assert runner.stopping
    assert Checkpoint.objects.count() == 1


def test_serve_starts_the_embedded_worker_by_default_in_development(settings: Any) -> None:
    from civmil.core.management.commands import serve

    settings.CIVMIL_ENV = "development"
    assert serve.embedded_worker_enabled()
    settings.CIVMIL_ENV = "production"
    assert not serve.embedded_worker_enabled()
    settings.CIVMIL_EMBEDDED_WORKER = True
    assert serve.embedded_worker_enabled()
    settings.CIVMIL_ENV = "development"
    settings.CIVMIL_EMBEDDED_WORKER = False
    assert not serve.embedded_worker_enabled()


def test_serve_runs_the_embedded_worker_while_it_serves(db: Any, settings: Any,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """(``db``: serve checks that the database is reachable and migrated before it starts.)"""
    settings.CIVMIL_EMBEDDED_WORKER = True
    seen: list[bool] = []

    def fake_uvicorn(app: str, **kwargs: Any) -> None:
        seen.append(schedule._embedded is not None and schedule._embedded[0].is_alive())

    monkeypatch.setattr("uvicorn.run", fake_uvicorn)
    call_command("serve", stdout=io.StringIO(), stderr=io.StringIO())
    assert seen == [True]
    assert schedule._embedded is None  # stopped when the server stopped
    settings.CIVMIL_EMBEDDED_WORKER = False
    seen.clear()
    call_command("serve", stdout=io.StringIO(), stderr=io.StringIO())
    assert seen == [False]


def test_planner_statistics_are_refreshed_every_six_hours_on_sqlite(db: Any) -> None:
    """Without statistics SQLite's planner may scan an index on a quarter of a table where the
    spatial index would answer at once; the job gives it sampled statistics of every table."""
    from django.db import connection

    job = schedule.registered()["database.statistics"]
    assert job.every == dt.timedelta(hours=6) and job.task is schedule.refresh_planner_statistics
    make_org()
    ran = schedule.refresh_planner_statistics.call()
    if connection.vendor != "sqlite":
        assert ran is False  # PostgreSQL's autovacuum keeps its statistics
        return
    assert ran is True
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM sqlite_stat1 WHERE tbl = 'core_organisation'")
        assert cursor.fetchone()[0] > 0

"""Event ids follow commit order on PostgreSQL, where a sequence hands out ids at INSERT time.

Two transactions overlap: the first draws its event id, then waits; the second starts later
and tries to publish and commit at once. Without a lock the second would commit first with the
larger id, and a client that saw it and resumed "after" it would never receive the first.
``events.publish`` takes the ledger's transaction lock, so the second waits for the first.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone

from civmil.actors import services as actor_services
from civmil.actors.models import LiaisonLogEntry
from civmil.core import events
from civmil.core.choices import Component, Level
from tests.factories import make_member

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

WAIT = 10


@pytest.fixture
def entry(transactional_db: None) -> LiaisonLogEntry:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (a sequence shared by several connections)")
    m = make_member(Component.HUMANITARIAN)
    return actor_services.record_liaison_contact(m.actor, actor_services.LiaisonContact(
        occurred_at=timezone.now() - dt.timedelta(hours=1), channel="meeting", summary="s", level=Level.MISSION,
        organisation_ids=[m.org.pk]))


def _run_overlapping(entry: LiaisonLogEntry) -> tuple[list[tuple[str, int]], bool]:
    """First publishes and holds its transaction open; second publishes and commits meanwhile.

    Returns the commits in the order they happened (name, event id) and whether the second
    had to wait for the first to end.
    """
    commits: list[tuple[str, int]] = []
    first_published, let_first_commit = threading.Event(), threading.Event()
    second_started, second_committed = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def in_thread(body: Callable[[], None]) -> threading.Thread:
        def run() -> None:
            from django.db import connection as own

            try:
                body()
            except BaseException as exc:  # reported in the test's thread
                errors.append(exc)
            finally:
                own.close()

        thread = threading.Thread(target=run)
        thread.start()
        return thread

    def first() -> None:
        with transaction.atomic():
            event = events.publish("liaison.edited", entry)
            first_published.set()
            assert let_first_commit.wait(WAIT)
        commits.append(("first", event.id))

    def second() -> None:
        assert first_published.wait(WAIT)
        second_started.set()
        with transaction.atomic():
            event = events.publish("liaison.edited", entry)
        commits.append(("second", event.id))
        second_committed.set()

    threads = [in_thread(first), in_thread(second)]
    assert second_started.wait(WAIT)
    second_had_to_wait = not second_committed.wait(1.0)  # the second is blocked while the first is open
    let_first_commit.set()
    for thread in threads:
        thread.join(WAIT)
    assert not errors, errors
    return commits, second_had_to_wait


def test_the_transaction_that_commits_first_has_the_smaller_event_id(entry: LiaisonLogEntry) -> None:
    commits, second_had_to_wait = _run_overlapping(entry)
    # The second waited while the first was open, so the first committed first. (The order the
    # two threads note their commits in is not the commit order: once the first's commit frees
    # the second, either may note its own first.)
    assert second_had_to_wait
    ids = dict(commits)
    assert set(ids) == {"first", "second"} and ids["first"] < ids["second"]


def test_without_the_lock_a_later_transaction_would_commit_a_smaller_id_first(
        entry: LiaisonLogEntry, monkeypatch: Any) -> None:
    """Why the lock is there: the same schedule with it removed breaks commit order."""
    monkeypatch.setattr("civmil.core.events.outbox._lock", lambda: None)
    commits, second_had_to_wait = _run_overlapping(entry)
    assert not second_had_to_wait
    assert [name for name, _ in commits] == ["second", "first"]
    (_, second_id), (_, first_id) = commits
    assert second_id > first_id  # a client resuming after second_id would miss first_id


def test_a_reader_never_sees_an_id_above_one_still_uncommitted(entry: LiaisonLogEntry) -> None:
    """While the first transaction is open, nothing newer is visible: "after N" misses nothing."""
    from civmil.core.models import OutboxEvent

    seen_while_open: list[list[int]] = []
    # The fixture's entry was recorded through the service, which published its own event.
    before = list(OutboxEvent.objects.order_by("id").values_list("id", flat=True))
    first_open, release = threading.Event(), threading.Event()
    result: dict[str, int] = {}

    def first() -> None:
        from django.db import connection as own

        try:
            with transaction.atomic():
                result["first"] = events.publish("liaison.edited", entry).id
                first_open.set()
                release.wait(WAIT)
        finally:
            own.close()

    def second() -> None:
        from django.db import connection as own

        try:
            first_open.wait(WAIT)
            with transaction.atomic():
                result["second"] = events.publish("liaison.edited", entry).id
        finally:
            own.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    assert first_open.wait(WAIT)
    for _ in range(5):
        seen_while_open.append(list(OutboxEvent.objects.order_by("id").values_list("id", flat=True)))
        time.sleep(0.1)
    release.set()
    for thread in threads:
        thread.join(WAIT)
    assert all(ids == before for ids in seen_while_open), seen_while_open
    assert result["first"] < result["second"]
    assert list(OutboxEvent.objects.order_by("id").values_list("id", flat=True)) == [
        *before, result["first"], result["second"]]

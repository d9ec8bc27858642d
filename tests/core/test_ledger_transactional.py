"""The ledger with real commits: emptying the test database despite the triggers, and concurrent
appends from several connections (PostgreSQL)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.color import no_style
from django.core.management.sql import sql_flush
from django.db import IntegrityError, connection, transaction
from django.db.backends.base.operations import BaseDatabaseOperations

from civmil.core import ledger
from civmil.core.errors import Invalid
from civmil.core.models import Checkpoint, LedgerChange, LedgerEntry
from tests.ledger_support import append_entries, installed_triggers

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_transactional_test_commits_ledger_rows() -> None:
    append_entries(3)
    ledger.checkpoint()
    assert LedgerEntry.objects.count() == 3
    assert installed_triggers(connection)
    # pytest-django now flushes (DELETE or TRUNCATE every table); the next test shows it worked


def test_the_flush_after_it_emptied_the_ledger_and_kept_the_triggers() -> None:
    assert not LedgerEntry.objects.exists()
    assert not LedgerChange.objects.exists()
    assert not Checkpoint.objects.exists()
    assert installed_triggers(connection)
    assert append_entries(1)[0].seq == 1
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.filter(seq=1).update(action="changed")


def test_flush_needs_the_fixture_and_the_fixture_restores_the_triggers() -> None:
    append_entries(2)
    ledger.checkpoint()
    before = installed_triggers(connection)
    unwrapped: Callable[[Any, list[str]], None] = BaseDatabaseOperations.execute_sql_flush.__wrapped__  # type: ignore[attr-defined]
    with pytest.raises(IntegrityError, match="append-only"):
        unwrapped(connection.ops, sql_flush(no_style(), connection))  # the triggers refuse to be emptied
    assert LedgerEntry.objects.count() == 2
    call_command("flush", interactive=False, verbosity=0)
    assert not LedgerEntry.objects.exists() and not Checkpoint.objects.exists()
    assert installed_triggers(connection) == before


@pytest.mark.postgres
def test_concurrent_appends_keep_a_gapless_chain() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (several connections writing at once)")
    per_thread = 25
    start = threading.Barrier(3)
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        from django.db import connection as own

        try:
            start.wait()
            append_entries(per_thread, marker=name)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            own.close()

    def signer() -> None:
        from django.db import connection as own

        try:
            start.wait()
            while any(t.is_alive() for t in threads[:2]):
                with contextlib.suppress(Invalid):  # nothing appended yet: nothing to sign
                    ledger.checkpoint()
                time.sleep(0.005)
        except BaseException as exc:
            errors.append(exc)
        finally:
            own.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in ("left-", "right-")]
    threads.append(threading.Thread(target=signer))
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    seqs = list(LedgerEntry.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, 2 * per_thread + 1))
    notes = [str(d["note"]) for d in LedgerChange.objects.values_list("data", flat=True) if d]
    assert sum(n.startswith("left-") for n in notes) == sum(n.startswith("right-") for n in notes) == per_thread
    result = ledger.verify()
    assert result.ok, result.problems  # including every checkpoint signed while the writers ran

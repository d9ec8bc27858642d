"""Test support for the ledger's append-only triggers (migration core 0003).

The triggers stay on in tests. :func:`ledger_triggers_dropped` lifts them for a block — to
tamper with the ledger on purpose, or to let a fixture empty the database — and puts back exactly
the definitions it found, read from the database catalogue (so they never drift from the
migration).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

LEDGER_TABLES = ("core_ledgerentry", "core_ledgerchange", "core_checkpoint")
PREFIX = "civmil_ledger"


def installed_triggers(connection: BaseDatabaseWrapper) -> list[tuple[str, str, str]]:
    """``(name, table, definition)`` of each ledger trigger in the database."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN (%s, %s, %s)"
                " AND name LIKE %s ORDER BY name", [*LEDGER_TABLES, PREFIX + "%"])
        elif connection.vendor == "postgresql":
            cursor.execute(
                "SELECT t.tgname, c.relname, pg_get_triggerdef(t.oid) FROM pg_trigger t"
                " JOIN pg_class c ON c.oid = t.tgrelid"
                " WHERE NOT t.tgisinternal AND c.relname IN (%s, %s, %s) AND t.tgname LIKE %s"
                " AND pg_table_is_visible(c.oid) ORDER BY t.tgname", [*LEDGER_TABLES, PREFIX + "%"])
        else:  # pragma: no cover - the project runs on SQLite and PostgreSQL only
            raise RuntimeError(f"no ledger triggers on {connection.vendor}")
        return [(str(a), str(b), str(c)) for a, b, c in cursor.fetchall()]


def _drop(connection: BaseDatabaseWrapper, name: str, table: str) -> None:
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"DROP TRIGGER {qn(name)} ON {qn(table)}")
        else:
            cursor.execute(f"DROP TRIGGER {qn(name)}")


@contextmanager
def ledger_triggers_dropped(using: str = "default") -> Iterator[None]:
    """Drop the ledger triggers for the block; restore the same definitions afterwards.

    Runs in one transaction (savepoint) with the block, so on PostgreSQL other connections never
    see the ledger unguarded, and an exception in the block rolls the drops back with it. Nesting
    is harmless: an inner use finds nothing to drop.
    """
    connection = connections[using]
    with transaction.atomic(using=using):
        found = installed_triggers(connection)
        for name, table, _definition in found:
            _drop(connection, name, table)
        # If the block raises, leaving the atomic block rolls the drops back (DDL is transactional
        # on both vendors), so the triggers are back either way.
        yield
        with connection.cursor() as cursor:
            for _name, _table, definition in found:
                cursor.execute(definition)


def raw(sql: str, params: Any = None, using: str = "default") -> None:
    """Run one statement as an attacker with database access would."""
    with connections[using].cursor() as cursor:
        cursor.execute(sql, params)


def allow_flush(original: Any) -> Any:
    """Wrap ``BaseDatabaseOperations.execute_sql_flush`` so that emptying the database lifts the
    ledger triggers for exactly that statement list, in the same transaction."""

    def execute_sql_flush(self: Any, sql_list: list[str]) -> None:
        with ledger_triggers_dropped(self.connection.alias):
            original(self, sql_list)

    execute_sql_flush.__wrapped__ = original  # type: ignore[attr-defined]
    return execute_sql_flush


def append_entries(count: int, *, action: str = "test.recorded", marker: str = "") -> list[Any]:
    """Append ``count`` entries through the real chain, one transaction each, as services do."""
    from civmil.core import ledger

    entries = []
    for i in range(count):
        with transaction.atomic():
            entries.append(ledger.append(None, action, "tests.thing", f"thing-{i}",
                                         {"n": i, "note": f"{marker}{i}", "tags": ["a", "b"]}))
    return entries


def bulk_ledger(count: int) -> None:
    """Write a valid chain of ``count`` entries quickly (bulk INSERTs, which the triggers allow)."""
    import datetime as dt

    from civmil.core.ledger import chain
    from civmil.core.models import LedgerChange, LedgerEntry

    last = LedgerEntry.objects.order_by("-seq").values_list("seq", "entry_hash").first()
    seq, prev = (last[0], last[1]) if last else (0, chain.GENESIS)
    start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    entries, changes = [], []
    for _ in range(count):
        seq += 1
        data = {"n": seq, "what": "bulk"}
        entry = LedgerEntry(seq=seq, recorded_at=start + dt.timedelta(seconds=seq), action="test.bulk",
                            object_type="tests.thing", object_id=str(seq), change_hash=chain.change_hash(data),
                            prev_hash=prev)
        entry.entry_hash = chain.entry_hash(chain.entry_fields(entry))
        prev = entry.entry_hash
        entries.append(entry)
        changes.append(LedgerChange(entry=entry, data=data))
    LedgerEntry.objects.bulk_create(entries, batch_size=2000)
    LedgerChange.objects.bulk_create(changes, batch_size=2000)

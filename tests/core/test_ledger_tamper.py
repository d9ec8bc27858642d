"""The database refuses to alter the ledger, and what an attacker who gets past it does is caught.

Each tamper test lifts the triggers (as someone with the database owner's rights could) and
alters the tables directly; ``verify`` (or ``verify --against`` a kept checkpoint) must name
the first bad entry.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction

from civmil.core import ledger
from civmil.core.ledger import chain
from civmil.core.models import Checkpoint, LedgerChange, LedgerEntry
from tests.ledger_support import append_entries, installed_triggers, ledger_triggers_dropped, raw

EXPECTED_TRIGGERS = {
    "sqlite": {"civmil_ledger_entry_no_update", "civmil_ledger_entry_no_delete", "civmil_ledger_checkpoint_no_update",
               "civmil_ledger_checkpoint_no_delete", "civmil_ledger_change_no_delete",
               "civmil_ledger_change_erase_only"},
    "postgresql": {"civmil_ledger_entry_append_only", "civmil_ledger_entry_no_truncate",
                   "civmil_ledger_checkpoint_append_only", "civmil_ledger_checkpoint_no_truncate",
                   "civmil_ledger_change_erase_only", "civmil_ledger_change_no_truncate"},
}


@pytest.fixture
def ten(db: Any) -> list[LedgerEntry]:
    entries = append_entries(10, marker="plain-")
    ledger.checkpoint()
    return entries


def refused(sql: str, params: Any = None) -> None:
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        raw(sql, params)


def _json(value: Any) -> str:
    return json.dumps(value)


def _set_data(seq: int) -> str:
    if connection.vendor == "postgresql":
        return f"UPDATE core_ledgerchange SET data = CAST(%s AS jsonb) WHERE seq = {seq:d}"  # noqa: S608
    return f"UPDATE core_ledgerchange SET data = %s WHERE seq = {seq:d}"  # noqa: S608


# -- the triggers ----------------------------------------------------------------------------------


def test_migration_installs_the_triggers(db: Any) -> None:
    assert {name for name, _table, _sql in installed_triggers(connection)} == EXPECTED_TRIGGERS[connection.vendor]


def test_triggers_refuse_update_and_delete_of_entries_and_checkpoints(ten: list[LedgerEntry]) -> None:
    refused("UPDATE core_ledgerentry SET action = 'x' WHERE seq = 3")
    refused("UPDATE core_ledgerentry SET seq = seq + 100")
    refused("DELETE FROM core_ledgerentry WHERE seq = 10")
    refused("DELETE FROM core_ledgerentry")
    refused("UPDATE core_checkpoint SET root = %s", ["0" * 64])
    refused("DELETE FROM core_checkpoint")
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerEntry.objects.filter(seq=2).update(object_id="changed")
    with pytest.raises(IntegrityError), transaction.atomic():
        Checkpoint.objects.all().delete()
    entry = LedgerEntry.objects.get(seq=4)
    entry.action = "forged"
    with pytest.raises(IntegrityError), transaction.atomic():
        entry.save()
    assert ledger.verify().ok


def test_triggers_refuse_delete_and_any_update_of_a_change_but_erasure(ten: list[LedgerEntry]) -> None:
    refused("DELETE FROM core_ledgerchange WHERE seq = 5")
    refused(_set_data(5), [_json({"n": 99})])
    refused("UPDATE core_ledgerchange SET data = NULL WHERE seq = 5")  # nulled without an erasure
    refused("UPDATE core_ledgerchange SET data = NULL, erased_by_seq = 7 WHERE seq = 5")  # not an erasure entry
    with transaction.atomic():  # an erasure entry for another entry does not open this one
        erasure = ledger.append(None, ledger.ERASED_ACTION, "core.ledgerchange", 6, {"erased_seq": 6})
    refused("UPDATE core_ledgerchange SET data = NULL, erased_by_seq = %s WHERE seq = 5", [erasure.seq])
    with pytest.raises(IntegrityError), transaction.atomic():
        LedgerChange.objects.filter(pk=5).delete()
    # the erasure the service does is the one update allowed, and only once
    raw("UPDATE core_ledgerchange SET data = NULL, erased_by_seq = %s WHERE seq = 6", [erasure.seq])
    refused(_set_data(6), [_json({"n": 6})])
    refused("UPDATE core_ledgerchange SET erased_by_seq = %s WHERE seq = 6", [erasure.seq])


@pytest.mark.postgres
def test_triggers_refuse_truncate_on_postgresql(ten: list[LedgerEntry]) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("TRUNCATE exists on PostgreSQL only")
    raw("SET CONSTRAINTS ALL IMMEDIATE")  # else the fixture's pending foreign-key checks forbid any TRUNCATE
    refused("TRUNCATE core_ledgerentry, core_ledgerchange, core_checkpoint")
    refused("TRUNCATE core_checkpoint")


def test_lifting_triggers_is_scoped_and_undone_even_on_error(ten: list[LedgerEntry]) -> None:
    before = installed_triggers(connection)
    with pytest.raises(IntegrityError), ledger_triggers_dropped():
        assert installed_triggers(connection) == []
        LedgerEntry.objects.filter(seq=1).update(object_id="lifted")  # allowed while lifted
        raw("INSERT INTO core_ledgerentry (seq, recorded_at, action, object_type, object_id, change_hash, "
            "prev_hash, entry_hash) SELECT 99, recorded_at, action, object_type, object_id, change_hash, prev_hash, "
            "entry_hash FROM core_ledgerentry WHERE seq = 2")  # duplicate entry_hash
    assert installed_triggers(connection) == before
    assert LedgerEntry.objects.get(seq=1).object_id != "lifted"  # rolled back with the block
    with ledger_triggers_dropped(), ledger_triggers_dropped():
        pass
    assert installed_triggers(connection) == before
    refused("DELETE FROM core_ledgerentry")


# -- tampering, caught -----------------------------------------------------------------------------


def test_altered_entry_is_named(ten: list[LedgerEntry]) -> None:
    with ledger_triggers_dropped():
        LedgerEntry.objects.filter(seq=4).update(object_id="someone-else")
    result = ledger.verify()
    assert result.first_bad_seq == 4
    assert "altered" in result.first.reason  # type: ignore[union-attr]
    with pytest.raises(CommandError) as failed:
        call_command("ledger", "verify")
    assert failed.value.returncode == 1
    assert "first bad entry #4" in str(failed.value)


def test_altered_change_is_named(ten: list[LedgerEntry]) -> None:
    with ledger_triggers_dropped():
        LedgerChange.objects.filter(pk=6).update(data={"n": 6, "note": "rewritten", "tags": ["a", "b"]})
    result = ledger.verify()
    assert result.first_bad_seq == 6
    assert "change hash" in result.first.reason  # type: ignore[union-attr]
    assert [p.seq for p in result.problems] == [6]


def test_deleted_entry_is_named(ten: list[LedgerEntry]) -> None:
    with ledger_triggers_dropped():
        raw("DELETE FROM core_ledgerchange WHERE seq = 5")
        raw("DELETE FROM core_ledgerentry WHERE seq = 5")
    result = ledger.verify()
    assert result.first_bad_seq == 5
    assert "missing" in result.first.reason  # type: ignore[union-attr]


def test_swapped_entries_are_named(ten: list[LedgerEntry]) -> None:
    with ledger_triggers_dropped():  # entries 3 and 4 change places (foreign keys are checked at commit)
        for table in ("core_ledgerchange", "core_ledgerentry"):
            raw(f"UPDATE {table} SET seq = 1000 WHERE seq = 3")  # noqa: S608
            raw(f"UPDATE {table} SET seq = 3 WHERE seq = 4")  # noqa: S608
            raw(f"UPDATE {table} SET seq = 4 WHERE seq = 1000")  # noqa: S608
    result = ledger.verify()
    assert result.first_bad_seq == 3
    assert {p.seq for p in result.problems} >= {3, 4}


def test_truncated_tail_is_caught_by_a_stored_checkpoint(ten: list[LedgerEntry]) -> None:
    with ledger_triggers_dropped():
        raw("DELETE FROM core_ledgerchange WHERE seq > 8")
        raw("DELETE FROM core_ledgerentry WHERE seq > 8")
    result = ledger.verify()
    assert result.first_bad_seq == 9
    assert "removed" in result.first.reason  # type: ignore[union-attr]


def test_nulled_change_without_erasure_entry_is_named(ten: list[LedgerEntry]) -> None:
    with ledger_triggers_dropped():
        LedgerChange.objects.filter(pk=7).update(data=None)
        LedgerChange.objects.filter(pk=8).update(data=None, erased_by_seq=9)
        raw("DELETE FROM core_ledgerchange WHERE seq = 9")
    result = ledger.verify()
    assert [p.seq for p in result.problems] == [7, 8, 9]
    assert all("erasure" in p.reason for p in result.problems)


def test_erasure_by_the_service_verifies_but_forging_its_marker_does_not(ten: list[LedgerEntry],
                                                                          member: Any) -> None:
    from civmil.core.choices import Role

    admin, approver = member(role=Role.ADMINISTRATOR), member(role=Role.OVERSIGHT)
    erasure = ledger.erase_change(admin.actor, 3, "personal data on request", approver.actor)
    assert ledger.verify().ok
    with ledger_triggers_dropped():  # point another entry's change at the same erasure entry
        LedgerChange.objects.filter(pk=2).update(data=None, erased_by_seq=erasure.seq)
    assert ledger.verify().first_bad_seq == 2


def test_tampered_stored_checkpoint_is_named(ten: list[LedgerEntry]) -> None:
    cp = Checkpoint.objects.get()
    with ledger_triggers_dropped():
        Checkpoint.objects.filter(pk=cp.pk).update(root="ab" * 32)
    result = ledger.verify()
    assert [(p.seq, p.checkpoint) for p in result.problems] == [(None, cp.pk)]
    assert "signature" in result.problems[0].reason


# -- a checkpoint kept outside the database -------------------------------------------------------


@pytest.fixture
def kept(ten: list[LedgerEntry], tmp_path: Path) -> Path:
    path = tmp_path / "kept.json"
    call_command("ledger", "checkpoint", "--output", str(path))
    append_entries(3)
    call_command("ledger", "verify", "--against", str(path))
    return path


def test_truncation_behind_a_kept_checkpoint(kept: Path) -> None:
    with ledger_triggers_dropped():  # drop the tail and every checkpoint that covered it
        raw("DELETE FROM core_checkpoint")
        raw("DELETE FROM core_ledgerchange WHERE seq > 7")
        raw("DELETE FROM core_ledgerentry WHERE seq > 7")
    assert ledger.verify().ok  # a bare chain cannot see it ...
    result = ledger.verify_against(json.loads(kept.read_text()))
    assert result.first_bad_seq == 8  # ... the kept checkpoint does
    assert "truncated" in result.first.reason  # type: ignore[union-attr]
    with pytest.raises(CommandError) as failed:
        call_command("ledger", "verify", "--against", str(kept))
    assert failed.value.returncode == 1
    assert "first bad entry #8" in str(failed.value)


def test_wholesale_rewrite_behind_a_kept_checkpoint(kept: Path) -> None:
    """Someone with the database and the signing key rewrites entry 2's change, re-hashes the
    whole chain and re-signs the checkpoints: everything inside the database agrees again."""
    with ledger_triggers_dropped():
        raw("DELETE FROM core_checkpoint")
        LedgerChange.objects.filter(pk=2).update(data={"n": 1, "note": "rewritten", "tags": []})
        prev = chain.GENESIS
        for entry in LedgerEntry.objects.select_related("change").order_by("seq"):
            entry.change_hash = chain.change_hash(entry.change.data)
            entry.prev_hash = prev
            entry.entry_hash = chain.entry_hash(chain.entry_fields(entry))
            LedgerEntry.objects.filter(seq=entry.seq).update(change_hash=entry.change_hash, prev_hash=prev,
                                                              entry_hash=entry.entry_hash)
            prev = entry.entry_hash
    ledger.checkpoint()
    assert ledger.verify().ok
    result = ledger.verify_against(json.loads(kept.read_text()))
    assert not result.ok
    assert "not the ones that were signed" in result.first.reason  # type: ignore[union-attr]
    with pytest.raises(CommandError) as failed:
        call_command("ledger", "verify", "--against", str(kept))
    assert failed.value.returncode == 1


def test_rewrite_with_stored_checkpoints_kept_names_the_range(ten: list[LedgerEntry]) -> None:
    """Re-hashing the chain without the key: the stored checkpoint no longer matches the tree."""
    append_entries(2)
    ledger.checkpoint()  # covers 12; the one from the fixture covers 10
    with ledger_triggers_dropped():
        prev = LedgerEntry.objects.get(seq=10).entry_hash
        for entry in LedgerEntry.objects.filter(seq__gt=10).order_by("seq"):
            entry.object_id = "rewritten"
            entry.prev_hash = prev
            entry.entry_hash = chain.entry_hash(chain.entry_fields(entry))
            LedgerEntry.objects.filter(seq=entry.seq).update(object_id="rewritten", prev_hash=prev,
                                                              entry_hash=entry.entry_hash)
            prev = entry.entry_hash
    result = ledger.verify()
    assert result.first_bad_seq == 11
    assert "#11 to #12" in result.first.reason  # type: ignore[union-attr]


def test_receipt_is_refused_when_the_ledger_disagrees_with_its_checkpoint(ten: list[LedgerEntry]) -> None:
    with ledger_triggers_dropped():
        LedgerEntry.objects.filter(seq=10).update(entry_hash="cd" * 32)
    with pytest.raises(ledger.LedgerIntegrityError):
        ledger.receipt(3)
    with ledger_triggers_dropped():
        raw("DELETE FROM core_ledgerchange WHERE seq > 8")
        raw("DELETE FROM core_ledgerentry WHERE seq > 8")
    with pytest.raises(ledger.LedgerIntegrityError):
        ledger.receipt(3)


def test_verify_on_a_database_without_a_ledger_says_so(tmp_path: Any) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "CIVMIL_VAR_DIR": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}",
           "DJANGO_SETTINGS_MODULE": "civmil.config.settings"}
    done = subprocess.run([sys.executable, "-m", "django", "ledger", "verify"], env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 2, done.stderr
    assert 'holds no ledger yet: run "civmil migrate" first' in done.stderr
    assert "Traceback" not in done.stderr


# -- garbled, missing and extra stored values: named, never a traceback ---------------------------

ENTRY = "core_ledgerentry"
CHANGE = "core_ledgerchange"
ENTRY_TEXT_COLUMNS = ("action", "object_type", "object_id", "change_hash", "prev_hash", "entry_hash")


class _Undone(Exception):
    """Raised to roll one tampering case back, schema changes included."""


@pytest.fixture
def signed(db: Any, member: Any) -> LedgerEntry:
    """Entries with a checkpoint; the one returned, in the middle, written by a member acting in
    the live space, so every one of its columns holds a value."""
    m = member()
    append_entries(2, marker="before-")
    with transaction.atomic():
        entry = ledger.append(m.actor, "test.recorded", "tests.thing", "thing-by-member",
                              {"n": 3, "note": "by a member"})
    append_entries(7, marker="after-")
    ledger.checkpoint()
    assert entry.space_id and entry.actor_user_id and entry.actor_membership_id
    assert 1 < entry.seq < LedgerEntry.objects.count()
    return entry


def _nulls_allowed(table: str) -> None:
    """Let every column of ``table`` hold NULL, as the database's owner could (inside the block)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for column in ("recorded_at", *ENTRY_TEXT_COLUMNS) if table == ENTRY else ():
                cursor.execute(f"ALTER TABLE {table} ALTER COLUMN {column} DROP NOT NULL")
            return
        cursor.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = %s", [table])
        create = cursor.fetchone()[0]
        loose = f"{table}__loose"
        cursor.execute(create.replace(f'"{table}"', f'"{loose}"', 1).replace(" NOT NULL", ""))
        cursor.execute(f'INSERT INTO "{loose}" SELECT * FROM "{table}"')  # noqa: S608
        cursor.execute(f'DROP TABLE "{table}"')
        cursor.execute(f'ALTER TABLE "{loose}" RENAME TO "{table}"')


def _unchecked(sql: str) -> None:
    """Run ``sql`` with SQLite's CHECK constraints lifted (text that is no JSON), as its owner could."""
    raw("PRAGMA ignore_check_constraints = ON")
    try:
        raw(sql)
    finally:
        raw("PRAGMA ignore_check_constraints = OFF")


Tamper = Any  # a function of the tampered entry's seq


def _set(table: str, column: str, value: str) -> Tamper:
    return lambda seq: raw(f"UPDATE {table} SET {column} = {value} WHERE seq = {seq:d}")  # noqa: S608


def _both_seqs(value: str) -> Tamper:
    """Change the key of the entry and of its stored change alike (no row is left without the other)."""
    def tamper(seq: int) -> None:
        raw(f"UPDATE {CHANGE} SET seq = {value} WHERE seq = {seq:d}")  # noqa: S608
        raw(f"UPDATE {ENTRY} SET seq = {value} WHERE seq = {seq:d}")  # noqa: S608
    return tamper


def _null_seq(seq: int) -> None:
    raw(f"DELETE FROM {CHANGE} WHERE seq = {seq:d}")  # noqa: S608
    _nulls_allowed(ENTRY)
    raw(f"UPDATE {ENTRY} SET seq = NULL WHERE seq = {seq:d}")  # noqa: S608


def _null(column: str) -> Tamper:
    def tamper(seq: int) -> None:
        _nulls_allowed(ENTRY)
        raw(f"UPDATE {ENTRY} SET {column} = NULL WHERE seq = {seq:d}")  # noqa: S608
    return tamper


def _extra_entry(seq: int) -> None:
    raw(f"INSERT INTO {ENTRY} (seq, recorded_at, space_id, actor_user_id, actor_membership_id, action, "  # noqa: S608
        f"object_type, object_id, change_hash, prev_hash, entry_hash) SELECT seq + 1000, recorded_at, space_id, "
        f"actor_user_id, actor_membership_id, action, object_type, object_id, change_hash, prev_hash, "
        f"'{'e' * 64}' FROM {ENTRY} WHERE seq = {seq:d}")


def _extra_change(seq: int) -> None:
    raw(f"INSERT INTO {CHANGE} (seq, data, erased_by_seq) VALUES ({seq + 1000:d}, '{{}}', NULL)")  # noqa: S608


def _text(column: str, suffix: str) -> str:
    return f"{column} || '{suffix}'"


#: Values only SQLite stores (PostgreSQL's column types refuse them).
_SQLITE_ONLY = ("text is no number", "a fraction", "text is no JSON", "text is no id", "bytes", "no such month",
                "a number in a time", "after the time", "after the id", "nested beyond")
#: Cases PostgreSQL cannot even store: its primary key is never NULL, and its hash columns hold
#: at most 64 characters.
_POSTGRESQL_REFUSES = {("seq", "missing"), *((column, "extra: a character appended")
                                            for column in ("change_hash", "prev_hash", "entry_hash"))}
LAST = "the entry after the last"
EXTRA = "the extra change's number"

# (column, what, tampering, the entry the first problem names). ``what``: garbled, missing or extra.
CASES: list[tuple[str, str, Tamper, str]] = [
    # the entry
    ("seq", "garbled: text is no number", _both_seqs("'three'"), "it"),
    ("seq", "garbled: a fraction", _both_seqs("seq + 0.5"), "it"),
    ("seq", "missing", _null_seq, "it"),
    ("seq", "extra: another entry under a number after the end", _extra_entry, LAST),
    ("recorded_at", "garbled: no such month", _set(ENTRY, "recorded_at", "'2025-13-45 00:00:00'"), "it"),
    ("recorded_at", "garbled: a number in a time", _set(ENTRY, "recorded_at", "12345"), "it"),
    ("recorded_at", "missing", _null("recorded_at"), "it"),
    ("recorded_at", "extra: text after the time", _set(ENTRY, "recorded_at", _text("recorded_at", " and more")),
     "it"),
    ("space_id", "garbled: text is no id", _set(ENTRY, "space_id", "'not-a-uuid'"), "it"),
    ("space_id", "missing", _set(ENTRY, "space_id", "NULL"), "it"),
    ("space_id", "extra: characters after the id", _set(ENTRY, "space_id", _text("space_id", "ff")), "it"),
    ("actor_user_id", "garbled: text is no number", _set(ENTRY, "actor_user_id", "'abc'"), "it"),
    ("actor_user_id", "missing", _set(ENTRY, "actor_user_id", "NULL"), "it"),
    ("actor_user_id", "extra: digits beyond any id", _set(ENTRY, "actor_user_id", "9007199254740993"), "it"),
    ("actor_membership_id", "garbled: text is no id", _set(ENTRY, "actor_membership_id", "'zz'"), "it"),
    ("actor_membership_id", "missing", _set(ENTRY, "actor_membership_id", "NULL"), "it"),
    ("actor_membership_id", "extra: characters after the id",
     _set(ENTRY, "actor_membership_id", _text("actor_membership_id", "0")), "it"),
    *[(column, "garbled: bytes that are no text", _set(ENTRY, column, "x'ff00fe'"), "it")
      for column in ENTRY_TEXT_COLUMNS],
    *[(column, "missing", _null(column), "it") for column in ENTRY_TEXT_COLUMNS],
    *[(column, "extra: a character appended", _set(ENTRY, column, _text(column, "0")), "it")
      for column in ENTRY_TEXT_COLUMNS],
    ("object_id", "garbled: a digit that is no number", _set(ENTRY, "object_id", "'²'"), "it"),
    # the stored change
    ("change seq", "garbled: text is no number", _set(CHANGE, "seq", "'three'"), "it"),
    ("change seq", "missing: the row is gone", lambda seq: raw(f"DELETE FROM {CHANGE} WHERE seq = {seq:d}"),  # noqa: S608
     "it"),
    ("change seq", "extra: a change with no entry", _extra_change, EXTRA),
    ("data", "garbled: text is no JSON", lambda seq: _unchecked(
        f"UPDATE {CHANGE} SET data = '{{not json' WHERE seq = {seq:d}"), "it"),  # noqa: S608
    ("data", "garbled: nested beyond any reader", lambda seq: _unchecked(
        f"UPDATE {CHANGE} SET data = '{'[' * 5000}{']' * 5000}' WHERE seq = {seq:d}"), "it"),  # noqa: S608
    ("data", "garbled: a number beyond JSON's range",
     _set(CHANGE, "data", "'{\"n\": 123456789012345678901234567890}'"), "it"),
    ("data", "missing", _set(CHANGE, "data", "NULL"), "it"),
    ("data", "extra: a key added", _set(CHANGE, "data", "'{\"n\": 3, \"note\": \"by a member\", \"extra\": 1}'"),
     "it"),
    ("erased_by_seq", "garbled: text is no number", _set(CHANGE, "erased_by_seq", "'abc'"), "it"),
    ("erased_by_seq", "extra: marked erased but still holding its data", _set(CHANGE, "erased_by_seq", "1"), "it"),
]


@pytest.mark.parametrize(("column", "what", "tamper", "named"), CASES, ids=[f"{c[0]}: {c[1]}" for c in CASES])
def test_a_garbled_missing_or_extra_stored_value_is_named_without_a_traceback(
        signed: LedgerEntry, column: str, what: str, tamper: Tamper, named: str) -> None:
    if connection.vendor != "sqlite" and (any(word in what for word in _SQLITE_ONLY)
                                          or (column, what) in _POSTGRESQL_REFUSES):
        pytest.skip("PostgreSQL's column types refuse this value")
    last = LedgerEntry.objects.count()
    expected = {"it": signed.seq, LAST: last + 1, EXTRA: signed.seq + 1000}[named]
    with pytest.raises(_Undone), transaction.atomic():
        with ledger_triggers_dropped():
            tamper(signed.seq)
        result = ledger.verify()
        assert result.first_bad_seq == expected, [str(p) for p in result.problems]
        with pytest.raises(CommandError) as failed:
            call_command("ledger", "verify")
        assert failed.value.returncode == 1
        assert f"first bad entry #{expected}:" in str(failed.value)
        raise _Undone
    assert ledger.verify().ok  # undone, schema and all


def test_an_erased_changes_missing_erasure_mark_is_named(signed: LedgerEntry, member: Any) -> None:
    from civmil.core.choices import Role

    ledger.erase_change(member(role=Role.ADMINISTRATOR).actor, signed.seq, "personal data on request",
                        member(role=Role.OVERSIGHT).actor)
    assert ledger.verify().ok
    with ledger_triggers_dropped():
        raw(f"UPDATE {CHANGE} SET erased_by_seq = NULL WHERE seq = {signed.seq:d}")  # noqa: S608
    result = ledger.verify()
    assert result.first_bad_seq == signed.seq
    assert "erasure" in result.first.reason  # type: ignore[union-attr]


@pytest.mark.skipif("connection.vendor != 'sqlite'")
def test_a_garbled_key_is_named_by_its_place_in_the_chain_with_its_column(signed: LedgerEntry,
                                                                          tmp_path: Path) -> None:
    kept = tmp_path / "kept.json"
    call_command("ledger", "checkpoint", "--output", str(kept))
    with ledger_triggers_dropped():
        _both_seqs("'three'")(signed.seq)
        raw(f"UPDATE {ENTRY} SET actor_membership_id = 'zz' WHERE seq = 'three'")  # noqa: S608
    mine = [str(p) for p in ledger.verify().problems if p.seq == signed.seq]
    assert any("seq" in r and "'three'" in r for r in mine), mine
    assert any("actor_membership_id" in r and "'zz'" in r for r in mine), mine
    with pytest.raises(CommandError) as failed:  # a kept checkpoint is checked as well, without a traceback
        call_command("ledger", "verify", "--against", str(kept))
    assert failed.value.returncode == 1

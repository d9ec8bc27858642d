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

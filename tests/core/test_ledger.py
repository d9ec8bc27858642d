"""The ledger on an intact database: Merkle tree, checkpoints, receipts, erasure, command line."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from hypothesis import given
from hypothesis import strategies as st
from nacl.signing import SigningKey
from pymerkle import InvalidProof

from civmil.core import ledger
from civmil.core.choices import Role
from civmil.core.errors import Forbidden, Invalid, NotFound
from civmil.core.ledger.tree import LedgerTree
from civmil.core.models import Checkpoint, LedgerChange, LedgerEntry
from tests.ledger_support import append_entries, bulk_ledger

# -- an independent RFC 9162 reference, written from the RFC and not from the code under test ----


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def rfc_root(leaves: list[bytes]) -> bytes:
    """MTH(D[n]) of RFC 9162, section 2.1.1."""
    n = len(leaves)
    if n == 0:
        return _h(b"")
    if n == 1:
        return _h(b"\x00" + leaves[0])
    k = 1
    while k * 2 < n:
        k *= 2
    return _h(b"\x01" + rfc_root(leaves[:k]) + rfc_root(leaves[k:]))


def rfc_verify_inclusion(leaf: bytes, index0: int, size: int, audit_path: list[bytes], root: bytes) -> bool:
    """RFC 9162, section 2.1.3.2."""
    if index0 >= size:
        return False
    fn, sn, r = index0, size - 1, _h(b"\x00" + leaf)
    for p in audit_path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = _h(b"\x01" + p + r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = _h(b"\x01" + r + p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


hex_hashes = st.lists(st.binary(min_size=32, max_size=32).map(bytes.hex), min_size=1, max_size=70)


@given(hashes=hex_hashes, data=st.data())
def test_tree_is_rfc9162_over_entry_hashes(hashes: list[str], data: st.DataObject) -> None:
    tree = LedgerTree.from_hashes(hashes)
    leaves = [bytes.fromhex(h) for h in hashes]
    size = len(hashes)
    assert tree.get_root() == rfc_root(leaves)
    later = data.draw(st.integers(1, size), label="later")
    index = data.draw(st.integers(1, later), label="index")
    proof = tree.prove_inclusion(index, later)
    root = tree.get_root(later)
    assert root == rfc_root(leaves[:later])
    # pymerkle's path is [leaf hash, audit path bottom-up]: the audit path is the RFC's
    assert rfc_verify_inclusion(leaves[index - 1], index - 1, later, proof.path[1:], root)
    ledger.tree.check_inclusion(hashes[index - 1], index, later, root, proof)
    prior = data.draw(st.integers(1, later), label="prior")
    consistency = tree.prove_consistency(prior, later)
    ledger.tree.check_consistency(prior, tree.get_root(prior), later, root, consistency)
    if prior < later:
        other = [*leaves[:prior - 1], _h(leaves[prior - 1])]  # a different last leaf of the prior tree
        with pytest.raises(InvalidProof):
            ledger.tree.check_consistency(prior, rfc_root(other), later, root, consistency)


def test_db_tree_matches_reference_and_follows_appends(db: Any) -> None:
    append_entries(5)
    tree = LedgerTree()
    hashes = list(LedgerEntry.objects.order_by("seq").values_list("entry_hash", flat=True))
    assert tree.get_size() == 5
    assert tree.get_root() == rfc_root([bytes.fromhex(h) for h in hashes])
    with transaction.atomic():
        entry = ledger.append(None, "test.recorded", "tests.thing", "x", {"n": "x"})
    assert tree.get_size() == 5  # a tree is a snapshot ...
    assert tree.append_entry(entry) == 6  # ... that can be told of an append
    assert tree.root_hex() == LedgerTree().root_hex()
    with pytest.raises(ValueError, match="not the next leaf"):
        tree.append_entry(entry)


# -- chain and verify on an intact ledger ---------------------------------------------------------


def test_verify_passes_on_ledger_written_by_real_services(member: Any) -> None:
    member("humanitarian")
    member("military", role=Role.ADMINISTRATOR)
    ledger.checkpoint()
    member("police")
    result = ledger.verify()
    assert result.ok, result.problems
    assert result.entries == LedgerEntry.objects.count() >= 6
    assert result.checkpoints == 1
    assert list(LedgerEntry.objects.values_list("seq", flat=True)) == list(range(1, result.entries + 1))


def test_empty_ledger_verifies_and_cannot_be_checkpointed(db: Any) -> None:
    assert ledger.verify().ok
    with pytest.raises(Invalid):
        ledger.checkpoint()


def test_a_change_of_none_is_intact_not_erased(db: Any) -> None:
    with transaction.atomic():
        ledger.append(None, "test.nothing", "tests.thing", 1, None)
    assert LedgerChange.objects.get().data is None
    assert ledger.verify().ok


def test_verify_handles_ten_thousand_entries_in_seconds(db: Any) -> None:
    bulk_ledger(10_000)
    ledger.checkpoint()
    bulk_ledger(17)
    ledger.checkpoint()
    started = time.monotonic()
    result = ledger.verify()
    took = time.monotonic() - started
    assert result.ok, result.problems[:3]
    assert result.entries == 10_017
    assert took < 15, f"verify took {took:.1f}s"
    started = time.monotonic()
    assert ledger.verify_receipt(ledger.receipt(4321))
    assert time.monotonic() - started < 5


# -- checkpoints -----------------------------------------------------------------------------------


def test_checkpoint_signs_size_and_root_with_platform_key(db: Any, settings: Any) -> None:
    append_entries(3)
    cp = ledger.checkpoint()
    assert cp.tree_size == 3
    assert cp.root == LedgerTree().root_hex(3)
    expected_key = SigningKey(bytes.fromhex(settings.CIVMIL_LEDGER_SIGNING_KEY)).verify_key.encode().hex()
    assert cp.public_key == expected_key == ledger.public_key()
    data = ledger.checkpoint_to_dict(cp)
    assert ledger.checkpoint_problem(data) is None
    for name, value in (("root", "0" * 64), ("tree_size", 4), ("signed_at", "2020-01-01T00:00:00Z")):
        assert ledger.checkpoint_problem({**data, name: value}) == "the signature does not verify"


def test_periodic_checkpoint_signs_only_when_the_ledger_grew(db: Any) -> None:
    assert ledger.periodic_checkpoint() is None  # empty ledger
    append_entries(2)
    first = ledger.periodic_checkpoint()
    assert first is not None and first.tree_size == 2
    assert ledger.periodic_checkpoint() is None
    append_entries(1)
    second = ledger.periodic_checkpoint()
    assert second is not None and second.tree_size == 3
    assert Checkpoint.objects.count() == 2


def test_checkpoint_by_a_key_the_platform_does_not_hold_is_reported(db: Any, settings: Any) -> None:
    append_entries(2)
    ledger.checkpoint()
    platform_key = settings.CIVMIL_LEDGER_SIGNING_KEY
    settings.CIVMIL_LEDGER_SIGNING_KEY = SigningKey.generate().encode().hex()
    foreign = ledger.checkpoint()  # a valid signature, but not by the platform's key
    settings.CIVMIL_LEDGER_SIGNING_KEY = platform_key
    result = ledger.verify()
    assert [p.checkpoint for p in result.problems] == [foreign.pk]
    assert "does not trust" in result.problems[0].reason
    settings.CIVMIL_LEDGER_TRUSTED_KEYS = [foreign.public_key]  # e.g. the key before a rotation
    assert ledger.verify().ok


# -- receipts --------------------------------------------------------------------------------------


def test_receipt_proves_entry_against_latest_covering_checkpoint(db: Any) -> None:
    append_entries(6)
    first = ledger.checkpoint()
    append_entries(3)
    second = ledger.checkpoint()
    data = ledger.receipt(4)
    assert data["checkpoint"]["tree_size"] == 9 == second.tree_size != first.tree_size
    assert data["entry"]["seq"] == 4
    assert data["public_key"] == ledger.public_key()
    assert ledger.verify_receipt(data, public_key=ledger.public_key())
    assert Checkpoint.objects.count() == 2  # reused, none signed on demand
    stored = LedgerChange.objects.get(pk=4).data
    assert isinstance(stored, dict)
    assert ledger.verify_receipt(data, change=stored)
    assert not ledger.verify_receipt(data, change={**stored, "n": 99})
    assert "note" not in json.dumps(data)  # the change itself never travels in a receipt


def test_receipt_signs_on_demand_but_rate_capped(db: Any, settings: Any) -> None:
    settings.CIVMIL_LEDGER_CHECKPOINT_INTERVAL = 3600
    append_entries(2)
    assert Checkpoint.objects.count() == 0
    assert ledger.verify_receipt(ledger.receipt(2))  # nothing covers #2: signed on demand
    assert Checkpoint.objects.count() == 1
    append_entries(1)
    with pytest.raises(ledger.ReceiptPending) as pending:
        ledger.receipt(3)
    assert 3500 < pending.value.retry_after <= 3600
    assert Checkpoint.objects.count() == 1
    assert ledger.receipt(1)["checkpoint"]["tree_size"] == 2  # covered entries still get receipts
    settings.CIVMIL_LEDGER_CHECKPOINT_INTERVAL = 0
    assert ledger.receipt(3)["checkpoint"]["tree_size"] == 3
    with pytest.raises(NotFound):
        ledger.receipt(99)


def test_receipt_verifies_offline_without_django(db: Any, tmp_path: Path) -> None:
    append_entries(4)
    data = ledger.receipt(3)
    path = tmp_path / "receipt.json"
    path.write_text(json.dumps(data))
    tampered = json.loads(json.dumps(data))
    tampered["entry"]["object_id"] = "thing-other"
    bad = tmp_path / "tampered.json"
    bad.write_text(json.dumps(tampered))
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    script = (
        "import json, sys\n"
        "from django.conf import settings\n"
        "from civmil.core.ledger.receipts import verify_receipt\n"
        "for name in sys.argv[1:]:\n"
        "    check = verify_receipt(json.load(open(name)))\n"
        "    print(check.ok, check.reason)\n"
        "print('configured', settings.configured)\n"
    )
    out = subprocess.run([sys.executable, "-c", script, str(path), str(bad)], env=env, capture_output=True,
                         text=True, check=True, timeout=60).stdout.splitlines()
    assert out == ["True ", "False the entry's fields do not match its hash", "configured False"]


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _leaves(v, (*path, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _leaves(v, (*path, i))]
    return [path]


def _changed(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, str):
        return value + "0"
    return "0"


def _set(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    copy = json.loads(json.dumps(data))
    target = copy
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return copy


@pytest.fixture
def a_receipt(db: Any) -> dict[str, Any]:
    append_entries(11)
    ledger.checkpoint()
    return ledger.receipt(6)


def test_every_single_altered_value_of_a_receipt_fails(a_receipt: dict[str, Any]) -> None:
    paths = _leaves(a_receipt)
    assert len(paths) > 25
    for path in paths:
        original: Any = a_receipt
        for step in path:
            original = original[step]
        check = ledger.verify_receipt(_set(a_receipt, path, _changed(original)))
        assert not check.ok, f"altering {path} went unnoticed"
    assert ledger.verify_receipt(a_receipt)


@given(data=st.data())
def test_a_flipped_hex_digit_anywhere_in_a_receipt_fails(a_receipt: dict[str, Any], data: st.DataObject) -> None:
    hex_paths = [p for p in _leaves(a_receipt) if p[-1] in ("entry_hash", "change_hash", "prev_hash", "root",
                                                              "signature", "public_key") or "path" in p]
    path = data.draw(st.sampled_from(hex_paths), label="path")
    original: Any = a_receipt
    for step in path:
        original = original[step]
    position = data.draw(st.integers(0, len(original) - 1), label="position")
    digit = data.draw(st.sampled_from([d for d in "0123456789abcdef" if d != original[position].lower()]))
    changed = original[:position] + digit + original[position + 1:]
    assert not ledger.verify_receipt(_set(a_receipt, path, changed))


def test_receipt_for_a_key_you_do_not_trust_fails(a_receipt: dict[str, Any]) -> None:
    other = SigningKey.generate().verify_key.encode().hex()
    check = ledger.verify_receipt(a_receipt, public_key=other)
    assert not check.ok and "trust" in check.reason
    assert not ledger.verify_receipt({"kind": "civmil-ledger-receipt", "version": 1})
    assert not ledger.verify_receipt([])


# -- erasure ---------------------------------------------------------------------------------------


@pytest.fixture
def admins(member: Any) -> tuple[Any, Any]:
    return member("civilian", role=Role.ADMINISTRATOR), member("civilian", role=Role.ADMINISTRATOR)


def _secret_entry() -> LedgerEntry:
    with transaction.atomic():
        return ledger.append(None, "report.submitted", "tests.report", "r1",
                             {"reporter_phone": "+000-MARKER-PHONE", "text": "seen at the well"})


def test_erasure_nulls_the_change_records_who_why_and_keeps_ledger_verifiable(admins: tuple[Any, Any]) -> None:
    admin, approver = admins
    secret = _secret_entry()
    ledger.checkpoint()
    erasure = ledger.erase_change(admin.actor, secret.seq, "Reporter asked for erasure (ticket 12)", approver.actor)
    change = LedgerChange.objects.get(pk=secret.seq)
    assert change.data is None and change.erased_by_seq == erasure.seq
    assert (erasure.action, erasure.object_type, erasure.object_id) == ("ledger.erased", "core.ledgerchange",
                                                                        str(secret.seq))
    assert erasure.actor_user_id == admin.user.pk
    recorded = LedgerChange.objects.get(pk=erasure.seq).data
    assert recorded == {"erased_seq": secret.seq, "reason": "Reporter asked for erasure (ticket 12)",
                        "approved_by_user": approver.user.pk, "approved_by_membership": str(approver.membership.pk),
                        "approved_by_role": "administrator"}
    everything = json.dumps(list(LedgerChange.objects.values_list("data", flat=True)))
    assert "MARKER" not in everything
    result = ledger.verify()
    assert result.ok, result.problems
    assert ledger.verify_receipt(ledger.receipt(secret.seq))  # the entry itself is still provable


def test_erasure_is_refused_without_proper_authority(admins: tuple[Any, Any], member: Any) -> None:
    admin, approver = admins
    staff = member("civilian")
    secret = _secret_entry()
    with pytest.raises(Forbidden):
        ledger.erase_change(staff.actor, secret.seq, "why", approver.actor)
    with pytest.raises(Forbidden):
        ledger.erase_change(admin.actor, secret.seq, "why", admin.actor)  # approving one's own erasure
    with pytest.raises(Forbidden):
        ledger.erase_change(admin.actor, secret.seq, "why", staff.actor)  # approver without a privileged role
    with pytest.raises(Invalid):
        ledger.erase_change(admin.actor, secret.seq, "   ", approver.actor)
    with pytest.raises(NotFound):
        ledger.erase_change(admin.actor, 999, "why", approver.actor)
    assert LedgerChange.objects.get(pk=secret.seq).data is not None
    erasure = ledger.erase_change(None, secret.seq, "operator at the console", approver.actor)
    with pytest.raises(Invalid):
        ledger.erase_change(admin.actor, secret.seq, "again", approver.actor)
    with pytest.raises(Invalid):
        ledger.erase_change(admin.actor, erasure.seq, "erase the erasure", approver.actor)
    assert ledger.verify().ok


def test_erasure_hooks_see_the_erased_change_and_can_abort(admins: tuple[Any, Any]) -> None:
    admin, approver = admins
    secret = _secret_entry()
    seen: list[ledger.Erasure] = []

    def purge_copies(erasure: ledger.Erasure) -> None:
        seen.append(erasure)

    def failing(erasure: ledger.Erasure) -> None:
        raise RuntimeError("search index unavailable")

    ledger.register_erasure_hook(failing)
    try:
        with pytest.raises(RuntimeError):
            ledger.erase_change(admin.actor, secret.seq, "why", approver.actor)
    finally:
        ledger.unregister_erasure_hook(failing)
    assert LedgerChange.objects.get(pk=secret.seq).data is not None  # nothing half-done
    assert not LedgerEntry.objects.filter(action="ledger.erased").exists()
    ledger.register_erasure_hook(purge_copies)
    try:
        erasure = ledger.erase_change(admin.actor, secret.seq, "why", approver.actor)
    finally:
        ledger.unregister_erasure_hook(purge_copies)
    assert [(e.entry.seq, e.erasure.seq, e.data["reporter_phone"]) for e in seen] == [
        (secret.seq, erasure.seq, "+000-MARKER-PHONE")]


# -- command line ----------------------------------------------------------------------------------


def test_command_verify_and_checkpoint_round_trip(db: Any, tmp_path: Path, capsys: Any) -> None:
    append_entries(7)
    call_command("ledger", "verify")
    assert "ledger intact: 7 entries, 0 checkpoints verified" in capsys.readouterr().out
    kept = tmp_path / "kept.json"
    call_command("ledger", "checkpoint", "--output", str(kept))
    out = capsys.readouterr().out
    assert "7 entries" in out and str(kept) in out
    data = json.loads(kept.read_text())
    assert data == ledger.checkpoint_to_dict(Checkpoint.objects.get())
    append_entries(2)
    call_command("ledger", "verify", "--against", str(kept))
    assert "ledger intact: 9 entries, 2 checkpoints verified" in capsys.readouterr().out
    call_command("ledger", "checkpoint")
    printed = json.loads(capsys.readouterr().out)
    assert printed["tree_size"] == 9 and ledger.checkpoint_problem(printed) is None


def test_command_refuses_unusable_input_with_status_2(db: Any, tmp_path: Path) -> None:
    with pytest.raises(CommandError) as empty:
        call_command("ledger", "checkpoint")
    assert empty.value.returncode == 2
    append_entries(1)
    with pytest.raises(CommandError) as missing:
        call_command("ledger", "verify", "--against", str(tmp_path / "nope.json"))
    assert missing.value.returncode == 2
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    with pytest.raises(CommandError) as bad:
        call_command("ledger", "verify", "--against", str(garbage))
    assert bad.value.returncode == 2 and "not a JSON checkpoint" in str(bad.value)
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps({"kind": "civmil-ledger-checkpoint", "version": 1, "tree_size": 1,
                                  "root": "0" * 64, "signed_at": "x", "public_key": "0" * 64,
                                  "signature": "0" * 128}))
    with pytest.raises(CommandError) as unsigned:
        call_command("ledger", "verify", "--against", str(forged))
    assert unsigned.value.returncode == 1 and "signature" in str(unsigned.value)


def test_civmil_command_exit_status(tmp_path: Path) -> None:
    """The real executable, on its own SQLite file: 0 when intact, 2 when there is nothing to sign."""
    civmil = Path(sys.executable).parent / "civmil"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}", "CIVMIL_VAR_DIR": str(tmp_path)}
    env.pop("DJANGO_SETTINGS_MODULE", None)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(civmil), *args], env=env, capture_output=True, text=True, timeout=300)

    assert run("migrate", "--skip-checks", "-v0").returncode == 0
    intact = run("ledger", "verify")
    assert intact.returncode == 0 and intact.stdout.startswith("ledger intact: 0 entries")
    key = (tmp_path / "ledger_signing_key").read_text().strip()
    from nacl.encoding import HexEncoder
    from nacl.signing import SigningKey

    public = SigningKey(key, encoder=HexEncoder).verify_key.encode(encoder=HexEncoder).decode()
    assert f"signing key: {public}" in intact.stdout  # to compare with a copy kept apart
    empty = run("ledger", "checkpoint")
    assert empty.returncode == 2 and "nothing to sign" in empty.stderr
    usage = run("ledger")
    assert usage.returncode != 0

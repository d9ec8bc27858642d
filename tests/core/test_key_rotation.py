"""``civmil ledger rotate-key``: a new key in var/, the former one trusted, old checkpoints verify."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from nacl.signing import SigningKey

from civmil.core import ledger
from civmil.core.ledger import signing
from civmil.core.models import Checkpoint, LedgerEntry
from tests.factories import make_org


@pytest.fixture
def var_key(settings: Any, tmp_path: Path) -> Path:
    """A var/ dir whose ledger_signing_key is the key in use (as when the environment sets none)."""
    seed = SigningKey.generate().encode().hex()
    (tmp_path / "ledger_signing_key").write_text(seed + "\n")
    settings.CIVMIL_VAR_DIR = tmp_path
    settings.CIVMIL_LEDGER_SIGNING_KEY = seed
    return tmp_path


def _rotate() -> str:
    out = io.StringIO()
    call_command("ledger", "rotate-key", stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_checkpoints_signed_before_a_rotation_still_verify(db: Any, var_key: Path, settings: Any) -> None:
    make_org()
    before = ledger.checkpoint()
    old_public = ledger.public_key()
    output = _rotate()
    new_public = ledger.public_key()
    assert new_public != old_public and new_public in output
    # The new seed replaced the file, owner-only; the former public key is listed as trusted.
    seed = (var_key / "ledger_signing_key").read_text().strip()
    assert seed == settings.CIVMIL_LEDGER_SIGNING_KEY
    assert (var_key / "ledger_signing_key").stat().st_mode & 0o077 == 0
    assert signing.read_trusted_keys_file(var_key / "ledger_trusted_keys") == [old_public]
    # The rotation is ledgered, and a checkpoint signed with the new key covers it.
    entry = LedgerEntry.objects.order_by("-seq").first()
    assert entry is not None and entry.action == "ledger.key_rotated"
    after = Checkpoint.objects.order_by("-id").first()
    assert after is not None and after.public_key == new_public and after.tree_size == entry.seq
    assert before.public_key == old_public
    result = ledger.verify()
    assert result.ok, result.problems
    assert result.checkpoints == 2
    # A fresh process reads the trusted keys from var/ (nothing in the settings).
    assert getattr(settings, "CIVMIL_LEDGER_TRUSTED_KEYS", ()) in ((), None, [])
    assert signing.trusted_keys() == {old_public, new_public}


def test_a_checkpoint_signed_by_an_unknown_key_does_not_verify(db: Any, var_key: Path, settings: Any) -> None:
    make_org()
    _rotate()
    current = settings.CIVMIL_LEDGER_SIGNING_KEY
    settings.CIVMIL_LEDGER_SIGNING_KEY = SigningKey.generate().encode().hex()  # never rotated in
    stranger = ledger.checkpoint()
    settings.CIVMIL_LEDGER_SIGNING_KEY = current
    result = ledger.verify()
    assert not result.ok
    assert [p.checkpoint for p in result.problems] == [stranger.pk]


def test_two_rotations_keep_both_former_keys(db: Any, var_key: Path) -> None:
    make_org()
    first = ledger.public_key()
    _rotate()
    second = ledger.public_key()
    _rotate()
    assert signing.read_trusted_keys_file(var_key / "ledger_trusted_keys") == [first, second]
    assert ledger.verify().ok


def test_key_from_the_environment_is_not_rotated_but_explained(db: Any, settings: Any, tmp_path: Path) -> None:
    settings.CIVMIL_VAR_DIR = tmp_path  # no ledger_signing_key file: the key came from the environment
    make_org()
    with pytest.raises(CommandError) as caught:
        _rotate()
    assert "CIVMIL_LEDGER_SIGNING_KEY" in str(caught.value)
    assert ledger.public_key() in str(caught.value)
    assert not (tmp_path / "ledger_signing_key").exists()
    assert not LedgerEntry.objects.filter(action="ledger.key_rotated").exists()


def test_a_malformed_trusted_keys_file_is_reported(db: Any, var_key: Path) -> None:
    from django.core.exceptions import ImproperlyConfigured

    (var_key / "ledger_trusted_keys").write_text("# former keys\nnot-a-key\n")
    with pytest.raises(ImproperlyConfigured, match="ledger_trusted_keys"):
        signing.trusted_keys()

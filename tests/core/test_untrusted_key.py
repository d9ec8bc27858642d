"""A checkpoint signed by a key the platform does not trust is reported with that key's fingerprint
and the file where trusted keys are listed, so that the operator can tell a former key from a
stranger's and knows where a former key belongs."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Any

from nacl.signing import SigningKey

from civmil.core import ledger
from civmil.core.ledger import signing
from civmil.core.models import Checkpoint
from tests.ledger_support import append_entries


def test_the_fingerprint_is_sha256_of_the_key_as_ssh_shows_it() -> None:
    key = "ab" * 32
    expected = base64.b64encode(hashlib.sha256(bytes.fromhex(key)).digest()).decode().rstrip("=")
    assert signing.fingerprint(key) == f"SHA256:{expected}" and len(expected) == 43


def test_an_untrusted_checkpoint_names_its_key_and_the_trusted_keys_file(db: Any, settings: Any,
                                                                          tmp_path: Path) -> None:
    settings.CIVMIL_VAR_DIR = tmp_path
    append_entries(2)
    platform_key = settings.CIVMIL_LEDGER_SIGNING_KEY
    settings.CIVMIL_LEDGER_SIGNING_KEY = SigningKey.generate().encode().hex()
    foreign = ledger.checkpoint()
    kept = signing.checkpoint_to_dict(foreign)
    settings.CIVMIL_LEDGER_SIGNING_KEY = platform_key
    [problem] = ledger.verify().problems
    assert problem.checkpoint == foreign.pk
    for reason in (problem.reason, ledger.verify_against(kept).problems[0].reason):
        assert signing.fingerprint(foreign.public_key) in reason and foreign.public_key in reason
        assert str(tmp_path / "ledger_trusted_keys") in reason and "does not trust" in reason
    # Listing the key there (as after a rotation) makes the checkpoint verify.
    (tmp_path / "ledger_trusted_keys").write_text(f"{foreign.public_key}  # the key before the move\n")
    assert ledger.verify().ok and Checkpoint.objects.count() == 1

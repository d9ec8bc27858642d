"""The ledger: an append-only, hash-chained, Merkle-tree log of every service write.

Services call :func:`append` inside their transaction. Checkpoints sign the Merkle tree with the
platform key, receipts prove an entry offline, :func:`verify` walks everything, and
:func:`erase_change` is the one permitted alteration. See DESIGN.md, section "Ledger", and
docs/ledger.md.
"""

from civmil.core.ledger.chain import GENESIS, append, append_many, canonical, change_hash, entry_hash, snapshot
from civmil.core.ledger.receipts import LedgerIntegrityError, ReceiptCheck, receipt, verify_receipt
from civmil.core.ledger.services import (
    ERASED_ACTION,
    Erasure,
    ReceiptPending,
    checkpoint,
    checkpoint_covering,
    erase_change,
    periodic_checkpoint,
    register_erasure_hook,
    unregister_erasure_hook,
)
from civmil.core.ledger.signing import checkpoint_problem, checkpoint_to_dict, public_key
from civmil.core.ledger.tree import LedgerTree
from civmil.core.ledger.verify import Problem, VerifyResult, verify, verify_against

__all__ = [
    "ERASED_ACTION",
    "GENESIS",
    "Erasure",
    "LedgerIntegrityError",
    "LedgerTree",
    "Problem",
    "ReceiptCheck",
    "ReceiptPending",
    "VerifyResult",
    "append",
    "append_many",
    "canonical",
    "change_hash",
    "checkpoint",
    "checkpoint_covering",
    "checkpoint_problem",
    "checkpoint_to_dict",
    "entry_hash",
    "erase_change",
    "periodic_checkpoint",
    "public_key",
    "receipt",
    "register_erasure_hook",
    "snapshot",
    "unregister_erasure_hook",
    "verify",
    "verify_against",
    "verify_receipt",
]

"""The ledger: an append-only, hash-chained, Merkle-tree log of every service write.

Services call :func:`append` inside their transaction. See DESIGN.md, section "Ledger".
"""

from civmil.core.ledger.chain import append, canonical, change_hash, entry_hash, snapshot

__all__ = ["append", "canonical", "change_hash", "entry_hash", "snapshot"]

"""The ledger table seen as an RFC 9162 Merkle tree.

Leaf ``i`` (counting from one) is the ``i``-th ledger entry in sequence order; its data is the
entry's hash (32 bytes), so a leaf hash is ``SHA-256(0x00 || entry_hash)`` and an interior node
``SHA-256(0x01 || left || right)``. Appends go through :func:`civmil.core.ledger.append`: the
tree only reads the table.

A :class:`LedgerTree` is a snapshot: its size is read once, and the leaves it has read are kept,
since entries below that size never change (the database refuses it). Build a new tree to see
later appends, or call :meth:`LedgerTree.refresh`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from pymerkle import BaseMerkleTree, ConsistencyProof, InclusionProof, InvalidProof, MerkleProof
from pymerkle.hasher import MerkleHasher

if TYPE_CHECKING:
    from civmil.core.models import LedgerEntry

ALGORITHM = "sha256"
#: Rows read from the database per query when loading leaves.
_CHUNK = 5000

_HASHER = MerkleHasher(ALGORITHM, security=True)


def leaf_data(entry_hash: str) -> bytes:
    """The data of an entry's leaf: its 32-byte hash (a malformed stored value is taken as it is)."""
    try:
        if len(entry_hash) == 64:
            return bytes.fromhex(entry_hash)
    except ValueError:
        pass
    return entry_hash.encode()


def leaf_hash(entry_hash: str) -> bytes:
    """The Merkle leaf hash of an entry, from its hex entry hash."""
    return bytes(_HASHER.hash_buff(leaf_data(entry_hash)))


def empty_root() -> bytes:
    return bytes(_HASHER.hash_empty())


class LedgerTree(BaseMerkleTree):  # type: ignore[misc]
    """RFC 9162 Merkle tree whose leaves are the rows of the ledger table, in ``seq`` order."""

    def __init__(self, *, using: str = "default", hashes: Sequence[str] | None = None) -> None:
        """Read from database ``using``, or (``hashes`` given) from that list of entry hashes only."""
        self.using = using
        self._digests: list[bytes] = []
        self._last_seq = 0
        self._size: int | None = None
        self._complete = False
        super().__init__(ALGORITHM)
        if hashes is not None:
            self._digests = [leaf_hash(h) for h in hashes]
            self._size = len(self._digests)
            self._complete = True

    @classmethod
    def from_hashes(cls, hashes: Iterable[str]) -> LedgerTree:
        """A tree over given entry hashes (no database), e.g. the ones a verification just read."""
        return cls(hashes=list(hashes))

    def refresh(self) -> None:
        """Forget the size read so far, so that entries appended since are seen."""
        with self.lock:
            if not self._complete:
                self._size = None

    def root_hex(self, size: int | None = None) -> str:
        return bytes(self.get_root(size)).hex()

    # -- pymerkle's storage interface -----------------------------------------------------------

    def _encode_entry(self, data: LedgerEntry) -> bytes:
        return leaf_data(data.entry_hash)

    def _store_leaf(self, data: LedgerEntry, digest: bytes) -> int:
        """Take note of an entry that :func:`civmil.core.ledger.append` has just written.

        The chain is the only writer; this checks that the entry is the next leaf and returns its
        index, so ``tree.append_entry(entry)`` keeps a live tree in step with the table.
        """
        size = self._get_size()
        if self._complete or data.seq != size + 1:
            raise ValueError(f"entry #{data.seq} is not the next leaf of a tree of size {size}")
        from civmil.core.models import LedgerEntry

        stored = LedgerEntry.objects.using(self.using).filter(seq=data.seq).values_list("entry_hash", flat=True)
        if list(stored) != [data.entry_hash]:
            raise ValueError(f"entry #{data.seq} is not stored in the ledger")
        if len(self._digests) == size:
            self._digests.append(digest)
            self._last_seq = data.seq
        self._size = size + 1
        return size + 1

    def _get_leaf(self, index: int) -> bytes:
        self._load(index)
        return self._digests[index - 1]

    def _get_leaves(self, offset: int, width: int) -> list[bytes]:
        self._load(offset + width)
        return self._digests[offset:offset + width]

    def _get_size(self) -> int:
        if self._size is None:
            from civmil.core.models import LedgerEntry

            self._size = LedgerEntry.objects.using(self.using).count()
        return self._size

    def _load(self, count: int) -> None:
        """Read leaves until the first ``count`` are known (by position: robust to gaps in ``seq``)."""
        if len(self._digests) >= count:
            return
        if self._complete:
            raise ValueError("leaf index out of range")
        from civmil.core.models import LedgerEntry

        rows = LedgerEntry.objects.using(self.using).order_by("seq")
        while len(self._digests) < count:
            chunk = list(rows.filter(seq__gt=self._last_seq).values_list("seq", "entry_hash")[
                :max(_CHUNK, count - len(self._digests))])
            if not chunk:
                raise ValueError("leaf index out of range")
            self._digests.extend(leaf_hash(h) for _seq, h in chunk)
            self._last_seq = chunk[-1][0]


# -- proofs as plain data (what receipts and checkpoint files carry) -----------------------------


def proof_to_dict(proof: MerkleProof) -> dict[str, Any]:
    data: dict[str, Any] = proof.serialize()
    return data


def inclusion_proof_from_dict(data: Any) -> InclusionProof:
    """Rebuild an inclusion proof; :class:`pymerkle.InvalidProof` if ``data`` is not one."""
    if not isinstance(data, dict):
        raise InvalidProof("Malformed proof")
    proof = InclusionProof.deserialize(data)
    if not isinstance(proof, InclusionProof):
        raise InvalidProof("Not an inclusion proof")
    return proof


def consistency_proof_from_dict(data: Any) -> ConsistencyProof:
    if not isinstance(data, dict):
        raise InvalidProof("Malformed proof")
    proof = ConsistencyProof.deserialize(data)
    if not isinstance(proof, ConsistencyProof):
        raise InvalidProof("Not a consistency proof")
    return proof


def check_inclusion(entry_hash: str, index: int, size: int, root: bytes, proof: InclusionProof) -> None:
    """Raise :class:`pymerkle.InvalidProof` unless ``proof`` puts the entry at ``index`` under ``root``."""
    proof.verify(leaf_hash(entry_hash), root, index=index, size=size, algorithm=ALGORITHM, security=True)


def check_consistency(prior_size: int, prior_root: bytes, later_size: int, later_root: bytes,
                      proof: ConsistencyProof) -> None:
    """Raise :class:`pymerkle.InvalidProof` unless the later tree extends the prior one."""
    proof.verify(prior_root, later_root, prior_size=prior_size, later_size=later_size,
                 algorithm=ALGORITHM, security=True)

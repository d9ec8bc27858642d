"""Writes to the search index outside the save of a record: rebuilding it and purging erased copies."""

from __future__ import annotations

from django.db import transaction

from civmil.comms import search
from civmil.core.ledger import Erasure


def rebuild_index() -> int:
    """Empty the index and index every searched record again; returns how many records were indexed.

    An operator task (``civmil reindex``): it writes derived data only, so it appends nothing to the
    ledger.
    """
    with transaction.atomic():
        return search.rebuild()


def purge_erased(erasure: Erasure) -> None:
    """Erasure hook: drop every index row of the object whose stored change was erased.

    The index may hold a copy of the erased text; the record is searchable again at its next save
    (or after ``civmil reindex``), from whatever it then holds.
    """
    entry = erasure.entry
    if entry.object_type and entry.object_id:
        search.unindex(str(entry.object_type), str(entry.object_id))

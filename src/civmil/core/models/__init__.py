"""Kernel models: identity, spaces, protected records, ledger, live events."""

from civmil.core.models.events import OutboxEvent
from civmil.core.models.identity import Membership, Organisation, Person, User
from civmil.core.models.ledger import Checkpoint, LedgerChange, LedgerEntry
from civmil.core.models.records import Grant, ProtectedRecord, Release
from civmil.core.models.spaces import MissionSettings, Space

__all__ = [
    "Checkpoint",
    "Grant",
    "LedgerChange",
    "LedgerEntry",
    "Membership",
    "MissionSettings",
    "Organisation",
    "OutboxEvent",
    "Person",
    "ProtectedRecord",
    "Release",
    "Space",
    "User",
]

"""Kernel models: identity, spaces, protected records, ledger, live events."""

from civmil.core.models.approvals import EmailChangeRequest
from civmil.core.models.erasure import ErasureRequest
from civmil.core.models.events import LiveRelay, OutboxEvent, OutboxHorizon
from civmil.core.models.identity import Membership, Organisation, Person, User
from civmil.core.models.ledger import Checkpoint, LedgerChange, LedgerEntry
from civmil.core.models.lists import SavedFilter
from civmil.core.models.places import Period, Placed
from civmil.core.models.records import Grant, ProtectedRecord, Release
from civmil.core.models.schedule import PeriodicRun
from civmil.core.models.spaces import MissionSettings, Space
from civmil.core.models.tokens import ApiToken, TokenScope

__all__ = [
    "ApiToken",
    "Checkpoint",
    "EmailChangeRequest",
    "ErasureRequest",
    "Grant",
    "LedgerChange",
    "LedgerEntry",
    "LiveRelay",
    "Membership",
    "MissionSettings",
    "Organisation",
    "OutboxEvent",
    "OutboxHorizon",
    "Period",
    "PeriodicRun",
    "Person",
    "Placed",
    "ProtectedRecord",
    "Release",
    "SavedFilter",
    "Space",
    "TokenScope",
    "User",
]

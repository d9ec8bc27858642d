"""Models of the comms app: threads and the notification centre (search and attachments join here)."""

from civmil.comms.models.attachments import Attachment
from civmil.comms.models.notifications import (
    DigestSent,
    Notification,
    NotificationChannel,
    NotificationKind,
    NotificationPreference,
)
from civmil.comms.models.search import SearchDocument
from civmil.comms.models.threads import Message, Thread

# --- search and attachments: add their imports above this line and their names below ---------

__all__ = [
    "Attachment",
    "DigestSent",
    "Message",
    "Notification",
    "NotificationChannel",
    "NotificationKind",
    "NotificationPreference",
    "SearchDocument",
    "Thread",
]

"""Live events of comms: the notification badge and list, and events about a record's
discussion and files.

A saved notification tells its recipient's open pages.

Every page of a signed-in account holds a live connection (``static/civmil/js/live.js``); the
notification badge and list carry ``data-live-notice="notifications"`` and refresh themselves
through their usual views when the ``notifications`` notice arrives. The notice names the topic
only, never the notification.

A new message in a record's discussion and a file attached to or removed from a record are
published with :func:`publish_discussion_event`: they reach only subscribers who get the FULL
view of the record, the same rule that opens the discussion and the files
(:func:`civmil.comms.queries.threads.threads_open_on`). A reader with a reduced view never
learns that anything was written or attached.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import models
from django.db.models.signals import post_save

from civmil.core import events
from civmil.core.events.delivery import FULL_VIEW_ONLY

TOPIC = "notifications"


def _notification_saved(sender: type[Any], instance: Any, raw: bool = False, **kwargs: Any) -> None:
    if raw:
        return
    from civmil.core.models import Person

    user_id = Person.objects.filter(pk=instance.recipient_id).values_list("user_id", flat=True).first()
    if user_id is not None:
        events.notify_user(int(user_id), TOPIC)


def connect() -> None:
    """Connect the receiver (``CommsConfig.ready``). Idempotent."""
    from civmil.comms.models import Notification

    post_save.connect(_notification_saved, sender=Notification, dispatch_uid="civmil.comms.live.notification")


def notify(user_id: int) -> None:
    """Tell the account's pages that its notifications changed (after a bulk update)."""
    events.notify_user(user_id, TOPIC)


def publish_discussion_event(kind: str, record: models.Model, extra: Mapping[str, Any] | None = None) -> None:
    """Publish a live event about ``record``'s discussion or files, for FULL readers only.

    Call it where :func:`civmil.core.events.publish` would be called: inside the service's
    transaction, after the ledger.
    """
    events.publish(kind, record, extra={**(extra or {}), FULL_VIEW_ONLY: True})

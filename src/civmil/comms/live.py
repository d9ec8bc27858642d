"""Live notification badge and list: a saved notification tells its recipient's open pages.

Every page of a signed-in account holds a live connection (``static/civmil/js/live.js``); the
notification badge and list carry ``data-live-notice="notifications"`` and refresh themselves
through their usual views when the ``notifications`` notice arrives. The notice names the topic
only, never the notification.
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save

from civmil.core import events

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

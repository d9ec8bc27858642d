"""Account events that end what a session could see at once, not at the next session check.

Signing out, changing or resetting a password tell the account's live connections to re-read
their session (:func:`civmil.core.events.actor_changed`): a connection whose session is gone, or
whose password hash no longer matches, closes with 4401 instead of receiving events until its
next periodic check.
"""

from __future__ import annotations

from typing import Any

from allauth.account import signals as account_signals
from django.contrib.auth import signals as auth_signals

from civmil.core import events


def _tell_connections(sender: Any, user: Any = None, **kwargs: Any) -> None:
    if user is not None and getattr(user, "pk", None) is not None:
        events.actor_changed(int(user.pk))


def connect() -> None:
    """Connect the receivers (``CoreConfig.ready``). Idempotent."""
    auth_signals.user_logged_out.connect(_tell_connections, dispatch_uid="civmil.core.live.logout")
    for name in ("password_changed", "password_set", "password_reset"):
        getattr(account_signals, name).connect(_tell_connections, dispatch_uid=f"civmil.core.live.{name}")

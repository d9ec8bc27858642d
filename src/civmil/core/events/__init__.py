"""Live events (DESIGN.md, "Live events"; docs/live-events.md).

A service publishes a domain event in its transaction, after appending to the ledger::

    ledger.append(actor, "liaison.recorded", ...)
    events.publish("liaison.recorded", entry)

The event is stored in the outbox (:class:`~civmil.core.models.OutboxEvent`) with ids only;
after commit its id is pushed to the space's channel-layer group. Browsers subscribe over a
WebSocket (:mod:`civmil.core.consumers`) and resume after the last id they saw; each event is
rendered for each subscriber by the access policy when it is delivered.
"""

from civmil.core.events.delivery import (
    REPLAY_CAP,
    Batch,
    Loaded,
    Seen,
    Subscription,
    batch_after,
    catch_up,
    forget_batches,
    frames_for,
    json_value,
    pending,
    read_seen_token,
    render_view,
    seen_token,
    subscribe,
)
from civmil.core.events.outbox import (
    ACTOR_CHANGED_TYPE,
    PUSH_TYPE,
    USER_NOTICE_TYPE,
    actor_changed,
    horizon,
    last_id,
    note_serving_loop,
    notify_user,
    prune,
    publish,
    push,
    space_group,
    user_group,
)

#: Close code: the connection has no signed-in session.
CLOSE_UNAUTHENTICATED = 4401
#: Close code: the session now acts as another membership (or none); reload the page.
CLOSE_ACTOR_CHANGED = 4409

__all__ = [
    "ACTOR_CHANGED_TYPE",
    "CLOSE_ACTOR_CHANGED",
    "CLOSE_UNAUTHENTICATED",
    "PUSH_TYPE",
    "REPLAY_CAP",
    "USER_NOTICE_TYPE",
    "Batch",
    "Loaded",
    "Seen",
    "Subscription",
    "actor_changed",
    "batch_after",
    "catch_up",
    "forget_batches",
    "frames_for",
    "horizon",
    "json_value",
    "last_id",
    "note_serving_loop",
    "notify_user",
    "pending",
    "prune",
    "publish",
    "push",
    "read_seen_token",
    "render_view",
    "seen_token",
    "space_group",
    "subscribe",
    "user_group",
]

"""Publishing: the outbox row in the service's transaction, the channel-layer push after commit.

Why event ids follow commit order. On SQLite every write transaction holds the database's one
write lock from BEGIN (``transaction_mode IMMEDIATE``) to COMMIT, so transactions that insert
events run one after the other. On PostgreSQL ids come from a sequence, which hands out numbers
at INSERT time, not at commit: a transaction that took id 10 and commits after the one that took
id 11 would be missed by a client that saw 11 and resumes "after 11". So :func:`publish` takes
the transaction-level advisory lock the ledger takes (``pg_advisory_xact_lock``, held until the
transaction ends) *before* its INSERT. A transaction holding that lock has ended (committed and
visible, or rolled back) before the next one can take it, hence before the next id is drawn:
once id N is visible, every id below N is visible or will never exist. Services that call
:func:`civmil.core.ledger.append` first already hold the lock (the call here is then free);
``publish`` takes it anyway so the order holds when a service forgets the ledger.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import connection, models, transaction
from django.utils import timezone

from civmil.core import registry
from civmil.core.ledger.chain import _PG_LOCK_KEY

if TYPE_CHECKING:
    from civmil.core.models import OutboxEvent

logger = logging.getLogger("civmil.events")

#: Channel-layer message a publish pushes (handled by the consumer's ``outbox_event``).
PUSH_TYPE = "outbox.event"
#: Channel-layer message telling a user's connections to re-read their session.
ACTOR_CHANGED_TYPE = "actor.changed"
#: Channel-layer message telling a user's connections that something of theirs changed.
USER_NOTICE_TYPE = "user.notice"
_TOPIC = re.compile(r"^[a-z][a-z0-9_]{0,39}$")

_KIND = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_EXTRA_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_MAX_EXTRA = 20

#: The event loop that serves WebSockets in this process (see :func:`note_serving_loop`).
_serving_loop: asyncio.AbstractEventLoop | None = None


def space_group(space_id: uuid.UUID | str) -> str:
    """The channel-layer group of one space: every connection acting in it listens there."""
    return f"space.{space_id}"


def user_group(user_id: int) -> str:
    """The channel-layer group of one account's live connections."""
    return f"user.{int(user_id)}"


def _lock() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_PG_LOCK_KEY])


def _clean_extra(extra: Mapping[str, Any] | None) -> dict[str, Any]:
    """``extra`` holds ids and flags only: short keys, scalar values, nothing that reads as content."""
    if not extra:
        return {}
    if len(extra) > _MAX_EXTRA:
        raise ValueError(f"an event's extra holds at most {_MAX_EXTRA} keys")
    clean: dict[str, Any] = {}
    for key, value in extra.items():
        if not isinstance(key, str) or not _EXTRA_KEY.match(key):
            raise ValueError(f"bad key in an event's extra: {key!r}")
        if isinstance(value, uuid.UUID):
            value = str(value)
        if value is not None and not isinstance(value, str | int | float | bool):
            raise TypeError(f"an event's extra holds ids and flags only, not {type(value).__name__}")
        if isinstance(value, str) and len(value) > 100:
            raise ValueError("an event's extra holds ids and flags only, not text")
        clean[key] = value
    return clean


def publish(
    kind: str,
    record: models.Model,
    *,
    space_id: uuid.UUID | None = None,
    extra: Mapping[str, Any] | None = None,
) -> OutboxEvent:
    """Store a live event about ``record`` and push it to its space after commit.

    Call it inside the service's transaction, after :func:`civmil.core.ledger.append` (and
    before deleting the record, whose id it needs). ``kind`` names what happened
    (``liaison.recorded``); ``extra`` holds ids or flags for server-side use only — it is never
    delivered. Subscribers receive what their view of the record shows at delivery time.
    """
    from civmil.core.models import OutboxEvent

    if not connection.in_atomic_block:
        raise RuntimeError("events.publish must run inside the service's transaction")
    if not isinstance(kind, str) or len(kind) > 64 or not _KIND.match(kind):
        raise ValueError(f"an event kind is dotted lower-case words such as 'liaison.recorded', not {kind!r}")
    record_type = registry.get(type(record))  # only protected types can be filtered for subscribers
    if record.pk is None:
        raise ValueError("publish the event before deleting the record: it needs the record's id")
    space = space_id if space_id is not None else getattr(record, "space_id", None)
    if space is None:
        raise ValueError("an event belongs to a space: the record has none and no space_id was given")
    payload = _clean_extra(extra)
    _lock()
    event = OutboxEvent.objects.create(
        space_id=space, kind=kind, object_type=record_type.key, object_id=str(record.pk), payload=payload,
    )
    event_id, object_type = event.id, event.object_type
    transaction.on_commit(lambda: push(space, event_id, object_type), robust=True)
    return event


def note_serving_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Remember the event loop serving WebSockets here (called by the consumer on connect).

    The in-memory channel layer keeps asyncio queues that only that loop may touch; a publish
    from a thread with no loop of its own (a job worker thread in the server process) hands its
    push to that loop instead of starting a loop of its own.
    """
    global _serving_loop
    _serving_loop = loop


def _send(group: str, message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    loop = _serving_loop
    if isinstance(layer, InMemoryChannelLayer) and loop is not None and loop.is_running():
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is not loop:
            future = asyncio.run_coroutine_threadsafe(layer.group_send(group, message), loop)
            future.add_done_callback(_log_failure)
            return
    async_to_sync(layer.group_send)(group, message)


def _log_failure(future: Any) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.warning("live event push failed", exc_info=future.exception())


def push(space_id: uuid.UUID | str, event_id: int, object_type: str) -> None:
    """Tell the space's connections that event ``event_id`` is committed (run after commit).

    The message carries the id and the stream only; each connection then reads every event
    after its own cursor, so a lost push delays delivery until the next push or poll but loses
    nothing.
    """
    try:
        _send(space_group(space_id), {"type": PUSH_TYPE, "id": int(event_id), "object_type": object_type})
    except Exception:  # the write has committed; a push that fails must not turn it into an error
        logger.warning("live event %s could not be pushed", event_id, exc_info=True)


def actor_changed(user_id: int) -> None:
    """Make the account's live connections re-read their session (membership switched or ended).

    A connection whose acting membership is no longer the one it was opened with closes with
    code 4409, so views never combine what two memberships could see. Inside a transaction the
    message leaves after commit.
    """

    def send() -> None:
        try:
            _send(user_group(user_id), {"type": ACTOR_CHANGED_TYPE})
        except Exception:
            logger.warning("live connections of user %s could not be told of a change", user_id, exc_info=True)

    if connection.in_atomic_block:
        transaction.on_commit(send, robust=True)
    else:
        send()


def notify_user(user_id: int, topic: str) -> None:
    """Tell the account's live connections that its ``topic`` changed (``"notifications"``).

    The message carries the topic only; pages fetch what they show of it themselves, through
    the usual views. Inside a transaction it leaves after commit.
    """
    if not _TOPIC.match(topic):
        raise ValueError(f"a notice topic is a short lower-case word, not {topic!r}")

    def send() -> None:
        try:
            _send(user_group(user_id), {"type": USER_NOTICE_TYPE, "topic": topic})
        except Exception:
            logger.warning("live connections of user %s could not be told of %s", user_id, topic, exc_info=True)

    if connection.in_atomic_block:
        transaction.on_commit(send, robust=True)
    else:
        send()


def last_id() -> int:
    """The newest event id (0 when there is none): what a page rendered now has seen.

    A page passes it to its live stream (``data-live-after``) so the client resumes from the
    moment the page was rendered.
    """
    from civmil.core.models import OutboxEvent

    return int(OutboxEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0)


def horizon() -> int:
    """The newest event id pruning removed (0: none): a resume point below it may have lost events."""
    from civmil.core.models import OutboxHorizon

    return int(OutboxHorizon.objects.filter(pk=1).values_list("pruned_through", flat=True).first() or 0)


def prune(keep: dt.timedelta) -> int:
    """Delete the events older than ``keep`` (never the newest one); how many were deleted.

    Events go oldest first, so what is left is every event after the horizon. A client resuming
    from a point below the horizon is asked to reload instead of being given a replay with a hole.
    """
    from civmil.core.events.delivery import forget_batches
    from civmil.core.models import OutboxEvent, OutboxHorizon

    newest = last_id()
    through = (OutboxEvent.objects.filter(created_at__lt=timezone.now() - keep, id__lt=newest)
               .aggregate(through=models.Max("id"))["through"])
    if not through:
        return 0
    with transaction.atomic():
        mark, _ = OutboxHorizon.objects.select_for_update().get_or_create(pk=1)
        if through > mark.pruned_through:
            mark.pruned_through, mark.pruned_at = through, timezone.now()
            mark.save()
        deleted, _ = OutboxEvent.objects.filter(id__lte=through).delete()
    forget_batches()
    logger.info("pruned %s live events through #%s", deleted, through)
    return int(deleted)

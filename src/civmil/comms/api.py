"""REST endpoints of the comms app: threads on records and the notification centre.

A thread answers exactly like its record: a reader who may not see the whole record gets the same
404 as for a record that does not exist.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from civmil.comms.models.threads import MESSAGE_MAX_LENGTH
from civmil.comms.queries import notifications as notification_queries
from civmil.comms.queries import threads as thread_queries
from civmil.comms.services import notifications as notification_services
from civmil.comms.services import threads as thread_services
from civmil.core.api import actor_of
from civmil.core.schemas import ERROR_RESPONSES, PageQuery

threads = Router(tags=["threads"])
notifications = Router(tags=["notifications"])

router = Router()
router.add_router("/threads", threads)
router.add_router("/notifications", notifications)


class MessageIn(Schema):
    body: str = Field(min_length=1, max_length=MESSAGE_MAX_LENGTH,
                      description="Markdown. Mentions as @[Full Name](person-uuid) also notify.")
    mentions: list[uuid.UUID] = Field(default_factory=list, max_length=20,
                                      description="People to notify; each must be able to read the record.")


class MessageOut(Schema):
    id: uuid.UUID
    author: str
    html: str = Field(description="The body rendered from Markdown and sanitised.")
    created_at: dt.datetime
    mentioned: list[str]


class ThreadOut(Schema):
    record_type: str
    record: uuid.UUID
    messages: list[MessageOut]


class NotificationOut(Schema):
    id: uuid.UUID
    text: str
    about: str = Field("", description="What names the record (for a liaison log entry: its time and summary), as "
                                       "you see it now; empty when you can no longer see the record.")
    url: str = Field(description="The record's page; empty when you can no longer see the record.")
    created_at: dt.datetime
    read: bool


class NotificationPage(Schema):
    count: int
    unread: int
    limit: int
    offset: int
    items: list[NotificationOut]


def _message_out(m: thread_queries.MessageView) -> dict[str, Any]:
    return {"id": m.id, "author": m.author, "html": str(m.html), "created_at": m.created_at, "mentioned": m.mentioned}


@threads.get("/{record_type}/{pk}", response={200: ThreadOut, **ERROR_RESPONSES}, url_name="thread",
             summary="The discussion of a record")
def get_thread(request: HttpRequest, record_type: str, pk: uuid.UUID) -> dict[str, Any]:
    """``record_type`` is the registry key, such as ``actors.liaisonlogentry``."""
    actor = actor_of(request)
    record = thread_queries.discussed_record(actor, record_type, pk)
    return {"record_type": record_type, "record": record.pk,
            "messages": [_message_out(m) for m in thread_queries.thread_messages(actor, record)]}


@threads.post("/{record_type}/{pk}/messages", response={201: MessageOut, **ERROR_RESPONSES},
              url_name="thread-messages", summary="Post a message to a record's discussion")
def post_message(request: HttpRequest, record_type: str, pk: uuid.UUID, payload: MessageIn) -> Status[dict[str, Any]]:
    actor = actor_of(request)
    message = thread_services.post_message(actor, record_type, pk, payload.body, payload.mentions)
    record = thread_queries.discussed_record(actor, record_type, pk)
    shown = next(m for m in thread_queries.thread_messages(actor, record) if m.id == message.pk)
    return Status(201, _message_out(shown))


@notifications.get("", response={200: NotificationPage, **ERROR_RESPONSES}, url_name="notifications",
                   summary="Your notifications")
def list_notifications(request: HttpRequest, page: Query[PageQuery], unread: bool = False) -> dict[str, Any]:
    actor = actor_of(request)
    qs = notification_queries.inbox(actor, unread_only=unread).select_related("content_type")
    items = list(qs[page.offset:page.offset + page.limit])
    return {
        "count": qs.count(), "unread": notification_queries.unread_count(actor), "limit": page.limit,
        "offset": page.offset,
        "items": [{"id": n.id, "text": n.text, "about": n.about, "url": n.url, "created_at": n.created_at,
                   "read": n.read} for n in notification_queries.describe(actor, items)],
    }


@notifications.post("/{pk}/read", response={204: None, **ERROR_RESPONSES}, url_name="notification-read",
                    summary="Mark one notification read")
def read_notification(request: HttpRequest, pk: uuid.UUID) -> Status[None]:
    notification_services.mark_read(actor_of(request), pk)
    return Status(204, None)


@notifications.post("/read-all", response={200: dict[str, int], **ERROR_RESPONSES},
                    url_name="notifications-read-all", summary="Mark every notification read")
def read_all(request: HttpRequest) -> dict[str, int]:
    return {"marked": notification_services.mark_all_read(actor_of(request))}

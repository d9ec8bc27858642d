"""Writes of threads: posting a message (with mentions that notify)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils.translation import gettext as _

from civmil.comms import live
from civmil.comms.models import Message, NotificationKind, Thread
from civmil.comms.models.threads import MESSAGE_MAX_LENGTH
from civmil.comms.queries import threads as thread_queries
from civmil.comms.rendering import mention_ids
from civmil.comms.services.notifications import notify
from civmil.core import ledger
from civmil.core.acting import Actor
from civmil.core.errors import Forbidden, Invalid
from civmil.core.models import Person

#: Most people one message may mention.
MAX_MENTIONS = 20


def _refused() -> Invalid:
    """The one refusal of a mention: the same whether the person is unknown, hidden from the author,
    or may not read the record, so a refusal never tells which (nor who may read the record)."""
    message = _("A mention cannot be delivered; choose the people to mention from the list.")
    return Invalid(message, errors={"mentions": [message]})


def _mentioned_people(actor: Actor, record: Any, ids: Iterable[Any]) -> list[Person]:
    """The people to notify; refuses (422, :func:`_refused`) any the author may not see or who may
    not read the record."""
    wanted: dict[uuid.UUID, None] = {}
    for raw in ids:
        try:
            wanted.setdefault(uuid.UUID(str(raw)), None)
        except ValueError:
            raise _refused() from None
    if actor.person_id is not None:
        wanted.pop(actor.person_id, None)  # mentioning oneself notifies no one
    if len(wanted) > MAX_MENTIONS:
        raise Invalid(_("Mention at most %(n)s people in one message.") % {"n": MAX_MENTIONS},
                      errors={"mentions": [_("Mention at most %(n)s people in one message.") % {"n": MAX_MENTIONS}]})
    names = thread_queries.visible_people(actor, list(wanted))
    if any(pk not in names for pk in wanted):
        raise _refused()
    people = {p.pk: p for p in Person.objects.filter(pk__in=list(wanted)).select_related("user")}
    if any(not thread_queries.person_may_discuss(people[pk], record) for pk in wanted):
        raise _refused()
    return [people[pk] for pk in wanted]


def post_message(actor: Actor, record_key: str, record_pk: Any, body: str,
                 mentions: Iterable[Any] = ()) -> Message:
    """Post a message to the thread of one record the actor fully sees, and notify who it mentions.

    Mentions come from the picker (``mentions``) and from ``@[Full Name](person-uuid)`` in the body.
    The ledger gets the message id, its length and a hash of the body, never the text.
    """
    record = thread_queries.discussed_record(actor, record_key, record_pk)
    if actor.person is None or actor.membership is None:
        raise Forbidden(_("You need a current membership of an organisation to take part in discussions."))
    body = (body or "").strip()
    if not body:
        raise Invalid(_("Write a message first."), errors={"body": [_("This field is required.")]})
    if "\x00" in body:
        bad = _("A message cannot contain NUL characters.")
        raise Invalid(bad, errors={"body": [bad]})
    if len(body) > MESSAGE_MAX_LENGTH:
        too_long = _("A message has at most %(n)s characters (this one has %(len)s).") % {
            "n": MESSAGE_MAX_LENGTH, "len": len(body)}
        raise Invalid(too_long, errors={"body": [too_long]})
    people = _mentioned_people(actor, record, [*mentions, *mention_ids(body)])
    with transaction.atomic():
        thread, _created = Thread.objects.get_or_create(
            content_type=ContentType.objects.get_for_model(record), object_id=record.pk,
            defaults={"space_id": record.space_id},  # type: ignore[attr-defined]
        )
        message = Message.objects.create(thread=thread, author=actor.person, body=body)
        message.mentioned.set(people)
        ledger.append(actor, "thread.message", "comms.message", message.pk, {
            "record_type": thread_queries.record_type_key(record), "record": record.pk, "thread": thread.pk,
            "length": len(body), "body_sha256": hashlib.sha256(body.encode()).hexdigest(),
            "mentions": sorted(str(p.pk) for p in people),
        })
        live.publish_discussion_event("thread.message", record, extra={"message": message.pk})
        for person in people:
            notify(actor, person, NotificationKind.MENTION, record)
    return message

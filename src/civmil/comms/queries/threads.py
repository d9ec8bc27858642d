"""Reads of threads. A thread has its record's access: every read starts from the reader's view
of the record, and only a FULL view opens the discussion (a reduced view could otherwise leak
withheld fields through what people write about them)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils.translation import gettext as _

from civmil.comms.models import Message, Thread
from civmil.comms.rendering import render_markdown
from civmil.core import access, registry
from civmil.core.acting import Actor
from civmil.core.errors import NotFound
from civmil.core.models import Membership, Person

if TYPE_CHECKING:
    import datetime as dt

    from django.utils.safestring import SafeString

#: Most people offered by the mention picker.
MENTION_CANDIDATES_MAX = 200


def record_type_key(record: models.Model) -> str:
    return f"{record._meta.app_label}.{record._meta.model_name}"


def _thread_type(key: str) -> registry.RecordType:
    try:
        record_type = registry.by_key(key)
    except LookupError:
        raise NotFound(_("No such record.")) from None
    if not record_type.threads:
        raise NotFound(_("No such record."))
    return record_type


def threads_open_on(actor: Actor, record: models.Model, view: access.View | None = None) -> bool:
    """May ``actor`` read and write the thread of ``record``? Only a signed-in reader with the FULL
    view (an anonymous visitor reads a PUBLIC record, not its discussion)."""
    if not actor.is_authenticated:
        return False
    try:
        record_type = registry.get(type(record))
    except LookupError:
        return False
    view = view if view is not None else access.view_for(actor, record)
    return record_type.threads and view.kind == access.ViewKind.FULL


def discussed_record(actor: Actor, key: str, pk: Any) -> models.Model:
    """The record whose thread ``actor`` asks for; hidden, reduced or missing: :class:`NotFound`."""
    record_type = _thread_type(key)
    shown = access.fetch(actor, record_type.model, pk, derived=True)
    if not threads_open_on(actor, shown.record, shown.view):
        raise NotFound(_("No such record."))
    return shown.record  # type: ignore[no-any-return]


def best_view(person: Person, record: models.Model, memberships: list[Membership] | None = None,
              facts: access.AccessFacts | None = None) -> access.View:
    """The widest view ``person`` gets of ``record`` through any of their current memberships
    (``memberships``: those memberships, when the caller has read them for many people at once;
    ``facts``: the record's releases and grants, read once for many people).

    A person without an active account sees nothing: they could not open a notification.
    """
    if person.user_id is None or not person.is_active or not person.user or not person.user.is_active:
        return access.NO_VIEW
    best = access.NO_VIEW
    space_id = getattr(record, "space_id", None) or person.space_id
    if memberships is None:
        memberships = list(Membership.objects.current().filter(person=person).select_related("organisation"))
    for membership in memberships:
        actor = Actor(user_id=person.user_id, person=person, membership=membership, space_id=space_id)
        view = access.view_for(actor, record) if facts is None else access.view_from_facts(actor, record, facts)
        if view.kind > best.kind:
            best = view
    return best


def person_may_discuss(person: Person, record: models.Model) -> bool:
    return best_view(person, record).kind == access.ViewKind.FULL


def visible_people(actor: Actor, ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Names of the people among ``ids`` whose existence ``actor`` may know ({id: name})."""
    people = access.visible(actor, Person.objects.filter(pk__in=ids))
    return {s.record.pk: str(s.full_name or _("someone")) for s in access.show_all(actor, people)}


def mention_candidates(actor: Actor, record: models.Model) -> list[tuple[str, str]]:
    """(id, name) of people ``actor`` may see who may also read the record's thread (the picker)."""
    people = access.visible(actor, Person.objects.filter(user__isnull=False, is_active=True, user__is_active=True))
    if actor.person_id is not None:
        people = people.exclude(pk=actor.person_id)
    shown_people = [s for s in access.show_all(actor, people.select_related("user")
                                               .order_by("full_name")[:MENTION_CANDIDATES_MAX]) if s.full_name]
    # Their memberships in one query, not one per person: the picker is on every record's page.
    memberships: dict[uuid.UUID, list[Membership]] = {s.record.pk: [] for s in shown_people}
    for membership in (Membership.objects.current().filter(person__in=list(memberships))
                       .select_related("organisation").order_by("pk")):
        memberships[membership.person_id].append(membership)
    # The record's releases and grants in two queries, not two per person whose view they decide.
    facts = access.access_facts(type(record), [record.pk]) if shown_people else None
    return [(str(s.record.pk), str(s.full_name)) for s in shown_people
            if best_view(s.record, record, memberships[s.record.pk], facts).kind == access.ViewKind.FULL]


@dataclass(frozen=True)
class MessageView:
    id: uuid.UUID
    author: str
    html: SafeString
    created_at: dt.datetime
    mentioned: list[str]


def thread_of(record: models.Model) -> Thread | None:
    return Thread.objects.filter(content_type=ContentType.objects.get_for_model(record), object_id=record.pk).first()


def thread_messages(actor: Actor, record: models.Model) -> list[MessageView]:
    """The messages of ``record``'s thread, oldest first (the caller has checked the record's view)."""
    if not threads_open_on(actor, record):
        raise NotFound(_("No such record."))
    thread = thread_of(record)
    if thread is None:
        return []
    messages = list(Message.objects.filter(thread=thread).prefetch_related("mentioned"))
    ids = {m.author_id for m in messages} | {p.pk for m in messages for p in m.mentioned.all()}
    names = visible_people(actor, list(ids))
    someone = _("someone")
    return [
        MessageView(id=m.pk, author=names.get(m.author_id, someone), html=render_markdown(m.body),
                    created_at=m.created_at,
                    mentioned=[names.get(p.pk, someone) for p in m.mentioned.all()])
        for m in messages
    ]

"""Reads of the notification centre. A notification's text is made when it is read, through the
access policy: a record the recipient can no longer see reads "a record you can no longer see",
with no link."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _

from civmil.comms.models import Notification, NotificationChannel, NotificationPreference
from civmil.comms.models.notifications import DEFAULT_PREFERENCES, NotificationKind
from civmil.comms.queries.threads import visible_people
from civmil.core import access, home, registry
from civmil.core.acting import Actor
from civmil.core.errors import NotFound


def preferences(person_id: Any) -> dict[tuple[str, str], bool]:
    """Every (kind, channel) -> enabled for one person, defaults filled in."""
    chosen = {(p.kind, p.channel): p.enabled for p in NotificationPreference.objects.filter(person_id=person_id)}
    return {key: chosen.get(key, default) for key, default in DEFAULT_PREFERENCES.items()}


def wants(person_id: Any, kind: str, channel: str) -> bool:
    choice = NotificationPreference.objects.filter(person_id=person_id, kind=kind, channel=channel).first()
    return choice.enabled if choice is not None else DEFAULT_PREFERENCES.get((kind, channel), False)


def inbox(actor: Actor, *, unread_only: bool = False) -> models.QuerySet[Notification]:
    """The actor's notifications in the centre (kinds they keep in the application)."""
    if actor.person_id is None:
        return Notification.objects.none()
    prefs = preferences(actor.person_id)
    kinds = [k for k in NotificationKind.values if prefs.get((k, NotificationChannel.IN_APP), True)]
    qs = Notification.objects.filter(recipient_id=actor.person_id, space_id=actor.space_id, kind__in=kinds)
    return qs.filter(read_at__isnull=True) if unread_only else qs


def unread_count(actor: Actor) -> int:
    return inbox(actor, unread_only=True).count()


@dataclass(frozen=True)
class NotificationView:
    id: uuid.UUID
    text: str
    url: str
    created_at: dt.datetime
    read: bool
    visible: bool
    #: What names the record to the reader now (its date and summary, say), cut to their view;
    #: empty when they can no longer see it.
    about: str = ""


def _record_view(actor: Actor, content_type: ContentType, object_id: Any) -> access.Shown[Any] | None:
    model = content_type.model_class()
    if model is None:
        return None
    try:
        registry.get(model)
        return access.fetch(actor, model, object_id, derived=True)
    except (LookupError, NotFound):
        return None


def _about(actor: Actor, shown: access.Shown[Any]) -> str:
    """The record's title line as the reader sees it (:func:`civmil.core.kernel.fields.title`)."""
    from civmil.core.kernel import fields

    record_type = registry.get(type(shown.record))
    if not record_type.fields:
        return ""
    return fields.title(record_type, shown, fields.Page.of(actor, fields.resolve(record_type), [shown]))


def record_url(record: Any) -> str:
    try:
        name = registry.get(type(record)).detail_url_name
        return reverse(name, kwargs={"pk": record.pk}) if name else ""
    except (LookupError, NoReverseMatch):
        return ""


def describe(actor: Actor, notes: list[Notification]) -> list[NotificationView]:
    """What each notification says to ``actor`` now (their view of the record and of the actor)."""
    names = visible_people(actor, [n.actor_id for n in notes if n.actor_id])
    out: list[NotificationView] = []
    for n in notes:
        shown = _record_view(actor, n.content_type, n.object_id)
        open_ = shown is not None and shown.view.kind == access.ViewKind.FULL
        about = ""
        if shown is None or not open_:
            text = _("A notification about a record you can no longer see.")
            url = ""
        else:
            record, about = shown.record, _about(actor, shown)
            what = registry.get(type(record)).label
            who = names.get(n.actor_id, _("someone")) if n.actor_id else _("someone")
            if n.kind == NotificationKind.MENTION:
                text = _("%(who)s mentioned you in the discussion of a %(what)s.") % {"who": who, "what": what}
            else:
                text = _("%(kind)s: a %(what)s.") % {"kind": n.get_kind_display(), "what": what}
            url = record_url(record)
            url = f"{url}#thread" if url else ""
        out.append(NotificationView(id=n.pk, text=text, url=url, created_at=n.created_at,
                                    read=n.read_at is not None, visible=open_, about=about))
    return out


def notification(actor: Actor, pk: Any) -> Notification:
    """One of the actor's own notifications; anyone else's is :class:`NotFound`."""
    try:
        pk = uuid.UUID(str(pk))
    except ValueError:
        raise NotFound(_("No such notification.")) from None
    note = Notification.objects.filter(pk=pk, recipient_id=actor.person_id, space_id=actor.space_id).first()
    if note is None or actor.person_id is None:
        raise NotFound(_("No such notification."))
    return note


def waiting_for_home(actor: Actor) -> list[home.WaitingItem]:
    """For the home page: the reader's unread notifications (mentions, and later kinds)."""
    from django.utils.translation import ngettext

    n = unread_count(actor)
    text = ngettext("%(n)s unread notification", "%(n)s unread notifications", n) % {"n": n}
    return [home.WaitingItem(text=text, url=reverse("comms:notifications"), count=n)]

"""Writes of the notification centre: notifying, reading, preferences, e-mail and the daily digest.

E-mail never carries protected content: the record may be at a level e-mail must not carry. An
e-mail says what kind of thing happened and links to civmil, which shows what the reader may see.

Each e-mail is written in its recipient's language (the one they chose in civmil, else the
site's), with times in their mission's time zone.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from typing import Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.mail import send_mail
from django.db import models, transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from civmil.comms import live
from civmil.comms.models import (
    DigestSent,
    Notification,
    NotificationChannel,
    NotificationKind,
    NotificationPreference,
)
from civmil.comms.queries import notifications as queries
from civmil.core import ledger
from civmil.core.acting import Actor
from civmil.core.errors import Invalid
from civmil.core.formats import mission_datetime
from civmil.core.models import Person
from civmil.core.templatetags.civmil import zone_of_space

logger = logging.getLogger("civmil.comms")


def _site_url(path: str) -> str:
    """An absolute link when ``CIVMIL_SITE_URL`` is set (``https://civmil.example.org``), else the path."""
    return str(getattr(settings, "CIVMIL_SITE_URL", "")).rstrip("/") + path


def _address(person: Person) -> str:
    user = person.user
    if user is None or not user.is_active or not person.is_active:
        return ""
    return str(user.email or "")


def _language(person: Person) -> str:
    """The language the person reads civmil in: their own choice, else the site's."""
    chosen = str(getattr(person.user, "language", "") or "")
    return chosen if chosen in dict(settings.LANGUAGES) else str(settings.LANGUAGE_CODE)


def notify(actor: Actor | None, recipient: Person, kind: str, record: models.Model) -> Notification:
    """Notify ``recipient`` that ``kind`` happened on ``record`` (call inside the caller's transaction).

    The caller has checked that the recipient may see the record. An immediate e-mail (link and kind
    only) leaves after commit when the recipient wants one.
    """
    note = Notification.objects.create(
        space_id=record.space_id,  # type: ignore[attr-defined]
        recipient=recipient, kind=kind, content_type=ContentType.objects.get_for_model(record),
        object_id=record.pk, actor=actor.person if actor else None,
    )
    if queries.wants(recipient.pk, kind, NotificationChannel.EMAIL) and _address(recipient):
        note_id = note.pk
        transaction.on_commit(lambda: send_notification_email(note_id), robust=True)
    return note


def send_notification_email(notification_id: Any) -> bool:
    """Send the immediate e-mail of one notification (once): the kind and a link, nothing else."""
    note = Notification.objects.select_related("recipient__user").filter(
        pk=notification_id, emailed_at__isnull=True).first()
    if note is None:
        return False
    address = _address(note.recipient)
    if not address:
        return False
    link = _site_url(reverse("comms:notification-open", kwargs={"pk": note.pk}))
    zone = zone_of_space(note.recipient.space_id)
    with translation.override(_language(note.recipient)):
        subject = _("civmil: %(kind)s") % {"kind": note.get_kind_display()}
        body = _(
            "%(kind)s (%(when)s).\n\nOpen civmil to read it (you will see what your access allows):\n%(link)s\n\n"
            "This e-mail carries no content of the record on purpose. You can change which e-mails you "
            "get on your notification preferences page."
        ) % {"kind": note.get_kind_display(), "when": mission_datetime(note.created_at, zone), "link": link}
    try:
        send_mail(subject, body, None, [address])
    except Exception:  # the notification stays in the centre; the mail is best effort
        logger.warning("notification e-mail %s could not be sent", note.pk, exc_info=True)
        return False
    Notification.objects.filter(pk=note.pk).update(emailed_at=timezone.now())
    return True


def mark_read(actor: Actor, pk: Any) -> Notification:
    """Mark one of the actor's notifications read."""
    note = queries.notification(actor, pk)
    if note.read_at is None:
        with transaction.atomic():
            note.read_at = timezone.now()
            Notification.objects.filter(pk=note.pk, read_at__isnull=True).update(read_at=note.read_at)
            ledger.append(actor, "notification.read", "comms.notification", note.pk, {"read": True})
    return note


def mark_all_read(actor: Actor) -> int:
    """Mark every unread notification of the actor read; returns how many."""
    with transaction.atomic():
        count = queries.inbox(actor, unread_only=True).update(read_at=timezone.now())
        if count:
            ledger.append(actor, "notification.all_read", "core.person", actor.person_id, {"count": count})
            if actor.user_id is not None:
                live.notify(actor.user_id)  # a bulk update sends no signal: tell the other open pages
    return count


def set_preferences(actor: Actor, choices: dict[tuple[str, str], bool]) -> dict[tuple[str, str], bool]:
    """Save the actor's choice of channel for each kind of notification."""
    if actor.person_id is None:
        raise Invalid(_("Only people with a person record have notification preferences."))
    for kind, channel in choices:
        if kind not in NotificationKind.values or channel not in NotificationChannel.values:
            raise Invalid(_("Unknown kind or channel of notification."))
    with transaction.atomic():
        for (kind, channel), enabled in choices.items():
            NotificationPreference.objects.update_or_create(
                person_id=actor.person_id, kind=kind, channel=channel, defaults={"enabled": bool(enabled)})
        ledger.append(actor, "notification.preferences", "core.person", actor.person_id,
                      {f"{k}.{c}": bool(v) for (k, c), v in sorted(choices.items())})
    return queries.preferences(actor.person_id)


def send_daily_digests(now: dt.datetime | None = None) -> int:
    """The daily digest job: one e-mail per person and (UTC) day, listing how many notifications of
    each kind arrived since their last digest, with a link. Idempotent per day; returns how many
    digests it sent. Register it as a periodic job (daily)."""
    now = now or timezone.now()
    day = now.astimezone(dt.UTC).date()
    person_ids = set(Notification.objects.filter(digested_at__isnull=True, created_at__lte=now)
                     .values_list("recipient_id", flat=True))
    sent = 0
    for person in Person.objects.filter(pk__in=person_ids).select_related("user"):
        prefs = queries.preferences(person.pk)
        kinds = [k for k in NotificationKind.values if prefs.get((k, NotificationChannel.DIGEST), False)]
        notes = list(Notification.objects.filter(recipient=person, kind__in=kinds, digested_at__isnull=True,
                                                 created_at__lte=now))
        address = _address(person)
        if not notes or not address:
            continue
        with transaction.atomic():
            digest, created = DigestSent.objects.get_or_create(person=person, day=day,
                                                               defaults={"count": len(notes)})
            if not created:
                continue
            Notification.objects.filter(pk__in=[n.pk for n in notes]).update(digested_at=now)
            ledger.append(None, "notification.digest", "comms.digestsent", digest.pk,
                          {"person": person.pk, "day": day.isoformat(), "count": len(notes)},
                          space_id=person.space_id)
        _send_digest(person, address, notes, now)
        sent += 1
    return sent


def _send_digest(person: Person, address: str, notes: list[Notification], now: dt.datetime) -> None:
    link = _site_url(reverse("comms:notifications"))
    zone = zone_of_space(person.space_id)
    with translation.override(_language(person)):
        counts = Counter(str(n.get_kind_display()) for n in notes)
        lines = "\n".join(_("- %(kind)s: %(n)s") % {"kind": kind, "n": n} for kind, n in sorted(counts.items()))
        body = _(
            "Your civmil notifications since the last digest, up to %(when)s:\n%(lines)s\n\n"
            "Open civmil to read them:\n%(link)s\n\nThis e-mail carries no content of any record on purpose."
        ) % {"when": mission_datetime(now, zone), "lines": lines, "link": link}
        subject = _("civmil: your daily digest of %(day)s") % {"day": mission_datetime(now, zone, "date")}
    try:
        send_mail(subject, body, None, [address])
    except Exception:  # the digest is recorded; a mail failure is logged, not raised
        logger.warning("daily digest to a person could not be sent", exc_info=True)

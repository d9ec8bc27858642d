"""The notification centre: e-mail without content, preferences, the digest, read marks and the badge."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone, translation

from civmil.comms.models import DigestSent, Notification
from civmil.comms.services import notifications as notification_services
from civmil.comms.services import threads as thread_services
from civmil.core import services as core_services
from civmil.core.choices import Component
from civmil.core.models import Space
from tests.comms.threads_support import ENTRY_TYPE, URLS, make_entry
from tests.test_translations import _compiled_catalogue  # noqa: F401  (the French e-mails need the .mo)

pytestmark = [pytest.mark.django_db, pytest.mark.urls(URLS)]

MARKER = "MARKER-91c2-secret-body"


def _client(m) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(m.user)
    return client


@pytest.fixture
def pair(member):  # type: ignore[no-untyped-def]
    return member(Component.CIVILIAN), member(Component.HUMANITARIAN)


def _mention(author, recipient, capture, body: str = f"Look at this {MARKER}"):  # type: ignore[no-untyped-def]
    entry = make_entry(author, summary=f"Summary {MARKER}")
    with capture(execute=True):
        thread_services.post_message(author.actor, ENTRY_TYPE, entry.pk, body, [recipient.person.pk])
    return entry


def test_the_mention_email_has_a_link_and_no_content(pair, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    author, recipient = pair
    entry = _mention(author, recipient, django_capture_on_commit_callbacks)
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == [recipient.user.email]
    text = sent.subject + sent.body + json.dumps([str(a) for a in sent.alternatives])
    assert MARKER not in text and "Summary" not in text and str(entry.pk) not in text
    note = Notification.objects.get()
    assert f"/comms/notifications/{note.pk}/open/" in sent.body
    assert Notification.objects.get().emailed_at is not None
    # the link leads to the record for a reader who may see it
    response = _client(recipient).get(f"/comms/notifications/{note.pk}/open/")
    assert response.status_code == 302 and response["Location"] == f"/directory/liaison/{entry.pk}/#thread"


def test_the_open_link_of_someone_elses_notification_is_404(pair, member, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    author, recipient = pair
    _mention(author, recipient, django_capture_on_commit_callbacks)
    note = Notification.objects.get()
    stranger = _client(member(Component.HUMANITARIAN))
    assert stranger.get(f"/comms/notifications/{note.pk}/open/").status_code == 404
    assert stranger.post(f"/comms/notifications/{note.pk}/read/").status_code == 404
    assert Notification.objects.get().read_at is None


def test_no_email_when_the_person_turned_it_off(pair, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    author, recipient = pair
    response = _client(recipient).post("/comms/notifications/preferences/", {"mention.in_app": "on"})
    assert response.status_code == 302
    _mention(author, recipient, django_capture_on_commit_callbacks)
    assert Notification.objects.count() == 1
    assert mail.outbox == []
    page = _client(recipient).get("/comms/notifications/preferences/").content.decode()
    assert 'name="mention.email"' in page and 'name="mention.email" aria-label' in page
    assert 'name="mention.in_app" aria-label="You were mentioned in a discussion: In the application" checked' in page


def test_in_app_off_hides_it_from_the_centre_and_the_badge(pair, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    author, recipient = pair
    client = _client(recipient)
    client.post("/comms/notifications/preferences/", {"mention.email": "on"})
    _mention(author, recipient, django_capture_on_commit_callbacks)
    assert len(mail.outbox) == 1
    assert "You have no notifications" in client.get("/comms/notifications/").content.decode()
    assert 'class="badge"' not in client.get("/comms/notifications/unread/").content.decode()


def test_read_marks_and_the_badge(pair, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    author, recipient = pair
    _mention(author, recipient, django_capture_on_commit_callbacks)
    _mention(author, recipient, django_capture_on_commit_callbacks)
    client = _client(recipient)
    badge = client.get("/comms/notifications/unread/").content.decode()
    assert "2 unread notifications" in badge
    first = Notification.objects.order_by("created_at").first()
    assert first is not None
    assert client.post(f"/comms/notifications/{first.pk}/read/").status_code == 302
    assert "1 unread notification" in client.get("/comms/notifications/unread/").content.decode()
    assert client.post("/comms/notifications/read-all/").status_code == 302
    assert 'class="badge"' not in client.get("/comms/notifications/unread/").content.decode()
    assert not Notification.objects.filter(read_at__isnull=True).exists()
    assert client.get("/comms/notifications/read-all/").status_code == 405


def test_the_author_sees_no_notification_of_the_recipient(pair, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    author, recipient = pair
    _mention(author, recipient, django_capture_on_commit_callbacks)
    client = _client(author)
    assert "You have no notifications" in client.get("/comms/notifications/").content.decode()
    assert client.get("/api/v1/notifications").json()["count"] == 0


def test_the_notification_api(pair, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    author, recipient = pair
    entry = _mention(author, recipient, django_capture_on_commit_callbacks)
    client = _client(recipient)
    data = client.get("/api/v1/notifications").json()
    assert data["count"] == 1 and data["unread"] == 1
    item = data["items"][0]
    assert item["url"] == f"/directory/liaison/{entry.pk}/#thread" and not item["read"]
    # It names the record as the reader sees it (time and summary), never the message itself.
    assert item["about"].endswith(f" · Summary {MARKER}"), item["about"]
    assert "Look at this" not in json.dumps(data)
    assert client.post(f"/api/v1/notifications/{item['id']}/read").status_code == 204
    assert client.get("/api/v1/notifications", {"unread": "true"}).json()["count"] == 0
    assert client.post(f"/api/v1/notifications/{uuid.uuid4()}/read").status_code == 404


def test_the_daily_digest_is_sent_once_a_day_and_carries_no_content(pair, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    author, recipient = pair
    _client(recipient).post("/comms/notifications/preferences/", {"mention.in_app": "on", "mention.digest": "on"})
    _mention(author, recipient, django_capture_on_commit_callbacks)
    assert mail.outbox == []  # no immediate e-mail: turned off
    now = timezone.now() + dt.timedelta(minutes=1)
    assert notification_services.send_daily_digests(now) == 1
    assert notification_services.send_daily_digests(now) == 0
    _mention(author, recipient, django_capture_on_commit_callbacks)
    assert notification_services.send_daily_digests(now + dt.timedelta(minutes=5)) == 0  # same day
    assert len(mail.outbox) == 1
    digest = mail.outbox[0]
    assert digest.to == [recipient.user.email] and "1" in digest.body
    assert MARKER not in digest.subject + digest.body
    assert notification_services.send_daily_digests(now + dt.timedelta(days=1)) == 1  # the next day: the rest
    assert len(mail.outbox) == 2 and DigestSent.objects.count() == 2


def test_no_digest_for_people_who_did_not_ask(pair, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    author, recipient = pair
    _mention(author, recipient, django_capture_on_commit_callbacks)
    mail.outbox.clear()
    assert notification_services.send_daily_digests(timezone.now() + dt.timedelta(minutes=1)) == 0
    assert mail.outbox == []


# ---- each e-mail in its recipient's language, times in the mission zone --------------------------

MAY_1_0900_UTC = dt.datetime(2024, 5, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def juba() -> None:
    """The mission runs in Africa/Juba (UTC+2, shown as CAT)."""
    core_services.update_mission_settings(None, Space.live(), {"time_zone": "Africa/Juba"})


def _mention_at(author, recipient, capture, when: dt.datetime):  # type: ignore[no-untyped-def]
    """A mention whose e-mail is sent as if it had come at ``when``."""
    _mention(author, recipient, capture)
    mail.outbox.clear()
    note = Notification.objects.get(recipient=recipient.person)
    Notification.objects.filter(pk=note.pk).update(created_at=when, emailed_at=None)
    assert notification_services.send_notification_email(note.pk)
    assert len(mail.outbox) == 1
    return mail.outbox[0]


@pytest.mark.usefixtures("_compiled_catalogue", "juba")
def test_the_mention_email_is_in_the_language_the_recipient_chose(pair, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    author, recipient = pair
    core_services.set_preferred_language(recipient.actor, "fr")
    sent = _mention_at(author, recipient, django_capture_on_commit_callbacks, MAY_1_0900_UTC)
    assert sent.subject == "civmil : Vous avez été mentionné dans une discussion"
    assert sent.body.startswith("Vous avez été mentionné dans une discussion (1 mai 2024 11:00 CAT).\n")
    assert "Ouvrez civmil pour le lire" in sent.body and "Ce courriel ne contient volontairement rien" in sent.body
    assert "Open civmil" not in sent.body
    # The author's language, or the one active when the mail leaves, does not matter.
    assert translation.get_language() == "en"


@pytest.mark.usefixtures("_compiled_catalogue", "juba")
def test_the_mention_email_is_in_english_for_an_english_reader(pair, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    author, recipient = pair
    core_services.set_preferred_language(author.actor, "fr")  # the author's choice is not the recipient's
    core_services.set_preferred_language(recipient.actor, "en")
    with translation.override("fr"):
        sent = _mention_at(author, recipient, django_capture_on_commit_callbacks, MAY_1_0900_UTC)
    assert sent.subject == "civmil: You were mentioned in a discussion"
    assert sent.body.startswith("You were mentioned in a discussion (1 May 2024, 11:00 CAT).\n")
    assert "Vous" not in sent.body


@pytest.mark.usefixtures("_compiled_catalogue", "juba")
def test_without_a_choice_the_email_is_in_the_sites_language(pair, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    author, recipient = pair
    with translation.override("fr"):
        sent = _mention_at(author, recipient, django_capture_on_commit_callbacks, MAY_1_0900_UTC)
    assert sent.subject == "civmil: You were mentioned in a discussion"


@pytest.mark.usefixtures("_compiled_catalogue", "juba")
def test_the_daily_digest_is_in_each_recipients_language(member, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    author, french, english = member(Component.CIVILIAN), member(Component.HUMANITARIAN), member(Component.HUMANITARIAN)
    core_services.set_preferred_language(french.actor, "fr")
    for reader in (french, english):
        _client(reader).post("/comms/notifications/preferences/", {"mention.in_app": "on", "mention.digest": "on"})
        _mention(author, reader, django_capture_on_commit_callbacks)
    Notification.objects.update(created_at=MAY_1_0900_UTC)
    # 22:30 UTC on 1 May is already 2 May in Juba.
    assert notification_services.send_daily_digests(dt.datetime(2024, 5, 1, 22, 30, tzinfo=dt.UTC)) == 2
    sent = {m.to[0]: m for m in mail.outbox}
    in_french, in_english = sent[french.user.email], sent[english.user.email]
    assert in_french.subject == "civmil : votre récapitulatif quotidien du 2 mai 2024"
    assert in_french.body.startswith(
        "Vos notifications civmil depuis le dernier récapitulatif, jusqu'au 2 mai 2024 00:30 CAT :\n"
        "- Vous avez été mentionné dans une discussion : 1\n")
    assert in_english.subject == "civmil: your daily digest of 2 May 2024"
    assert in_english.body.startswith(
        "Your civmil notifications since the last digest, up to 2 May 2024, 00:30 CAT:\n"
        "- You were mentioned in a discussion: 1\n")


def test_pages_need_sign_in() -> None:
    assert Client().get("/comms/notifications/").status_code == 302
    assert Client().get("/comms/notifications/unread/").status_code == 204
    assert Client().get("/api/v1/notifications").status_code == 401


def test_a_notification_names_its_record_only_while_it_is_seen(pair, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    """The centre says which record a notification is about (its title line, cut to the reader's
    view); once the record is closed to them it names nothing."""
    from civmil.actors.models import LiaisonLogEntry
    from civmil.core.choices import Level

    author, recipient = pair
    entry = _mention(author, recipient, django_capture_on_commit_callbacks)
    client = _client(recipient)
    page = client.get("/comms/notifications/").content.decode()
    assert f"Summary {MARKER}" in page and 'class="notification-about"' in page
    core_services.update_record(author.actor, LiaisonLogEntry, entry.pk, entry.version, {"level": Level.RESTRICTED},
                                action="liaison.edited")
    page = client.get("/comms/notifications/").content.decode()
    assert MARKER not in page and "a record you can no longer see" in page
    assert client.get("/api/v1/notifications").json()["items"][0]["about"] == ""

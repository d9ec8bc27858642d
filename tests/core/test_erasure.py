"""Erasing a person's personal data: asked by an administrator, approved by a second person."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.contrib.sessions.models import Session
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse

from civmil.actors import services as actor_services
from civmil.actors.services import LiaisonContact
from civmil.comms import search
from civmil.comms.models import SearchDocument
from civmil.comms.services import attachments
from civmil.core import access, ledger, registry, services
from civmil.core.accounts import erasure
from civmil.core.choices import Component, Level, Role
from civmil.core.errors import Forbidden, Invalid, NotFound
from civmil.core.models import ErasureRequest, LedgerChange, LedgerEntry, OutboxEvent, Person, User
from tests.factories import PASSWORD, Member, make_member


def _stored(attachment: Any) -> Path:
    """Where the default (local) storage keeps an attachment's file."""
    from django.conf import settings as django_settings

    return Path(django_settings.MEDIA_ROOT) / attachments.stored_name(attachment)


pytestmark = pytest.mark.django_db


@pytest.fixture
def admins() -> tuple[Member, Member]:
    return make_member(Component.CIVILIAN, role=Role.ADMINISTRATOR), make_member(Component.CIVILIAN,
                                                                                 role=Role.ADMINISTRATOR)


@pytest.fixture
def subject(admins: tuple[Member, Member]) -> Member:
    m = make_member(Component.HUMANITARIAN)
    person = Person.objects.get(pk=m.person.pk)
    person.full_name = "Zanzibar Quixote"
    person.phone = "+211 912 345 678"
    person.radio_call_sign = "KILO-9"
    person.languages = "Arabic, English"
    services.save_person(admins[0].actor, person)
    m.person.refresh_from_db()
    return m


def _person_changes(m: Member) -> list[LedgerChange]:
    return list(LedgerChange.objects.filter(entry__object_type="core.person", entry__object_id=str(m.person.pk)))


def _found(name: str, m: Member) -> list[search.Match]:
    return search.match(search.parse_query(name), m.person.space_id)


def test_request_and_second_approval_erase_everything(admins: tuple[Member, Member], subject: Member,
                                                      client: Client) -> None:
    first, second = admins
    assert _found("Zanzibar", subject), "the search index holds the name before the erasure"
    assert any(c.data is not None and "Zanzibar Quixote" in str(c.data) for c in _person_changes(subject))
    client.force_login(subject.user)
    OutboxEvent.objects.create(space_id=subject.person.space_id, kind="person.updated",
                               object_type="core.person", object_id=str(subject.person.pk))

    request = erasure.request_erasure(first.actor, subject.person, "Asked under the data protection policy")
    erasure.approve_erasure(second.actor, request)

    person = Person.objects.get(pk=subject.person.pk)
    assert person.full_name == f"Erased person {str(person.pk)[:8]}"
    assert (person.email, person.phone, person.radio_call_sign, person.messaging, person.languages, person.title) \
        == ("", "", "", "", "", "")
    user = User.objects.get(pk=subject.user.pk)
    assert not user.is_active and user.email == "" and not user.has_usable_password()
    assert subject.user.username not in user.username
    assert not Session.objects.exists(), "the person's sessions ended"
    # Every stored change about the person and their account is nulled; the chain still verifies.
    changes = _person_changes(subject) + list(LedgerChange.objects.filter(
        entry__object_type="core.user", entry__object_id=str(user.pk)))
    assert len(changes) >= 3
    assert all(c.data is None and c.erased_by_seq is not None for c in changes)
    result = ledger.verify()
    assert result.ok, result.problems
    assert not _found("Zanzibar", subject)
    assert not SearchDocument.objects.filter(body__icontains="Quixote").exists()
    assert not OutboxEvent.objects.filter(object_type="core.person", object_id=str(person.pk)).exists()
    # The ledger keeps who asked, who approved and why, never the erased name.
    approved = LedgerEntry.objects.get(action="erasure.approved")
    data = LedgerChange.objects.get(entry=approved).data
    assert data["reason"] == "Asked under the data protection policy"
    assert "Zanzibar" not in str(data)
    assert approved.actor_user_id == second.user.pk
    request.refresh_from_db()
    assert request.approved_by_id == second.user.pk and request.carried_out_at is not None


def test_requester_cannot_approve_their_own_request(admins: tuple[Member, Member], subject: Member) -> None:
    first, _second = admins
    request = erasure.request_erasure(first.actor, subject.person, "Asked by the person")
    with pytest.raises(Forbidden):
        erasure.approve_erasure(first.actor, request)
    assert Person.objects.get(pk=subject.person.pk).full_name == "Zanzibar Quixote"
    assert ErasureRequest.objects.get(pk=request.pk).is_pending


def test_non_administrators_are_refused(admins: tuple[Member, Member], subject: Member) -> None:
    staff = make_member(Component.CIVILIAN)
    with pytest.raises(Forbidden):
        erasure.request_erasure(staff.actor, subject.person, "Because")
    request = erasure.request_erasure(admins[0].actor, subject.person, "Because")
    with pytest.raises(Forbidden):
        erasure.approve_erasure(staff.actor, request)
    assert not LedgerEntry.objects.filter(action="erasure.approved").exists()


def test_reason_required_and_one_pending_request(admins: tuple[Member, Member], subject: Member) -> None:
    with pytest.raises(Invalid) as excinfo:
        erasure.request_erasure(admins[0].actor, subject.person, "  ")
    assert "reason" in excinfo.value.errors
    erasure.request_erasure(admins[0].actor, subject.person, "Because")
    with pytest.raises(Invalid):
        erasure.request_erasure(admins[1].actor, subject.person, "Again")


def test_refused_request_erases_nothing(admins: tuple[Member, Member], subject: Member) -> None:
    request = erasure.request_erasure(admins[0].actor, subject.person, "Because")
    erasure.refuse_erasure(admins[1].actor, request)
    with pytest.raises(Invalid):
        erasure.approve_erasure(admins[1].actor, request)
    assert Person.objects.get(pk=subject.person.pk).full_name == "Zanzibar Quixote"


def test_browser_request_then_second_administrator_approves(admins: tuple[Member, Member], subject: Member) -> None:
    first, second = admins
    browser = Client()
    browser.force_login(first.user)
    person_page = browser.get(reverse("actors:person", args=[subject.person.pk]))
    new_url = reverse("core:erasure-new") + f"?person={subject.person.pk}"
    assert new_url.encode() in person_page.content.replace(b"&amp;", b"&")
    assert browser.get(new_url).status_code == 200
    assert browser.post(new_url, {"person": str(subject.person.pk), "reason": ""}).status_code == 422
    response = browser.post(new_url, {"person": str(subject.person.pk), "reason": "Asked by the person"})
    assert response.status_code == 302
    request = ErasureRequest.objects.get(person=subject.person)
    decide = reverse("core:erasure-decide", args=[request.pk])
    assert browser.post(decide, {"decision": "approve"}).status_code == 403
    assert Person.objects.get(pk=subject.person.pk).full_name == "Zanzibar Quixote"

    other = Client()
    other.force_login(second.user)
    listing = other.get(reverse("core:erasure-list"))
    assert listing.status_code == 200 and b"Approve and erase" in listing.content
    assert other.post(decide, {"decision": "approve"}).status_code == 302
    assert Person.objects.get(pk=subject.person.pk).full_name.startswith("Erased person")


def test_browser_refuses_non_administrators(admins: tuple[Member, Member], subject: Member) -> None:
    staff = make_member(Component.CIVILIAN)
    browser = Client()
    browser.force_login(staff.user)
    page = browser.get(reverse("actors:person", args=[subject.person.pk]))
    assert b"Erase personal data" not in page.content
    new_url = reverse("core:erasure-new") + f"?person={subject.person.pk}"
    assert browser.get(new_url).status_code == 403
    assert browser.post(new_url, {"person": str(subject.person.pk), "reason": "x"}).status_code == 403
    assert browser.get(reverse("core:erasure-list")).status_code == 403
    admin = Client()
    admin.force_login(admins[0].user)
    assert admin.get(reverse("core:erasure-new") + "?person=not-a-uuid").status_code == 404
    assert not ErasureRequest.objects.exists()


def typed(monkeypatch: pytest.MonkeyPatch, *answers: str) -> None:
    """What the approver types at the console (the commands read standard input when it is no terminal)."""
    monkeypatch.setattr("sys.stdin", io.StringIO("".join(f"{a}\n" for a in answers)))


def test_command_line(admins: tuple[Member, Member], subject: Member, capsys: pytest.CaptureFixture[str],
                      monkeypatch: pytest.MonkeyPatch) -> None:
    staff = make_member(Component.CIVILIAN)
    with pytest.raises(CommandError):
        call_command("erase_person", str(subject.person.pk), "--reason", "Asked", "--approved-by",
                     staff.user.username)
    with pytest.raises(CommandError):
        call_command("erase_person", "nonsense", "--reason", "Asked", "--approved-by", admins[0].user.username)
    typed(monkeypatch, "not-the-password")  # the operator cannot approve in the administrator's name
    with pytest.raises(CommandError, match="not confirmed"):
        call_command("erase_person", str(subject.person.pk), "--reason", "Asked", "--approved-by",
                     admins[0].user.username)
    assert Person.objects.get(pk=subject.person.pk).full_name == "Zanzibar Quixote"

    typed(monkeypatch, PASSWORD)
    call_command("erase_person", str(subject.person.pk), "--reason", "Asked by letter", "--approved-by",
                 admins[0].user.username)
    person = Person.objects.get(pk=subject.person.pk)
    assert person.full_name.startswith("Erased person") and person.phone == ""
    assert all(c.data is None for c in _person_changes(subject))
    assert ledger.verify().ok
    request = ErasureRequest.objects.get(person=person)
    assert request.requested_by_id is None and request.approved_by_id == admins[0].user.pk
    assert "Zanzibar" not in capsys.readouterr().out


def test_attachments_about_the_person_are_erased_with_them_what_they_uploaded_elsewhere_stays(
        admins: tuple[Member, Member], subject: Member, client: Client, settings: Any, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any) -> None:
    """Files attached to the person's own record (e.g. a photo, were a person's record to take
    attachments) are erased with them; files they attached to other records are those records'
    evidence and stay, shown as attached by the erased person."""
    settings.MEDIA_ROOT = tmp_path / "media"
    first, second = admins
    monkeypatch.setitem(registry._TYPES, Person, dataclasses.replace(registry.get(Person), attachments=True))
    photo = attachments.add_attachment(first.actor, "core.person", subject.person.pk,
                                       SimpleUploadedFile("zanzibar-quixote.txt", b"Zanzibar Quixote, born 1990"))
    entry = actor_services.record_liaison_contact(subject.actor, LiaisonContact(
        occurred_at=dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC), channel="meeting", summary="Water point",
        level=Level.MISSION, organisation_ids=[subject.org.pk]))
    evidence = attachments.add_attachment(subject.actor, "actors.liaisonlogentry", entry.pk,
                                          SimpleUploadedFile("water-point.txt", b"the pump is broken"))

    request = erasure.request_erasure(first.actor, subject.person, "Asked under the data protection policy")
    with django_capture_on_commit_callbacks(execute=True):
        erasure.approve_erasure(second.actor, request)

    photo.refresh_from_db()
    assert photo.erased_at is not None and photo.filename == "" and photo.sha256 == ""
    assert not _stored(photo).exists()
    evidence.refresh_from_db()
    assert evidence.erased_at is None and _stored(evidence).read_bytes() == b"the pump is broken"
    result = ledger.verify()
    assert result.ok, result.problems
    client.force_login(first.user)
    response = client.get(reverse("comms:attachment-download", kwargs={"pk": photo.pk}))
    assert response.status_code == 410 and b"zanzibar" not in response.content.lower()
    page = client.get(reverse("actors:liaison-entry", kwargs={"pk": entry.pk})).content.decode()
    assert "water-point.txt" in page and f"Erased person {str(subject.person.pk)[:8]}" in page
    assert "Zanzibar" not in page


def test_one_stored_change_is_erased_from_the_console_with_a_second_persons_approval(
        admins: tuple[Member, Member], subject: Member, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from allauth.mfa.totp.internal.auth import TOTP

    from civmil.demo.loader import current_totp_code

    changed = _person_changes(subject)[-1]
    staff = make_member(Component.CIVILIAN)
    with pytest.raises(CommandError, match="not an active account"):
        call_command("ledger", "erase", str(changed.entry_id), "--reason", "Asked", "--approved-by",
                     staff.user.username)
    typed(monkeypatch, PASSWORD)
    with pytest.raises(CommandError, match="No ledger entry"):
        call_command("ledger", "erase", "999999", "--reason", "Asked", "--approved-by", admins[0].user.username)
    typed(monkeypatch, PASSWORD)
    with pytest.raises(CommandError, match="Say why"):
        call_command("ledger", "erase", str(changed.entry_id), "--reason", " ", "--approved-by",
                     admins[0].user.username)
    # An approver with an authenticator app types a code from it as well.
    secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    TOTP.activate(admins[1].user, secret)
    typed(monkeypatch, PASSWORD, "000000")
    with pytest.raises(CommandError, match="not confirmed"):
        call_command("ledger", "erase", str(changed.entry_id), "--reason", "Asked", "--approved-by",
                     admins[1].user.username)
    assert LedgerChange.objects.get(pk=changed.pk).data is not None

    typed(monkeypatch, PASSWORD, current_totp_code(secret))
    call_command("ledger", "erase", str(changed.entry_id), "--reason", "Asked by letter", "--approved-by",
                 admins[1].user.username)
    assert LedgerChange.objects.get(pk=changed.pk).data is None
    erased_by = LedgerChange.objects.get(pk=changed.pk).erased_by_seq
    assert f"entry #{changed.entry_id}" in capsys.readouterr().out and erased_by is not None
    assert LedgerEntry.objects.get(seq=erased_by).action == "ledger.erased"
    assert ledger.verify().ok
    typed(monkeypatch, PASSWORD)
    with pytest.raises(CommandError, match="already erased"):
        call_command("ledger", "erase", str(changed.entry_id), "--reason", "Again", "--approved-by",
                     admins[0].user.username)


# ---------------------------------------------------------------------------------------------
# People through the policy: a person the administrator may not see is missing to them


def _page(response: Any, *ids: Any) -> tuple[int, bytes]:
    """Status and body, without the per-response CSRF token and with the ids asked for replaced."""
    body = re.sub(rb'(name="csrfmiddlewaretoken" value=|name="csrf-token" content=)"[^"]*"', rb'\1""',
                  response.content)
    for pk in ids:
        body = body.replace(str(pk).encode(), b"<id>")
    return response.status_code, body


@pytest.fixture
def host_admin() -> Member:
    """An administrator of a host-nation organisation: people of other organisations at contact
    level MISSION do not exist for them."""
    return make_member(Component.HOST_NATION, role=Role.ADMINISTRATOR)


def test_erasure_pages_answer_for_a_hidden_person_as_for_a_missing_one(admins: tuple[Member, Member],
                                                                       subject: Member, host_admin: Member) -> None:
    hidden, missing = subject.person.pk, uuid.uuid4()
    assert not access.visible(host_admin.actor, Person.objects.filter(pk=hidden)).exists()
    browser = Client()
    browser.force_login(host_admin.user)
    new = reverse("core:erasure-new")
    for method, data in (("get", {}), ("post", {"reason": "Asked by the person"})):
        answers = [_page(getattr(browser, method)(f"{new}?person={pk}", {**data, "person": str(pk)}
                                                  if method == "post" else {}), pk) for pk in (hidden, missing)]
        assert answers[0] == answers[1] and answers[0][0] == 404
        assert b"Zanzibar" not in answers[0][1]
    assert not ErasureRequest.objects.exists()
    with pytest.raises(NotFound):
        erasure.request_erasure(host_admin.actor, subject.person, "Asked by the person")
    assert not ErasureRequest.objects.exists()

    # A request another administrator made is missing to them too: not listed, not decided.
    request = erasure.request_erasure(admins[0].actor, subject.person, "Asked by the person")
    listing = browser.get(reverse("core:erasure-list")).content.decode()
    assert "Zanzibar" not in listing and str(request.pk) not in listing and str(hidden) not in listing
    for decision in ("approve", "refuse"):
        answers = [_page(browser.post(reverse("core:erasure-decide", args=[pk]), {"decision": decision}), pk)
                   for pk in (request.pk, uuid.uuid4())]
        assert answers[0] == answers[1] and answers[0][0] == 404
    with pytest.raises(NotFound):
        erasure.approve_erasure(host_admin.actor, request)
    with pytest.raises(NotFound):
        erasure.refuse_erasure(host_admin.actor, request)
    assert ErasureRequest.objects.get(pk=request.pk).is_pending
    assert Person.objects.get(pk=hidden).full_name == "Zanzibar Quixote"


def test_the_erasure_list_names_requesters_through_the_policy(admins: tuple[Member, Member],
                                                              host_admin: Member) -> None:
    """A request about a person the host-nation administrator sees (their own organisation's),
    asked by an administrator they may not see: the requester is "withheld", never named."""
    colleague = make_member(Component.HOST_NATION, org=host_admin.org)
    requester = admins[0]
    assert not access.visible(host_admin.actor, Person.objects.filter(pk=requester.person.pk)).exists()
    erasure.request_erasure(requester.actor, colleague.person, "Asked by the person")
    browser = Client()
    browser.force_login(host_admin.user)
    listing = browser.get(reverse("core:erasure-list")).content.decode()
    assert colleague.person.full_name in listing and "withheld" in listing
    assert requester.person.full_name not in listing and requester.user.username not in listing
    other = Client()
    other.force_login(admins[1].user)
    listing = other.get(reverse("core:erasure-list")).content.decode()
    assert colleague.person.full_name in listing and requester.person.full_name in listing

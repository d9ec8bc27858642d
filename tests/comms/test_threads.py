"""Threads on records: the thread has the record's access, mentions notify only who may read it."""

from __future__ import annotations

import json
import re
import uuid

import pytest
from django.core import mail
from django.test import Client

from civmil.comms.models import Message, Notification
from civmil.comms.services import threads as thread_services
from civmil.core import services as core_services
from civmil.core.choices import Component, Level
from civmil.core.errors import Invalid, NotFound
from civmil.core.models import LedgerEntry, OutboxEvent, Person
from tests.comms.threads_support import ENTRY_TYPE, URLS, api_thread_url, make_entry, thread_url

pytestmark = [pytest.mark.django_db, pytest.mark.urls(URLS)]

MARKER = "MARKER-7f3a-thread-body"
_CSRF = re.compile(rb'(name="csrfmiddlewaretoken" value=|name="csrf-token" content=)"[^"]*"')


def _normal(body: bytes, *ids: object) -> bytes:
    """A page without its per-response CSRF token and with the ids asked for replaced."""
    body = _CSRF.sub(rb"\1-", body)
    for pk in ids:
        body = body.replace(str(pk).encode(), b"<id>")
    return body


def _client(m) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(m.user)
    return client


def _post(client: Client, entry, body: str, mentions: list[str] | None = None, next_url: str = ""):  # type: ignore[no-untyped-def]
    return client.post(thread_url(entry), {"body": body, "mentions": mentions or [], "next": next_url})


@pytest.fixture
def setting(member):  # type: ignore[no-untyped-def]
    author = member(Component.CIVILIAN)
    entry = make_entry(author)
    thread_services.post_message(author.actor, ENTRY_TYPE, entry.pk, f"First note {MARKER}")
    return author, entry


def test_full_reader_sees_the_thread_on_every_channel(setting, member) -> None:  # type: ignore[no-untyped-def]
    _author, entry = setting
    reader = _client(member(Component.HUMANITARIAN))  # MISSION level: humanitarians see it all
    assert MARKER in reader.get(thread_url(entry)).content.decode()
    assert MARKER in reader.get(f"/directory/liaison/{entry.pk}/").content.decode()
    data = reader.get(api_thread_url(entry)).json()
    assert [MARKER in m["html"] for m in data["messages"]] == [True]


def test_a_reader_without_the_record_gets_the_404_of_a_missing_one(setting, member) -> None:  # type: ignore[no-untyped-def]
    _author, entry = setting
    outsider = _client(member(Component.HOST_NATION))  # MISSION is closed to the host nation
    other = uuid.uuid4()
    hidden, missing = outsider.get(thread_url(entry)), outsider.get(f"/comms/threads/{ENTRY_TYPE}/{other}/")
    assert hidden.status_code == missing.status_code == 404
    assert _normal(hidden.content, entry.pk) == _normal(missing.content, other)
    assert MARKER not in hidden.content.decode()
    api_hidden = outsider.get(api_thread_url(entry))
    api_missing = outsider.get(f"/api/v1/threads/{ENTRY_TYPE}/{uuid.uuid4()}")
    assert api_hidden.status_code == api_missing.status_code == 404
    assert api_hidden.json() == api_missing.json()
    posted = outsider.post(thread_url(entry), {"body": "let me in"})
    assert posted.status_code == 404
    assert not Message.objects.filter(body="let me in").exists()


def test_a_reduced_reader_gets_no_thread(setting, member) -> None:  # type: ignore[no-untyped-def]
    author, entry = setting
    host = member(Component.HOST_NATION)
    core_services.release_record(author.actor, entry, organisation=host.org, fields=["channel"])
    client = _client(host)
    assert client.get(thread_url(entry)).status_code == 404
    page = client.get(f"/directory/liaison/{entry.pk}/")
    assert page.status_code == 200
    assert MARKER not in page.content.decode()
    assert "open only to readers who see all of it" in page.content.decode()
    assert client.get(api_thread_url(entry)).status_code == 404


def test_posting_is_ledgered_as_a_hash_and_published_on_the_record_stream(member) -> None:  # type: ignore[no-untyped-def]
    author = member(Component.CIVILIAN)
    entry = make_entry(author)
    response = _post(_client(author), entry, f"Posted {MARKER}", next_url=f"/directory/liaison/{entry.pk}/")
    assert response.status_code == 302
    assert response["Location"] == f"/directory/liaison/{entry.pk}/#thread"
    message = Message.objects.get()
    assert message.body == f"Posted {MARKER}"
    ledgered = LedgerEntry.objects.get(action="thread.message")
    assert ledgered.object_id == str(message.pk)
    change = ledgered.change.data
    assert MARKER not in json.dumps(change)
    assert change["length"] == len(message.body) and len(change["body_sha256"]) == 64
    event = OutboxEvent.objects.get(kind="thread.message")
    assert (event.object_type, event.object_id) == (ENTRY_TYPE, str(entry.pk))


def test_unsafe_next_is_ignored(member) -> None:  # type: ignore[no-untyped-def]
    author = member(Component.CIVILIAN)
    entry = make_entry(author)
    response = _post(_client(author), entry, "hello", next_url="https://evil.example/")
    assert response["Location"] == thread_url(entry) + "#thread"


def test_scripts_are_stripped_and_markdown_rendered(member) -> None:  # type: ignore[no-untyped-def]
    author = member(Component.CIVILIAN)
    entry = make_entry(author)
    client = _client(author)
    _post(client, entry, '**bold** <script>alert("x")</script><img src=x onerror=alert(1)> [l](javascript:alert(1))')
    html = client.get(thread_url(entry)).content.decode()
    assert "<strong>bold</strong>" in html
    assert 'alert("x")' not in html and "onerror" not in html and 'href="javascript' not in html
    assert Message.objects.get().body.startswith("**bold** <script>")  # stored as written


def test_empty_and_too_long_messages_are_refused_with_a_message(member) -> None:  # type: ignore[no-untyped-def]
    author = member(Component.CIVILIAN)
    entry = make_entry(author)
    client = _client(author)
    empty = _post(client, entry, "   ")
    assert empty.status_code == 422 and "This field is required" in empty.content.decode()
    too_long = _post(client, entry, "x" * 10_001)
    assert too_long.status_code == 422 and "at most 10000 characters" in too_long.content.decode()
    api = client.post(f"{api_thread_url(entry)}/messages", json.dumps({"body": ""}), content_type="application/json")
    assert api.status_code == 422 and "body" in api.json()["errors"]
    assert not Message.objects.exists()


def test_unknown_types_and_types_without_threads_are_404(member) -> None:  # type: ignore[no-untyped-def]
    author = member(Component.CIVILIAN)
    entry = make_entry(author)
    client = _client(author)
    assert client.get(f"/comms/threads/nope.nothing/{entry.pk}/").status_code == 404
    assert client.get(f"/comms/threads/core.person/{author.person.pk}/").status_code == 404
    with pytest.raises(NotFound):
        thread_services.post_message(author.actor, "core.person", author.person.pk, "hi")


def test_signed_out_visitors_are_sent_to_sign_in(member) -> None:  # type: ignore[no-untyped-def]
    entry = make_entry(member(Component.CIVILIAN))
    response = Client().get(thread_url(entry))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert Client().get(api_thread_url(entry)).status_code == 401


def test_picker_mention_notifies_and_the_notification_links_to_the_record(member) -> None:  # type: ignore[no-untyped-def]
    author = member(Component.CIVILIAN)
    colleague = member(Component.HUMANITARIAN)
    entry = make_entry(author)
    client = _client(author)
    assert str(colleague.person.pk) in client.get(thread_url(entry)).content.decode()  # offered by the picker
    response = _post(client, entry, f"Please look {MARKER}", mentions=[str(colleague.person.pk)])
    assert response.status_code == 302
    note = Notification.objects.get()
    assert note.recipient == colleague.person and note.kind == "mention"
    page = _client(colleague).get("/comms/notifications/").content.decode()
    assert f"/directory/liaison/{entry.pk}/#thread" in page
    assert "mentioned you" in page and author.person.full_name in page
    assert MARKER not in page  # notifications never carry the message


def test_markup_mention_notifies(member) -> None:  # type: ignore[no-untyped-def]
    author = member(Component.CIVILIAN)
    colleague = member(Component.MILITARY)
    entry = make_entry(author)
    thread_services.post_message(author.actor, ENTRY_TYPE, entry.pk,
                                 f"Ask @[{colleague.person.full_name}]({colleague.person.pk}) first")
    assert list(Notification.objects.values_list("recipient_id", flat=True)) == [colleague.person.pk]
    html = _client(author).get(thread_url(entry)).content.decode()
    assert f'<span class="mention">@{colleague.person.full_name}</span>' in html


def test_mentioning_someone_who_may_not_read_the_record_is_refused(member) -> None:  # type: ignore[no-untyped-def]
    author = member(Component.CIVILIAN)
    outsider = member(Component.HOST_NATION)
    entry = make_entry(author)
    client = _client(author)
    assert str(outsider.person.pk) not in client.get(thread_url(entry)).content.decode()  # not offered
    response = client.post(thread_url(entry), {"body": f"see {MARKER}", "mentions": [str(outsider.person.pk)]})
    assert response.status_code == 422  # not a choice of the picker
    with pytest.raises(Invalid) as refused:
        thread_services.post_message(author.actor, ENTRY_TYPE, entry.pk,
                                     f"see @[x]({outsider.person.pk}) {MARKER}")
    # The refusal names nobody and says nothing of who may read the record (test_mention_refusals.py).
    assert outsider.person.full_name not in refused.value.message and "cannot be delivered" in refused.value.message
    api = client.post(f"{api_thread_url(entry)}/messages",
                      json.dumps({"body": "hello", "mentions": [str(outsider.person.pk)]}),
                      content_type="application/json")
    assert api.status_code == 422 and api.json()["detail"] == refused.value.message
    assert not Message.objects.exists() and not Notification.objects.exists()
    assert not mail.outbox


def test_mentioning_an_unknown_person_is_refused(member) -> None:  # type: ignore[no-untyped-def]
    author = member(Component.CIVILIAN)
    entry = make_entry(author)
    with pytest.raises(Invalid, match="cannot be delivered"):
        thread_services.post_message(author.actor, ENTRY_TYPE, entry.pk, "x", [uuid.uuid4()])


def test_notification_of_a_record_no_longer_visible_says_so_without_link(member) -> None:  # type: ignore[no-untyped-def]
    author = member(Component.CIVILIAN)
    helper = member(Component.HUMANITARIAN)
    entry = make_entry(author)
    thread_services.post_message(author.actor, ENTRY_TYPE, entry.pk, f"hi {MARKER}", [helper.person.pk])
    # the record moves to RESTRICTED: only its owner sees it now
    from civmil.actors.models import LiaisonLogEntry

    core_services.update_record(author.actor, LiaisonLogEntry, entry.pk, entry.version, {"level": Level.RESTRICTED},
                                action="liaison.edited")
    client = _client(helper)
    page = client.get("/comms/notifications/").content.decode()
    assert "a record you can no longer see" in page
    assert str(entry.pk) not in page and MARKER not in page
    api = client.get("/api/v1/notifications").json()
    assert api["items"][0]["url"] == "" and str(entry.pk) not in json.dumps(api)
    assert client.get(thread_url(entry)).status_code == 404


def test_posting_through_the_api(member) -> None:  # type: ignore[no-untyped-def]
    author = member(Component.CIVILIAN)
    colleague = member(Component.POLICE)
    entry = make_entry(author)
    client = _client(author)
    response = client.post(f"{api_thread_url(entry)}/messages",
                           json.dumps({"body": f"*via api* {MARKER}", "mentions": [str(colleague.person.pk)]}),
                           content_type="application/json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert "<em>via api</em>" in data["html"] and data["mentioned"] == [colleague.person.full_name]
    assert Notification.objects.get().recipient == colleague.person
    assert client.post(f"{api_thread_url(entry)}/messages", json.dumps({"body": "x"}),
                       content_type="application/json").status_code == 201
    assert len(client.get(api_thread_url(entry)).json()["messages"]) == 2


def test_the_mention_picker_reads_releases_once_whoever_it_weighs(member) -> None:  # type: ignore[no-untyped-def]
    """The picker is on every record's page: each person's view of the record is decided from its
    releases and grants read once, so its queries do not grow with the people it weighs, and it
    offers exactly those whose widest view is the full one (a release to them, or their own record)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from civmil.comms.queries.threads import best_view, mention_candidates
    from civmil.core import access

    author = member(Component.CIVILIAN)
    entry = make_entry(author, level=Level.RESTRICTED)
    colleague = member(Component.CIVILIAN, org=author.org)

    def add(released: bool) -> None:
        someone = member(Component.MILITARY)
        if released:
            core_services.release_record(author.actor, entry, person=someone.person)

    add(True)
    add(False)
    with CaptureQueriesContext(connection) as few:
        mention_candidates(author.actor, entry)
    for released in (True, False, True, False, True):
        add(released)
    with CaptureQueriesContext(connection) as many:
        offered = mention_candidates(author.actor, entry)
    assert len(many.captured_queries) == len(few.captured_queries)
    people = access.visible(author.actor, Person.objects.filter(user__isnull=False).exclude(pk=author.person.pk))
    expected = {str(p.pk) for p in people if best_view(p, entry).kind == access.ViewKind.FULL}
    assert {pk for pk, _name in offered} == expected
    assert str(colleague.person.pk) in expected and len(expected) >= 4

"""The access matrix on the channels that carry a record beyond its own pages and API.

The same records as ``test_access_matrix.py`` (planted by its :func:`plant_matrix`, one per
relation and level the hand-written table of ``test_access_policy.py`` has for each reader
profile), then, on each record, a discussion message and an attached file carrying markers of
their own, and a message mentioning the reader. Each channel is then read as the reader:

* live events, replayed after an id and delivered live (and, for a few profiles, through a real
  WebSocket): a full view carries both markers, a reduced one the summary only and says so, none
  gives no frame at all;
* search, page and API: a record is found, and quoted, only by the fields the view shows;
* the discussion (page, API and the record page's panel) and the attachments (panel and
  download) open only with the full view; anything less answers like a missing record or file;
* notifications and e-mail: only a reader who may read the discussion can be mentioned, and
  nothing carries the record's or the message's text;
* API tokens: a read token bound to the reader's membership reads exactly what the session
  reads, and may not write.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.contrib.contenttypes.models import ContentType
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, TestCase
from django.urls import reverse
from django.utils import timezone

from civmil.actors import services as actor_services
from civmil.actors.models import LiaisonLogEntry
from civmil.comms.models import Message, Notification
from civmil.comms.services import attachments as attachment_services
from civmil.comms.services import threads as thread_services
from civmil.core import events, registry
from civmil.core.accounts import services as accounts_services
from civmil.core.acting import Actor
from civmil.core.choices import Component, Level, Role
from civmil.core.errors import Invalid
from civmil.core.models import ApiToken, Grant, Release, TokenScope
from civmil.core.pages import record_url
from tests.conftest import count_access_cases
from tests.core.test_access_matrix import (
    READERS,
    Matrix,
    Planted,
    Urls,
    _client,
    _normalised,
    make_reader,
    plant_matrix,
)
from tests.factories import make_member

pytestmark = pytest.mark.django_db

STREAM = "actors.liaisonlogentry"
#: Every registered type with discussions and attachments, each checked on every channel.
THREADED_TYPES = [t for t in registry.all_types() if t.fields and t.threads and t.attachments]
#: Profiles whose live events are also read through a real WebSocket (the consumer's path).
WEBSOCKET_PROFILES = ("host", "mil_staff", "no_membership")


def _marker(prefix: str) -> Callable[[], str]:
    return lambda: f"{prefix}{uuid.uuid4().hex}"


@dataclasses.dataclass
class Extra:
    """The markers added to one planted record: a discussion message and an attached file."""

    thread_marker: str = dataclasses.field(default_factory=_marker("T"))
    file_marker: str = dataclasses.field(default_factory=_marker("A"))  # in the file's name
    content_marker: str = dataclasses.field(default_factory=_marker("C"))  # in the file's content
    attachment_id: uuid.UUID | None = None
    #: The mention of the reader was accepted.
    mentioned: bool = False

    def markers(self, item: Planted) -> tuple[str, ...]:
        return (item.summary_marker, item.follow_marker, self.thread_marker, self.file_marker, self.content_marker)


@pytest.fixture
def _channels(settings: Any, tmp_path: Any) -> None:
    """Files under a temporary directory; pushes to the in-memory channel layer (no Redis needed)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


_OVERSIGHT_POSTERS: dict[uuid.UUID, Actor] = {}


def _poster(item: Planted, colleague: Actor | None) -> Actor:
    """Who writes on the record: its author, or a colleague when the reader is the author; on an
    OVERSIGHT record, which only grants open, another grantee (oversight staff)."""
    if item.level == Level.OVERSIGHT:
        if item.pk not in _OVERSIGHT_POSTERS:
            grantee = make_member(Component.CIVILIAN, role=Role.OVERSIGHT).actor
            Grant.objects.create(content_type=ContentType.objects.get_for_model(item.record_type.model),
                                 object_id=item.pk, person_id=grantee.person_id, purpose="case review")
            _OVERSIGHT_POSTERS[item.pk] = grantee
        return _OVERSIGHT_POSTERS[item.pk]
    if item.relation == "owner":
        assert colleague is not None
        return colleague
    assert item.author is not None
    return item.author


def _add_extras(matrix: Matrix, colleague: Actor | None) -> dict[uuid.UUID, Extra]:
    """On every record, through the services: a message, a file, and a message mentioning the reader."""
    reader = matrix.reader.actor
    extras: dict[uuid.UUID, Extra] = {}
    for item in matrix.planted:
        extra = extras[item.pk] = Extra()
        poster = _poster(item, colleague)
        thread_services.post_message(poster, matrix.record_type.key, item.pk, f"Discussed: {extra.thread_marker}")
        extra.attachment_id = attachment_services.add_attachment(
            poster, matrix.record_type.key, item.pk, SimpleUploadedFile(f"{extra.file_marker}.txt",
                                                        f"content {extra.content_marker}".encode())).pk
    # Mentions notify (and e-mail, after commit) only people who may read the discussion.
    with TestCase.captureOnCommitCallbacks(execute=True):
        for item in matrix.planted:
            extra = extras[item.pk]
            body = f"Please look, {extra.thread_marker} {item.summary_marker}"
            try:
                thread_services.post_message(_poster(item, colleague), matrix.record_type.key, item.pk, body,
                                             [reader.person_id])
            except Invalid:
                continue
            extra.mentioned = True
    return extras


@pytest.mark.parametrize("profile", READERS)
@pytest.mark.parametrize("record_type", THREADED_TYPES, ids=lambda t: t.key)
def test_every_channel_carries_exactly_what_the_table_says(record_type: registry.RecordType, profile: str,
                                                           _channels: None) -> None:
    reader = make_reader(profile)
    live_seen = events.Seen()
    live, nothing_yet = events.subscribe(reader.actor, [record_type.key], None, live_seen)
    assert nothing_yet == []
    before = live.cursor
    matrix = plant_matrix(reader, record_type)
    colleague = (make_member(Component(reader.actor.component), org=reader.actor.organisation).actor
                 if reader.actor.membership else None)
    extras = _add_extras(matrix, colleague)
    client = _client(reader.user)
    failures: list[str] = []

    _check_live_events(matrix, extras, before, live, live_seen, failures)
    if profile in WEBSOCKET_PROFILES:
        _check_websocket(matrix, extras, client, before, failures)
    _check_search(matrix, client, failures)
    _check_threads_and_attachments(matrix, extras, client, failures)
    _check_notifications(matrix, extras, client, failures)
    if reader.actor.membership is not None:
        _check_tokens(matrix, client, failures)
    assert not failures, "\n".join(failures)


# ---------------------------------------------------------------------------------------------
# Live events


def _check_frames(frames: list[dict[str, Any]], matrix: Matrix, extras: dict[uuid.UUID, Extra], channel: str,
                  failures: list[str]) -> int:
    """Each record's frames against its cell; a hidden record leaves no trace in any frame."""
    everything = json.dumps(frames)
    checks = 0
    for item in matrix.planted:
        mine = [f for f in frames if f.get("object_id") == str(item.pk)]
        where = f"{channel} {item.relation}/{item.level}"
        checks += 1
        if item.expected == "N":
            if mine or str(item.pk) in everything or any(m in everything for m in extras[item.pk].markers(item)):
                failures.append(f"{where}: expected N, but the record shows in the frames")
            continue
        if not mine or any(f["type"] != "event" for f in mine):
            failures.append(f"{where}: expected {item.expected}, frames {[f['type'] for f in mine]}")
            continue
        reduced = {f["reduced"] for f in mine}
        views = [f["view"] for f in mine]
        released, withheld = matrix.record_type.marked_fields()
        got_summary = all(item.summary_marker in str(v.get(released, "")) for v in views)
        got_follow = all(item.follow_marker in str(v.get(withheld, "")) for v in views)
        if item.expected == "F" and (reduced != {False} or not got_summary or not got_follow):
            failures.append(f"{where}: expected F, reduced={reduced}, summary={got_summary}, follow-ups={got_follow}")
        if item.expected == "R" and (reduced != {True} or not got_summary or item.follow_marker in everything):
            failures.append(f"{where}: expected R, reduced={reduced}, summary={got_summary}, "
                            f"follow-ups anywhere={item.follow_marker in everything}")
        extra = extras[item.pk]
        if any(m in everything for m in (extra.thread_marker, extra.file_marker, extra.content_marker)):
            failures.append(f"{where}: a frame carries a message's or a file's text")
    return checks


def _check_live_events(matrix: Matrix, extras: dict[uuid.UUID, Extra], before: int,
                       live: events.Subscription, live_seen: events.Seen, failures: list[str]) -> None:
    actor = matrix.reader.actor
    _subscription, replayed = events.subscribe(actor, [matrix.record_type.key], before, events.Seen())
    count_access_cases(f"{matrix.record_type.key}: live events, replay",
                       _check_frames(replayed, matrix, extras, "replay", failures))
    # A batch shared within the last seconds may come from an earlier, rolled-back test whose
    # outbox ids this one reuses: read the outbox afresh.
    events.forget_batches()
    delivered: list[dict[str, Any]] = []
    more = True
    while more:
        frames, more = events.catch_up(actor, live, live_seen)
        delivered += frames
    count_access_cases(f"{matrix.record_type.key}: live events, delivery",
                       _check_frames(delivered, matrix, extras, "live", failures))
    if [f["id"] for f in delivered] != [f["id"] for f in replayed]:
        failures.append("live delivery and replay differ")


@contextlib.contextmanager
def _connections_kept() -> Iterator[None]:
    """The consumer's database calls run in this thread (inside ``async_to_sync``) and so see the
    test's transaction; Channels would close that connection around each call, so it is kept."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("channels.db.close_old_connections", lambda: None)
        yield


def websocket_replay(client: Client, after: int, stream: str = STREAM) -> list[dict[str, Any]]:
    """The frames a real WebSocket of ``client``'s session replays after ``after`` on ``stream``."""
    from civmil.config.asgi import application

    session = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    headers = [(b"host", b"testserver"), (b"origin", b"http://testserver"),
               (b"cookie", f"{django_settings.SESSION_COOKIE_NAME}={session}".encode())]

    async def replay() -> list[dict[str, Any]]:
        ws = WebsocketCommunicator(application, "/ws/events/", headers=headers)
        try:
            connected, _ = await ws.connect(timeout=5)
            assert connected
            await ws.send_json_to({"type": "subscribe", "streams": [stream], "after": after})
            frames: list[dict[str, Any]] = []
            while (frame := await ws.receive_json_from(timeout=5))["type"] != "subscribed":
                frames.append(frame)
            return frames
        finally:
            await ws.disconnect()

    with _connections_kept():
        return async_to_sync(replay)()


def _check_websocket(matrix: Matrix, extras: dict[uuid.UUID, Extra], client: Client, before: int,
                     failures: list[str]) -> None:
    frames = websocket_replay(client, before, matrix.record_type.key)
    _subscription, direct = events.subscribe(matrix.reader.actor, [matrix.record_type.key], before, events.Seen())
    if frames != json.loads(json.dumps(direct)):
        failures.append("the WebSocket replays other frames than the delivery functions")
    count_access_cases(f"{matrix.record_type.key}: live events, WebSocket",
                       _check_frames(frames, matrix, extras, "WebSocket", failures))


# ---------------------------------------------------------------------------------------------
# Search


def _check_search(matrix: Matrix, client: Client, failures: list[str]) -> None:
    """Search the planting's markers by their common beginning, as a word prefix: "S<run>" finds
    every summary marker, "F<run>" every follow-ups marker. Each answer then lists every record
    found by that field, and a whole marker in it can only come from a record's text, never from
    the query the page repeats. A record is found, counted and quoted only by a field its view shows."""
    per_page = 25
    released, withheld_field = matrix.record_type.marked_fields()
    for prefix, field, shown_in in (("S", released, ("F", "R")), ("F", withheld_field, ("F",))):
        q = prefix + matrix.run
        wanted = {str(item.pk) for item in matrix.planted if item.expected in shown_in}
        api = client.get("/api/v1/search", {"q": q, "limit": 200})
        body, api_text = api.json(), api.content.decode()
        found: dict[str, list[dict[str, Any]]] = {}
        for row in body.get("items", []):
            found.setdefault(row["id"], []).append(row)
        if api.status_code != 200 or body["count"] != len(wanted):
            failures.append(f"search api by {field}: {api.status_code}, count {body.get('count')}, "
                            f"expected {len(wanted)}")
        pages = [client.get(reverse("comms:search"), {"q": q, "page": n})
                 for n in range(1, max(1, -(-len(wanted) // per_page)) + 1)]
        page_text = "".join(page.content.decode() for page in pages)
        if any(page.status_code != 200 for page in pages):
            failures.append(f"search page by {field}: {[page.status_code for page in pages]}")
        for item in matrix.planted:
            where = f"{item.relation}/{item.level} by {field}: expected {item.expected}"
            marker = item.summary_marker if field == released else item.follow_marker
            shown = item.expected in shown_in
            # Markers the view withholds: appear in no answer, whatever was searched.
            withheld = [m for m, ok in ((item.summary_marker, item.expected != "N"),
                                        (item.follow_marker, item.expected == "F")) if not ok]
            rows = found.get(str(item.pk), [])
            if [row["field"] for row in rows] != ([field] if shown else []) or (
                    shown and marker not in rows[0]["snippet"]):
                failures.append(f"search api {where}, got {rows}")
            if any(m in api_text for m in withheld):
                failures.append(f"search api {where}: a withheld marker is in the answer")
            link = record_url(matrix.record_type.detail_url_name, item.pk)
            if (link in page_text, marker in page_text) != (shown, shown) or any(m in page_text for m in withheld):
                failures.append(f"search page {where}: found={link in page_text}, marker={marker in page_text}, "
                                f"withheld shown={[m for m in withheld if m in page_text]}")
        count_access_cases(f"{matrix.record_type.key}: search api", len(matrix.planted))
        count_access_cases(f"{matrix.record_type.key}: search page", len(matrix.planted))


# ---------------------------------------------------------------------------------------------
# Discussions and attachments


def _thread_url(pk: Any, stream: str = STREAM) -> str:
    return reverse("comms:thread", kwargs={"record_type": stream, "pk": pk})


def _download_url(pk: Any) -> str:
    return reverse("comms:attachment-download", kwargs={"pk": pk})


def _same_as_missing(response: Any, missing: Any) -> bool:
    return response.status_code == missing.status_code == 404 and (
        _normalised(response.content, response.request["PATH_INFO"])
        == _normalised(missing.content, missing.request["PATH_INFO"]))


def _check_threads_and_attachments(matrix: Matrix, extras: dict[uuid.UUID, Extra], client: Client,
                                   failures: list[str]) -> None:
    """Only the full view opens the discussion and the files (a reduced view could otherwise leak
    withheld fields through what people write or attach); anything less answers like a missing one."""
    stream = matrix.record_type.key
    missing = {
        "thread page": client.get(_thread_url(uuid.uuid4(), stream)),
        "thread api": client.get(f"/api/v1/threads/{stream}/{uuid.uuid4()}"),
        "download": client.get(_download_url(uuid.uuid4())),
    }
    counts = dict.fromkeys(("thread page", "thread api", "download", "record page panels"), 0)
    for item in matrix.planted:
        extra = extras[item.pk]
        where = f"{item.relation}/{item.level}: expected {item.expected}"
        responses = {
            "thread page": client.get(_thread_url(item.pk, stream)),
            "thread api": client.get(f"/api/v1/threads/{stream}/{item.pk}"),
            "download": client.get(_download_url(extra.attachment_id)),
        }
        for channel, response in responses.items():
            counts[channel] += 1
            if item.expected != "F":
                if not _same_as_missing(response, missing[channel]):
                    failures.append(f"{channel} {where}: does not answer like a missing one ({response.status_code})")
                continue
            body = (b"".join(response.streaming_content) if response.streaming  # type: ignore[attr-defined]
                    else response.content).decode()
            wanted = extra.content_marker if channel == "download" else extra.thread_marker
            if response.status_code != 200 or wanted not in body:
                failures.append(f"{channel} {where}: status {response.status_code}, marker shown={wanted in body}")
        if item.expected == "N":
            continue  # the record's page is the 404 of a missing one (test_access_matrix.py)
        counts["record page panels"] += 1
        page = client.get(record_url(matrix.record_type.detail_url_name, item.pk)).content.decode()
        shown = {m: m in page for m in (extra.thread_marker, extra.file_marker, str(extra.attachment_id))}
        if set(shown.values()) != {item.expected == "F"}:
            failures.append(f"record page panels {where}: message, file name and link shown: {shown}")
    for channel, n in counts.items():
        count_access_cases(f"{matrix.record_type.key}: {channel}", n)


# ---------------------------------------------------------------------------------------------
# Notifications and e-mail


def _check_notifications(matrix: Matrix, extras: dict[uuid.UUID, Extra], client: Client,
                         failures: list[str]) -> None:
    """A mention is refused for a reader who may not read the discussion (the full view through a
    current membership: a person without one takes no part in discussions); a notification names
    its record (its title line) only to a reader of its full view, never the message, the file or
    another record's text; its e-mail carries neither the record's nor the message's text."""
    reader = matrix.reader
    every_marker = [m for item in matrix.planted for m in extras[item.pk].markers(item)]
    wanted = {item.pk for item in matrix.planted
              if item.expected == "F" and reader.actor.membership is not None}
    got = {item.pk for item in matrix.planted if extras[item.pk].mentioned}
    for item in matrix.planted:
        if (item.pk in got) != (item.pk in wanted):
            failures.append(f"mention {item.relation}/{item.level}: expected {item.expected}, "
                            f"mention accepted={item.pk in got}")
    notified = set(Notification.objects.filter(recipient_id=reader.actor.person_id)
                   .values_list("object_id", flat=True))
    if notified != wanted:
        failures.append(f"notifications stored for {len(notified)} records, expected {len(wanted)}")
    page = client.get(reverse("comms:notifications")).content.decode()
    api = client.get("/api/v1/notifications", {"limit": 200})
    api_text = api.content.decode()
    links = {item["url"] for item in api.json()["items"]}
    if links != {record_url(matrix.record_type.detail_url_name, pk) + "#thread" for pk in wanted}:
        failures.append(f"notification api links {sorted(links)} are not the readable records")
    for item in matrix.planted:
        link = record_url(matrix.record_type.detail_url_name, item.pk)
        if (link in page) != (item.pk in wanted):
            failures.append(f"notification page {item.relation}/{item.level}: expected {item.expected}, "
                            f"link shown={link in page}")
    mine = [m for m in mail.outbox if reader.user.email in m.to]
    if len(mine) != len(wanted):
        failures.append(f"{len(mine)} e-mails to the reader, expected {len(wanted)}")
    mails = "".join(m.subject + m.body + json.dumps([str(a) for a in m.alternatives]) for m in mail.outbox)
    # The record's own fields a notification may name it by: those of the records read in full.
    naming = {m for item in matrix.planted if item.pk in wanted for m in (item.summary_marker, item.follow_marker)}
    for text, channel in ((page, "notification page"), (api_text, "notification api"), (mails, "e-mail")):
        allowed = naming if channel != "e-mail" else set()
        leaked = [m for m in every_marker if m in text and m not in allowed]
        if leaked or (channel == "e-mail" and any(str(item.pk) in text for item in matrix.planted)):
            failures.append(f"{channel} carries a record's or a message's text: {leaked}")
    count_access_cases(f"{matrix.record_type.key}: notifications", 3 * len(matrix.planted))
    count_access_cases(f"{matrix.record_type.key}: e-mail", len(matrix.planted))


# ---------------------------------------------------------------------------------------------
# API tokens


def _bearer(secret: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def _check_tokens(matrix: Matrix, session: Client, failures: list[str]) -> None:
    """A token bound to the reader's membership reads what the reader's session reads; a read
    token may not write."""
    actor = matrix.reader.actor
    _token, secret = accounts_services.create_token(actor, name="matrix", membership=actor.membership,
                                                    scope=TokenScope.READ)
    script = Client()  # no session cookie: only the token
    api = Urls(matrix.record_type)
    urls = [api.api() + "?limit=200"] + [api.api(item.pk) for item in matrix.planted]
    for url in urls:
        by_session, by_token = session.get(url), script.get(url, **_bearer(secret))
        if (by_token.status_code, by_token.json()) != (by_session.status_code, by_session.json()):
            failures.append(f"token {url}: {by_token.status_code} differs from the session's {by_session.status_code}")
    count_access_cases(f"{matrix.record_type.key}: token api", len(urls))
    if matrix.record_type.key != STREAM:
        return  # the writes below are the liaison log's

    own = next((item for item in matrix.planted if item.relation == "owner"), matrix.planted[0])
    entry = LiaisonLogEntry.objects.get(pk=own.pk)
    payload = {"occurred_at": timezone.now().isoformat(), "channel": "phone", "level": Level.RESTRICTED,
               "summary": "written with a token", "organisations": [str(actor.organisation_id)]}
    state = (LiaisonLogEntry.objects.count(), Message.objects.count(), Release.objects.count(), entry.version)
    writes = [
        ("post", "/api/v1/liaison-log", payload),
        ("put", f"/api/v1/liaison-log/{entry.pk}", {**payload, "version": entry.version}),
        ("post", f"/api/v1/liaison-log/{entry.pk}/releases", {"target_component": Component.CIVILIAN}),
        ("post", f"/api/v1/threads/{STREAM}/{entry.pk}/messages", {"body": "written with a token"}),
    ]
    for method, url, data in writes:
        response = getattr(script, method)(url, json.dumps(data), content_type="application/json", **_bearer(secret))
        if response.status_code != 403:
            failures.append(f"read token {method.upper()} {url}: {response.status_code}, expected 403")
    entry.refresh_from_db()
    if (LiaisonLogEntry.objects.count(), Message.objects.count(), Release.objects.count(), entry.version) != state:
        failures.append("a read token changed something")
    # The same write with a read-and-write token goes through: the 403s came from the scope.
    _rw, rw_secret = accounts_services.create_token(actor, name="matrix-rw", membership=actor.membership,
                                                    scope=TokenScope.READ_WRITE)
    created = script.post("/api/v1/liaison-log", json.dumps(payload), content_type="application/json",
                          **_bearer(rw_secret))
    if created.status_code != 201:
        failures.append(f"read-and-write token could not write: {created.status_code} {created.content[:200]!r}")
    assert ApiToken.objects.filter(user_id=actor.user_id).count() == 2
    count_access_cases(f"{matrix.record_type.key}: token write", len(writes))


# ---------------------------------------------------------------------------------------------
# Anonymous visitors


def test_anonymous_visitors_reach_no_channel(_channels: None) -> None:
    owner = make_member(Component.CIVILIAN).actor
    marker = f"S{uuid.uuid4().hex}"
    entry = actor_services.record_liaison_contact(owner, actor_services.LiaisonContact(
        occurred_at=timezone.now(), channel="phone", summary=f"summary {marker}", level=Level.MISSION,
        organisation_ids=[owner.organisation_id]))
    thread_services.post_message(owner, STREAM, entry.pk, f"note {marker}")
    attachment = attachment_services.add_attachment(owner, STREAM, entry.pk,
                                                    SimpleUploadedFile(f"{marker}.txt", marker.encode()))
    visitor = Client()
    pages = [reverse("comms:search") + f"?q={marker[:20]}", _thread_url(entry.pk), _download_url(attachment.pk),
             reverse("comms:notifications")]
    for url in pages:
        response = visitor.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url
        assert marker not in response.content.decode()
    for url in (f"/api/v1/search?q={marker[:20]}", f"/api/v1/threads/{STREAM}/{entry.pk}", "/api/v1/notifications"):
        response = visitor.get(url)
        assert response.status_code == 401, url
        assert marker not in response.content.decode()

    async def connect() -> dict[str, Any]:
        from civmil.config.asgi import application

        ws = WebsocketCommunicator(application, "/ws/events/",
                                   headers=[(b"host", b"testserver"), (b"origin", b"http://testserver")])
        try:
            assert (await ws.connect(timeout=5))[0]
            closed: dict[str, Any] = await ws.receive_output(timeout=5)
            return closed
        finally:
            await ws.disconnect()

    with _connections_kept():
        assert async_to_sync(connect)() == {"type": "websocket.close", "code": events.CLOSE_UNAUTHENTICATED}
    count_access_cases(f"{STREAM}: anonymous", len(pages) + 4)


def test_anonymous_visitors_read_a_public_record_page_without_its_discussion_or_attachments(_channels: None) -> None:
    """A PUBLIC record's page is open to anonymous visitors, but its discussion and attachments stay
    with signed-in readers, as on their own pages (the thread and the download ask for a sign-in)."""
    from civmil.core import registry
    from civmil.core.kernel import planting
    from tests.kernel_proof.models import Observation

    record_type = registry.get(Observation)
    owner = make_member(Component.CIVILIAN).actor
    marker = uuid.uuid4().hex
    record = planting.plant(record_type, owner, Level.PUBLIC, {"summary": f"summary {marker}"})
    thread_services.post_message(owner, record_type.key, record.pk, f"note M{marker}")
    attachment = attachment_services.add_attachment(owner, record_type.key, record.pk,
                                                    SimpleUploadedFile(f"F{marker}.txt", marker.encode()))
    page = Client().get(reverse("kernel_proof:observation", kwargs={"pk": record.pk}))
    assert page.status_code == 200
    text = page.content.decode()
    assert f"summary {marker}" in text
    assert f"M{marker}" not in text, "the discussion of a public record is shown to anonymous visitors"
    assert f"F{marker}" not in text, "the attachments of a public record are listed to anonymous visitors"
    history = Client().get(reverse("kernel_proof:observation-history", kwargs={"pk": record.pk}))
    assert history.status_code == 200 and f"summary {marker}" in history.content.decode()
    assert attachment.sha256 not in history.content.decode(), "a public record's history shows its files' digests"
    signed_in = Client()
    signed_in.force_login(make_member(Component.MILITARY).user)
    text = signed_in.get(reverse("kernel_proof:observation", kwargs={"pk": record.pk})).content.decode()
    assert f"M{marker}" in text and f"F{marker}" in text
    count_access_cases("anonymous", 3)

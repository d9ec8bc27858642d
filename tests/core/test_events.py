"""Live events: publish in a service's transaction, deliver over the WebSocket through the policy.

Every test that needs a channel layer runs twice: on the in-memory layer and on Redis (skipped
with a printed reason when Redis is not reachable, failed when CI=true).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import json
import os
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, ParamSpec, TypeVar

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from civmil.actors import services as actor_services
from civmil.actors.models import LiaisonLogEntry
from civmil.config.asgi import application
from civmil.config.env import redis_channel_layer
from civmil.core import events, registry, services
from civmil.core.acting import ACTING_SESSION_KEY, Actor
from civmil.core.choices import Component, Level, Role, SpaceKind
from civmil.core.models import Membership, OutboxEvent, Space
from tests.factories import Member, make_member, make_org

pytestmark = pytest.mark.django_db(transaction=True)

STREAM = "actors.liaisonlogentry"
REDIS_URL = os.environ.get("CIVMIL_TEST_REDIS_URL") or os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/3"
TIMEOUT = 5


# ---------------------------------------------------------------------------------------------
# Channel layers


def _redis_problem(url: str) -> str | None:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        return str(exc) or type(exc).__name__
    finally:
        client.close()
    return None


def _forget_redis_keys(url: str, prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=500))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


_REDIS_SKIP_PRINTED: list[str] = []


@pytest.fixture
def memory_layer(settings: Any) -> None:
    """Tests of what does not depend on the layer run on the in-memory one only."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


@pytest.fixture(params=["memory", "redis"])
def layer(request: pytest.FixtureRequest, settings: Any) -> Iterator[str]:
    """The channel layer the test runs on (settings override, as ``REDIS_URL`` would set it)."""
    if request.param == "memory":
        settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
        yield "memory"
        return
    problem = _redis_problem(REDIS_URL)
    if problem:
        reason = f"Redis is not reachable at {REDIS_URL} ({problem}); the Redis channel-layer tests did not run"
        if os.environ.get("CI") == "true":
            pytest.fail(reason + " and CI=true requires Redis")
        if not _REDIS_SKIP_PRINTED:
            _REDIS_SKIP_PRINTED.append(reason)
            capture = request.config.pluginmanager.get_plugin("capturemanager")
            with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
                print(f"\nSKIPPED: {reason}", flush=True)
        pytest.skip(reason)
    prefix = f"civmil-test-{uuid.uuid4().hex[:12]}"  # parallel test workers never share groups
    settings.CHANNEL_LAYERS = {"default": redis_channel_layer(REDIS_URL, prefix=prefix)}
    yield "redis"
    _forget_redis_keys(REDIS_URL, prefix)


# ---------------------------------------------------------------------------------------------
# People, records, sessions

P = ParamSpec("P")
R = TypeVar("R")


def db(fn: Callable[P, R]) -> Callable[P, Awaitable[R]]:
    """Run ``fn`` (database work) in the worker thread, as the consumer does."""
    wrapped: Callable[P, Awaitable[R]] = database_sync_to_async(fn)
    return wrapped


@dataclasses.dataclass
class Cast:
    author: Member  # humanitarian NGO: records the entries
    colleague: Member  # another humanitarian organisation: sees HUMANITARIAN entries
    soldier: Member  # military: never sees HUMANITARIAN entries
    other_soldier: Member


@pytest.fixture
def cast(transactional_db: None) -> Cast:
    return Cast(author=make_member(Component.HUMANITARIAN), colleague=make_member(Component.HUMANITARIAN),
                soldier=make_member(Component.MILITARY), other_soldier=make_member(Component.MILITARY))


def _contact(m: Member, summary: str, level: str) -> actor_services.LiaisonContact:
    return actor_services.LiaisonContact(
        occurred_at=timezone.now() - dt.timedelta(hours=1), channel="meeting", summary=summary, level=level,
        organisation_ids=[m.org.pk], place_name=f"place of {summary}")


def record_sync(m: Member, summary: str, level: str = Level.MISSION, actor: Actor | None = None,
                publish: bool = True) -> tuple[LiaisonLogEntry, OutboxEvent | None]:
    """Record an entry through the service, which publishes ``liaison.recorded`` in its transaction."""
    entry = actor_services.record_liaison_contact(actor or m.actor, _contact(m, summary, level))
    return entry, (_latest_event(entry) if publish else None)


def _latest_event(record: LiaisonLogEntry) -> OutboxEvent:
    event = OutboxEvent.objects.filter(object_id=str(record.pk)).order_by("-id").first()
    assert event is not None, "the service published no event"
    return event


record = db(record_sync)


@db
def tighten(m: Member, entry: LiaisonLogEntry, level: str, version: int = 1) -> OutboxEvent:
    with transaction.atomic():
        edited = services.update_record(m.actor, LiaisonLogEntry, entry.pk, version, {"level": level},
                                        action="liaison.edited")
    return _latest_event(edited)


@db
def session_for(m: Member, membership: Membership | None = None) -> str:
    client = Client()
    client.force_login(m.user)
    if membership is not None:
        session = client.session
        session[ACTING_SESSION_KEY] = str(membership.pk)
        session.save()
    return client.cookies[django_settings.SESSION_COOKIE_NAME].value


@contextlib.asynccontextmanager
async def socket(session: str | None, origin: str | None = "http://testserver") -> AsyncIterator[WebsocketCommunicator]:
    headers = [(b"host", b"testserver")]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    if session is not None:
        headers.append((b"cookie", f"{django_settings.SESSION_COOKIE_NAME}={session}".encode()))
    communicator = WebsocketCommunicator(application, "/ws/events/", headers=headers)
    try:
        yield communicator
    finally:
        await communicator.disconnect()


@contextlib.asynccontextmanager
async def subscribed(m: Member, after: int | None = None, **extra: Any) -> AsyncIterator[WebsocketCommunicator]:
    """A signed-in connection of ``m`` subscribed to the liaison log, replay read up to ``subscribed``."""
    async with socket(await session_for(m)) as ws:
        connected, _ = await ws.connect(timeout=TIMEOUT)
        assert connected
        await ws.send_json_to({"type": "subscribe", "streams": [STREAM], "after": after, **extra})
        ws.replayed = await until_subscribed(ws)  # type: ignore[attr-defined]
        yield ws


async def until_subscribed(ws: WebsocketCommunicator) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = []
    while True:
        frame = await ws.receive_json_from(timeout=TIMEOUT)
        if frame["type"] == "subscribed":
            return frames
        frames.append(frame)


async def next_frame(ws: WebsocketCommunicator) -> dict[str, Any]:
    frame: dict[str, Any] = await ws.receive_json_from(timeout=TIMEOUT)
    return frame


# ---------------------------------------------------------------------------------------------
# Delivery through the policy


@pytest.mark.asyncio
async def test_an_event_reaches_a_subscriber_who_may_see_the_record_and_not_one_who_may_not(
        layer: str, cast: Cast) -> None:
    async with subscribed(cast.colleague) as colleague, subscribed(cast.soldier) as soldier:
        entry, event = await record(cast.author, "MARKER-humanitarian-only", Level.HUMANITARIAN)
        assert event is not None
        frame = await next_frame(colleague)
        assert frame["type"] == "event"
        assert (frame["id"], frame["kind"], frame["object_type"], frame["object_id"]) == (
            event.id, "liaison.recorded", STREAM, str(entry.pk))
        assert frame["view"]["summary"] == "MARKER-humanitarian-only"
        assert frame["view"]["level"] == Level.HUMANITARIAN and frame["reduced"] is False
        assert frame["url"] == f"/directory/liaison/{entry.pk}/"
        # The soldier's component may not see HUMANITARIAN entries: nothing, not even the id...
        assert await soldier.receive_nothing(timeout=0.5)
        # ...while the soldier's connection is live and gets what the soldier may see.
        mission_entry, _ = await record(cast.author, "MARKER-mission", Level.MISSION)
        frame = await next_frame(soldier)
        assert frame["object_id"] == str(mission_entry.pk) and frame["view"]["summary"] == "MARKER-mission"
        assert (await next_frame(colleague))["object_id"] == str(mission_entry.pk)


@pytest.mark.asyncio
async def test_a_reduced_view_carries_only_the_released_fields(memory_layer: None, cast: Cast) -> None:
    entry, _ = await record(cast.author, "MARKER-released-summary", Level.HUMANITARIAN, publish=False)

    @db
    def release_summary() -> OutboxEvent:
        with transaction.atomic():
            services.release_record(cast.author.actor, entry, organisation=cast.soldier.org, fields=["summary"])
        return _latest_event(entry)

    async with subscribed(cast.soldier) as soldier:
        await release_summary()
        frame = await next_frame(soldier)
        assert frame["reduced"] is True
        assert frame["view"]["summary"] == "MARKER-released-summary"
        assert "place_name" not in frame["view"] and "follow_ups" not in frame["view"]
        assert "place of" not in json.dumps(frame)


def test_discussion_and_file_events_reach_only_readers_with_the_full_view(cast: Cast, settings: Any,
                                                                          tmp_path: Any) -> None:
    """A new message or file on a record announces itself only to readers the discussion is open
    to (the full view): a reader with a reduced view gets no frame of it at all, on replay as on
    live delivery, while still getting the record's own events."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from civmil.comms.services import attachments, threads

    settings.MEDIA_ROOT = tmp_path / "media"
    entry, _ = record_sync(cast.author, "MARKER-discussed", Level.HUMANITARIAN, publish=False)
    with transaction.atomic():
        services.release_record(cast.author.actor, entry, organisation=cast.soldier.org, fields=["summary"])
    start = events.last_id()
    threads.post_message(cast.author.actor, STREAM, entry.pk, "a message")
    attachment = attachments.add_attachment(cast.author.actor, STREAM, entry.pk,
                                            SimpleUploadedFile("notes.txt", b"some notes"))
    attachments.delete_attachment(cast.author.actor, attachment.pk)
    with transaction.atomic():
        services.release_record(cast.author.actor, entry, organisation=cast.soldier.org, fields=["channel"])
    discussion = ["thread.message", "attachment.added", "attachment.removed"]
    for reader, kinds in ((cast.colleague, [*discussion, "release.added"]), (cast.soldier, ["release.added"])):
        _subscription, replayed = events.subscribe(reader.actor, [STREAM], start, events.Seen())
        live, _ = events.catch_up(reader.actor, events.Subscription((STREAM,), start), events.Seen())
        for frames in (replayed, live):
            assert [(f["type"], f["kind"]) for f in frames] == [("event", kind) for kind in kinds]
    stored = list(OutboxEvent.objects.filter(id__gt=start).values_list("kind", "payload"))
    assert [kind for kind, payload in stored if payload.get("full_view_only")] == discussion


@pytest.mark.asyncio
async def test_an_app_can_register_its_own_live_renderer(memory_layer: None, cast: Cast, monkeypatch: Any) -> None:
    liaison = registry.get(LiaisonLogEntry)
    custom = dataclasses.replace(liaison, render_live=lambda actor, shown: {
        "headline": f"{shown.channel}: {shown.summary}", "when": shown.occurred_at})
    monkeypatch.setitem(registry._TYPES, LiaisonLogEntry, custom)
    async with subscribed(cast.colleague) as colleague:
        entry, _ = await record(cast.author, "MARKER-rendered", Level.MISSION)
        frame = await next_frame(colleague)
        assert frame["object_id"] == str(entry.pk)
        assert set(frame["view"]) == {"headline", "when"}
        assert frame["view"]["headline"] == "meeting: MARKER-rendered"
        assert frame["view"]["when"].endswith("Z")


@pytest.mark.asyncio
async def test_resume_after_an_id_replays_what_was_missed_and_nothing_else(layer: str, cast: Cast) -> None:
    await record(cast.author, "before-1")
    _, seen_last = await record(cast.author, "before-2")
    missed_1, _ = await record(cast.author, "missed-1")
    await record(cast.author, "missed-hidden", Level.HUMANITARIAN)  # the soldier may not see it
    missed_2, _ = await record(cast.author, "missed-2")
    assert seen_last is not None
    async with subscribed(cast.soldier, after=seen_last.id) as soldier:
        replayed = soldier.replayed  # type: ignore[attr-defined]
        assert [f["view"]["summary"] for f in replayed] == ["missed-1", "missed-2"]
        assert [f["object_id"] for f in replayed] == [str(missed_1.pk), str(missed_2.pk)]
        assert replayed[0]["id"] < replayed[1]["id"]
        assert await soldier.receive_nothing(timeout=0.3)
        live, _ = await record(cast.author, "live-after-replay")
        assert (await next_frame(soldier))["object_id"] == str(live.pk)
    async with subscribed(cast.colleague, after=seen_last.id) as colleague:
        summaries = [f["view"]["summary"] for f in colleague.replayed]  # type: ignore[attr-defined]
        assert summaries == ["missed-1", "missed-hidden", "missed-2", "live-after-replay"]


@pytest.mark.asyncio
async def test_without_a_resume_point_nothing_old_is_replayed(memory_layer: None, cast: Cast) -> None:
    await record(cast.author, "old")
    async with subscribed(cast.soldier, after=None) as soldier:
        assert soldier.replayed == []  # type: ignore[attr-defined]
        assert await soldier.receive_nothing(timeout=0.3)


@pytest.mark.asyncio
async def test_replay_is_filtered_by_the_policy_at_delivery_not_at_publication(memory_layer: None, cast: Cast) -> None:
    _, before = await record(cast.author, "before")
    entry, _ = await record(cast.author, "MARKER-was-mission", Level.MISSION)
    await tighten(cast.author, entry, Level.HUMANITARIAN)
    assert before is not None
    async with subscribed(cast.soldier, after=before.id) as soldier:
        assert soldier.replayed == []  # type: ignore[attr-defined]


@pytest.mark.asyncio
async def test_a_long_absence_asks_the_client_to_reload(memory_layer: None, cast: Cast, monkeypatch: Any) -> None:
    monkeypatch.setattr("civmil.core.events.delivery.REPLAY_CAP", 3)
    _, first = await record(cast.author, "first")
    for n in range(4):
        await record(cast.author, f"later-{n}")
    top = await database_sync_to_async(events.last_id)()
    assert first is not None
    async with subscribed(cast.soldier, after=first.id) as soldier:
        assert soldier.replayed == [{"type": "reload", "last_id": top}]  # type: ignore[attr-defined]
        entry, _ = await record(cast.author, "after-reload")
        assert (await next_frame(soldier))["object_id"] == str(entry.pk)


@pytest.mark.asyncio
async def test_events_of_another_space_are_never_delivered(layer: str, cast: Cast) -> None:
    exercise = await database_sync_to_async(Space.objects.create)(kind=SpaceKind.EXERCISE, name="Exercise")
    playing = await database_sync_to_async(lambda: dataclasses.replace(cast.author.actor, space_id=exercise.pk))()
    _, before = await record(cast.author, "live-before")
    assert before is not None
    async with subscribed(cast.soldier) as soldier:
        _, exercise_event = await record(cast.author, "MARKER-exercise", Level.MISSION, actor=playing)
        assert exercise_event is not None and exercise_event.space_id == exercise.pk
        assert await soldier.receive_nothing(timeout=0.5)
        live, _ = await record(cast.author, "live-after")
        frame = await next_frame(soldier)
        assert frame["object_id"] == str(live.pk)
    async with subscribed(cast.soldier, after=before.id) as soldier:  # nor on replay
        assert [f["view"]["summary"] for f in soldier.replayed] == ["live-after"]  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------------
# removed


@pytest.mark.asyncio
async def test_a_subscriber_who_saw_a_record_gets_removed_when_its_level_tightens(layer: str, cast: Cast) -> None:
    async with subscribed(cast.soldier) as soldier, subscribed(cast.colleague) as colleague:
        entry, _ = await record(cast.author, "MARKER-tightened", Level.MISSION)
        assert (await next_frame(soldier))["object_id"] == str(entry.pk)
        assert (await next_frame(colleague))["object_id"] == str(entry.pk)
        async with subscribed(cast.other_soldier) as latecomer:  # never saw it
            edited = await tighten(cast.author, entry, Level.HUMANITARIAN)
            removed = await next_frame(soldier)
            assert removed == {"type": "removed", "id": edited.id, "object_type": STREAM, "object_id": str(entry.pk)}
            update = await next_frame(colleague)
            assert update["kind"] == "liaison.edited" and update["view"]["level"] == Level.HUMANITARIAN
            assert await latecomer.receive_nothing(timeout=0.5)  # no id leaks to who never saw it
        # Later events about it stay silent for the soldier (removed once).
        await tighten(cast.author, entry, Level.HUMANITARIAN, version=2)
        assert (await next_frame(colleague))["object_id"] == str(entry.pk)
        assert await soldier.receive_nothing(timeout=0.3)


@pytest.mark.asyncio
async def test_rows_the_page_rendered_are_removed_when_a_signed_seen_token_names_them(
        memory_layer: None, cast: Cast) -> None:
    entry, _ = await record(cast.author, "MARKER-rendered-row", Level.MISSION)

    own = await database_sync_to_async(lambda: events.seen_token(cast.soldier.actor, [entry]))()
    async with subscribed(cast.soldier, seen=[own]) as soldier, \
            subscribed(cast.other_soldier, seen=[own]) as thief:
        assert (await next_frame(thief))["code"] == "bad_seen"  # a token is bound to its account
        await tighten(cast.author, entry, Level.HUMANITARIAN)
        frame = await next_frame(soldier)
        assert frame["type"] == "removed" and frame["object_id"] == str(entry.pk)
        assert await thief.receive_nothing(timeout=0.5)


# ---------------------------------------------------------------------------------------------
# The connection: origin, session, membership, bad input


@pytest.mark.asyncio
async def test_a_foreign_or_missing_origin_is_refused(memory_layer: None, cast: Cast) -> None:
    session = await session_for(cast.soldier)
    # Another site, another port or host of this machine (even an allowed host), no Origin at all.
    for origin in ("http://evil.example", "https://testserver.evil.example", "null", None,
                   "http://testserver:8080", "https://localhost:8443", "http://[::1",
                   "https://testserver"):  # the scheme counts too (tests/core/test_consumer_limits.py)
        async with socket(session, origin=origin) as ws:
            connected, _ = await ws.connect(timeout=TIMEOUT)
            assert not connected, origin
    for origin in ("http://testserver", "HTTP://TESTSERVER"):
        async with socket(session, origin=origin) as ws:
            connected, _ = await ws.connect(timeout=TIMEOUT)
            assert connected, origin


@pytest.mark.asyncio
async def test_a_connection_without_a_signed_in_session_is_closed_with_4401(memory_layer: None, cast: Cast) -> None:
    for session in (None, "not-a-session-key"):
        async with socket(session) as ws:
            connected, _ = await ws.connect(timeout=TIMEOUT)
            assert connected  # accepted first, so that a browser sees the code
            closed = await ws.receive_output(timeout=TIMEOUT)
            assert closed == {"type": "websocket.close", "code": 4401}


@pytest.mark.asyncio
async def test_a_resume_id_from_the_future_is_corrected_to_the_newest(memory_layer: None, cast: Cast) -> None:
    await record(cast.author, "present")
    top = await database_sync_to_async(events.last_id)()
    async with subscribed(cast.soldier, after=top + 1000) as soldier:
        assert soldier.replayed == [{"type": "reset", "last_id": top}]  # type: ignore[attr-defined]
        entry, event = await record(cast.author, "after-reset")
        frame = await next_frame(soldier)
        assert frame["object_id"] == str(entry.pk) and event is not None and frame["id"] == event.id > top


BAD_FRAMES: list[tuple[str | bytes, str]] = [
    ("this is not json", "bad_json"),
    ("[1, 2, 3]", "bad_message"),
    ('"subscribe"', "bad_message"),
    ('{"type": "unsubscribe-everything"}', "unknown_type"),
    ("{}", "unknown_type"),
    ('{"type": "subscribe"}', "bad_streams"),
    ('{"type": "subscribe", "streams": "actors.liaisonlogentry"}', "bad_streams"),
    ('{"type": "subscribe", "streams": []}', "bad_streams"),
    ('{"type": "subscribe", "streams": [42]}', "bad_streams"),
    ('{"type": "subscribe", "streams": ["core.nosuchthing"]}', "unknown_stream"),
    ('{"type": "subscribe", "streams": ["actors.liaisonlogentry"], "after": -1}', "bad_after"),
    ('{"type": "subscribe", "streams": ["actors.liaisonlogentry"], "after": "12"}', "bad_after"),
    ('{"type": "subscribe", "streams": ["actors.liaisonlogentry"], "after": true}', "bad_after"),
    ('{"type": "subscribe", "streams": ["actors.liaisonlogentry"], "after": 1.5}', "bad_after"),
    ('{"type": "subscribe", "streams": ["actors.liaisonlogentry"], "seen": {"a": 1}}', "bad_seen"),
    (b"\x00\x01binary", "binary"),
    ("{" + " " * 20_000 + "}", "too_large"),
]


@pytest.mark.asyncio
async def test_malformed_frames_are_answered_with_an_error_and_the_connection_stays_open(
        memory_layer: None, cast: Cast) -> None:
    async with socket(await session_for(cast.soldier)) as ws:
        connected, _ = await ws.connect(timeout=TIMEOUT)
        assert connected
        for data, code in BAD_FRAMES:
            if isinstance(data, bytes):
                await ws.send_to(bytes_data=data)
            else:
                await ws.send_to(text_data=data)
            frame = await next_frame(ws)
            assert frame["type"] == "error" and frame["code"] == code, (data, frame)
            assert frame["message"]
            if code == "unknown_stream":
                assert frame["stream"] == "core.nosuchthing"
        await ws.send_json_to({"type": "ping"})
        assert await next_frame(ws) == {"type": "pong"}
        await ws.send_json_to({"type": "subscribe", "streams": [STREAM], "after": None})
        assert await next_frame(ws) == {"type": "subscribed", "streams": [STREAM]}
        entry, _ = await record(cast.author, "still-alive")
        assert (await next_frame(ws))["object_id"] == str(entry.pk)


@pytest.mark.asyncio
async def test_switching_membership_or_signing_out_closes_the_connection(
        layer: str, cast: Cast, settings: Any) -> None:
    @db
    def second_membership() -> Membership:
        return services.add_membership(None, person=cast.soldier.person, organisation=make_org(Component.CIVILIAN),
                                       role=Role.CIVILIAN_STAFF)

    @db
    def act_as(session_key: str, membership: Membership | None) -> None:
        from importlib import import_module

        store = import_module(django_settings.SESSION_ENGINE).SessionStore(session_key)
        if membership is None:
            store.delete()
            return
        store[ACTING_SESSION_KEY] = str(membership.pk)
        store.save()

    civilian_hat = await second_membership()
    key = await session_for(cast.soldier, cast.soldier.membership)
    async with socket(key) as ws:
        assert (await ws.connect(timeout=TIMEOUT))[0]
        await ws.send_json_to({"type": "subscribe", "streams": [STREAM], "after": None})
        assert (await next_frame(ws))["type"] == "subscribed"
        await act_as(key, civilian_hat)
        await database_sync_to_async(events.actor_changed)(cast.soldier.user.pk)
        assert await ws.receive_output(timeout=TIMEOUT) == {"type": "websocket.close", "code": 4409}
    key = await session_for(cast.soldier)
    async with socket(key) as ws:
        assert (await ws.connect(timeout=TIMEOUT))[0]
        await act_as(key, None)  # signed out: the session is gone
        await database_sync_to_async(events.actor_changed)(cast.soldier.user.pk)
        assert await ws.receive_output(timeout=TIMEOUT) == {"type": "websocket.close", "code": 4401}


@pytest.mark.asyncio
async def test_signing_out_or_a_new_password_elsewhere_closes_the_connection_at_once(
        memory_layer: None, cast: Cast, settings: Any) -> None:
    settings.CIVMIL_LIVE_ACTOR_SECONDS = 3600  # no periodic check will come to the rescue
    from tests.factories import PASSWORD

    def browser() -> tuple[Client, str]:
        client = Client()
        client.force_login(cast.soldier.user)
        return client, client.cookies[django_settings.SESSION_COOKIE_NAME].value

    first, key = await database_sync_to_async(browser)()
    async with socket(key) as ws:
        assert (await ws.connect(timeout=TIMEOUT))[0]
        response = await database_sync_to_async(first.post)(reverse("account_logout"))
        assert response.status_code == 302
        assert await ws.receive_output(timeout=TIMEOUT) == {"type": "websocket.close", "code": 4401}

    _, key = await database_sync_to_async(browser)()
    other, _ = await database_sync_to_async(browser)()
    async with socket(key) as ws:
        assert (await ws.connect(timeout=TIMEOUT))[0]
        response = await database_sync_to_async(other.post)(reverse("account_change_password"), {
            "oldpassword": PASSWORD, "password1": "a-new-long-passphrase-9", "password2": "a-new-long-passphrase-9"})
        assert response.status_code == 302
        assert await ws.receive_output(timeout=TIMEOUT) == {"type": "websocket.close", "code": 4401}


@pytest.mark.asyncio
async def test_an_account_that_must_set_up_its_second_factor_gets_no_live_events(
        memory_layer: None, cast: Cast, settings: Any) -> None:
    settings.CIVMIL_MFA_REQUIRED = True

    @db
    def leader() -> Member:
        return make_member(Component.CIVILIAN, role=Role.LEADERSHIP)

    chief = await leader()
    async with socket(await session_for(chief)) as ws:
        connected, _ = await ws.connect(timeout=TIMEOUT)
        assert connected  # accepted, so that the browser sees why it is closed
        assert await ws.receive_output(timeout=TIMEOUT) == {"type": "websocket.close", "code": 4401}

    @db
    def set_up_totp() -> None:
        from allauth.mfa.models import Authenticator

        Authenticator.objects.create(user=chief.user, type=Authenticator.Type.TOTP, data={"secret": "x"})

    await set_up_totp()
    async with socket(await session_for(chief)) as ws:
        assert (await ws.connect(timeout=TIMEOUT))[0]
        await ws.send_json_to({"type": "subscribe", "streams": [STREAM], "after": None})
        assert (await next_frame(ws))["type"] == "subscribed"


@pytest.mark.asyncio
async def test_a_notice_reaches_every_connection_of_its_account_and_no_other(layer: str, cast: Cast) -> None:
    async with socket(await session_for(cast.soldier)) as mine, socket(await session_for(cast.author)) as theirs:
        assert (await mine.connect(timeout=TIMEOUT))[0] and (await theirs.connect(timeout=TIMEOUT))[0]
        # No subscription needed: a notice concerns the account, not a stream.
        await database_sync_to_async(events.notify_user)(cast.soldier.user.pk, "notifications")
        assert await next_frame(mine) == {"type": "notice", "topic": "notifications"}
        assert await theirs.receive_nothing(timeout=0.3)
    with pytest.raises(ValueError, match="notice topic"):
        events.notify_user(cast.soldier.user.pk, "Not a topic!")


# ---------------------------------------------------------------------------------------------
# Pushes: from worker threads, lost ones, only after commit


@pytest.mark.asyncio
async def test_a_publish_from_a_worker_thread_reaches_subscribers(layer: str, cast: Cast) -> None:
    """A job worker thread has no event loop: the push must still reach this process's sockets."""
    done: list[LiaisonLogEntry] = []
    failures: list[BaseException] = []

    def worker() -> None:
        from django.db import connection

        try:
            done.append(record_sync(cast.author, "from-a-worker")[0])
        except BaseException as exc:
            failures.append(exc)
        finally:
            connection.close()

    async with subscribed(cast.soldier) as soldier:
        thread = threading.Thread(target=worker)
        thread.start()
        frame = await next_frame(soldier)
        thread.join(timeout=TIMEOUT)
        assert not failures, failures
        assert frame["object_id"] == str(done[0].pk) and frame["view"]["summary"] == "from-a-worker"


@pytest.mark.asyncio
async def test_a_lost_push_is_caught_up_by_the_poll(layer: str, cast: Cast, settings: Any, monkeypatch: Any) -> None:
    settings.CIVMIL_LIVE_POLL_SECONDS = 0.2
    pushed: list[int] = []
    monkeypatch.setattr("civmil.core.events.outbox.push", lambda space, event_id, object_type: pushed.append(event_id))
    async with subscribed(cast.soldier) as soldier:
        entry, event = await record(cast.author, "never-pushed")
        assert event is not None and pushed == [event.id]
        frame = await next_frame(soldier)
        assert frame["object_id"] == str(entry.pk)


@pytest.mark.asyncio
async def test_a_rolled_back_publish_leaves_no_event_and_pushes_nothing(memory_layer: None, cast: Cast) -> None:
    class Abort(Exception):
        pass

    @db
    def rolled_back() -> None:
        with contextlib.suppress(Abort), transaction.atomic():
            record_sync(cast.author, "MARKER-rolled-back")
            raise Abort

    async with subscribed(cast.colleague) as colleague:
        before = await database_sync_to_async(OutboxEvent.objects.count)()
        await rolled_back()
        assert await colleague.receive_nothing(timeout=0.5)
        assert await database_sync_to_async(OutboxEvent.objects.count)() == before


# ---------------------------------------------------------------------------------------------
# publish() itself


def test_the_outbox_holds_ids_and_the_kind_never_content(cast: Cast) -> None:
    entry, event = record_sync(cast.author, "MARKER-secret-summary", Level.HUMANITARIAN)
    assert event is not None
    stored = OutboxEvent.objects.filter(pk=event.pk).values().get()
    assert "MARKER" not in json.dumps(stored, default=str)
    assert stored["object_type"] == STREAM and stored["object_id"] == str(entry.pk)
    assert stored["space_id"] == entry.space_id and stored["kind"] == "liaison.recorded"


def test_publish_refuses_misuse(cast: Cast) -> None:
    entry, _ = record_sync(cast.author, "entry", publish=False)
    with pytest.raises(RuntimeError, match="inside the service's transaction"):
        events.publish("liaison.recorded", entry)
    with transaction.atomic():
        for kind in ("Liaison Recorded", "liaison", "liaison.", "x" * 70 + ".y"):
            with pytest.raises(ValueError, match="dotted lower-case"):
                events.publish(kind, entry)
        with pytest.raises(LookupError):
            events.publish("space.created", Space.live())  # not a protected record type
        with pytest.raises(ValueError, match="not text"):
            events.publish("liaison.recorded", entry, extra={"summary": "x" * 200})
        with pytest.raises(TypeError, match="ids and flags"):
            events.publish("liaison.recorded", entry, extra={"people": ["a", "b"]})
        event = events.publish("liaison.recorded", entry, extra={"version": 2, "by": uuid.UUID(int=7)})
        assert event.payload == {"version": 2, "by": str(uuid.UUID(int=7))}
    assert OutboxEvent.objects.filter(pk=event.pk).exists()


# ---------------------------------------------------------------------------------------------
# Fan-out: subscribers of one process share the read of a push


def test_subscribers_at_the_same_cursor_share_one_read_and_each_gets_its_own_view(
        cast: Cast, django_assert_num_queries: Any) -> None:
    start = events.last_id()
    humanitarian, _ = record_sync(cast.author, "shared-humanitarian", Level.HUMANITARIAN)
    mission, pushed = record_sync(cast.author, "shared-mission", Level.MISSION)
    assert pushed is not None
    readers = [cast.author, cast.colleague, cast.soldier, cast.other_soldier]
    received = {}
    first = events.Subscription((STREAM,), start)
    received[readers[0].user.pk] = events.catch_up(readers[0].actor, first, events.Seen(), need=pushed.id)[0]
    for m in readers[1:]:
        subscription, actor = events.Subscription((STREAM,), start), m.actor
        with django_assert_num_queries(0):  # the batch, records, releases and grants were read once
            received[m.user.pk] = events.catch_up(actor, subscription, events.Seen(), need=pushed.id)[0]
        assert subscription.cursor == pushed.id
    ids = {pk: [f["object_id"] for f in frames] for pk, frames in received.items()}
    assert ids[cast.author.user.pk] == ids[cast.colleague.user.pk] == [str(humanitarian.pk), str(mission.pk)]
    assert ids[cast.soldier.user.pk] == ids[cast.other_soldier.user.pk] == [str(mission.pk)]
    soldier_json = json.dumps(received[cast.soldier.user.pk])
    assert "shared-humanitarian" not in soldier_json and "shared-mission" in soldier_json


def test_a_batch_read_before_a_push_committed_is_not_reused_for_it(cast: Cast) -> None:
    start = events.last_id()
    _, first = record_sync(cast.author, "before", Level.MISSION)
    assert first is not None
    subscription = events.Subscription((STREAM,), start)
    frames, _ = events.catch_up(cast.soldier.actor, subscription, events.Seen(), need=first.id)
    assert [f["view"]["summary"] for f in frames] == ["before"]
    _, second = record_sync(cast.author, "after", Level.MISSION)
    assert second is not None
    late = events.Subscription((STREAM,), start)  # another subscriber still at the old cursor
    frames, _ = events.catch_up(cast.other_soldier.actor, late, events.Seen(), need=second.id)
    assert [f["view"]["summary"] for f in frames] == ["before", "after"]
    assert late.cursor == second.id


def test_a_full_batch_moves_the_cursor_only_past_what_it_read(cast: Cast) -> None:
    start = events.last_id()
    made = [record_sync(cast.author, f"entry {i}", Level.MISSION)[1] for i in range(3)]
    subscription = events.Subscription((STREAM,), start)
    seen = events.Seen()
    frames, more = events.catch_up(cast.soldier.actor, subscription, seen, batch=2)
    assert more and [f["view"]["summary"] for f in frames] == ["entry 0", "entry 1"]
    assert made[1] is not None and subscription.cursor == made[1].id
    frames, more = events.catch_up(cast.soldier.actor, subscription, seen, batch=2)
    assert not more and [f["view"]["summary"] for f in frames] == ["entry 2"]


# ---------------------------------------------------------------------------------------------
# Pruning old events


def test_pruning_deletes_old_events_but_the_newest_and_a_resume_point_before_it_reloads(
        cast: Cast, settings: Any) -> None:
    start = events.last_id()
    old = [e.id for e in (record_sync(cast.author, f"old {i}", Level.MISSION)[1] for i in range(3)) if e]
    assert len(old) == 3
    OutboxEvent.objects.filter(id__gt=start).update(created_at=timezone.now() - dt.timedelta(days=40))
    _, fresh = record_sync(cast.author, "fresh", Level.MISSION)
    assert fresh is not None
    settings.CIVMIL_OUTBOX_KEEP_DAYS = 30
    from civmil.core import schedule

    assert schedule.prune_live_events.call() == 3
    assert not OutboxEvent.objects.filter(id__lte=old[-1], id__gt=start).exists()
    assert events.horizon() == old[-1]
    # A page that saw the first old event would miss the next two: it is told to reload.
    _, frames = events.subscribe(cast.soldier.actor, [STREAM], old[0], events.Seen())
    assert [f["type"] for f in frames] == ["reload"]
    # A page that saw them all resumes normally.
    _, frames = events.subscribe(cast.soldier.actor, [STREAM], old[-1], events.Seen())
    assert [f["view"]["summary"] for f in frames] == ["fresh"]
    # Old as it is, the newest event is kept so that the newest id stays known.
    OutboxEvent.objects.update(created_at=timezone.now() - dt.timedelta(days=40))
    events.prune(dt.timedelta(days=30))
    assert events.last_id() == fresh.id and OutboxEvent.objects.filter(pk=fresh.id).exists()


@pytest.mark.asyncio
async def test_a_quiet_connection_on_redis_outlives_the_layers_blocking_read(layer: str) -> None:
    """channels_redis blocks 5 s per receive; with redis-py 8's default 5 s socket timeout every
    quiet live connection failed with 'Timeout reading from …' and reconnected. A receive that
    waits 7 s for nothing must simply still be waiting."""
    if layer != "redis":
        pytest.skip("the in-memory layer has no socket to time out")
    channel_layer = get_channel_layer()
    channel = await channel_layer.new_channel()
    with pytest.raises(asyncio.TimeoutError):  # still waiting: no Redis error came first
        await asyncio.wait_for(channel_layer.receive(channel), 7)
    await channel_layer.send(channel, {"type": "still.open"})
    assert (await asyncio.wait_for(channel_layer.receive(channel), 5))["type"] == "still.open"

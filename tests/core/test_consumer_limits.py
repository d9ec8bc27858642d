"""The live connection under hostile input: any frame is answered, whatever ends a connection
releases what it held, and one session holds only a few connections (the oldest goes).

The session limit runs on the in-memory layer and on Redis (``layer``, from tests/core/test_events.py),
since connections of one session may live in different processes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from civmil.core import consumers, events
from tests.core import test_events as live
from tests.core.test_events import STREAM, TIMEOUT, Cast, next_frame, record, session_for, socket

# The fixtures of the live-event tests, shared by name (as module attributes pytest collects).
globals().update(cast=live.cast, layer=live.layer, memory_layer=live.memory_layer)

pytestmark = pytest.mark.django_db(transaction=True)

#: Frames that break a JSON decoder in some way; each is answered ``bad_json`` and nothing else.
BREAKING_FRAMES: list[tuple[str, str]] = [
    ("[" * 8000 + "]" * 8000, "nested brackets (RecursionError in the decoder)"),
    ('{"a":' * 2500 + "1" + "}" * 2500, "nested objects"),
    ('{"type": "subscribe", "after": ' + "9" * 6000 + "}", "a number of 6,000 digits"),
    ("9" * 10_000, "a bare huge number"),
    ('{"type": "subscribe", "streams": ["\\ud800"]}', "an escaped lone surrogate (not Unicode)"),
    ('{"type": "subscribe", "streams": ["\ud800"]}', "a raw lone surrogate (invalid UTF-8 on the wire)"),
    ('{"type": "ping"', "unterminated"),
    ("   ", "only white space"),
    ("\ufeff{}", "a byte-order mark"),
]


async def _pong(ws: WebsocketCommunicator) -> None:
    await ws.send_json_to({"type": "ping"})
    assert await next_frame(ws) == {"type": "pong"}


@pytest.mark.asyncio
async def test_any_frame_that_breaks_the_decoder_is_answered_bad_json_and_the_connection_lives(
        memory_layer: None, cast: Cast) -> None:
    async with socket(await session_for(cast.soldier)) as ws:
        assert (await ws.connect(timeout=TIMEOUT))[0]
        for data, what in BREAKING_FRAMES * 3:
            await ws.send_to(text_data=data)
            frame = await next_frame(ws)
            assert frame["type"] == "error" and frame["code"] == "bad_json", (what, frame)
            assert frame["message"] == "This message is not valid JSON.", what
            await _pong(ws)
        await ws.send_json_to({"type": "subscribe", "streams": [STREAM], "after": None})
        assert await next_frame(ws) == {"type": "subscribed", "streams": [STREAM]}
        entry, _ = await record(cast.author, "alive-after-bad-frames")
        assert (await next_frame(ws))["object_id"] == str(entry.pk)


def _poller_tasks() -> list[asyncio.Task[Any]]:
    return [t for t in asyncio.all_tasks() if "_poll_forever" in repr(t.get_coro()) and not t.done()]


def _channels_in(group: str) -> set[str]:
    layer_ = get_channel_layer()
    return set(layer_.groups.get(group, {}))


async def _ended(ws: WebsocketCommunicator) -> None:
    """Wait until the application of ``ws`` has finished, whatever it raised."""
    with contextlib.suppress(BaseException):
        await asyncio.wait_for(asyncio.shield(ws.future), TIMEOUT)
    for _ in range(50):  # let the cancelled poller finish
        if not _poller_tasks():
            break
        await asyncio.sleep(0.01)


@pytest.mark.asyncio
@pytest.mark.parametrize("ending", ["handler error", "cancelled by the server", "closed by the client"])
async def test_whatever_ends_a_connection_its_poller_is_cancelled_and_its_groups_left(
        memory_layer: None, cast: Cast, monkeypatch: pytest.MonkeyPatch, ending: str) -> None:
    before = len(_poller_tasks())
    key = await session_for(cast.soldier)
    groups = [events.user_group(cast.soldier.user.pk), events.space_group(cast.soldier.actor.space_id),
              consumers.session_group(key)]
    # The communicator re-raises, when it is closed, how the application ended: what this test provokes.
    expected: Any = contextlib.nullcontext()
    if ending == "handler error":
        expected = pytest.raises(RuntimeError, match="nobody caught")
    elif ending == "cancelled by the server":
        expected = pytest.raises(asyncio.CancelledError)
    with expected:
        await _end_connection(key, groups, before, ending, monkeypatch)


async def _end_connection(key: str, groups: list[str], before: int, ending: str,
                          monkeypatch: pytest.MonkeyPatch) -> None:
    async with socket(key) as ws:
        assert (await ws.connect(timeout=TIMEOUT))[0]
        await _pong(ws)
        assert len(_poller_tasks()) == before + 1
        assert all(len(_channels_in(g)) == 1 for g in groups)
        if ending == "handler error":
            async def explode(self: Any, message: dict[str, Any]) -> None:
                raise RuntimeError("a fault nobody caught")

            monkeypatch.setattr(consumers.LiveEventsConsumer, "outbox_poll", explode)
            await get_channel_layer().send(next(iter(_channels_in(groups[0]))), {"type": "outbox.poll"})
        elif ending == "cancelled by the server":
            ws.future.cancel()
        else:
            await ws.disconnect()
        await _ended(ws)
        assert len(_poller_tasks()) == before, ending
        assert all(not _channels_in(g) for g in groups), ending


@contextlib.asynccontextmanager
async def _open(key: str, count: int) -> AsyncIterator[list[WebsocketCommunicator]]:
    async with contextlib.AsyncExitStack() as stack:
        sockets = []
        for _ in range(count):
            sockets.append(await _connect(stack, key))
        yield sockets


async def _connect(stack: contextlib.AsyncExitStack, key: str) -> WebsocketCommunicator:
    ws = await stack.enter_async_context(socket(key))
    assert (await ws.connect(timeout=TIMEOUT))[0]
    await _pong(ws)  # open, and its announcement has gone out
    return ws


async def _closed_with(ws: WebsocketCommunicator) -> int | None:
    message = await ws.receive_output(timeout=TIMEOUT)
    assert message["type"] == "websocket.close", message
    return message.get("code")


async def _open_and_quiet(sockets: list[WebsocketCommunicator]) -> None:
    for ws in sockets:
        assert await ws.receive_nothing(timeout=0.2)
        await _pong(ws)


@pytest.mark.asyncio
async def test_a_session_holds_at_most_three_sockets_and_the_oldest_is_closed(layer: str, cast: Cast) -> None:
    assert consumers.max_sockets_per_session() == 3
    key = await session_for(cast.soldier)
    async with contextlib.AsyncExitStack() as stack:
        first, second, third = [await _connect(stack, key) for _ in range(3)]
        await _open_and_quiet([first, second, third])
        fourth = await _connect(stack, key)
        assert await _closed_with(first) == consumers.CLOSE_TOO_MANY
        await _open_and_quiet([second, third, fourth])
        fifth = await _connect(stack, key)
        assert await _closed_with(second) == consumers.CLOSE_TOO_MANY
        await _open_and_quiet([third, fourth, fifth])
        # A connection that closes makes room: the next one closes nobody.
        await fourth.disconnect()
        sixth = await _connect(stack, key)
        await _open_and_quiet([third, fifth, sixth])


@pytest.mark.asyncio
async def test_the_limit_is_per_session_and_a_setting(layer: str, cast: Cast, settings: Any) -> None:
    key, other_key = await session_for(cast.soldier), await session_for(cast.soldier)
    async with _open(key, 3) as mine, _open(other_key, 3) as other_browser:
        await _open_and_quiet([*mine, *other_browser])  # six sockets of one account, three per session
    settings.CIVMIL_LIVE_MAX_SOCKETS_PER_SESSION = 1
    async with contextlib.AsyncExitStack() as stack:
        only = await _connect(stack, key)
        replacing = await _connect(stack, key)
        assert await _closed_with(only) == consumers.CLOSE_TOO_MANY
        await _open_and_quiet([replacing])


@pytest.mark.asyncio
async def test_a_burst_of_sockets_leaves_the_newest_three_open(layer: str, cast: Cast) -> None:
    key = await session_for(cast.soldier)
    async with contextlib.AsyncExitStack() as stack:
        sockets = [await stack.enter_async_context(socket(key)) for _ in range(12)]
        results = await asyncio.gather(*(ws.connect(timeout=TIMEOUT) for ws in sockets))
        assert all(connected for connected, _ in results)
        closed: list[int] = []
        for n, ws in enumerate(sockets):
            if not await ws.receive_nothing(timeout=0.5):  # (a timed-out receive_output would cancel it)
                assert await _closed_with(ws) == consumers.CLOSE_TOO_MANY
                closed.append(n)
        assert len(closed) == len(sockets) - 3, closed
        for n, ws in enumerate(sockets):
            if n not in closed:
                await _pong(ws)


def test_the_session_group_never_carries_the_session_key() -> None:
    group = consumers.session_group("abcdefghijklmnopqrstuvwxyz012345")
    assert "abcdefghij" not in group and group.startswith("session.") and len(group) < 100
    assert group == consumers.session_group("abcdefghijklmnopqrstuvwxyz012345")
    assert group != consumers.session_group("abcdefghijklmnopqrstuvwxyz012346")


# ---------------------------------------------------------------------------------------------
# The Origin's scheme


async def _origin_accepted(session: str, origin: str, scheme: str | None,
                           headers: tuple[tuple[bytes, bytes], ...] = ()) -> bool:
    from django.conf import settings as django_settings

    from civmil.config.asgi import application

    communicator = WebsocketCommunicator(application, "/ws/events/", headers=[
        (b"host", b"testserver"), (b"origin", origin.encode()),
        (b"cookie", f"{django_settings.SESSION_COOKIE_NAME}={session}".encode()), *headers])
    if scheme is not None:
        communicator.scope["scheme"] = scheme  # as the server sets it (before the application reads it)
    try:
        connected, _ = await communicator.connect(timeout=TIMEOUT)
        return bool(connected)
    finally:
        await communicator.disconnect()


@pytest.mark.asyncio
async def test_the_origin_must_have_the_connections_scheme(memory_layer: None, cast: Cast) -> None:
    session = await session_for(cast.soldier)
    # A plain ws:// connection takes only an http:// page; a wss:// one only an https:// page.
    assert await _origin_accepted(session, "http://testserver", None)
    assert await _origin_accepted(session, "http://testserver", "ws")
    assert not await _origin_accepted(session, "https://testserver", "ws")
    assert await _origin_accepted(session, "https://testserver", "wss")
    assert not await _origin_accepted(session, "http://testserver", "wss")
    assert not await _origin_accepted(session, "ftp://testserver", "ws")


@pytest.mark.asyncio
async def test_behind_a_proxy_the_scheme_comes_from_the_trusted_header(
        memory_layer: None, cast: Cast, settings: Any) -> None:
    session = await session_for(cast.soldier)
    https = ((b"x-forwarded-proto", b"https"),)
    # Without SECURE_PROXY_SSL_HEADER the header is anybody's: it changes nothing.
    settings.SECURE_PROXY_SSL_HEADER = None
    assert not await _origin_accepted(session, "https://testserver", "ws", https)
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    assert await _origin_accepted(session, "https://testserver", "ws", https)
    assert not await _origin_accepted(session, "http://testserver", "ws", https)
    assert await _origin_accepted(session, "http://testserver", "wss", ((b"x-forwarded-proto", b"http"),))
    assert await _origin_accepted(session, "https://testserver", "ws", ((b"x-forwarded-proto", b"https, http"),))
    assert await _origin_accepted(session, "http://testserver", "ws")  # no header: the connection's own

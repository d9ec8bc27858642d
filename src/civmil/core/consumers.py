"""The live-events WebSocket (``ws/events/``): one connection per page, bound to one membership.

Protocol (JSON text frames; docs/live-events.md):

* client -> ``{"type": "subscribe", "streams": ["actors.liaisonlogentry"], "after": 41,
  "seen": ["<token>"]}`` (``after``: last event id seen, or ``null``; ``seen``: optional tokens
  from :func:`civmil.core.events.seen_token`), and ``{"type": "ping"}``;
* server -> ``event`` (``id``, ``kind``, ``object_type``, ``object_id``, ``reduced``, ``view``,
  ``url``), ``removed`` (``id``, ``object_type``, ``object_id``), ``reset`` and ``reload``
  (``last_id``), ``subscribed`` (``streams``), ``notice`` (``topic``: something of the
  account changed, e.g. ``notifications``; sent whether or not the page subscribed), ``pong``,
  ``error`` (``code``, ``message``).

The connection closes with 4401 without a signed-in session, with 4409 when the session
starts acting as another membership, and with 4429 when the session opened more connections than
it may hold (``CIVMIL_LIVE_MAX_SOCKETS_PER_SESSION``, default 3): the oldest goes. Every event is
filtered by the access policy for this subscriber when it is delivered
(:mod:`civmil.core.events.delivery`).

Whatever a frame holds, the connection answers it (malformed: ``bad_json``) and stays open; and
whatever ends the connection (a close, an error, the server cancelling it), its poller is
cancelled and it leaves its channel-layer groups.

Connections of one session find each other through a channel-layer group of the session (named
from a hash of its key, never the key): a new connection announces itself there with the time it
opened; a connection that learns of as many newer ones as the session may hold closes itself.
An announcement from an older connection is answered directly, so two connections opening at
once still both know which is newer. This needs nothing but groups, so it works alike on the
in-memory layer (one process) and on Redis (many).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
from collections import deque
from importlib import import_module
from types import SimpleNamespace
from typing import Any, cast

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.contrib import auth
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest
from django.utils import translation
from django.utils.translation import gettext as _

from civmil.core import events, metrics, mfa, registry
from civmil.core.acting import ACTING_SESSION_KEY, Actor, actor_for_user
from civmil.core.events.delivery import Seen, Subscription

logger = logging.getLogger("civmil.core.live")

MAX_FRAME_CHARS = 16_384
MAX_STREAMS = 20
MAX_SEEN_TOKENS = 20
#: Subscribe messages allowed per connection per minute (each may replay up to 500 events).
MAX_SUBSCRIBES_PER_MINUTE = 20
#: Close code: this session opened more connections than it may hold; this one was the oldest.
CLOSE_TOO_MANY = 4429
#: Channel-layer message types between the connections of one session.
SESSION_OPENED_TYPE = "session.opened"
SESSION_PRESENT_TYPE = "session.present"
SESSION_CLOSED_TYPE = "session.closed"


def max_sockets_per_session() -> int:
    """How many live connections one session may hold at once (the oldest is closed beyond)."""
    return max(1, int(getattr(settings, "CIVMIL_LIVE_MAX_SOCKETS_PER_SESSION", 3)))


def session_group(session_key: str) -> str:
    """The channel-layer group of one session's connections (a hash: the key never leaves the server)."""
    digest = hashlib.sha256(f"civmil.live.session:{session_key}".encode()).hexdigest()[:40]
    return f"session.{digest}"


def _poll_seconds() -> float:
    """Safety net: each connection reads its streams this often even without a push."""
    return float(getattr(settings, "CIVMIL_LIVE_POLL_SECONDS", 30.0))


def _actor_seconds() -> float:
    """A connection re-reads its session (account still signed in, same membership) this often."""
    return float(getattr(settings, "CIVMIL_LIVE_ACTOR_SECONDS", 60.0))


def actor_from_session(session_key: str | None) -> Actor | None:
    """The actor of a stored session, or ``None`` when it is not (or no longer) signed in, or when
    its account must first set up the second factor its role requires."""
    if not session_key:
        return None
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    user = auth.get_user(cast(HttpRequest, SimpleNamespace(session=store)))
    if not user.is_authenticated:
        return None
    if getattr(settings, "CIVMIL_MFA_REQUIRED", True) and mfa.needs_second_factor(int(user.pk)):
        return None  # as on every page: nothing until the account's second factor is set up
    return actor_for_user(user, store.get(ACTING_SESSION_KEY))


def _language(scope: dict[str, Any]) -> str:
    headers = {k.decode("latin1").lower(): v.decode("latin1") for k, v in scope.get("headers", [])}
    request = SimpleNamespace(COOKIES=scope.get("cookies", {}),
                              META={"HTTP_ACCEPT_LANGUAGE": headers.get("accept-language", "")})
    return translation.get_language_from_request(cast(HttpRequest, request))


class BadMessage(Exception):
    def __init__(self, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.code, self.message, self.extra = code, message, extra


class LiveEventsConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    """One browser page's live connection."""

    actor: Actor | None = None
    subscription: Subscription | None = None

    async def connect(self) -> None:
        self.seen = Seen()
        self.language = _language(self.scope)
        self.subscribe_times: deque[float] = deque()
        self.poller: asyncio.Task[None] | None = None
        self.released = False
        self.session_peers: set[str] = set()  # newer connections of this session still open
        self.opened_at = (time.time(), self.channel_name)
        user = self.scope.get("user")
        session = self.scope.get("session")
        actor = None
        if user is not None and user.is_authenticated and session is not None:
            self.session_key = session.session_key
            actor = await database_sync_to_async(actor_from_session)(self.session_key)
        if actor is None or actor.user_id != getattr(user, "pk", None):
            # Accept first so the browser sees the close code (a refused handshake shows as 1006).
            await self.accept()
            await self.close(code=events.CLOSE_UNAUTHENTICATED)
            return
        self.actor = actor
        self.actor_checked = time.monotonic()
        events.note_serving_loop(asyncio.get_running_loop())
        assert actor.user_id is not None
        self.session_group = session_group(self.session_key)
        for group in (events.space_group(actor.space_id), events.user_group(actor.user_id), self.session_group):
            await self.channel_layer.group_add(group, self.channel_name)
            self.groups.append(group)
        await self.accept()
        metrics.live_connection_opened()
        self.counted = True  # in civmil_live_connections until released
        self.poller = asyncio.create_task(self._poll_forever())
        await self._tell_session(SESSION_OPENED_TYPE)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Run the connection; whatever ends it (close, error, cancellation), release what it holds."""
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._release()

    async def disconnect(self, code: int) -> None:
        await self._release()

    async def _release(self) -> None:
        """Cancel the poller, leave every group and tell the session's other connections. Idempotent."""
        if getattr(self, "released", True):
            return  # never connected, or released already
        self.released = True
        if getattr(self, "counted", False):
            self.counted = False
            metrics.live_connection_closed()
        self.actor = None
        self.subscription = None
        poller, self.poller = self.poller, None
        if poller is not None:
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await poller
        if getattr(self, "session_group", None):
            await self._tell_session(SESSION_CLOSED_TYPE)
        for group in list(self.groups):
            with contextlib.suppress(Exception):  # an unreachable layer expires the membership itself
                await self.channel_layer.group_discard(group, self.channel_name)
        self.groups.clear()

    @classmethod
    async def encode_json(cls, content: Any) -> str:
        return json.dumps(content, cls=DjangoJSONEncoder, ensure_ascii=False)

    # -----------------------------------------------------------------------------------------
    # From the browser

    async def websocket_receive(self, message: dict[str, Any]) -> None:
        text, data = message.get("text"), message.get("bytes")
        await self.receive(text_data=text if isinstance(text, str) else None,
                           bytes_data=data if isinstance(data, bytes) else None)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        if self.actor is None:
            return
        try:
            content = self._decode(text_data)
            kind = content.get("type")
            if kind == "subscribe":
                await self._subscribe(content)
            elif kind == "ping":
                await self.send_json({"type": "pong"})
            else:
                with translation.override(self.language):
                    raise BadMessage("unknown_type", _('Unknown message type: send "subscribe" or "ping".'))
        except BadMessage as exc:
            await self.send_json({"type": "error", "code": exc.code, "message": exc.message, **exc.extra})
        except Exception:
            # A fault of ours, not the frame's: say so, log it once per connection, stay open.
            if not getattr(self, "fault_logged", False):
                self.fault_logged = True
                logger.exception("live connection: a frame could not be handled")
            with translation.override(self.language):
                await self.send_json({"type": "error", "code": "server_error", "message": _(
                    "This message could not be handled; try again later.")})

    def _decode(self, text_data: str | None) -> dict[str, Any]:
        """The frame's JSON object; any frame that is not valid JSON text is ``bad_json``, whatever
        breaks on the way (nesting too deep, numbers too long, text that is not Unicode)."""
        with translation.override(self.language):
            if text_data is None:
                raise BadMessage("binary", _("Send messages as JSON text, not binary frames."))
            if len(text_data) > MAX_FRAME_CHARS:
                raise BadMessage("too_large", _("This message is too large."))
            try:
                content = json.loads(text_data)
                # Lone surrogates (raw, or as \ud800 escapes) are not Unicode text: refuse them now,
                # before anything of the frame is echoed in an answer that could not be sent.
                json.dumps(content, ensure_ascii=False).encode("utf-8")
            except (ValueError, RecursionError, MemoryError, TypeError):
                raise BadMessage("bad_json", _("This message is not valid JSON.")) from None
            if not isinstance(content, dict):
                raise BadMessage("bad_message", _('A message is a JSON object with a "type".'))
            return content

    def _parse_subscribe(self, content: dict[str, Any]) -> tuple[list[str], int | None, list[str]]:
        with translation.override(self.language):
            streams = content.get("streams")
            if (not isinstance(streams, list) or not 0 < len(streams) <= MAX_STREAMS
                    or not all(isinstance(s, str) for s in streams)):
                raise BadMessage("bad_streams", _('"streams" must be a list of 1 to %(max)s stream names.')
                                 % {"max": MAX_STREAMS})
            for stream in streams:
                try:
                    registry.by_key(stream)
                except LookupError:
                    raise BadMessage("unknown_stream", _("Unknown stream: %(stream)s.") % {"stream": stream[:100]},
                                     stream=stream[:100]) from None
            after = content.get("after")
            if after is not None and (isinstance(after, bool) or not isinstance(after, int) or after < 0):
                raise BadMessage("bad_after", _('"after" must be the id of the last event you received '
                                                "(a whole number), or null."))
            seen = content.get("seen", [])
            if isinstance(seen, str):
                seen = [seen]
            if (not isinstance(seen, list) or len(seen) > MAX_SEEN_TOKENS
                    or not all(isinstance(t, str) and len(t) < MAX_FRAME_CHARS for t in seen)):
                raise BadMessage("bad_seen", _('"seen" must be a list of the tokens the page carries.'))
            now = time.monotonic()
            while self.subscribe_times and now - self.subscribe_times[0] > 60:
                self.subscribe_times.popleft()
            if len(self.subscribe_times) >= MAX_SUBSCRIBES_PER_MINUTE:
                raise BadMessage("too_many", _("Too many subscriptions in a short time; wait a minute."))
            self.subscribe_times.append(now)
            return list(dict.fromkeys(streams)), after, seen

    async def _subscribe(self, content: dict[str, Any]) -> None:
        streams, after, tokens = self._parse_subscribe(content)
        if not await self._actor_still_valid(force=False):
            return
        actor = self.actor
        assert actor is not None
        bad_token = await database_sync_to_async(self._take_seen_tokens)(actor, tokens)
        self.subscription, frames = await database_sync_to_async(events.subscribe)(actor, streams, after, self.seen)
        for frame in frames:
            await self.send_json(frame)
        await self.send_json({"type": "subscribed", "streams": streams})
        if bad_token:
            with translation.override(self.language):
                await self.send_json({"type": "error", "code": "bad_seen", "message": _(
                    "This page is too old to follow every change; reload it.")})

    def _take_seen_tokens(self, actor: Actor, tokens: list[str]) -> bool:
        """Count the records the page's tokens name as seen; ``True`` if one was refused."""
        refused = False
        for token in tokens:
            keys = events.read_seen_token(actor, token)
            if keys is None:
                refused = True
                continue
            for object_type, object_id in keys:
                self.seen.add(object_type, object_id)
        return refused

    # -----------------------------------------------------------------------------------------
    # From the channel layer

    async def outbox_event(self, message: dict[str, Any]) -> None:
        """A publish committed: read what this subscriber has not read yet."""
        if self.subscription is None or message.get("object_type") not in self.subscription.streams:
            return
        need = message.get("id")
        await self._deliver(need if isinstance(need, int) and not isinstance(need, bool) else None)

    async def outbox_poll(self, message: dict[str, Any]) -> None:
        if self.subscription is not None:
            await self._deliver()
        else:
            await self._actor_still_valid(force=False)

    async def actor_changed(self, message: dict[str, Any]) -> None:
        await self._actor_still_valid(force=True)

    async def user_notice(self, message: dict[str, Any]) -> None:
        """Something of this account changed (its notifications): the page fetches it itself."""
        if self.actor is not None and isinstance(message.get("topic"), str):
            await self.send_json({"type": "notice", "topic": message["topic"]})

    async def session_opened(self, message: dict[str, Any]) -> None:
        """Another connection of this session opened (or answers that it is open)."""
        await self._note_peer(message, answer=True)

    async def session_present(self, message: dict[str, Any]) -> None:
        await self._note_peer(message, answer=False)

    async def session_closed(self, message: dict[str, Any]) -> None:
        self.session_peers.discard(str(message.get("channel", "")))

    async def _note_peer(self, message: dict[str, Any], *, answer: bool) -> None:
        if self.actor is None or self.released:
            return
        channel, opened = message.get("channel"), message.get("opened_at")
        if not isinstance(channel, str) or channel == self.channel_name or not isinstance(opened, (int, float)):
            return
        if (float(opened), channel) > self.opened_at:
            self.session_peers.add(channel)
            if len(self.session_peers) >= max_sockets_per_session():
                await self._end(CLOSE_TOO_MANY)
        elif answer:
            # An older connection announced itself after this one: tell it that this one is newer.
            with contextlib.suppress(Exception):
                await self.channel_layer.send(channel, self._session_message(SESSION_PRESENT_TYPE))

    def _session_message(self, kind: str) -> dict[str, Any]:
        return {"type": kind, "channel": self.channel_name, "opened_at": self.opened_at[0]}

    async def _tell_session(self, kind: str) -> None:
        with contextlib.suppress(Exception):  # a full or unreachable layer: the limit holds at the next open
            await self.channel_layer.group_send(self.session_group, self._session_message(kind))

    async def _deliver(self, need: int | None = None) -> None:
        if not await self._actor_still_valid(force=False):
            return
        actor, subscription = self.actor, self.subscription
        assert actor is not None and subscription is not None
        more = True
        while more:
            frames, more = await database_sync_to_async(events.catch_up)(actor, subscription, self.seen, need=need)
            for frame in frames:
                await self.send_json(frame)

    async def _actor_still_valid(self, *, force: bool) -> bool:
        """Re-read the session now and then: signed out -> 4401, another membership -> 4409."""
        if self.actor is None:
            return False
        if not force and time.monotonic() - self.actor_checked < _actor_seconds():
            return True
        fresh = await database_sync_to_async(actor_from_session)(self.session_key)
        self.actor_checked = time.monotonic()
        if fresh is None or fresh.user_id != self.actor.user_id:
            await self._end(events.CLOSE_UNAUTHENTICATED)
            return False
        if fresh.membership_id != self.actor.membership_id or fresh.space_id != self.actor.space_id:
            await self._end(events.CLOSE_ACTOR_CHANGED)
            return False
        self.actor = fresh
        return True

    async def _end(self, code: int) -> None:
        await self._release()
        await self.close(code=code)

    async def _poll_forever(self) -> None:
        while True:
            await asyncio.sleep(_poll_seconds())
            with contextlib.suppress(Exception):  # a full or unreachable layer: try again next time
                await self.channel_layer.send(self.channel_name, {"type": "outbox.poll"})

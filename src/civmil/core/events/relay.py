"""The channel layer of a server without Redis: in memory within a process, the database between
the processes of one server.

``civmil serve`` runs several processes on one port (one per core). Live connections land on any
of them, and a write in one process must reach the connections of the others: with Redis the
channel layer carries it (``REDIS_URL``); without Redis (``make run``, a small mission on SQLite)
this layer does. It is the in-memory layer, plus:

* every ``group_send`` is also written as a row of :class:`~civmil.core.models.LiveRelay`, and a
  ``send`` to a connection of another process likewise (a channel name carries its process);
* each process that holds connections reads the rows other processes wrote, every
  ``poll_seconds`` (0.1 s), and delivers them to its own connections;
* rows older than ``keep_seconds`` (60 s) are deleted by whichever process reads next.

What crosses is what the in-memory layer carries between connections of one process: "event N is
committed" pushes, notices and the session's bookkeeping. Events themselves are read by each
connection from the outbox, so a row missed or late delays a delivery, loses nothing.

The relay is on only in the processes ``civmil serve`` starts when it runs more than one
(``settings.CIVMIL_LIVE_RELAY``); elsewhere (one process, the test suite) this is exactly the
in-memory layer.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from channels.layers import InMemoryChannelLayer
from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.utils import timezone

logger = logging.getLogger("civmil.events")


def new_origin() -> str:
    """A name for one process's layer; it marks its channel names (``specific.<origin>!<random>``)."""
    return f"p{os.getpid()}x{secrets.token_hex(4)}"


def relay_enabled() -> bool:
    return bool(getattr(settings, "CIVMIL_LIVE_RELAY", False))


def _write(origin: str, group: str, channel: str, message: dict[str, Any]) -> None:
    from civmil.core.events.outbox import _lock
    from civmil.core.models import LiveRelay

    try:
        with transaction.atomic():
            _lock()  # on PostgreSQL, ids become visible in order (see outbox.py)
            LiveRelay.objects.create(origin=origin, group=group, channel=channel, message=message)
    finally:
        close_old_connections()  # kept on SQLite; given back to the pool on PostgreSQL


def _read(origin: str, after: int | None, keep_seconds: float, prune: bool) -> tuple[int, list[Any]]:
    from civmil.core.models import LiveRelay

    try:
        if after is None:
            newest = LiveRelay.objects.order_by("-id").values_list("id", flat=True).first()
            return (newest or 0), []
        rows = list(LiveRelay.objects.filter(id__gt=after).order_by("id")
                    .values_list("id", "origin", "group", "channel", "message")[:1000])
        if prune:
            LiveRelay.objects.filter(created_at__lt=timezone.now() - dt.timedelta(seconds=keep_seconds)).delete()
        last = rows[-1][0] if rows else after
        return last, [row for row in rows if row[1] != origin]
    finally:
        if not connection.in_atomic_block:
            close_old_connections()


class RelayChannelLayer(InMemoryChannelLayer):  # type: ignore[misc]
    """In-memory layer that also relays to the other processes of the server (when on)."""

    def __init__(self, poll_seconds: float = 0.1, keep_seconds: float = 60.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.poll_seconds = float(poll_seconds)
        self.keep_seconds = float(keep_seconds)
        #: Seconds between two prunings of old rows by this process.
        self.prune_seconds = 30.0
        self.relaying = relay_enabled()
        self.reader: asyncio.Task[None] | None = None
        self.origin = new_origin()
        # One thread of its own for the database: its connection is kept between rounds, and the
        # rows it writes leave in the order they were sent.
        self.thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="civmil-live-relay")

    async def _in_thread(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.thread, fn, *args)

    async def new_channel(self, prefix: str = "specific.") -> str:
        return f"{prefix}.{self.origin}!{secrets.token_hex(6)}"

    def _local(self, channel: str) -> bool:
        return "!" not in channel or channel.split("!", 1)[0].endswith(f".{self.origin}")

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        if not self.relaying or self._local(channel):
            await super().send(channel, message)
            return
        self.require_valid_channel_name(channel)
        await self._in_thread(_write, self.origin, "", channel, message)

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        await super().group_send(group, message)
        if self.relaying:
            await self._in_thread(_write, self.origin, group, "", message)

    async def group_add(self, group: str, channel: str) -> None:
        await super().group_add(group, channel)
        if self.relaying:
            self._start_reader()

    def _start_reader(self) -> None:
        if self.reader is None or self.reader.done():
            self.reader = asyncio.get_running_loop().create_task(self._read_forever())

    async def _read_forever(self) -> None:
        after: int | None = None
        pruned = time.monotonic()
        while True:
            try:
                prune = time.monotonic() - pruned >= self.prune_seconds
                pruned = time.monotonic() if prune else pruned
                after, rows = await self._in_thread(_read, self.origin, after, self.keep_seconds, prune)
                for _id, _origin, group, channel, message in rows:
                    await self._deliver(group, channel, message)
            except asyncio.CancelledError:
                raise
            except Exception:  # the database is busy or away: read again next round
                logger.warning("live relay: reading the other processes' messages failed", exc_info=True)
            await asyncio.sleep(self.poll_seconds)

    async def _deliver(self, group: str, channel: str, message: dict[str, Any]) -> None:
        with contextlib.suppress(Exception):  # a full queue drops the push, as in one process
            if group:
                await InMemoryChannelLayer.group_send(self, group, message)
            elif channel and self._local(channel):
                await InMemoryChannelLayer.send(self, channel, message)

    async def flush(self) -> None:
        await super().flush()
        if self.reader is not None:
            self.reader.cancel()
            self.reader = None

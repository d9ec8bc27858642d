"""Without Redis, the processes of one server pass live messages through the database.

Two layers here stand for two server processes: each has its own in-memory groups and channels
and its own origin, and they share only the database, as two processes of `civmil serve` do.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from civmil.core.events.relay import RelayChannelLayer
from civmil.core.management.commands import serve
from civmil.core.models import LiveRelay

pytestmark = pytest.mark.django_db(transaction=True)


def _layer(*, relaying: bool = True) -> RelayChannelLayer:
    layer = RelayChannelLayer(poll_seconds=0.02)
    layer.relaying = relaying
    return layer


async def _receive(layer: RelayChannelLayer, channel: str, timeout: float = 5.0) -> dict[str, Any]:
    message: dict[str, Any] = await asyncio.wait_for(layer.receive(channel), timeout)
    return message


async def _nothing(layer: RelayChannelLayer, channel: str) -> bool:
    try:
        await asyncio.wait_for(layer.receive(channel), 0.3)
    except TimeoutError:
        return True
    return False


@pytest.mark.asyncio
async def test_a_group_send_in_one_process_reaches_the_groups_connections_in_another() -> None:
    first, second = _layer(), _layer()
    try:
        here, there = await first.new_channel(), await second.new_channel()
        await first.group_add("space.s1", here)
        await second.group_add("space.s1", there)
        await second.group_add("space.s2", await second.new_channel())
        await asyncio.sleep(0.1)  # the second process has started reading

        await first.group_send("space.s1", {"type": "outbox.event", "id": 7})

        assert await _receive(second, there) == {"type": "outbox.event", "id": 7}
        assert await _receive(first, here) == {"type": "outbox.event", "id": 7}
        # Each connection gets it once: the writer does not read its own row back.
        assert await _nothing(first, here)
        assert await _nothing(second, there)
    finally:
        await first.flush()
        await second.flush()


@pytest.mark.asyncio
async def test_a_send_to_a_connection_of_another_process_arrives_there_only() -> None:
    first, second = _layer(), _layer()
    try:
        mine = await first.new_channel()
        theirs = await second.new_channel()
        await first.group_add("session.abc", mine)
        await second.group_add("session.abc", theirs)
        await asyncio.sleep(0.1)

        await first.send(theirs, {"type": "session.present", "channel": mine, "opened_at": 1.5})

        assert await _receive(second, theirs) == {"type": "session.present", "channel": mine, "opened_at": 1.5}
        assert await _nothing(first, mine)
        assert mine.split("!")[0] != theirs.split("!")[0]  # channel names say whose they are
    finally:
        await first.flush()
        await second.flush()


@pytest.mark.asyncio
async def test_with_the_relay_off_it_is_the_in_memory_layer_and_writes_nothing() -> None:
    layer = _layer(relaying=False)
    channel = await layer.new_channel()
    await layer.group_add("space.s1", channel)
    await layer.group_send("space.s1", {"type": "outbox.event", "id": 1})
    assert await _receive(layer, channel) == {"type": "outbox.event", "id": 1}
    assert await sync_to_async(LiveRelay.objects.count)() == 0
    assert layer.reader is None


@pytest.mark.asyncio
async def test_old_relay_rows_are_pruned() -> None:
    def old_row() -> None:
        row = LiveRelay.objects.create(origin="gone", group="space.s1", message={"type": "x"})
        LiveRelay.objects.filter(pk=row.pk).update(created_at=timezone.now() - dt.timedelta(minutes=5))

    await sync_to_async(old_row)()
    layer = _layer()
    layer.keep_seconds = 60
    layer.prune_seconds = 0
    try:
        await layer.group_add("space.s1", await layer.new_channel())
        for _ in range(200):
            if not await sync_to_async(LiveRelay.objects.filter(origin="gone").exists)():
                break
            await asyncio.sleep(0.05)
        assert not await sync_to_async(LiveRelay.objects.filter(origin="gone").exists)()
    finally:
        await layer.flush()


def test_serve_runs_the_relay_only_for_several_processes_without_redis(settings: Any) -> None:
    settings.DEPLOY = type(settings.DEPLOY)(**{**settings.DEPLOY.__dict__, "redis_url": ""})
    assert serve.relay_needed(2) is True
    assert serve.relay_needed(1) is False
    settings.DEPLOY = type(settings.DEPLOY)(**{**settings.DEPLOY.__dict__, "redis_url": "redis://127.0.0.1:6379/0"})
    assert serve.relay_needed(2) is False
    assert serve.process_count(3) == 3

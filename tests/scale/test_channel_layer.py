"""The channel layer on Redis, as the settings give it to Channels.

- Its connections read with a timeout above its blocking read. channels_redis waits up to
  ``brpop_timeout`` (5 s) in BZPOPMIN for each receive; redis-py 8 made 5 s its default socket
  timeout, so a quiet connection's read failed with "Timeout reading from …" and every live socket
  dropped (redis-py 4091, channels_redis 422). channels_redis hands each host dict to redis-py as
  the keyword arguments of every connection pool it makes (one per host and event loop: the
  receive path and group sends alike), so the timeouts are in that dict.
- A burst of layer calls larger than its pool waits for connections instead of failing: redis-py 8
  bounds a pool at 100 connections and raised "Too many connections" when a few hundred live
  sockets of one server closed together (civmil.config.channel_layer).

The first two tests do not connect to Redis (pools connect lazily); the burst needs Redis and is
skipped when it is unreachable, unless CI=true.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from typing import Any

import pytest
from django.utils.module_loading import import_string
from redis.asyncio import BlockingConnectionPool

from civmil.config.channel_layer import POOL_SIZE
from civmil.config.env import REDIS_CONNECT_TIMEOUT, REDIS_SOCKET_TIMEOUT, redis_channel_layer
from tests.scale.stack import ROOT

URL = "redis://127.0.0.1:6379/3"
REDIS_BASE = "redis://127.0.0.1:6379"


def _layer(url: str, **config: Any) -> Any:
    """The layer built as Channels builds it from a CHANNEL_LAYERS entry."""
    entry = redis_channel_layer(url, **config)
    return import_string(str(entry["BACKEND"]))(**entry["CONFIG"])  # type: ignore[arg-type]


def test_every_pool_the_layer_makes_reads_longer_than_its_blocking_read_and_waits_when_full() -> None:
    layer = _layer(URL, prefix="civmil-unit")
    for index in range(layer.ring_size):
        pool = layer.create_pool(index)
        assert isinstance(pool, BlockingConnectionPool) and pool.max_connections == POOL_SIZE
        assert {k: pool.connection_kwargs.get(k) for k in ("socket_timeout", "socket_connect_timeout")} == {
            "socket_timeout": REDIS_SOCKET_TIMEOUT, "socket_connect_timeout": REDIS_CONNECT_TIMEOUT}
    assert layer.brpop_timeout + 5 < REDIS_SOCKET_TIMEOUT  # a margin for a slow Redis, not a race


def test_the_settings_build_the_layer_with_the_timeouts_when_redis_is_configured() -> None:
    """What a server started with REDIS_URL actually gives Channels."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("CIVMIL_", "DJANGO_"))},
           "REDIS_URL": URL, "DJANGO_SETTINGS_MODULE": "civmil.config.settings",
           "DATABASE_URL": "sqlite:///:memory:"}
    code = ("import django, json; django.setup(); from channels.layers import get_channel_layer; "
            "pool = get_channel_layer().create_pool(0); "
            "print(json.dumps([type(pool).__name__, pool.connection_kwargs.get('socket_timeout'), "
            "pool.connection_kwargs.get('socket_connect_timeout')]))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.splitlines()[-1]) == ["BlockingConnectionPool", REDIS_SOCKET_TIMEOUT,
                                                        REDIS_CONNECT_TIMEOUT]


@pytest.mark.asyncio
async def test_a_burst_of_layer_calls_larger_than_the_pool_all_succeed() -> None:
    """As when a few hundred live sockets of one server close at once: each leaves its groups."""
    import redis

    try:
        redis.Redis.from_url(REDIS_BASE, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        reason = f"Redis is not reachable at {REDIS_BASE} ({exc.__class__.__name__})"
        if os.environ.get("CI", "").strip().lower() == "true":
            pytest.fail(f"{reason}, and CI=true requires it")
        print(f"SKIPPED: {reason}")
        pytest.skip(reason)
    layer = _layer(f"{REDIS_BASE}/9", prefix=f"civmil-burst-{uuid.uuid4().hex[:12]}")
    channels = [await layer.new_channel() for _ in range(3 * POOL_SIZE)]
    try:
        await asyncio.gather(*(layer.group_add("burst", channel) for channel in channels))
        await layer.group_send("burst", {"type": "hello"})
        received = await asyncio.gather(*(asyncio.wait_for(layer.receive(c), 10) for c in channels))
        assert [m["type"] for m in received] == ["hello"] * len(channels)
        await asyncio.gather(*(layer.group_discard("burst", channel) for channel in channels))
    finally:
        await layer.flush()  # this test's keys only (its own prefix), and the pools

"""The channel layer's Redis connections read with a timeout above its blocking read.

channels_redis waits up to ``brpop_timeout`` (5 s) in BZPOPMIN for each receive; redis-py 8 made
5 s its default socket timeout, so a quiet connection's read failed with "Timeout reading from …"
and every live socket dropped (redis-py 4091, channels_redis 422). channels_redis hands each host
dict to redis-py as the keyword arguments of every connection pool it makes (one per host and event
loop: the receive path and group sends alike), so the timeouts must be in that dict. Nothing here
connects to Redis: pools connect lazily.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from channels_redis.core import RedisChannelLayer

from civmil.config.env import REDIS_CONNECT_TIMEOUT, REDIS_SOCKET_TIMEOUT, redis_channel_layer
from tests.scale.stack import ROOT

URL = "redis://127.0.0.1:6379/3"


def _timeouts(kwargs: dict[str, object]) -> dict[str, object]:
    return {k: kwargs.get(k) for k in ("socket_timeout", "socket_connect_timeout")}


def test_every_pool_the_layer_makes_reads_longer_than_its_blocking_read() -> None:
    config = redis_channel_layer(URL, prefix="civmil-unit")
    assert config["BACKEND"] == "channels_redis.core.RedisChannelLayer"
    layer = RedisChannelLayer(**config["CONFIG"])  # type: ignore[arg-type]
    expected = {"socket_timeout": REDIS_SOCKET_TIMEOUT, "socket_connect_timeout": REDIS_CONNECT_TIMEOUT}
    for index in range(layer.ring_size):
        assert _timeouts(layer.create_pool(index).connection_kwargs) == expected
    assert layer.brpop_timeout + 5 < REDIS_SOCKET_TIMEOUT  # a margin for a slow Redis, not a race


def test_the_settings_build_the_layer_with_the_timeouts_when_redis_is_configured() -> None:
    """What a server started with REDIS_URL actually gives channels_redis."""
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("CIVMIL_", "DJANGO_"))},
           "REDIS_URL": URL, "DJANGO_SETTINGS_MODULE": "civmil.config.settings",
           "DATABASE_URL": "sqlite:///:memory:"}
    code = ("import django, json; django.setup(); from channels.layers import get_channel_layer; "
            "layer = get_channel_layer(); pool = layer.create_pool(0); "
            "print(json.dumps([type(layer).__name__, pool.connection_kwargs.get('socket_timeout'), "
            "pool.connection_kwargs.get('socket_connect_timeout')]))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout.splitlines()[-1]) == ["RedisChannelLayer", REDIS_SOCKET_TIMEOUT,
                                                        REDIS_CONNECT_TIMEOUT]

"""The Channels layer on Redis, with connection pools that wait for a free connection.

channels_redis makes one redis-py connection pool per host and event loop, and every layer call
(group add and discard, group send, the blocking receive) takes a connection from it for the
length of one command. redis-py 8 bounds its default pool at 100 connections and *raises*
``MaxConnectionsError: Too many connections`` beyond (earlier versions allowed 2**31). When a few
hundred live connections of one server open or close together (a proxy restart, a network blip,
the end of a shift), each makes several layer calls at once; the calls past the hundredth failed
and each left a traceback in the log ("Exception in ASGI application").

This layer's pools are redis-py's ``BlockingConnectionPool``: still at most POOL_SIZE connections
per server process, so a burst opens no more sockets than Redis and the process's file limit
allow, but a call beyond waits (up to POOL_WAIT seconds) for a connection to come back, which
takes a few milliseconds.
"""

from __future__ import annotations

from typing import Any

from channels_redis.core import RedisChannelLayer as _RedisChannelLayer
from redis.asyncio import BlockingConnectionPool

#: Connections to Redis one server process keeps at most (per event loop), as redis-py 8's default.
POOL_SIZE = 100
#: Seconds a layer call waits for a free connection before failing.
POOL_WAIT = 20.0


class RedisChannelLayer(_RedisChannelLayer):  # type: ignore[misc]
    """channels_redis's layer, its pools waiting rather than failing when all are in use."""

    def create_pool(self, index: int) -> Any:
        host = dict(self.hosts[index])
        if "address" not in host:  # sentinels or host and port: channels_redis's own pools
            return super().create_pool(index)
        address = host.pop("address")
        return BlockingConnectionPool.from_url(address, **{"max_connections": POOL_SIZE, "timeout": POOL_WAIT,
                                                           **host})

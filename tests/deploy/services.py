"""A scratch PostgreSQL database and Redis database for the deployment tests (upgrade, restore over a
live database), dropped after. Skipped with a printed reason when PostgreSQL or Redis is
unreachable, unless CI=true, where that is a failure; skipped on the SQLite pass.

A test module makes its fixture with ``with scratch_services() as (database_url, redis_url): yield ...``.
"""

from __future__ import annotations

import contextlib
import os
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from tests.scale.stack import DEFAULT_PG, REDIS_BASE, scratch_database, scratch_redis


def unavailable(reason: str) -> None:
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(f"{reason}, and CI=true requires it")
    print(f"SKIPPED: {reason}")
    pytest.skip(reason)


@contextlib.contextmanager
def scratch_services() -> Iterator[tuple[str, str]]:
    """A scratch PostgreSQL database and Redis database: their URLs (the database dropped on exit)."""
    import psycopg
    import redis

    base = os.environ.get("DATABASE_URL", "")
    if base and not base.startswith(("postgres://", "postgresql://")):
        pytest.skip("needs PostgreSQL: runs on the PostgreSQL pass")
    base = base or DEFAULT_PG
    try:
        redis_url = scratch_redis(REDIS_BASE)
    except redis.RedisError as exc:
        unavailable(f"Redis is not reachable at {REDIS_BASE} ({exc.__class__.__name__})")
        raise
    with contextlib.ExitStack() as cleanup:
        try:
            database_url = cleanup.enter_context(scratch_database(base))
        except psycopg.OperationalError as exc:
            unavailable(f"PostgreSQL is not reachable at {base} ({exc.__class__.__name__})")
            raise
        yield database_url, redis_url


def status(port: int, path: str = "/health/ready") -> int:
    """The HTTP status ``path`` answers on the server at ``port`` (0: no answer)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (OSError, urllib.error.URLError):
        return 0


def wait_ready(port: int, timeout: float = 30) -> int:
    """Poll /health/ready until it answers 200 or ``timeout`` passes; the last status."""
    deadline = time.monotonic() + timeout
    answer = status(port)
    while answer != 200 and time.monotonic() < deadline:
        time.sleep(0.2)
        answer = status(port)
    return answer

"""Scale-out: two web processes and one worker on PostgreSQL + Redis, configured as docs/deploy/.

An entry written through process A reaches a WebSocket reader on process B within 2 s (events
cross processes through Redis), a reader who may not see it gets nothing, and after B restarts
the reader resumes from the last id it saw and gets the event it missed. Then a connection on each
process stays quiet for HOLD_SECONDS (longer than any Redis read timeout and several of uvicorn's
pings) and still gets the next event on the same socket; no process wrote an error or a traceback.

Runs on the PostgreSQL pass of ``make test`` (its own database and Redis db, dropped after).
Skipped when PostgreSQL or Redis is unreachable, unless CI=true, where that is a failure.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Iterator

import pytest

from tests.scale.stack import CIVMIL, STREAM, Live, Stack, free_port, post_entry, scratch_database, scratch_redis

pytestmark = pytest.mark.postgres

DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/test"
REDIS_BASE = "redis://127.0.0.1:6379"
DELIVERY_SECONDS = 2.0
#: A quiet live connection must outlast this (redis-py 8 dropped every one after 5 to 10 s).
HOLD_SECONDS = 65


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(f"{reason}, and CI=true requires it")
    print(f"SKIPPED: {reason}")
    pytest.skip(reason)


@pytest.fixture
def redis_url() -> str:
    import redis

    try:
        return scratch_redis(REDIS_BASE)
    except redis.RedisError as exc:
        _unavailable(f"Redis is not reachable at {REDIS_BASE} ({exc.__class__.__name__})")
        raise


@pytest.fixture
def database(redis_url: str) -> Iterator[str]:
    import psycopg

    base = os.environ.get("DATABASE_URL", "")
    if base and not base.startswith(("postgres://", "postgresql://")):
        pytest.skip("needs PostgreSQL: runs on the PostgreSQL pass")
    base = base or DEFAULT_PG
    with contextlib.ExitStack() as cleanup:
        try:
            url = cleanup.enter_context(scratch_database(base))
        except psycopg.OperationalError as exc:
            _unavailable(f"PostgreSQL is not reachable at {base} ({exc.__class__.__name__})")
            raise
        yield url


def test_events_cross_processes_follow_the_policy_survive_a_restart_and_hold_quiet_sockets(
        database: str, redis_url: str) -> None:
    with tempfile.TemporaryDirectory(prefix="civmil-scale-") as var_dir:
        stack = Stack(database, redis_url, var_dir)
        sockets: list[Live] = []
        try:
            stack.run(CIVMIL, "migrate", "--no-input", "-v", "0", timeout=120)
            setup = stack.setup_members()
            a_port, b_port = free_port(), free_port()
            stack.start("worker", CIVMIL, "worker", "--tick", "1", "--poll", "0.5")
            stack.serve("web-a", a_port)
            stack.serve("web-b", b_port)
            cookie = setup["session_cookie"]
            reader = Live(b_port, f"{cookie}={setup['reader_session']}")
            soldier = Live(b_port, f"{cookie}={setup['soldier_session']}")
            sockets += [reader, soldier]

            # Written through A, delivered on B (through Redis), only to who may see it.
            first = post_entry(a_port, setup["token"], setup["author_org"], "scale-first")
            got = reader.until("event", DELIVERY_SECONDS, object_id=first)
            event = got[-1]
            assert event["kind"] == "liaison.recorded" and event["object_type"] == STREAM
            last_id = int(event["id"])
            leaked = [f for f in soldier.frames(1.0) if f.get("type") in ("event", "removed", "reset", "reload")]
            assert leaked == [], "the military user must receive nothing about a humanitarian entry"

            # B goes down; an entry written through A meanwhile is replayed when the reader resumes.
            for live in sockets:
                live.close()
            sockets.clear()
            stack.stop("web-b")
            second = post_entry(a_port, setup["token"], setup["author_org"], "scale-second")
            stack.serve("web-b", b_port)
            reader = Live(b_port, f"{cookie}={setup['reader_session']}", after=last_id)
            sockets.append(reader)
            replayed = [f for f in reader.replayed if f.get("type") == "event"]
            assert [f["object_id"] for f in replayed] == [second], reader.replayed
            assert all(int(f["id"]) > last_id for f in replayed)
            assert not [f for f in reader.replayed if f.get("type") in ("reset", "reload")]

            # A connection on each process stays quiet past every read timeout, then the next event
            # arrives on that same socket: nothing closed it, it did not reconnect.
            holders = {"web-a": Live(a_port, f"{cookie}={setup['reader_session']}"), "web-b": reader}
            sockets.append(holders["web-a"])
            opened = {name: live.ws for name, live in holders.items()}
            time.sleep(HOLD_SECONDS)
            assert {name: live.is_open() for name, live in holders.items()} == {"web-a": True, "web-b": True}
            third = post_entry(a_port, setup["token"], setup["author_org"], "scale-third")
            for name, live in holders.items():
                assert live.until("event", DELIVERY_SECONDS, object_id=third)[-1]["kind"] == "liaison.recorded"
                assert live.ws is opened[name] and live.is_open(), name

            # The separate worker ticked the periodic jobs on the shared database.
            ticked = stack.run(sys.executable, "-c", (
                "import django; django.setup(); from civmil.core.models.schedule import PeriodicRun; "
                "print(PeriodicRun.objects.count())"))
            assert int(ticked.strip().splitlines()[-1]) > 0, stack.log("worker")
            assert {name: stack.error_lines(name) for name in ("web-a", "web-b", "worker")} == {
                "web-a": [], "web-b": [], "worker": []}
        except AssertionError:
            for name in ("web-a", "web-b", "worker"):
                print(f"--- {name} log ---\n{stack.log(name)}")
            raise
        finally:
            for live in sockets:
                live.close()
            stack.stop_all()

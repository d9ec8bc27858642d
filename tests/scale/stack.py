"""Start civmil processes as docs/deploy/ runs them, and talk to them over HTTP and WebSocket.

Shared by tests/scale/test_two_processes.py and bench/live_events.py (no pytest here).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CIVMIL = str(Path(sys.executable).with_name("civmil"))
STREAM = "actors.liaisonlogentry"
#: A line of a process's output that reports a failure: a traceback, a line logged at ERROR or
#: CRITICAL (uvicorn's "ERROR:", a JSON record's level), or an exception's own line.
ERROR_LINE = re.compile(r'Traceback \(most recent call last\)|\b(?:ERROR|CRITICAL)\b'
                        r'|(?i:"level(?:name)?":\s*"(?:error|critical)")|^[\w.]*(?:Error|Exception)\b')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Stack:
    """The processes of one deployment, all reading the same environment (civmil.env)."""

    def __init__(self, database_url: str, redis_url: str, var_dir: str) -> None:
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("CIVMIL_", "DJANGO_"))},
            "DATABASE_URL": database_url, "REDIS_URL": redis_url, "CIVMIL_VAR_DIR": var_dir,
            "CIVMIL_ENV": "development", "CIVMIL_EMBEDDED_WORKER": "false",
            "ALLOWED_HOSTS": "127.0.0.1,localhost", "DJANGO_SETTINGS_MODULE": "civmil.config.settings",
            "PYTHONUNBUFFERED": "1",
            # One server process per ``civmil serve``: these tests count servers and their memory.
            "CIVMIL_WEB_PROCESSES": "1",
        }
        self.var_dir = Path(var_dir)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def run(self, *args: str, timeout: float = 60) -> str:
        done = subprocess.run(args, cwd=ROOT, env=self.env, capture_output=True, timeout=timeout, check=False)
        assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
        return done.stdout.decode()

    def setup_members(self, readers: int = 0) -> dict[str, Any]:
        """Three members (humanitarian author, civilian reader, military user), their sessions and
        the author's API token, and ``readers`` more civilian readers' sessions (``reader_sessions``):
        see _setup_members.py."""
        out = self.run(sys.executable, "-m", "tests.scale._setup_members", str(readers), timeout=60 + readers)
        return dict(json.loads(out.splitlines()[-1]))

    def start(self, name: str, *args: str, **env: str) -> None:
        log = open(self.var_dir / f"{name}.log", "ab")  # noqa: SIM115 (closed with the process)
        self.procs[name] = subprocess.Popen(args, cwd=ROOT, env={**self.env, **env}, stdout=log, stderr=log)
        log.close()

    def serve(self, name: str, port: int) -> None:
        self.start(name, CIVMIL, "serve", HOST="127.0.0.1", PORT=str(port))
        deadline = time.monotonic() + 60  # a cap: a loaded machine takes a while to import and check
        while time.monotonic() < deadline:
            if self.procs[name].poll() is not None:
                break
            try:
                # Alive is enough: these servers run without collected static files (no pages).
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/live", timeout=2) as r:
                    if r.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                time.sleep(0.2)
        raise AssertionError(f"{name} did not start on port {port}:\n{self.log(name)}")

    def stop(self, name: str) -> None:
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.stop(name)

    def log(self, name: str) -> str:
        return self.full_log(name)[-3000:]

    def full_log(self, name: str) -> str:
        """Everything process ``name`` wrote to stdout and stderr (across its restarts)."""
        path = self.var_dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def error_lines(self, name: str) -> list[str]:
        """The lines of ``name``'s output that report a failure (see ERROR_LINE)."""
        return [line for line in self.full_log(name).splitlines() if ERROR_LINE.search(line)]

    def rss(self, name: str) -> int:
        """Resident memory of process ``name`` and its children, in bytes (Linux /proc)."""
        return tree_rss(self.procs[name].pid)


def tree_rss(pid: int) -> int:
    """Resident memory of ``pid`` and every process below it, in bytes (0 once it has exited)."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        proc = Path(f"/proc/{current}")
        try:
            status = (proc / "status").read_text()
            for task in (proc / "task").iterdir():
                todo += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
        rss = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
        total += int(rss.group(1)) * 1024 if rss else 0
    return total


def post_entry(port: int, token: str, org: str, summary: str, level: str = "humanitarian") -> str:
    body = json.dumps({
        "occurred_at": (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat(),
        "channel": "meeting", "level": level, "summary": summary, "organisations": [org],
    }).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/liaison-log", data=body, method="POST",
                                     headers={"Authorization": f"Bearer {token}",
                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201
        return str(json.loads(response.read())["id"])


class Live:
    """One live-events WebSocket, signed in with a session cookie."""

    def __init__(self, port: int, cookie: str, after: int | None = None) -> None:
        from websockets.sync.client import connect

        self.exit = contextlib.ExitStack()
        self.ws = self.exit.enter_context(connect(
            f"ws://127.0.0.1:{port}/ws/events/", open_timeout=5,
            additional_headers={"Origin": f"http://127.0.0.1:{port}", "Cookie": cookie}))
        self.ws.send(json.dumps({"type": "subscribe", "streams": [STREAM], "after": after}))
        self.replayed = self.until("subscribed", timeout=5)

    def frames(self, timeout: float) -> list[dict[str, Any]]:
        """Every frame that arrives within ``timeout`` seconds."""
        from websockets.exceptions import ConnectionClosed

        out: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                out.append(json.loads(self.ws.recv(timeout=left)))
            except TimeoutError:
                break
            except ConnectionClosed as exc:
                raise AssertionError(f"the server closed the connection: {exc}") from exc
        return out

    def until(self, frame_type: str, timeout: float, object_id: str | None = None) -> list[dict[str, Any]]:
        """Frames up to and including the first of ``frame_type`` (about ``object_id``)."""
        out: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                frame = json.loads(self.ws.recv(timeout=left))
            except TimeoutError:
                break
            out.append(frame)
            if frame.get("type") == frame_type and object_id in (None, frame.get("object_id")):
                return out
        raise AssertionError(f"no {frame_type!r} frame within {timeout} s; got {out}")

    def is_open(self) -> bool:
        """Whether the connection is still open: no close frame came and the socket did not drop."""
        from websockets.protocol import State

        return bool(self.ws.state is State.OPEN)

    def close(self) -> None:
        self.exit.close()


@contextlib.contextmanager
def scratch_database(base_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database next to ``base_url``'s, dropped on exit.

    Raises ``psycopg.OperationalError`` when the server cannot be reached."""
    import psycopg

    admin = psycopg.connect(base_url, connect_timeout=3, autocommit=True)
    name = f"civmil_scale_{random.randrange(16**8):08x}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            parts = urllib.parse.urlsplit(base_url)
            yield urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def scratch_redis(base_url: str) -> str:
    """The URL of one of Redis's databases 9 to 15. Raises ``redis.RedisError`` when unreachable."""
    import redis

    url = f"{base_url}/{random.randint(9, 15)}"
    redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    return url


#: Where the benchmarks look for PostgreSQL (unless DATABASE_URL names one) and Redis.
DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/test"
REDIS_BASE = "redis://127.0.0.1:6379"


@contextlib.contextmanager
def scratch_stack(prefix: str) -> Iterator[Stack | str]:
    """A migrated scratch deployment on PostgreSQL + Redis (a :class:`Stack` whose processes stop and
    whose database goes on exit), or why there is none (a string, for a benchmark to report)."""
    import tempfile

    import psycopg
    import redis

    base = os.environ.get("DATABASE_URL", "")
    base = base if base.startswith(("postgres://", "postgresql://")) else DEFAULT_PG
    try:
        redis_url = scratch_redis(REDIS_BASE)
    except redis.RedisError as exc:
        yield f"Redis is not reachable at {REDIS_BASE} ({exc.__class__.__name__})"
        return
    with contextlib.ExitStack() as cleanup:
        try:
            database = cleanup.enter_context(scratch_database(base))
        except psycopg.OperationalError as exc:
            yield f"PostgreSQL is not reachable at {base} ({exc.__class__.__name__})"
            return
        var_dir = cleanup.enter_context(tempfile.TemporaryDirectory(prefix=prefix))
        stack = Stack(database, redis_url, var_dir)
        cleanup.callback(stack.stop_all)
        stack.run(CIVMIL, "migrate", "--no-input", "-v", "0", timeout=300)
        yield stack

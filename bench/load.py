"""The load trial: signed-in users of every component clicking through civmil at once.

``python -m bench.load`` (see docs/benchmarks.md). Each simulated user is its own signed-in session
(demo logins, reused round-robin when there are more users than logins), holds one live WebSocket
subscribed to the liaison log's stream, and every 0.5 to 1.5 s (seeded random, counted from the
end of its previous request) does one of the clicks in :data:`MIX`: pages of the liaison log, an
entry, search and the directory; API reads; writes through the API (a new liaison log entry, a
message in an entry's discussion). Steps of more and more users run against the same server; for
each the trial prints, per kind of request, requests/s and p50/p95/p99 from sending the request
to reading the whole body (errors included: a timeout counts its full 10 s), the errors by kind,
the live events delivered against those expected, and the client's own CPU use. A baseline row in
each step hits ``/health/live`` with the same users at the same pace.

By default it starts its own server as ``make run`` does (a scratch CIVMIL_VAR_DIR, SQLite,
``migrate``, ``collectstatic``, ``demo``, ``serve`` with the embedded worker) and stops it after;
``--url`` targets a server already running (with the demo mission loaded).

Expected live events are worked out, not assumed: before the first step each login writes one
probe entry, and every login reads every probe entry through the API. A login's entries always
go to the same audience (same organisation and level), so an entry event is expected on a socket
whose login saw the probe of the writer's login (full or reduced view), and a discussion message
only where that view was full (discussion events reach full readers only: ``comms/live.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from rich.console import Console
from rich.table import Table
from tests.scale.stack import ERROR_LINE, free_port

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parents[1]
STREAM = "actors.liaisonlogentry"
PASSWORD = "civmil-demo"
#: The demo's logins that sign in without a second factor (docs/user/demo.md), used when
#: ``civmil demo logins --json`` cannot be run here (a remote server without --logins).
DEMO_LOGINS = ("civstaff", "milstaff", "police", "cmcoord", "hostliaison", "community", "trainer",
               "milliaison", "ngostaff")
TIMEOUT_SECONDS = 10.0
THINK = (0.5, 1.5)
SEARCH_WORDS = ("water", "convoy", "market", "school", "checkpoint", "clinic", "road", "bridge", "displaced",
                "patrol", "meeting", "access", "food", "health", "security")
#: (kind, weight): what one click does. Weights add up to 100.
MIX: tuple[tuple[str, int], ...] = (
    ("page: liaison log", 15),
    ("page: entry", 15),
    ("page: search", 10),
    ("page: directory", 12),
    ("api: liaison log", 10),
    ("api: entry", 10),
    ("api: directory", 7),
    ("api: search", 5),
    ("write: entry", 8),
    ("write: message", 8),
)
BASELINE_KIND = "baseline: /health/live"
#: Longest wait before a phase for the server to answer /health/live within 50 ms five times running.
SETTLE_SECONDS = 60.0

#: Wide enough for the tables when the output goes to a file or a pipe.
console = Console(width=None if sys.stdout.isatty() else 150)


class TrialError(Exception):
    """The trial cannot go on; the message says why."""


# ---------------------------------------------------------------------------------------------
# Figures


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list (0 for an empty one)."""
    if not sorted_values:
        return 0.0
    rank = max(1, min(len(sorted_values), round(p / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


@dataclass
class KindStats:
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    #: Requests answered (or given up) before the phase's time was up.
    in_time: int = 0

    def summary(self, seconds: float) -> dict[str, Any]:
        """Latencies of every request sent in the phase; the rate counts those finished within its
        ``seconds`` (requests still running then would otherwise stretch the time they are divided by)."""
        values = sorted(self.latencies)
        return {
            "requests": len(values), "per_second": round(self.in_time / seconds, 2) if seconds else 0.0,
            "p50_ms": round(percentile(values, 50) * 1000, 1), "p95_ms": round(percentile(values, 95) * 1000, 1),
            "p99_ms": round(percentile(values, 99) * 1000, 1),
            "max_ms": round(values[-1] * 1000, 1) if values else 0.0,
            "errors": sum(self.errors.values()), "error_kinds": dict(self.errors),
        }


class Recorder:
    """Latencies and errors of one phase, per kind of request."""

    def __init__(self) -> None:
        self.kinds: dict[str, KindStats] = defaultdict(KindStats)
        self.open = False
        self.until = 0.0

    def add(self, kind: str, seconds: float, error: str | None) -> None:
        if not self.open:
            return
        stats = self.kinds[kind]
        stats.latencies.append(seconds)
        stats.in_time += time.monotonic() <= self.until
        if error:
            stats.errors[error] += 1


class CpuClock:
    """CPU seconds used by this process, and by the server's processes when we started them."""

    def __init__(self, server_pgid: int | None) -> None:
        self.server_pgid = server_pgid
        self.ticks = os.sysconf("SC_CLK_TCK")

    def server_seconds(self) -> float | None:
        if self.server_pgid is None:
            return None
        total = 0
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            # After the command: state ppid pgrp ... utime (12th) stime (13th), counted from state.
            if int(fields[2]) == self.server_pgid:
                total += int(fields[11]) + int(fields[12])
        return total / self.ticks

    def machine_seconds(self) -> float:
        """CPU seconds the whole machine spent busy (all cores, every process: /proc/stat)."""
        with open("/proc/stat") as stat:
            ticks = [int(v) for v in stat.readline().split()[1:]]
        return (sum(ticks[:8]) - ticks[3] - ticks[4]) / self.ticks  # all but idle and iowait

    def read(self) -> tuple[float, float, float | None, float]:
        return time.monotonic(), time.process_time(), self.server_seconds(), self.machine_seconds()


def cpu_share(start: tuple[float, float, float | None, float],
              end: tuple[float, float, float | None, float]) -> dict[str, Any]:
    """CPU used over a phase, in % of one core: this client, the server (when started here), and
    the whole machine (so that other work on it shows)."""
    wall = max(end[0] - start[0], 1e-9)
    server = None if start[2] is None or end[2] is None else round(100 * (end[2] - start[2]) / wall, 1)
    return {"client_cpu_percent": round(100 * (end[1] - start[1]) / wall, 1), "server_cpu_percent": server,
            "machine_cpu_percent": round(100 * (end[3] - start[3]) / wall, 1), "cores": os.cpu_count()}


# ---------------------------------------------------------------------------------------------
# The server


class Server:
    """A civmil started as ``make run`` starts it, in a scratch directory (or one already running)."""

    def __init__(self, url: str | None, server_env: dict[str, str], keep: bool) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self.keep = keep
        self.var_dir: Path | None = None
        self.log_path: Path | None = None
        self.banner = ""
        if url:
            self.url = url.rstrip("/")
            self.env = dict(os.environ)
            return
        self.var_dir = Path(tempfile.mkdtemp(prefix="civmil-load-"))
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("CIVMIL_", "DJANGO_"))},
            "CIVMIL_VAR_DIR": str(self.var_dir), "DATABASE_URL": f"sqlite:///{self.var_dir / 'civmil.sqlite3'}",
            "HOST": "127.0.0.1", "PORT": str(port), "PYTHONUNBUFFERED": "1",
        }
        self.env.pop("REDIS_URL", None)
        self.env.update(server_env)
        self.log_path = self.var_dir / "serve.log"

    @property
    def started_here(self) -> bool:
        return self.var_dir is not None

    def civmil(self, *args: str, timeout: float = 300) -> str:
        command = [str(Path(sys.executable).with_name("civmil")), *args]
        try:
            done = subprocess.run(command, cwd=ROOT, env=self.env, capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise TrialError(f"`civmil {' '.join(args)}` took more than {timeout:.0f} s") from exc
        if done.returncode != 0:
            raise TrialError(f"`civmil {' '.join(args)}` failed:\n{done.stderr.decode(errors='replace')[-3000:]}")
        return done.stdout.decode()

    def start(self) -> None:
        assert self.var_dir is not None and self.log_path is not None
        for step, args in (("migrate", ("migrate", "--noinput", "-v0")),
                           ("collect static files", ("collectstatic", "--noinput", "-v0")),
                           ("load the demo mission", ("demo",))):
            started = time.monotonic()
            self.civmil(*args)
            console.print(f"[dim]server: {step} ({time.monotonic() - started:.0f} s)[/dim]")
        console.print(f"[dim]server: civmil serve at {self.url} (log {self.log_path})[/dim]")
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([str(Path(sys.executable).with_name("civmil")), "serve"], cwd=ROOT,
                                         env=self.env, stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise TrialError(f"civmil serve exited with code {self.proc.returncode}:\n{self.log_tail()}")
            if asyncio.run(_answers(self.url + "/health/live")):
                banner = [line for line in self.log_tail().splitlines() if "serving at" in line]
                self.banner = banner[0] if banner else ""
                console.print(f"[dim]server: {self.banner}[/dim]")
                return
            time.sleep(0.3)
        raise TrialError(f"civmil serve did not answer /health/live within 60 s:\n{self.log_tail()}")

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:] if self.log_path and self.log_path.exists() else ""

    def error_lines(self) -> list[str]:
        if not self.log_path or not self.log_path.exists():
            return []
        return [line for line in self.log_path.read_text(errors="replace").splitlines() if ERROR_LINE.search(line)]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            # The whole group: ``serve`` may run several server processes under one supervisor.
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        if self.var_dir is not None and not self.keep:
            shutil.rmtree(self.var_dir, ignore_errors=True)

    def logins(self, given: list[str] | None) -> list[str]:
        """Usernames to sign in with: given, else the demo's logins without a second factor."""
        if given:
            return given
        try:
            listed = json.loads(self.civmil("demo", "logins", "--json", timeout=60))
        except (TrialError, json.JSONDecodeError) as exc:
            if self.started_here:
                raise
            console.print(f"[yellow]`civmil demo logins --json` did not run here ({str(exc).splitlines()[0]}); "
                          "using the demo's documented logins (give --logins to choose).[/yellow]")
            return list(DEMO_LOGINS)
        names = [str(row["username"]) for row in listed if not row.get("totp_secret")]
        return list(dict.fromkeys(names))


async def _answers(url: str) -> bool:
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as s, s.get(url) as r:
            return r.status == 200
    except (aiohttp.ClientError, TimeoutError):
        return False


# ---------------------------------------------------------------------------------------------
# Users


@dataclass
class Login:
    username: str
    organisation: str = ""
    organisation_name: str = ""
    component: str = ""
    level: str = ""
    probe_entry: str = ""
    #: Entries this login may open (its list at start, then those its users write).
    visible: list[str] = field(default_factory=list)
    #: Entries this login's users wrote (they post in these entries' discussions).
    own: list[str] = field(default_factory=list)


@dataclass
class Expectations:
    """Which logins' sockets should receive events about each writer login's entries."""

    entry: dict[str, frozenset[str]] = field(default_factory=dict)
    message: dict[str, frozenset[str]] = field(default_factory=dict)


class SignIn:
    """Sign-in pacing shared by all users: allauth limits sign-ins per address (429 when over)."""

    def __init__(self, concurrency: int) -> None:
        self.gate = asyncio.Semaphore(concurrency)
        self.refused = 0
        self.failed: Counter[str] = Counter()
        self.paused_until = 0.0


class User:
    def __init__(self, index: int, login: Login, base: str, connector: aiohttp.TCPConnector, seed: int) -> None:
        self.index = index
        self.login = login
        self.base = base
        self.rng = random.Random(seed * 1_000_003 + index)
        self.http = aiohttp.ClientSession(
            connector=connector, connector_owner=False, cookie_jar=aiohttp.CookieJar(unsafe=True),
            # Exactly 10 s: aiohttp rounds timeouts above ``ceil_threshold`` up to a whole second.
            timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS, ceil_threshold=TIMEOUT_SECONDS + 1))
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.connected_once = False
        self.reader: asyncio.Task[None] | None = None
        self.last_event_id: int | None = None
        #: (object id, "entry" | "message") -> events received, this step, and when (perf_counter).
        self.received: Counter[tuple[str, str]] = Counter()
        self.arrivals: dict[tuple[str, str], list[float]] = defaultdict(list)
        self.received_total = 0
        self.socket_closes: Counter[str] = Counter()
        self.reconnects = 0

    def csrf(self) -> str:
        for cookie in self.http.cookie_jar:
            if cookie.key == "csrftoken":
                return cookie.value
        return ""

    async def sign_in(self, pace: SignIn) -> None:
        """Sign in through the form; after a 429 (sign-in limit) every user waits 10 s, after a
        timeout or a dropped connection this one tries again."""
        page = self.base + "/accounts/login/"
        for _attempt in range(60):
            async with pace.gate:
                if (wait := pace.paused_until - time.monotonic()) > 0:
                    await asyncio.sleep(wait)
                try:
                    async with self.http.get(page) as r:
                        text = await r.text()
                    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', text)
                    if r.status != 200 or not found:
                        raise TrialError(f"the sign-in page answered {r.status} without a form")
                    data = {"csrfmiddlewaretoken": found.group(1), "login": self.login.username,
                            "password": PASSWORD}
                    async with self.http.post(page, data=data, headers={"Referer": page},
                                              allow_redirects=False) as r:
                        await r.read()
                        status, location = r.status, r.headers.get("Location", "")
                except (TimeoutError, aiohttp.ClientError) as exc:
                    pace.failed["timeout" if isinstance(exc, TimeoutError) else type(exc).__name__] += 1
                    await asyncio.sleep(1)
                    continue
                if status == 429:
                    pace.refused += 1
                    pace.paused_until = max(pace.paused_until, time.monotonic() + 10)
                    continue
                if status in (301, 302, 303) and "/accounts/" not in location:
                    return
                if status in (301, 302, 303):
                    raise TrialError(f"{self.login.username} signs in only with a second factor ({location}); "
                                     "leave it out of --logins")
                raise TrialError(f"{self.login.username} could not sign in (HTTP {status}): check the login "
                                 f"and the password {PASSWORD!r}")
        raise TrialError(f"{self.login.username}: sign-in failed 60 times in a row (429 refusals: {pace.refused}, "
                         f"other failures: {errors_text(pace.failed)})")

    async def json(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"X-CSRFToken": self.csrf(), "Referer": self.base + "/"} if method != "GET" else {}
        async with self.http.request(method, self.base + path, json=body, headers=headers) as r:
            return r.status, await r.json(content_type=None)

    # -- live events -----------------------------------------------------------------------------

    async def connect(self) -> None:
        ws_url = re.sub(r"^http", "ws", self.base) + "/ws/events/"
        self.ws = await self.http.ws_connect(ws_url, origin=self.base, timeout=aiohttp.ClientWSTimeout(ws_close=5),
                                             autoping=True, heartbeat=None)
        await self.ws.send_json({"type": "subscribe", "streams": [STREAM], "after": self.last_event_id})
        async with asyncio.timeout(TIMEOUT_SECONDS):
            while True:
                msg = await self.ws.receive()
                if msg.type != aiohttp.WSMsgType.TEXT:
                    raise TrialError(f"live socket of {self.login.username} closed before subscribing "
                                     f"(close code {self.ws.close_code})")
                frame = json.loads(msg.data)
                if frame.get("type") == "subscribed":
                    break
                self.note(frame)
        self.connected_once = True
        self.reader = asyncio.create_task(self.read_events())

    def note(self, frame: dict[str, Any]) -> None:
        if frame.get("type") != "event":
            return
        self.last_event_id = max(self.last_event_id or 0, int(frame["id"]))
        what = "message" if frame.get("kind") == "thread.message" else "entry"
        key = (str(frame.get("object_id")), what)
        self.received[key] += 1
        self.arrivals[key].append(time.perf_counter())
        self.received_total += 1

    async def read_events(self) -> None:
        while self.ws is not None:
            msg = await self.ws.receive()
            if msg.type == aiohttp.WSMsgType.TEXT:
                self.note(json.loads(msg.data))
                continue
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED,
                            aiohttp.WSMsgType.ERROR):
                self.socket_closes[f"closed {self.ws.close_code}"] += 1
                # Come back as the browser does, resuming after the last event received.
                try:
                    await asyncio.sleep(0.5)
                    await self.connect()
                    self.reconnects += 1
                except (aiohttp.ClientError, TimeoutError, TrialError) as exc:
                    self.socket_closes[f"reconnect failed: {type(exc).__name__}"] += 1
                    self.ws = None
                return

    async def disconnect(self) -> None:
        """Close the live socket (the session stays signed in)."""
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.reader
            self.reader = None
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close()
            self.ws = None
        self.connected_once = False

    async def close(self) -> None:
        await self.disconnect()
        await self.http.close()


# ---------------------------------------------------------------------------------------------
# The trial


class Trial:
    def __init__(self, args: argparse.Namespace, server: Server, logins: list[str]) -> None:
        self.args = args
        self.server = server
        self.base = server.url
        self.logins = [Login(name) for name in logins]
        self.users: list[User] = []
        #: The users of the current step (the first ones of ``users``).
        self.active: list[User] = []
        self.pace = SignIn(concurrency=2)
        self.recorder = Recorder()
        self.expect = Expectations()
        #: login -> (object id, what) -> events its sockets should receive this step.
        self.expected: dict[str, Counter[tuple[str, str]]] = defaultdict(Counter)
        self.expected_total: Counter[str] = Counter()
        #: (object id, what) -> when each write about it was sent (perf_counter), this step.
        self.write_times: dict[tuple[str, str], list[float]] = defaultdict(list)
        self.cpu = CpuClock(server.proc.pid if server.proc is not None else None)
        self.connector: aiohttp.TCPConnector | None = None
        self.entry_count = 0

    # -- before the first step -------------------------------------------------------------------

    def new_user(self, login: Login) -> User:
        assert self.connector is not None
        user = User(len(self.users), login, self.base, self.connector, self.args.seed)
        self.users.append(user)
        return user

    async def prepare(self) -> None:
        """One session per login: who it is, where it writes, and who sees what it writes."""
        console.print(f"signing in {len(self.logins)} logins to see who sees what")
        users = [self.new_user(login) for login in self.logins]
        await asyncio.gather(*(u.sign_in(self.pace) for u in users))
        for user in users:
            login = user.login
            status, me = await user.json("GET", "/api/v1/me")
            if status != 200 or not me.get("organisation"):
                raise TrialError(f"{login.username}: /api/v1/me answered {status} without an organisation")
            login.organisation = str(me["organisation"]["id"])
            login.organisation_name = str(me["organisation"].get("acronym") or me["organisation"]["name"])
            login.component = str(me["component"])
            for level in ("mission", "humanitarian", "military", "restricted"):
                status, entry = await user.json("POST", "/api/v1/liaison-log", self.entry_body(login, level))
                if status == 201:
                    login.level, login.probe_entry = level, str(entry["id"])
                    login.own.append(login.probe_entry)
                    break
                if status != 403:
                    raise TrialError(f"{login.username}: writing a liaison log entry answered {status}: {entry}")
            if not login.level:
                raise TrialError(f"{login.username} may not write a liaison log entry at any level")
            status, page = await user.json("GET", "/api/v1/liaison-log?limit=200")
            if status != 200:
                raise TrialError(f"{login.username}: /api/v1/liaison-log answered {status}")
            login.visible = [str(item["id"]) for item in page["items"]]
        entry_sees: dict[str, set[str]] = defaultdict(set)
        full_sees: dict[str, set[str]] = defaultdict(set)
        for reader in users:
            for writer in self.logins:
                status, entry = await reader.json("GET", f"/api/v1/liaison-log/{writer.probe_entry}")
                if status == 200:
                    entry_sees[writer.username].add(reader.login.username)
                    if entry.get("view") == "full":
                        full_sees[writer.username].add(reader.login.username)
                elif status != 404:
                    raise TrialError(f"{reader.login.username}: reading an entry answered {status}")
        self.expect.entry = {w.username: frozenset(entry_sees[w.username]) for w in self.logins}
        self.expect.message = {w.username: frozenset(full_sees[w.username]) for w in self.logins}
        # Users take logins in turn, one component after another, so that six users are six components.
        by_component: dict[str, list[Login]] = defaultdict(list)
        for login in self.logins:
            by_component[login.component].append(login)
        rounds = max(len(group) for group in by_component.values())
        self.logins = [group[i] for i in range(rounds) for group in by_component.values() if i < len(group)]
        order = {login.username: i for i, login in enumerate(self.logins)}
        self.users.sort(key=lambda u: order[u.login.username])

    def entry_body(self, login: Login, level: str) -> dict[str, Any]:
        self.entry_count += 1
        rng = random.Random(self.args.seed + self.entry_count)
        words = " ".join(rng.sample(SEARCH_WORDS, 3))
        occurred = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=rng.randint(5, 600))
        return {"occurred_at": occurred.isoformat().replace("+00:00", "Z"), "channel": rng.choice(
            ("meeting", "phone", "radio", "visit", "message")), "level": level,
            "summary": f"Load trial {self.entry_count}: {words}", "organisations": [login.organisation]}

    async def grow(self, target: int) -> dict[str, Any]:
        """Sign in and connect users up to ``target`` (gradually: sign-ins are rate-limited); users
        beyond it (a step smaller than the one before) close their sockets and sit out."""
        start, refused, failed = time.monotonic(), self.pace.refused, Counter(self.pace.failed)
        fresh: list[User] = []
        while len(self.users) < target:
            fresh.append(self.new_user(self.logins[len(self.users) % len(self.logins)]))
        for user in self.users[target:]:
            await user.disconnect()
        self.active = self.users[:target]
        if fresh:
            console.print(f"signing in {len(fresh)} more users ({target} in all)")
            await asyncio.gather(*(u.sign_in(self.pace) for u in fresh))
        await asyncio.gather(*(u.connect() for u in self.active if not u.connected_once))
        return {"signed_in": len(fresh), "seconds": round(time.monotonic() - start, 1),
                "refused_429": self.pace.refused - refused, "failed": dict(self.pace.failed - failed)}

    # -- clicks ----------------------------------------------------------------------------------

    async def timed(self, kind: str, user: User, method: str, path: str, body: Any = None,
                    on_ok: Callable[[Any, float], None] | None = None) -> None:
        headers = {"X-CSRFToken": user.csrf(), "Referer": self.base + "/"} if method != "GET" else None
        error: str | None = None
        sent = time.perf_counter()
        try:
            async with user.http.request(method, self.base + path, json=body, headers=headers,
                                         allow_redirects=False) as r:
                data = await r.read()
                status = r.status
                location = r.headers.get("Location", "")
            if status >= 400:
                error = f"HTTP {status}"
            elif 300 <= status < 400 and "/accounts/" in location:
                error = f"HTTP {status} to {location.split('?')[0]}"
        except TimeoutError:
            error = "timeout"
        except aiohttp.ClientError as exc:
            error = type(exc).__name__
        elapsed = time.perf_counter() - sent
        self.recorder.add(kind, elapsed, error)
        if error is None and on_ok is not None:
            on_ok(json.loads(data), sent)

    def click(self, user: User, kind: str) -> Awaitable[None]:
        rng, login = user.rng, user.login
        entry = rng.choice(login.visible) if login.visible else login.probe_entry
        word = rng.choice(SEARCH_WORDS)
        if kind == "page: liaison log":
            return self.timed(kind, user, "GET", "/directory/liaison/")
        if kind == "page: entry":
            return self.timed(kind, user, "GET", f"/directory/liaison/{entry}/")
        if kind == "page: search":
            return self.timed(kind, user, "GET", f"/comms/search/?q={word}")
        if kind == "page: directory":
            return self.timed(kind, user, "GET", rng.choice(("/directory/", "/directory/people/",
                                                             "/directory/organisations/")))
        if kind == "api: liaison log":
            return self.timed(kind, user, "GET", "/api/v1/liaison-log?limit=20")
        if kind == "api: entry":
            return self.timed(kind, user, "GET", f"/api/v1/liaison-log/{entry}")
        if kind == "api: directory":
            return self.timed(kind, user, "GET", rng.choice(("/api/v1/people?limit=20",
                                                             "/api/v1/organisations?limit=20")))
        if kind == "api: search":
            return self.timed(kind, user, "GET", f"/api/v1/search?q={word}")
        if kind == "write: entry":
            def written(entry: Any, sent: float) -> None:
                entry_id = str(entry["id"])
                login.own.append(entry_id)
                login.visible.append(entry_id)
                self.expecting(login, entry_id, "entry", sent)
            return self.timed(kind, user, "POST", "/api/v1/liaison-log", self.entry_body(login, login.level),
                              on_ok=written)
        # A message in the discussion of one of this login's own entries (their owner reads them in full).
        target = rng.choice(login.own)
        return self.timed(kind, user, "POST", f"/api/v1/threads/{STREAM}/{target}/messages",
                          {"body": f"Load trial note: {word} *confirmed*."},
                          on_ok=lambda _m, sent: self.expecting(login, target, "message", sent))

    def expecting(self, writer: Login, object_id: str, what: str, sent: float) -> None:
        if not self.recorder.open:
            return
        self.write_times[(object_id, what)].append(sent)
        audience = (self.expect.entry if what == "entry" else self.expect.message)[writer.username]
        for reader in audience:
            self.expected[reader][(object_id, what)] += 1
            self.expected_total[reader] += 1

    async def browse(self, user: User, until: float, kinds: list[str], weights: list[int]) -> None:
        while True:
            await asyncio.sleep(user.rng.uniform(*THINK))
            if time.monotonic() >= until:
                return
            await self.click(user, user.rng.choices(kinds, weights)[0])

    async def baseline(self, user: User, until: float) -> None:
        while True:
            await asyncio.sleep(user.rng.uniform(*THINK))
            if time.monotonic() >= until:
                return
            await self.timed(BASELINE_KIND, user, "GET", "/health/live")

    async def settle(self) -> float:
        """Wait (at most SETTLE_SECONDS) until the server answers /health/live quickly again: requests
        the client gave up on may still be running there, and would weigh on the next phase."""
        start = time.monotonic()
        user, quick = self.users[0], 0
        while quick < 5 and time.monotonic() - start < SETTLE_SECONDS:
            sent = time.perf_counter()
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with user.http.get(self.base + "/health/live") as r:
                    await r.read()
            quick = quick + 1 if time.perf_counter() - sent < 0.05 else 0
            await asyncio.sleep(0.2)
        return round(time.monotonic() - start, 1)

    async def phase(self, seconds: float,
                    work: Callable[[User, float], Awaitable[None]]) -> tuple[float, dict[str, Any]]:
        """Run ``work`` for every user of the step for ``seconds`` (requests sent by then are waited
        for): how long it took in all, and the CPU used."""
        self.recorder.open = True
        before = self.cpu.read()
        start = time.monotonic()
        self.recorder.until = start + seconds
        await asyncio.gather(*(work(u, start + seconds) for u in self.active))
        self.recorder.open = False
        after = self.cpu.read()
        return time.monotonic() - start, cpu_share(before, after)

    # -- live events -----------------------------------------------------------------------------

    def events_done(self) -> bool:
        return all(u.received_total >= self.expected_total[u.login.username] for u in self.active if u.ws)

    def events_tally(self) -> dict[str, Any]:
        """Events delivered against expected, per socket and object; delays from sending the write
        to the event's arrival (the n-th write about an object paired with its n-th event)."""
        expected = delivered = missing = extra = 0
        delays: list[float] = []
        lost: list[dict[str, Any]] = []
        for user in self.active:
            wanted = self.expected[user.login.username]
            got = user.received
            expected += sum(wanted.values())
            for key in wanted.keys() | got.keys():
                delivered += min(wanted[key], got[key])
                missing += max(0, wanted[key] - got[key])
                extra += max(0, got[key] - wanted[key])
                if wanted[key] > got[key] and len(lost) < 20:
                    lost.append({"user": user.index, "login": user.login.username, "object_id": key[0],
                                 "what": key[1], "missing": wanted[key] - got[key]})
                if wanted[key]:
                    delays += [a - w for w, a in zip(sorted(self.write_times[key]), sorted(user.arrivals[key]),
                                                     strict=False)]
        closes: Counter[str] = Counter()
        for user in self.active:
            closes.update(user.socket_closes)
        delays.sort()
        return {"expected": expected, "delivered": delivered, "missing": missing, "unexpected": extra,
                "delay_p50_ms": round(percentile(delays, 50) * 1000, 1),
                "delay_p95_ms": round(percentile(delays, 95) * 1000, 1),
                "delay_max_ms": round(delays[-1] * 1000, 1) if delays else 0.0, "missing_examples": lost,
                "socket_closes": dict(closes), "reconnects": sum(u.reconnects for u in self.active),
                "sockets": sum(1 for u in self.active if u.ws is not None)}

    def reset_events(self) -> None:
        self.expected.clear()
        self.expected_total.clear()
        self.write_times.clear()
        for user in self.users:
            user.received.clear()
            user.arrivals.clear()
            user.received_total = 0
            user.socket_closes.clear()
            user.reconnects = 0

    # -- one step --------------------------------------------------------------------------------

    async def step(self, users: int) -> dict[str, Any]:
        signing = await self.grow(users)
        self.reset_events()
        self.recorder = Recorder()
        settled = [await self.settle()]
        kinds, weights = [k for k, _w in MIX], [w for _k, w in MIX]
        console.print(f"[bold]{users} users[/bold]: clicking for {self.args.seconds_per_step:g} s")
        seconds, cpu = await self.phase(self.args.seconds_per_step,
                                        lambda u, until: self.browse(u, until, kinds, weights))
        mix = self.recorder
        drain_start = time.monotonic()
        while not self.events_done() and time.monotonic() - drain_start < self.args.drain_seconds:
            await asyncio.sleep(0.25)
        drained = time.monotonic() - drain_start
        events = self.events_tally()
        events["drain_seconds"] = round(drained, 2)
        self.recorder = Recorder()
        settled.append(await self.settle())
        base_seconds, base_cpu = await self.phase(self.args.baseline_seconds, self.baseline)
        baseline = self.recorder
        # Events still missing after the baseline too: late by more than drain + baseline, or lost.
        events["missing_after_baseline"] = self.events_tally()["missing"]
        events["seconds_to_baseline_end"] = round(time.monotonic() - drain_start, 1)
        all_stats = KindStats()
        for stats in mix.kinds.values():
            all_stats.latencies += stats.latencies
            all_stats.errors.update(stats.errors)
            all_stats.in_time += stats.in_time
        window, base_window = self.args.seconds_per_step, self.args.baseline_seconds
        return {
            "users": users, "seconds": window, "seconds_until_last_answer": round(seconds, 2), "sign_in": signing,
            "components": dict(Counter(u.login.component for u in self.active)),
            "all": all_stats.summary(window),
            "kinds": {k: mix.kinds[k].summary(window) for k, _w in MIX if k in mix.kinds},
            "baseline": {**baseline.kinds[BASELINE_KIND].summary(base_window), "seconds": base_window,
                         "seconds_until_last_answer": round(base_seconds, 2),
                         **base_cpu},
            "events": events, **cpu, "settle_seconds": settled,
        }

    async def run(self) -> list[dict[str, Any]]:
        self.connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=None,
                                              timeout_ceil_threshold=TIMEOUT_SECONDS + 1)
        try:
            await self.prepare()
            results = []
            for users in self.args.steps:
                result = await self.step(users)
                show_step(result)
                results.append(result)
            return results
        finally:
            await asyncio.gather(*(u.close() for u in self.users), return_exceptions=True)
            await self.connector.close()


# ---------------------------------------------------------------------------------------------
# Output


def ms(value: float) -> str:
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms"


def errors_text(kinds: dict[str, int]) -> str:
    return ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items(), key=lambda kv: -kv[1])) or "0"


def show_step(result: dict[str, Any]) -> None:
    table = Table(title=f"{result['users']} users clicking {result['seconds']:.0f} s (last answer after "
                        f"{result['seconds_until_last_answer']:.1f} s) "
                        f"(components: {', '.join(f'{k} {v}' for k, v in sorted(result['components'].items()))})")
    for column in ("request", "requests", "req/s", "p50", "p95", "p99", "max", "errors"):
        table.add_column(column, justify="left" if column in ("request", "errors") else "right")

    def row(name: str, s: dict[str, Any], style: str | None = None) -> None:
        table.add_row(name, str(s["requests"]), f"{s['per_second']:.1f}", ms(s["p50_ms"]), ms(s["p95_ms"]),
                      ms(s["p99_ms"]), ms(s["max_ms"]), errors_text(s["error_kinds"]), style=style)

    for kind, stats in result["kinds"].items():
        row(kind, stats)
    row("all", result["all"], style="bold")
    row(BASELINE_KIND, result["baseline"], style="dim")
    console.print(table)
    ev = result["events"]
    closes = f", socket closes: {errors_text(ev['socket_closes'])}, reconnects {ev['reconnects']}" \
        if ev["socket_closes"] else ""
    server_cpu = f", server {result['server_cpu_percent']:.0f} %" if result["server_cpu_percent"] is not None else ""
    late = f", of which {ev['missing_after_baseline']} still missing {ev['seconds_to_baseline_end']:.0f} s after " \
        "the clicks" if ev["missing"] else ""
    console.print(f"live events: {ev['delivered']} delivered of {ev['expected']} expected on {ev['sockets']} "
                  f"sockets, from write to arrival p50 {ms(ev['delay_p50_ms'])}, p95 {ms(ev['delay_p95_ms'])}, "
                  f"max {ms(ev['delay_max_ms'])}; "
                  + (f"{ev['missing']} not there {ev['drain_seconds']:.0f} s after the clicks stopped{late}"
                     if ev["missing"] else f"all there {ev['drain_seconds']:.1f} s after the clicks stopped")
                  + f"; unexpected {ev['unexpected']}{closes}")
    console.print(f"CPU (100 % = one core): client {result['client_cpu_percent']:.0f} %{server_cpu}, whole "
                  f"machine {result['machine_cpu_percent']:.0f} % of {result['cores']} cores; "
                  f"sign-in: {result['sign_in']['signed_in']} users in {result['sign_in']['seconds']:.0f} s, "
                  f"{result['sign_in']['refused_429']} refused (429)"
                  + (f", failures: {errors_text(result['sign_in']['failed'])}" if result["sign_in"]["failed"] else "")
                  + "; waited for the server to settle "
                  f"{result['settle_seconds'][0]:.0f} s before the clicks, {result['settle_seconds'][1]:.0f} s "
                  "before the baseline\n")


def show_summary(results: list[dict[str, Any]]) -> None:
    table = Table(title="Load trial")
    for column in ("users", "requests/s", "p50", "p95", "p99", "errors", "events delivered", "event p95",
                   "baseline p95", "client CPU", "server CPU", "machine CPU"):
        table.add_column(column, justify="right")
    for r in results:
        a, ev = r["all"], r["events"]
        table.add_row(str(r["users"]), f"{a['per_second']:.1f}", ms(a["p50_ms"]), ms(a["p95_ms"]), ms(a["p99_ms"]),
                      str(a["errors"]), f"{ev['delivered']}/{ev['expected']}", ms(ev["delay_p95_ms"]),
                      ms(r["baseline"]["p95_ms"]),
                      f"{r['client_cpu_percent']:.0f} %",
                      "" if r["server_cpu_percent"] is None else f"{r['server_cpu_percent']:.0f} %",
                      f"{r['machine_cpu_percent']:.0f} %")
    console.print(table)


# ---------------------------------------------------------------------------------------------
# Command line


def parse_steps(text: str) -> list[int]:
    try:
        steps = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--steps takes numbers of users separated by commas, not {text!r}") from None
    if not steps or any(n < 1 for n in steps):
        raise argparse.ArgumentTypeError(f"--steps needs at least one number of users, each 1 or more: {text!r}")
    return steps


def parse_env(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
        raise argparse.ArgumentTypeError(f"--server-env takes KEY=VALUE, not {text!r}")
    return key, value


def positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, not {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected more than 0 seconds, not {text!r}")
    return value


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=parse_steps, default=parse_steps("5,20,50,100,200"),
                        help="numbers of users, one step each (default 5,20,50,100,200)")
    parser.add_argument("--seconds-per-step", type=positive, default=30.0, help="clicking time per step (30)")
    parser.add_argument("--baseline-seconds", type=positive, default=10.0,
                        help="time per step hitting /health/live with the same users (10)")
    parser.add_argument("--drain-seconds", type=positive, default=10.0,
                        help="longest wait after a step for its live events to arrive (10)")
    parser.add_argument("--url", help="an already running civmil with the demo mission (default: start one)")
    parser.add_argument("--server-env", type=parse_env, action="append", default=[], metavar="KEY=VALUE",
                        help="environment for the server this trial starts (repeatable)")
    parser.add_argument("--logins", type=lambda s: [n.strip() for n in s.split(",") if n.strip()],
                        help="usernames to sign in with, comma-separated (default: the demo logins that need no "
                             "second factor, from `civmil demo logins --json`)")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the clicks (1)")
    parser.add_argument("--keep", action="store_true", help="keep the started server's scratch directory")
    parser.add_argument("--out", type=Path, default=RESULTS / "load.json",
                        help="where to write the results as JSON (bench/results/load.json)")
    args = parser.parse_args(argv)
    if args.url and args.server_env:
        parser.error("--server-env applies to the server the trial starts; leave it out with --url")
    if args.url and not re.fullmatch(r"https?://[^/\s]+/?", args.url):
        parser.error(f"--url takes the server's address such as http://127.0.0.1:8000, not {args.url!r}")
    return args


def commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, check=False)
    return done.stdout.decode().strip()


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    started_at = commit()
    server = Server(args.url, dict(args.server_env), args.keep)
    try:
        if not args.url:
            server.start()
        elif not asyncio.run(_answers(server.url + "/health/live")):
            raise TrialError(f"{server.url}/health/live does not answer 200: is civmil running there?")
        logins = server.logins(args.logins)
        if not logins:
            raise TrialError("no login to sign in with (give --logins)")
        with contextlib.suppress(ImportError):
            import uvloop

            uvloop.install()
        trial = Trial(args, server, logins)
        results = asyncio.run(trial.run())
    except TrialError as exc:
        console.print(f"[red]load trial stopped: {exc}[/red]")
        return 1
    except aiohttp.ClientError as exc:
        console.print(f"[red]load trial stopped: the server could not be reached ({exc})[/red]")
        return 1
    except KeyboardInterrupt:
        console.print("[red]load trial interrupted[/red]")
        return 1
    finally:
        error_lines = server.error_lines()
        log = str(server.log_path) if server.log_path else None
        server.stop()
    show_summary(results)
    server_env = {k: v for k, v in server.env.items() if k.startswith(("CIVMIL_", "DATABASE_URL", "REDIS_URL"))}
    report = {
        "target": args.url or "started here (make run style)", "server_env": server_env if not args.url else {},
        "server_banner": server.banner, "commit": started_at,
        "seconds_per_step": args.seconds_per_step, "baseline_seconds": args.baseline_seconds, "seed": args.seed,
        "mix": dict(MIX), "think_seconds": list(THINK), "timeout_seconds": TIMEOUT_SECONDS,
        "logins": [{"username": lg.username, "component": lg.component, "organisation": lg.organisation_name,
                    "writes_at": lg.level, "entry_events_to": sorted(trial.expect.entry[lg.username]),
                    "message_events_to": sorted(trial.expect.message[lg.username])} for lg in trial.logins],
        "server_error_lines": len(error_lines), "steps": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    if error_lines:
        console.print(f"[yellow]the server logged {len(error_lines)} error lines, first: {error_lines[0][:200]}"
                      + (f" (log kept: {log})" if args.keep else " (run with --keep to keep the log)") + "[/yellow]")
    console.print(f"results written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

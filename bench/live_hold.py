"""Holding live connections: many WebSockets open for minutes on PostgreSQL + Redis.

``python -m bench.live_hold [--minutes 10] [--connections 500] [--events 5] [--baseline-minutes 1]``

Two ``civmil serve`` processes (one server process each, CIVMIL_WEB_PROCESSES=1) on a scratch
PostgreSQL database and a Redis database, started as the scale-out test starts them
(tests/scale/stack.py). CONNECTIONS civilian readers' WebSockets (asyncio, in this process), half
on each server, subscribe to the liaison stream and then stay quiet, as open tabs do: they answer
the servers' pings and send nothing. Two connections share each signed-in session (a person with
two tabs; a session may hold CIVMIL_LIVE_MAX_SOCKETS_PER_SESSION, 3). During the hold, EVENTS
entries are written through the API, evenly spaced, alternately through each server; every
connection must receive every one.

A connection that closes without being asked to is a *reconnect*: it is counted, with its close
code, and opened again from the last event id it saw, as the browser client does. Reported per
run: connections opened, reconnects, events delivered against expected, delivery time, the
servers' error lines (tracebacks, ERROR and CRITICAL lines: ``stack.ERROR_LINE``), and each
server's resident memory when idle, once the connections are open, and at the end of the hold.
The servers' whole output is kept in bench/results/live_hold-<server>.log.

Baseline, same run and same connections: one server holding them all for BASELINE minutes.
The issue's figure: 500 connections on two servers, 10 minutes, zero reconnects, zero error lines.
Exits 1 when the two-server run misses it (a reconnect, an error line, an event not delivered).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

#: Connections of one signed-in session (below CIVMIL_LIVE_MAX_SOCKETS_PER_SESSION).
PER_SESSION = 2
#: Connections opening at once.
OPEN_AT_ONCE = 25
#: Seconds an event may take to reach every connection, counted after the hold when it is late.
DELIVERY_WAIT = 15.0
RESULTS = Path(__file__).resolve().parent / "results"
console = Console(width=None if sys.stdout.isatty() else 150)


@dataclasses.dataclass
class Holder:
    """One held connection: what it received and every close it did not ask for."""

    port: int
    cookie: str
    ws: Any = None
    after: int | None = None
    arrivals: dict[str, float] = dataclasses.field(default_factory=dict)
    drops: list[str] = dataclasses.field(default_factory=list)
    closing: bool = False
    task: asyncio.Task[None] | None = None

    async def open(self) -> None:
        from websockets.asyncio.client import connect

        # No client pings (a browser sends none): the server pings, the client answers.
        self.ws = await connect(f"ws://127.0.0.1:{self.port}/ws/events/", open_timeout=60, ping_interval=None,
                                additional_headers={"Origin": f"http://127.0.0.1:{self.port}", "Cookie": self.cookie})
        await self.ws.send(json.dumps({"type": "subscribe", "streams": ["actors.liaisonlogentry"],
                                       "after": self.after}))
        while (frame := json.loads(await asyncio.wait_for(self.ws.recv(), 60)))["type"] != "subscribed":
            self._note(frame)

    def _note(self, frame: dict[str, Any]) -> None:
        if frame.get("type") == "event":
            self.arrivals.setdefault(str(frame["object_id"]), time.perf_counter())
            self.after = max(self.after or 0, int(frame["id"]))

    async def read(self) -> None:
        """Read until asked to close; reopen (and count it) whenever the connection drops."""
        from websockets.exceptions import ConnectionClosed, WebSocketException

        while True:
            try:
                self._note(json.loads(await self.ws.recv()))
            except ConnectionClosed as exc:
                if self.closing:
                    return
                self.drops.append(str(exc.rcvd.code) if exc.rcvd else "no close frame")
                while not self.closing:
                    try:
                        await self.open()
                        break
                    except (OSError, TimeoutError, WebSocketException) as again:
                        self.drops.append(f"reopen failed: {again.__class__.__name__}")
                        await asyncio.sleep(1)

    async def close(self) -> None:
        self.closing = True
        if self.ws is not None:
            await self.ws.close()
        if self.task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self.task


def _mb(n: int) -> str:
    return f"{n / 2**20:.0f}"


async def _hold(stack: Any, servers: dict[str, int], setup: dict[str, Any], connections: int,
                minutes: float, events: int) -> dict[str, Any]:
    from tests.scale.stack import post_entry

    names = list(servers)
    rss: dict[str, dict[str, int]] = {name: {"idle": stack.rss(name)} for name in names}
    cookie, sessions = setup["session_cookie"], setup["reader_sessions"]
    holders = [Holder(servers[names[i % len(names)]], f"{cookie}={sessions[i // PER_SESSION]}")
               for i in range(connections)]
    gate = asyncio.Semaphore(OPEN_AT_ONCE)
    failed: list[str] = []

    async def open_one(h: Holder) -> None:
        async with gate:
            try:
                await h.open()
            except Exception as exc:  # counted and shown: the run goes on with the others
                failed.append(f"{exc.__class__.__name__}: {exc}"[:200])
                return
            h.task = asyncio.create_task(h.read())

    started = time.perf_counter()
    await asyncio.gather(*(open_one(h) for h in holders))
    open_s = time.perf_counter() - started
    opened = [h for h in holders if h.task is not None]
    for name in names:
        rss[name]["open"] = stack.rss(name)
    console.print(f"  {len(opened)} of {connections} connections open in {open_s:.1f} s; "
                  f"holding {minutes:g} min, {events} events")

    hold_s = minutes * 60
    posted: dict[str, float] = {}
    begin = time.monotonic()
    for k in range(1, events + 1):
        await asyncio.sleep(max(0.0, begin + hold_s * k / (events + 1) - time.monotonic()))
        port = servers[names[k % len(names)]]
        sent = time.perf_counter()
        object_id = await asyncio.to_thread(post_entry, port, setup["token"], setup["author_org"], f"hold {k}")
        posted[object_id] = sent
        await asyncio.sleep(2)
        got = sum(object_id in h.arrivals for h in opened)
        drops = sum(len(h.drops) for h in holders)
        console.print(f"  {time.monotonic() - begin:5.0f} s: event {k}/{events} reached {got}/{len(opened)} "
                      f"within 2 s; reconnects so far {drops}")
    await asyncio.sleep(max(0.0, begin + hold_s - time.monotonic()))
    deadline = time.monotonic() + DELIVERY_WAIT
    while time.monotonic() < deadline and not all(o in h.arrivals for h in opened for o in posted):
        await asyncio.sleep(0.5)
    for name in names:
        rss[name]["end"] = stack.rss(name)
    await asyncio.gather(*(h.close() for h in holders))

    delays = [(h.arrivals[o] - sent) * 1000 for h in opened for o, sent in posted.items() if o in h.arrivals]
    drops = [d for h in holders for d in h.drops]
    return {
        "servers": len(names), "minutes": minutes, "connections": connections, "opened": len(opened),
        "open_failures": failed[:5], "open_s": round(open_s, 1), "reconnects": len(drops),
        "close_codes": sorted(set(drops)),
        "delivered": sum(o in h.arrivals for h in opened for o in posted), "expected": len(posted) * connections,
        "delivery_p50_ms": round(statistics.median(delays), 1) if delays else None,
        "delivery_max_ms": round(max(delays), 1) if delays else None,
        "rss": rss,
    }


def _scenario(stack: Any, names: list[str], setup: dict[str, Any], connections: int, minutes: float,
              events: int) -> dict[str, Any]:
    from tests.scale.stack import free_port

    servers = {name: free_port() for name in names}
    for name, port in servers.items():
        stack.serve(name, port)
    try:
        result = asyncio.run(_hold(stack, servers, setup, connections, minutes, events))
    finally:
        for name in names:
            stack.stop(name)
    result["error_lines"] = {name: stack.error_lines(name) for name in names}
    RESULTS.mkdir(exist_ok=True)
    for name in names:  # whole, for reading any error line in its context
        (RESULTS / f"live_hold-{name}.log").write_text(stack.full_log(name))
    result["accepted"] = {name: stack.full_log(name).count('"WebSocket /ws/events/" [accepted]') for name in names}
    return result


def run(minutes: float = 10, connections: int = 500, events: int = 5, baseline_minutes: float = 1) -> dict[str, Any]:
    from tests.scale.stack import scratch_stack

    with scratch_stack("civmil-bench-hold-") as stack:
        if isinstance(stack, str):
            return {"skipped": stack}
        setup = stack.setup_members(readers=-(-connections // PER_SESSION))
        results: dict[str, Any] = {}
        console.print(f"Baseline: one server, {connections} connections, {baseline_minutes:g} min")
        results["one_server"] = _scenario(stack, ["solo"], setup, connections, baseline_minutes, events)
        console.print(f"Two servers, {connections} connections, {minutes:g} min")
        results["two_servers"] = _scenario(stack, ["web-a", "web-b"], setup, connections, minutes, events)
    _print(results)
    return results


def _print(results: dict[str, Any]) -> None:
    labels = {"one_server": "baseline: 1 server", "two_servers": "2 servers"}
    table = Table(title="Holding live connections on PostgreSQL + Redis")
    for col in ("run", "minutes", "opened", "open s", "reconnects", "events delivered / expected",
                "delivery p50 ms", "max ms", "error lines", "sockets accepted"):
        table.add_column(col, justify="right")
    for key, r in results.items():
        table.add_row(labels[key], f"{r['minutes']:g}", f"{r['opened']}/{r['connections']}", str(r["open_s"]),
                      str(r["reconnects"]) + (f" {r['close_codes']}" if r["close_codes"] else ""),
                      f"{r['delivered']} / {r['expected']}", str(r["delivery_p50_ms"]), str(r["delivery_max_ms"]),
                      str(sum(len(v) for v in r["error_lines"].values())),
                      " + ".join(str(n) for n in r["accepted"].values()))
    console.print(table)
    memory = Table(title="Resident memory per server (MB)")
    for col in ("run", "server", "idle", "connections open", "end of hold"):
        memory.add_column(col, justify="right")
    for key, r in results.items():
        for name, m in r["rss"].items():
            memory.add_row(labels[key], name, _mb(m["idle"]), _mb(m["open"]), _mb(m["end"]))
    console.print(memory)
    for key, r in results.items():
        for name, lines in r["error_lines"].items():
            for line in lines[:10]:
                console.print(f"  {labels[key]} {name}: {line}", markup=False)
        for failure in r["open_failures"]:
            console.print(f"  {labels[key]}: could not open: {failure}", markup=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.live_hold", description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10, help="hold on two servers (default 10)")
    parser.add_argument("--connections", type=int, default=500, help="WebSockets held (default 500)")
    parser.add_argument("--events", type=int, default=5, help="entries written during each hold (default 5)")
    parser.add_argument("--baseline-minutes", type=float, default=1,
                        help="hold of the one-server baseline (default 1)")
    args = parser.parse_args(argv)
    if args.minutes <= 0 or args.baseline_minutes <= 0 or args.connections < 1 or args.events < 1:
        parser.error("--minutes and --baseline-minutes must be above 0, --connections and --events at least 1")
    results = run(args.minutes, args.connections, args.events, args.baseline_minutes)
    if "skipped" in results:
        print(f"SKIPPED: {results['skipped']}")
        return 0
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "live_hold.json").write_text(json.dumps(results, indent=2))
    two = results["two_servers"]
    held = (two["opened"] == two["connections"] and two["reconnects"] == 0 and two["delivered"] == two["expected"]
            and not any(two["error_lines"].values()))
    print("two servers: " + ("held: no reconnect, no error line, every event delivered" if held else "NOT held"))
    return 0 if held else 1


if __name__ == "__main__":
    sys.exit(main())

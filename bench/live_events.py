"""Live-event latency: from an API write to its arrival on a reader's WebSocket.

Each of ENTRIES humanitarian liaison entries is written through the API (Bearer token), one at a
time; a civilian reader, subscribed to the liaison stream, notes when each event arrives. The
latency is arrival minus the moment the POST was sent (so it includes saving the entry).

* SQLite + in-memory channel layer: one ``civmil serve`` process, writer and reader on it;
* PostgreSQL + Redis: two ``civmil serve`` processes, written through A, read on B, as
  docs/deploy/ runs them (skipped when PostgreSQL or Redis is unreachable).

The processes run in a scratch directory and a scratch database, removed afterwards.
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from typing import Any

from rich.console import Console
from rich.table import Table

ENTRIES = 200
WAIT_SECONDS = 5.0


class Arrivals:
    """Reads one WebSocket in a thread and notes when each event's object arrives."""

    def __init__(self, live: Any) -> None:
        self.live = live
        self.seen: dict[str, float] = {}
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        import json

        from websockets.exceptions import ConnectionClosed

        while True:
            try:
                frame = json.loads(self.live.ws.recv())
            except (ConnectionClosed, OSError):
                return
            if frame.get("type") == "event":
                with self.cond:
                    self.seen.setdefault(str(frame["object_id"]), time.perf_counter())
                    self.cond.notify_all()

    def wait(self, object_id: str, timeout: float) -> float | None:
        with self.cond:
            self.cond.wait_for(lambda: object_id in self.seen, timeout=timeout)
            return self.seen.get(object_id)


def _measure(stack: Any, write_port: int, read_port: int, entries: int) -> dict[str, Any]:
    from tests.scale.stack import Live, post_entry

    setup = stack.setup_members()
    live = Live(read_port, f"{setup['session_cookie']}={setup['reader_session']}")
    arrivals = Arrivals(live)
    latencies: list[float] = []
    writes: list[float] = []
    lost = 0
    try:
        for i in range(entries):
            sent = time.perf_counter()
            object_id = post_entry(write_port, setup["token"], setup["author_org"], f"bench entry {i}")
            writes.append((time.perf_counter() - sent) * 1000)
            arrived = arrivals.wait(object_id, WAIT_SECONDS)
            if arrived is None:
                lost += 1
            else:
                latencies.append((arrived - sent) * 1000)
    finally:
        live.close()
        arrivals.thread.join(timeout=5)

    def q95(xs: list[float]) -> float:
        return statistics.quantiles(xs, n=100)[94] if len(xs) > 1 else (xs[0] if xs else float("nan"))

    return {"entries": entries, "received": len(latencies), "lost": lost,
            "p50_ms": round(statistics.median(latencies), 1) if latencies else None,
            "p95_ms": round(q95(latencies), 1) if latencies else None,
            "max_ms": round(max(latencies), 1) if latencies else None,
            "write_p50_ms": round(statistics.median(writes), 1) if writes else None}


def _sqlite(entries: int) -> dict[str, Any]:
    from tests.scale.stack import CIVMIL, Stack, free_port

    with tempfile.TemporaryDirectory(prefix="civmil-bench-live-") as var_dir:
        stack = Stack(f"sqlite:///{var_dir}/live.sqlite3", "", var_dir)
        try:
            stack.run(CIVMIL, "migrate", "--no-input", "-v", "0", timeout=300)
            port = free_port()
            stack.serve("web", port)
            return _measure(stack, port, port, entries)
        finally:
            stack.stop_all()


def _postgres(entries: int) -> dict[str, Any]:
    from tests.scale.stack import free_port, scratch_stack

    with scratch_stack("civmil-bench-live-") as stack:
        if isinstance(stack, str):
            return {"skipped": stack}
        a_port, b_port = free_port(), free_port()
        stack.serve("web-a", a_port)
        stack.serve("web-b", b_port)
        return _measure(stack, a_port, b_port, entries)
    raise AssertionError("unreachable")


def run(entries: int = ENTRIES) -> dict[str, Any]:
    results = {"sqlite_in_memory_one_process": _sqlite(entries),
               "postgres_redis_two_processes": _postgres(entries)}
    labels = {"sqlite_in_memory_one_process": "SQLite, in-memory, 1 process",
              "postgres_redis_two_processes": "PostgreSQL + Redis, A -> B"}
    table = Table(title=f"Live events: API write to WebSocket receipt, {entries} entries (ms)")
    for col in ("setup", "received", "lost", "p50", "p95", "max", "write p50"):
        table.add_column(col, justify="right")
    for name, r in results.items():
        if "skipped" in r:
            table.add_row(labels[name], "-", "-", "-", "-", "-", r["skipped"])
        else:
            table.add_row(labels[name], str(r["received"]), str(r["lost"]), str(r["p50_ms"]), str(r["p95_ms"]),
                          str(r["max_ms"]), str(r["write_p50_ms"]))
    Console().print(table)
    return results


if __name__ == "__main__":
    run()

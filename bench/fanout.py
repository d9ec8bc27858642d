"""Live-event fan-out: many WebSocket subscribers of mixed components and roles on one process.

One ``civmil serve`` process (SQLite file + in-memory channel layer) in a scratch directory. A
child process (``python -m bench.fanout setup N``) creates N members spread over the six
components (two organisations each, plus mission leadership), a signed-in session for each, and
an API token for one writer per level. N WebSocket clients (asyncio, in this process) subscribe to
the liaison stream; ENTRIES entries at mixed levels (mission, humanitarian, military, restricted)
are then written through the API, one at a time, each once the previous one has reached everyone
it should.

Each subscriber's expected set comes from the access policy's level table
(``access.level_opens_to``), plus ownership and authorship (no releases or grants exist here);
it is compared with what the subscriber received: *missed* and *extra* must both be 0. The
fan-out time of an event runs from the moment its POST was sent to its arrival on each
subscriber (p50/p95 over its subscribers, and the last one).

Baseline, same process and connection count: every connection belongs to one component
(civilian) and every entry is mission level, so everyone receives everything.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from typing import Any

from rich.console import Console
from rich.table import Table

#: (subscribers, entries): 300 x 20 and 1,000 x 20 take about 6 minutes together on 2 cores, most of
#: it creating members and connecting sockets (CIVMIL_FANOUT_PLAN="300x20" for a quick run).
PLAN = ((300, 20), (1_000, 20))
LEVELS = ("mission", "humanitarian", "military", "restricted")
WAIT_SECONDS = 90.0
CONNECT_BATCH = 50
SETUP_TIMEOUT = 900
#: Distinct members (accounts); beyond this, subscribers are further sessions of the same members.
MEMBERS = 200


# ---------------------------------------------------------------------------------------------
# Child process: members, sessions, tokens (run with the stack's database)


def _setup(n: int) -> dict[str, Any]:
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
    from django.conf import settings
    from tests.factories import make_member, make_org, session_for

    from civmil.core.accounts.services import create_token
    from civmil.core.choices import PRIVILEGED_ROLES, Component, Role
    from civmil.core.models.tokens import TokenScope

    orgs = [make_org(c) for c in Component.values for _ in range(2)]
    kinds: list[tuple[Any, str | None]] = [(org, None) for org in orgs]
    kinds.append((orgs[Component.values.index(Component.CIVILIAN) * 2], Role.LEADERSHIP))
    members = [make_member(org.component, role=role, org=org) for i in range(min(n, MEMBERS))
               for org, role in [kinds[i % len(kinds)]]]
    for m in members:
        if m.membership.role in PRIVILEGED_ROLES:  # their role requires an authenticator app, as in use
            TOTP.activate(m.user, generate_totp_secret())
    by_component = {m.org.component: m for m in reversed(members)}
    writers = {"mission": by_component[Component.CIVILIAN], "humanitarian": by_component[Component.HUMANITARIAN],
               "military": by_component[Component.MILITARY], "restricted": by_component[Component.CIVILIAN]}
    tokens = {}
    for level, m in writers.items():
        _, secret = create_token(m.actor, name=f"fanout {level}", membership=m.membership,
                                 scope=TokenScope.READ_WRITE)
        tokens[level] = {"token": secret, "org": str(m.org.pk), "person": str(m.person.pk)}
    return {
        "cookie": settings.SESSION_COOKIE_NAME, "writers": tokens,
        "subscribers": [{"session": session_for(m), "component": str(m.org.component), "role": str(m.membership.role),
                         "org": str(m.org.pk), "person": str(m.person.pk)}
                        for m in (members[i % len(members)] for i in range(n))],
    }


# ---------------------------------------------------------------------------------------------
# The expected set


def _expected(sub: dict[str, Any], entry: dict[str, Any]) -> bool:
    """Should ``sub`` receive ``entry`` (level, owner org, author person)? The level table, then
    ownership and authorship, then the record type's floor (a reduced view is still an event)."""
    from civmil.actors.models import LiaisonLogEntry
    from civmil.core import access, registry

    if access.level_opens_to(entry["level"], sub["component"], sub["role"]):
        return True
    if entry["org"] == sub["org"] or entry["person"] == sub["person"]:
        return True
    return sub["component"] in registry.get(LiaisonLogEntry).floor_components


# ---------------------------------------------------------------------------------------------
# Subscribers


class Subscriber:
    def __init__(self, index: int) -> None:
        self.index = index
        self.arrivals: dict[str, float] = {}
        self.other_frames = 0
        self.closed: str | None = None


async def _open(port: int, cookie: str, sub: Subscriber, ready: asyncio.Event | None = None) -> Any:
    from websockets.asyncio.client import connect

    ws = await connect(f"ws://127.0.0.1:{port}/ws/events/", open_timeout=60, max_queue=None,
                       additional_headers={"Origin": f"http://127.0.0.1:{port}", "Cookie": cookie})
    await ws.send(json.dumps({"type": "subscribe", "streams": ["actors.liaisonlogentry"], "after": None}))
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), timeout=60))
        if frame.get("type") == "subscribed":
            return ws


async def _read(ws: Any, sub: Subscriber) -> None:
    from websockets.exceptions import ConnectionClosed

    try:
        async for raw in ws:
            frame = json.loads(raw)
            if frame.get("type") == "event":
                sub.arrivals.setdefault(str(frame["object_id"]), time.perf_counter())
            else:
                sub.other_frames += 1
    except ConnectionClosed as exc:
        sub.closed = str(exc)


def _q(xs: list[float], q: int) -> float:
    if not xs:
        return float("nan")
    if len(xs) == 1:
        return xs[0]
    return statistics.quantiles(xs, n=100, method="inclusive")[q - 1]


async def _scenario(port: int, setup: dict[str, Any], cookies: list[str], subs_meta: list[dict[str, Any]],
                    levels: list[str], entries: int) -> dict[str, Any]:
    from tests.scale.stack import post_entry

    subs = [Subscriber(i) for i in range(len(cookies))]
    started = time.perf_counter()
    sockets: list[Any] = []
    for i in range(0, len(subs), CONNECT_BATCH):
        batch = range(i, min(i + CONNECT_BATCH, len(subs)))
        sockets += await asyncio.gather(*(_open(port, cookies[j], subs[j]) for j in batch))
    connect_s = time.perf_counter() - started
    readers = [asyncio.create_task(_read(ws, sub)) for ws, sub in zip(sockets, subs, strict=True)]
    written: list[dict[str, Any]] = []
    per_event: list[dict[str, Any]] = []
    try:
        for n in range(entries):
            level = levels[n % len(levels)]
            w = setup["writers"][level]
            sent = time.perf_counter()
            object_id = await asyncio.to_thread(post_entry, port, w["token"], w["org"], f"fanout {n}", level)
            entry = {"id": object_id, "level": level, "org": w["org"], "person": w["person"], "sent": sent}
            written.append(entry)
            want = [s for s, meta in zip(subs, subs_meta, strict=True) if _expected(meta, entry)]
            deadline = time.monotonic() + WAIT_SECONDS
            while time.monotonic() < deadline and not all(object_id in s.arrivals for s in want):
                await asyncio.sleep(0.005)
            lat = sorted((s.arrivals[object_id] - sent) * 1000 for s in want if object_id in s.arrivals)
            per_event.append({"level": level, "audience": len(want), "received": len(lat),
                              "p50_ms": round(_q(lat, 50), 1), "p95_ms": round(_q(lat, 95), 1),
                              "max_ms": round(lat[-1], 1) if lat else None})
        await asyncio.sleep(2.0)  # late or extra frames
    finally:
        for ws in sockets:
            await ws.close()
        await asyncio.gather(*readers, return_exceptions=True)
    missed = extra = 0
    for s, meta in zip(subs, subs_meta, strict=True):
        for entry in written:
            should, got = _expected(meta, entry), entry["id"] in s.arrivals
            missed += should and not got
            extra += got and not should
    maxes = [e["max_ms"] for e in per_event if e["max_ms"] is not None]
    return {
        "subscribers": len(subs), "entries": len(written), "connect_s": round(connect_s, 1),
        "deliveries_expected": sum(e["audience"] for e in per_event), "missed": missed, "extra": extra,
        "closed_early": sum(s.closed is not None for s in subs),
        "event_p50_ms_median": round(statistics.median(e["p50_ms"] for e in per_event), 1),
        "event_p95_ms_median": round(statistics.median(e["p95_ms"] for e in per_event), 1),
        "event_max_ms_median": round(statistics.median(maxes), 1) if maxes else None,
        "event_max_ms_worst": round(max(maxes), 1) if maxes else None,
        "per_event": per_event,
    }


def _one(subscribers: int, entries: int) -> dict[str, Any]:
    from tests.scale.stack import CIVMIL, Stack, free_port

    with tempfile.TemporaryDirectory(prefix="civmil-bench-fanout-") as var_dir:
        stack = Stack(f"sqlite:///{var_dir}/fanout.sqlite3", "", var_dir)
        try:
            stack.run(CIVMIL, "migrate", "--no-input", "-v", "0", timeout=300)
            t = time.perf_counter()
            out = stack.run(sys.executable, "-m", "bench.fanout", "setup", str(subscribers), timeout=SETUP_TIMEOUT)
            setup = json.loads(out.splitlines()[-1])
            setup_s = round(time.perf_counter() - t, 1)
            port = free_port()
            stack.serve("web", port)
            metas = setup["subscribers"]
            cookies = [f"{setup['cookie']}={m['session']}" for m in metas]
            mixed = asyncio.run(_scenario(port, setup, cookies, metas, list(LEVELS), entries))
            civilians = [m for m in metas if m["component"] == "civilian" and m["role"] == "civilian_staff"
                         and m["person"] != setup["writers"]["mission"]["person"]]
            base_metas = [civilians[i % len(civilians)] for i in range(subscribers)]
            base_cookies = [f"{setup['cookie']}={m['session']}" for m in base_metas]
            baseline = asyncio.run(_scenario(port, setup, base_cookies, base_metas, ["mission"], entries))
            return {"setup_s": setup_s, "mixed": mixed, "baseline_one_component": baseline}
        finally:
            stack.stop_all()


def _plan() -> list[tuple[int, int]]:
    """(subscribers, entries) pairs: CIVMIL_FANOUT_PLAN="300x20,1000x20" or the default."""
    raw = os.environ.get("CIVMIL_FANOUT_PLAN", "")
    if not raw:
        return list(PLAN)
    return [(int(a), int(b)) for a, b in (part.split("x") for part in raw.split(","))]


def run(plan: list[tuple[int, int]] | None = None) -> dict[str, Any]:
    results = {f"{n}x{e}": _one(n, e) for n, e in (plan or _plan())}
    table = Table(title="Live-event fan-out, one process (SQLite + in-memory layer): "
                        "POST sent -> WebSocket receipt, ms (median over events)")
    for col in ("subscribers", "entries", "scenario", "deliveries", "missed", "extra", "connect s",
                "p50", "p95", "last (median)", "last (worst)"):
        table.add_column(col, justify="right")
    for key, r in results.items():
        n, e = key.split("x")
        for label, k in (("mixed roles + levels", "mixed"), ("baseline: 1 component", "baseline_one_component")):
            s = r[k]
            table.add_row(n, e, label, str(s["deliveries_expected"]), str(s["missed"]), str(s["extra"]),
                          str(s["connect_s"]), str(s["event_p50_ms_median"]), str(s["event_p95_ms_median"]),
                          str(s["event_max_ms_median"]), str(s["event_max_ms_worst"]))
    Console(width=160).print(table)
    return results


if __name__ == "__main__":
    if sys.argv[1:2] == ["setup"]:
        import django

        django.setup()
        print(json.dumps(_setup(int(sys.argv[2]))))
    else:
        tmp = tempfile.mkdtemp(prefix="civmil-bench-")
        os.environ.setdefault("DATABASE_URL", f"sqlite:///{tmp}/bench.sqlite3")
        os.environ.setdefault("CIVMIL_VAR_DIR", tmp)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "civmil.config.settings")
        import django

        django.setup()
        print(json.dumps(run(), indent=2))

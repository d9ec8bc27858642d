"""What the operator signals cost: a request through RequestSignalsMiddleware (request id, access
line, latency metric) against the same request without it (the baseline), with text and JSON log
lines; and a /metrics scrape against an empty one, in the same process."""

from __future__ import annotations

import io
import logging
import statistics
import time
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.table import Table

REQUESTS = 5_000
REPEAT = 5
SCRAPES = 30


def _per_call_us(fn: Callable[[], Any], n: int) -> float:
    samples = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        samples.append((time.perf_counter() - start) / n * 1e6)
    return statistics.median(samples)


def _requests() -> list[dict[str, Any]]:
    from django.http import HttpResponse
    from django.test import RequestFactory

    from civmil.config.logging import json_formatter, logging_config
    from civmil.core.observability import RequestIdFilter, RequestSignalsMiddleware

    request = RequestFactory().get("/liaison/", HTTP_X_REQUEST_ID="0f5c8e2a9b7d4c1e8f3a6b2d9c4e7f10")

    def view(_request: Any) -> HttpResponse:
        return HttpResponse("ok")

    middleware = RequestSignalsMiddleware(view)
    access = logging.getLogger("civmil.access")
    saved = (access.handlers[:], access.propagate, access.level)
    rows = [{"case": "baseline: the view alone", "us": _per_call_us(lambda: view(request), REQUESTS)}]
    try:
        access.propagate = False
        access.setLevel(logging.INFO)
        text = logging_config("text")["formatters"]["text"]
        for label, formatter in (("text", logging.Formatter(text["format"])), ("json", json_formatter())):
            handler = logging.StreamHandler(io.StringIO())
            handler.setFormatter(formatter)
            handler.addFilter(RequestIdFilter())
            access.handlers = [handler]
            rows.append({"case": f"with request id, access line ({label}) and metric",
                         "us": _per_call_us(lambda: middleware(request), REQUESTS)})
    finally:
        access.handlers, access.propagate = saved[0], saved[1]
        access.setLevel(saved[2])
    return rows


def _scrape() -> list[dict[str, Any]]:
    from prometheus_client import CollectorRegistry, generate_latest

    from civmil.core import metrics

    for n in range(60):  # 60 routes x 2 methods x 2 status classes: a busy server's series
        for method, status in (("GET", 200), ("POST", 302), ("GET", 404), ("POST", 200)):
            metrics.observe_request(f"route-{n}", method, status, 0.01 * (n % 7))
    empty = CollectorRegistry(auto_describe=False)
    return [
        {"case": "baseline: an empty registry", "us": _per_call_us(lambda: generate_latest(empty), SCRAPES)},
        {"case": "a /metrics scrape (files of this host, database gauges)",
         "us": _per_call_us(metrics.exposition, SCRAPES)},
    ]


def run() -> dict[str, Any]:
    requests, scrape = _requests(), _scrape()
    table = Table(title="Operator signals: cost per request and per scrape (median of 5 runs)")
    table.add_column("case")
    table.add_column("time", justify="right")
    table.add_column("over baseline", justify="right")
    for rows in (requests, scrape):
        base = rows[0]["us"]
        for row in rows:
            added = "" if row is rows[0] else f"+{row['us'] - base:.1f} µs"
            shown = f"{row['us']:.1f} µs" if row["us"] < 10_000 else f"{row['us'] / 1000:.1f} ms"
            table.add_row(row["case"], shown, added)
    Console().print(table)
    return {"requests": requests, "scrape": scrape}


if __name__ == "__main__":
    import sys

    from bench.__main__ import setup

    setup()
    run()
    sys.exit(0)

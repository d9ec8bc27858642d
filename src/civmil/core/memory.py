"""The cyclic garbage collector in a server process.

A server process holds a few hundred thousand long-lived objects (modules, models, URL patterns,
compiled templates, translation catalogues) that never become garbage, and a request makes and
drops many more. Python's collector counts allocations: every few hundred it looks at the young
objects, and every few thousand at all of them, so each full collection walked the whole
start-up state again (a tenth of a second at a time, some 15 % of a request's CPU under the load
trial). :func:`freeze` moves every object alive at that point into the permanent generation, which
the collector skips; it runs once the application is loaded and again after the first requests
have loaded what pages load lazily (templates, catalogues, the URL resolver's caches).
Garbage made later is collected as before.
"""

from __future__ import annotations

import gc
import threading

#: Requests after which a process freezes once more what its first requests loaded.
WARM_UP_REQUESTS = 200

_lock = threading.Lock()
_requests = 0


def ready_to_serve() -> None:
    """Prepare this process to serve: the URL patterns and the API behind them loaded (else the
    first request would load them, after the freeze), then :func:`freeze`. Called by the ASGI
    application's module, which every server process imports; a benchmark that measures requests
    calls it as the server does."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018
    freeze()


def freeze() -> None:
    """Collect what is garbage now, then keep every object still alive out of later collections."""
    gc.collect()
    gc.freeze()


def request_finished() -> None:
    """Count a request; after :data:`WARM_UP_REQUESTS` of them, :func:`freeze` again (once)."""
    global _requests
    with _lock:
        _requests += 1
        due = _requests == WARM_UP_REQUESTS
    if due:
        freeze()

"""How many requests one server process works on at once, and in which threads.

Under ASGI, Django runs each request's synchronous middleware and view in a thread of its own
(one per request: ``asgiref.sync.ThreadSensitiveContext``). Python runs one thread at a time per
process, so with a hundred requests in flight a hundred threads took turns on one core, each
holding its own database connection, and most of their time went to waiting: on the interpreter
lock, and on the lock inside ``asgiref.local.Local`` that every translation and URL lookup takes
(``get_language()``, lazy ``gettext``), which a thread often held when it was switched out. More
threads bought no throughput, only contention and connections; and since each thread was new,
each request opened a new database connection (on SQLite, a new connection costs more than most
queries: Django registers its SQL functions on each).

:class:`ConcurrencyLimitMiddleware` is the first middleware. In an ASGI server it keeps
``CIVMIL_WEB_THREADS`` threads per process and lends one to each request (asgiref's
``ThreadSensitiveContext(executor=...)``): the request's middleware and view run there, and the
thread's database connection is kept from one request to the next (SQLite) or given back to the
pool (PostgreSQL) by the usual housekeeping at the end of each request. Requests beyond that wait
their turn on the event loop, where waiting costs nothing. The request body has already been read
when it runs, and a streamed response (an attachment) streams after it has let go, so slow clients
never hold a thread. The machine's cores are used by several processes (``civmil serve
--processes``), not by more threads.

:class:`ASGIHandler` keeps each request in its lent thread from the first synchronous middleware to
the view and back. Django's own handler ends its middleware chain with an asynchronous step (URL
resolution, view middleware, then the view through ``sync_to_async``), so a synchronous chain went
back to the event loop and into the thread again in the middle of every request: under load the
event loop, busy with sockets, made each request wait for it twice, and the handovers cost time
of the interpreter lock.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import AsyncToSync, ThreadSensitiveContext, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler as DjangoASGIHandler
from django.core.handlers.exception import convert_exception_to_response
from django.db import close_old_connections
from django.http import HttpRequest, HttpResponseBase

from civmil.core import memory

#: Requests one process works on at once unless ``CIVMIL_WEB_THREADS`` says otherwise.
DEFAULT_THREADS = 4


def threads_per_process() -> int:
    return max(1, int(getattr(settings, "CIVMIL_WEB_THREADS", DEFAULT_THREADS)))


class ConcurrencyLimitMiddleware:
    """At most :func:`threads_per_process` requests of this process at once, each in one of that
    many long-lived threads.

    It is asynchronous only: a middleware that can be both takes the mode of the middleware below
    it, which here are synchronous, and would then run in each request's own thread, too late to
    choose it. Django runs the synchronous middleware below it through ``sync_to_async``, in the
    thread it lends. Under a synchronous handler (the test client, a command rendering a page)
    Django runs it through ``async_to_sync``, and the request keeps the caller's thread: the
    middleware then only passes it on.
    """

    sync_capable = False
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]]) -> None:
        self.get_response = get_response
        self.limit = threads_per_process()
        self.threads = [ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"civmil-request-{n}")
                        for n in range(self.limit)]
        # The free threads, one queue per event loop: a server process has one loop; tests may run
        # the application on several.
        self.free: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Queue[ThreadPoolExecutor]] = (
            weakref.WeakKeyDictionary())
        markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Awaitable[HttpResponseBase]:
        if getattr(AsyncToSync.executors, "current", None) is not None:
            # Called from synchronous code (the test client): its thread runs the request.
            return self.get_response(request)
        return self._acall(request)

    def _free_threads(self) -> asyncio.Queue[ThreadPoolExecutor]:
        loop = asyncio.get_running_loop()
        free = self.free.get(loop)
        if free is None:
            free = self.free[loop] = asyncio.Queue()
            for thread in self.threads:
                free.put_nowait(thread)
        return free

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        free = self._free_threads()
        thread = await free.get()
        try:
            async with ThreadSensitiveContext(executor=thread):
                try:
                    response: HttpResponseBase = await self.get_response(request)
                finally:
                    # What Django does when a request finishes, in the thread that used the connection.
                    await sync_to_async(close_old_connections)()
        finally:
            free.put_nowait(thread)
            memory.request_finished()
        return response


#: Middleware hooks Django calls from the innermost step of the chain.
_CORE_HOOKS = frozenset({"process_view", "process_template_response", "process_exception"})


class ASGIHandler(DjangoASGIHandler):
    """Django's ASGI handler whose middleware chain ends synchronously when its middleware below
    :class:`ConcurrencyLimitMiddleware` is synchronous: URL resolution, view middleware and the
    view run in the request's thread, called by the last middleware."""

    _sync_core = False

    def load_middleware(self, is_async: bool = False) -> None:
        self._sync_core = False
        super().load_middleware(is_async)

    def adapt_method_mode(self, is_async: bool, method: Any, method_is_async: bool | None = None,
                          debug: bool = False, name: str | None = None) -> Any:
        innermost = self._get_response_async  # type: ignore[attr-defined]
        if not is_async and getattr(method, "__wrapped__", None) == innermost:
            # The innermost step asked for synchronously: Django's synchronous one, not the
            # asynchronous one wrapped in async_to_sync.
            self._sync_core = True
            return convert_exception_to_response(self._get_response)  # type: ignore[attr-defined]
        if self._sync_core and getattr(method, "__name__", None) in _CORE_HOOKS:
            is_async = False  # called by that synchronous step
        return super().adapt_method_mode(is_async, method, method_is_async, debug, name)

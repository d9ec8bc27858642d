"""How many requests one server process works on at once.

Under ASGI, Django runs each request's synchronous middleware and view in a thread of its own
(one per request: ``asgiref.sync.ThreadSensitiveContext``). Python runs one thread at a time per
process, so with a hundred requests in flight a hundred threads took turns on one core, each
holding its own database connection, and most of their time went to waiting: on the interpreter
lock, and on the lock inside ``asgiref.local.Local`` that every translation and URL lookup takes
(``get_language()``, lazy ``gettext``), which a thread often held when it was switched out. More
threads bought no throughput, only contention and connections.

:class:`ConcurrencyLimitMiddleware` is the first middleware: in an ASGI server it lets at most
``CIVMIL_WEB_THREADS`` requests of the process past it at once; the others wait their turn on the
event loop, where waiting costs nothing. The request body has already been read when it runs, and
a streamed response (an attachment) streams after it has let go, so slow clients never hold a
turn. The machine's cores are used by several processes (``civmil serve --processes``), not by
more threads.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

#: Requests one process works on at once unless ``CIVMIL_WEB_THREADS`` says otherwise.
DEFAULT_THREADS = 4


def threads_per_process() -> int:
    return max(1, int(getattr(settings, "CIVMIL_WEB_THREADS", DEFAULT_THREADS)))


class ConcurrencyLimitMiddleware:
    """At most :func:`threads_per_process` requests of this process in Django's threads at once.

    Under a synchronous handler (the test client, a management command rendering a page) each
    request already has the thread it runs in: the middleware then only passes it on.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        self.limit = threads_per_process()
        # One per event loop: a server process has one; tests may run the application on several.
        self.semaphores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary())
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        if self.is_async:
            return self._acall(request)
        response: HttpResponseBase = self.get_response(request)
        return response

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        loop = asyncio.get_running_loop()
        semaphore = self.semaphores.get(loop)
        if semaphore is None:
            semaphore = self.semaphores[loop] = asyncio.Semaphore(self.limit)
        async with semaphore:
            response: HttpResponseBase = await self.get_response(request)
        return response


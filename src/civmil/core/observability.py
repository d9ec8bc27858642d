"""What an operator sees of each request: a request id, one access log line, and its metrics.

:class:`RequestSignalsMiddleware` is the first middleware. For each request it

- takes the proxy's ``X-Request-ID`` when it is a sane token (nginx: ``$request_id``), or makes
  one, keeps it in a context variable for the request's log records (:class:`RequestIdFilter`;
  context variables follow the request into the threads and tasks that serve it) and sends it
  back in the response's ``X-Request-ID`` header;
- logs one access line on ``civmil.access`` (method, path without its query, status, duration,
  route name, client address) and observes the request's latency (:mod:`civmil.core.metrics`);
- answers the probes itself (``/health/live``, ``/health/ready``, ``/metrics``), before the host
  check and the HTTPS redirect, so that a unit or Prometheus on the server can ask
  ``http://127.0.0.1:PORT/`` while the site is served only as ``https://its-name/``.

Background jobs carry ``job-<task id>`` as their request id (:func:`bound_request_id`).
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar, Token
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.http import HttpRequest, HttpResponseBase

REQUEST_ID_HEADER = "X-Request-ID"
#: What a proxy's request id may look like: nginx's ``$request_id`` (32 hex), a UUID, a trace id.
SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{7,127}$")
#: Shown in text logs for a record made outside any request or job.
NO_REQUEST = "-"

access_logger = logging.getLogger("civmil.access")
_request_id: ContextVar[str | None] = ContextVar("civmil_request_id", default=None)


def current_request_id() -> str | None:
    """The id of the request (or job) this code runs for, if any."""
    return _request_id.get()


def new_request_id() -> str:
    return uuid.uuid4().hex


def bind_request_id(value: str) -> Token[str | None]:
    """Give the records logged from now on the request id ``value``, until :func:`unbind_request_id`."""
    return _request_id.set(value)


def unbind_request_id(token: Token[str | None]) -> None:
    with contextlib.suppress(ValueError, RuntimeError):  # set in another context: it ends with that context
        _request_id.reset(token)


@contextlib.contextmanager
def bound_request_id(value: str) -> Iterator[str]:
    """Give the records logged inside the block the request id ``value``."""
    token = _request_id.set(value)
    try:
        yield value
    finally:
        _request_id.reset(token)


def request_id_from(request: HttpRequest) -> str:
    """The proxy's request id when it is a sane token, else a new one (never a client's log injection)."""
    given = request.META.get("HTTP_X_REQUEST_ID", "")
    return given if SANE_REQUEST_ID.match(given) else new_request_id()


class RequestIdFilter(logging.Filter):
    """Puts ``request_id`` on every record (``-`` outside requests and jobs); filters nothing out."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = _request_id.get() or NO_REQUEST
        return True


def _probes() -> dict[str, tuple[str, Callable[[HttpRequest], HttpResponseBase]]]:
    from civmil.core import health, metrics

    return {
        "/health/live": ("health-live", health.live),
        "/health/ready": ("health-ready", health.ready),
        "/metrics": ("metrics", metrics.metrics_view),
    }


def _route(request: HttpRequest) -> str:
    """A bounded name for what answered: the URL pattern's name, ``static`` or ``unresolved``."""
    match = getattr(request, "resolver_match", None)
    if match is not None:
        return str(match.view_name)
    from django.conf import settings

    static = str(getattr(settings, "STATIC_URL", "/static/") or "/static/")
    return "static" if request.path.startswith(static) else "unresolved"


#: Paths that carry a secret (a one-time password link): the log keeps their prefix only.
_SECRET_PATHS = re.compile(r"^(/accounts/password/reset/key/|/accounts/confirm-email/)[^/]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def logged_path(request: HttpRequest) -> str:
    """The request's path as the access line shows it: a one-time link's secret replaced by
    ``***``, and control characters (a decoded ``%0A``, an escape sequence) written as ``\\xNN``, so
    that a path can neither hand a link to whoever reads the logs nor forge a line of its own."""
    path = _SECRET_PATHS.sub(r"\1***", request.path)
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", path)


def _finish(request: HttpRequest, response: HttpResponseBase, request_id: str, started: float,
            route: str | None) -> None:
    from civmil.core import metrics

    seconds = time.perf_counter() - started
    response[REQUEST_ID_HEADER] = request_id
    route = route or _route(request)
    status = response.status_code
    metrics.observe_request(route, request.method or "", status, seconds)
    level = logging.DEBUG if route in ("health-live", "health-ready", "metrics") else logging.INFO
    if access_logger.isEnabledFor(level):
        path = logged_path(request)
        access_logger.log(level, "%s %s %s %.1f ms", request.method, path, status, seconds * 1000,
                          extra={"method": request.method, "path": path, "status": status,
                                 "duration_ms": round(seconds * 1000, 1), "route": route,
                                 "client": request.META.get("REMOTE_ADDR", "")})


def _unanswered(request: HttpRequest, started: float, route: str | None) -> None:
    """An exception escaped even the error page (the server answers 500 itself): count and log it."""
    from civmil.core import metrics

    seconds = time.perf_counter() - started
    route = route or _route(request)
    metrics.observe_request(route, request.method or "", 500, seconds)
    path = logged_path(request)
    access_logger.error("%s %s 500 %.1f ms (the error page failed too)", request.method, path,
                        seconds * 1000, extra={"method": request.method, "path": path, "status": 500,
                                               "duration_ms": round(seconds * 1000, 1), "route": route,
                                               "client": request.META.get("REMOTE_ADDR", "")})


class RequestSignalsMiddleware:
    """Request id, access log line and latency metric for every request; the probes answered first."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        self.probes = _probes()
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        if self.is_async:
            return self._acall(request)
        started = time.perf_counter()
        request_id = request_id_from(request)
        with bound_request_id(request_id):
            probe = self.probes.get(request.path)
            try:
                response: HttpResponseBase = probe[1](request) if probe else self.get_response(request)
            except Exception:
                _unanswered(request, started, probe[0] if probe else None)
                raise
            _finish(request, response, request_id, started, probe[0] if probe else None)
        return response

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        request_id = request_id_from(request)
        with bound_request_id(request_id):
            probe = self.probes.get(request.path)
            try:
                if probe:
                    response: HttpResponseBase = await sync_to_async(probe[1])(request)
                else:
                    response = await self.get_response(request)
            except Exception:
                _unanswered(request, started, probe[0] if probe else None)
                raise
            _finish(request, response, request_id, started, probe[0] if probe else None)
        return response

"""WebSocket routes of the kernel and their Origin check (mounted by civmil.config.asgi)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from channels.security.websocket import AllowedHostsOriginValidator, WebsocketDenier
from django.conf import settings
from django.urls import path

from civmil.core.consumers import LiveEventsConsumer

websocket_urlpatterns = [
    path("ws/events/", LiveEventsConsumer.as_asgi(), name="live-events"),
]


class SameOriginValidator:
    """Accept a WebSocket only from a page of this very site.

    Channels' ``AllowedHostsOriginValidator`` (wrapped here) requires the Origin's host to be one
    of ``ALLOWED_HOSTS``; on top of that the Origin's scheme, host and port must be those of the
    request (its ``Host`` header, and ``https`` for a ``wss`` connection, ``http`` for ``ws``), so
    another application on the same host (another port, or plain HTTP beside HTTPS) cannot open a
    socket with the user's cookies. A reverse proxy must pass the ``Host`` header with its port
    (nginx: ``proxy_set_header Host $http_host``); behind one that ends TLS, the scheme is read
    from ``SECURE_PROXY_SSL_HEADER`` as Django reads it for pages.
    """

    def __init__(self, app: Any) -> None:
        self.app = AllowedHostsOriginValidator(app)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope.get("type") == "websocket":
            headers = {k.lower(): v for k, v in scope.get("headers", [])}
            origin = headers.get(b"origin", b"").decode("latin1")
            host = headers.get(b"host", b"").decode("latin1").lower()
            try:
                parts = urlsplit(origin)
                scheme, netloc = parts.scheme.lower(), parts.netloc.lower()
            except ValueError:
                scheme, netloc = "", ""
            if not host or netloc != host or scheme != expected_origin_scheme(scope, headers):
                return await WebsocketDenier()(scope, receive, send)
        return await self.app(scope, receive, send)


def expected_origin_scheme(scope: dict[str, Any], headers: dict[bytes, bytes]) -> str:
    """``https`` when the connection is secure (``wss``, or the trusted proxy header says so), else ``http``.

    The proxy header counts only when ``SECURE_PROXY_SSL_HEADER`` names it, exactly as
    :meth:`django.http.HttpRequest.is_secure` reads it: its first value decides when it is present.
    """
    proxy = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy:
        name, secure_value = proxy
        header = name.removeprefix("HTTP_").replace("_", "-").lower().encode("latin1")
        if header in headers:
            value = headers[header].decode("latin1").split(",", 1)[0].strip()
            return "https" if value == secure_value else "http"
    return "https" if str(scope.get("scheme", "ws")).lower() in ("wss", "https") else "http"

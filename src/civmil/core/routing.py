"""WebSocket routes of the kernel and their Origin check (mounted by civmil.config.asgi)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from channels.security.websocket import AllowedHostsOriginValidator, WebsocketDenier
from django.urls import path

from civmil.core.consumers import LiveEventsConsumer

websocket_urlpatterns = [
    path("ws/events/", LiveEventsConsumer.as_asgi(), name="live-events"),
]


class SameOriginValidator:
    """Accept a WebSocket only from a page of this very site.

    Channels' ``AllowedHostsOriginValidator`` (wrapped here) requires the Origin's host to be one
    of ``ALLOWED_HOSTS``; on top of that the Origin's host and port must be those of the request's
    ``Host`` header, so another application on the same host (another port) cannot open a socket
    with the user's cookies. A reverse proxy must pass the ``Host`` header with its port
    (nginx: ``proxy_set_header Host $http_host``).
    """

    def __init__(self, app: Any) -> None:
        self.app = AllowedHostsOriginValidator(app)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope.get("type") == "websocket":
            headers = {k.lower(): v for k, v in scope.get("headers", [])}
            origin = headers.get(b"origin", b"").decode("latin1")
            host = headers.get(b"host", b"").decode("latin1").lower()
            try:
                netloc = urlsplit(origin).netloc.lower()
            except ValueError:
                netloc = ""
            if not host or netloc != host:
                return await WebsocketDenier()(scope, receive, send)
        return await self.app(scope, receive, send)

"""WebSocket routes of the kernel (mounted by civmil.config.asgi)."""

from __future__ import annotations

from django.urls import path

from civmil.core.consumers import LiveEventsConsumer

websocket_urlpatterns = [
    path("ws/events/", LiveEventsConsumer.as_asgi(), name="live-events"),
]

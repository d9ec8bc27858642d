"""ASGI entry point: HTTP through Django, WebSockets (live events) through Channels.

WebSockets pass the Origin check (the Origin must be this site: its host and port those of the
request's Host, which must be one of ALLOWED_HOSTS) and carry the Django session (cookie), from
which the consumer builds the actor.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "civmil.config.settings")

import django

# Set up Django (apps, models) before anything imports a model.
django.setup(set_prefix=False)

from civmil.core.concurrency import ASGIHandler  # noqa: E402

django_asgi_app = ASGIHandler()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from civmil.core.routing import SameOriginValidator, websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": SameOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)

from civmil.core import memory  # noqa: E402

# Last: what every server process does before its first request (the API loaded, the start-up heap
# kept out of the collector's full passes).
memory.ready_to_serve()

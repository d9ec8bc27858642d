"""ASGI entry point: HTTP through Django; WebSockets join in the live-events issue."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "civmil.config.settings")

from django.core.asgi import get_asgi_application

application = get_asgi_application()

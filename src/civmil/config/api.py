"""The REST API at /api/v1/ (django-ninja). Routers come from each app's ``api.py``."""

from ninja import NinjaAPI

api = NinjaAPI(title="civmil API", version="1", urls_namespace="api")

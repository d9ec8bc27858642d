"""URLs for the thread and notification tests until config/urls.py and config/api.py mount them.

The comms pages join at /comms/ and the comms API router at /api/v1/ (on a separate API object
that shares the real one's authenticators and error handlers), unless the project's own URL
configuration already serves them — then this is the project's configuration unchanged.
"""

from __future__ import annotations

from django.urls import NoReverseMatch, URLPattern, URLResolver, include, path, reverse

from civmil.config import urls as project_urls
from civmil.config.api import AUTHENTICATORS, CivmilAPI, api


def _mounted(name: str) -> bool:
    try:
        reverse(name, urlconf=project_urls)
    except NoReverseMatch:
        return False
    return True


urlpatterns: list[URLPattern | URLResolver] = []
if not _mounted("comms:notifications"):
    urlpatterns.append(path("comms/", include("civmil.comms.urls")))
if not _mounted("api:notifications"):
    from civmil.comms.api import router as comms_router

    comms_api = CivmilAPI(title="civmil API (comms tests)", version="comms-tests", urls_namespace="comms-tests-api",
                          auth=AUTHENTICATORS)
    comms_api._exception_handlers = dict(api._exception_handlers)
    comms_api.add_router("/", comms_router)
    patterns, app_name, namespace = comms_api.urls
    patterns = [p for p in patterns if getattr(p, "name", "") != "not-found"]
    urlpatterns.append(path("api/v1/", include((patterns, app_name), namespace=namespace)))
urlpatterns += project_urls.urlpatterns

handler400 = project_urls.handler400
handler403 = project_urls.handler403
handler404 = project_urls.handler404
handler500 = project_urls.handler500

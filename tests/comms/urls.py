"""The project's URLs with the comms namespace completed by search and attachments, until the
project's own urlconf includes them (the test then uses it as it is)."""

from typing import Any

from django.urls import URLPattern, URLResolver, include, path

import civmil.comms.urls as comms_urls
from civmil.comms.api_search import router as _search_router
from civmil.config import api as _api
from civmil.config.urls import handler400, handler403, handler404, handler500
from civmil.config.urls import urlpatterns as _base


def _names(patterns: list[Any]) -> set[str]:
    found: set[str] = set()
    for p in patterns:
        if isinstance(p, URLPattern) and p.name:
            found.add(p.name)
        elif isinstance(p, URLResolver):
            found |= _names(p.url_patterns)
    return found


_comms: list[Any] = list(comms_urls.urlpatterns)
if "search" not in _names(_comms):
    _comms.append(path("search/", include("civmil.comms.urls_search")))
if "attachment-download" not in _names(_comms):
    _comms.append(path("attachments/", include("civmil.comms.urls_attachments")))
urlpatterns: list[Any] = [p for p in _base if not (isinstance(p, URLResolver) and p.namespace == "comms")]
urlpatterns.append(path("comms/", include((_comms, "comms"))))

# The search API: the project's API once the router is added, else a stand-in with the same
# authentication and error handling, mounted at /api/search-test/.
SEARCH_API = "/api/v1/search"
if not any(r is _search_router for _prefix, r in _api.api._routers):
    from ninja import NinjaAPI
    from ninja.errors import ValidationError

    from civmil.core.errors import ServiceError

    _test_api = NinjaAPI(urls_namespace="search_api_test", auth=_api.AUTHENTICATORS, docs_url=None)
    _test_api.add_router("/", _search_router)
    _test_api.exception_handler(ServiceError)(_api._service_error)
    _test_api.exception_handler(ValidationError)(_api._validation_error)
    urlpatterns.append(path("api/search-test/", _test_api.urls))
    SEARCH_API = "/api/search-test/search"

__all__ = ["SEARCH_API", "handler400", "handler403", "handler404", "handler500", "urlpatterns"]

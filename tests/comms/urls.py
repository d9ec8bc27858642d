"""The project's URLs plus search and attachments, until the project's urlconf includes them."""

from django.urls import URLResolver, include, path

from civmil.config.urls import handler400, handler403, handler404, handler500, urlpatterns as _base

_namespaces = {p.namespace for p in _base if isinstance(p, URLResolver)}
urlpatterns = list(_base)
if "comms_search" not in _namespaces:
    urlpatterns.append(path("comms/search/", include("civmil.comms.urls_search")))
if "comms_attachments" not in _namespaces:
    urlpatterns.append(path("comms/attachments/", include("civmil.comms.urls_attachments")))

__all__ = ["handler400", "handler403", "handler404", "handler500", "urlpatterns"]

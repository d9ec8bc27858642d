"""The project's URLs, as the search and attachment tests use them, and the search API's path."""

from civmil.config.urls import handler400, handler403, handler404, handler500, urlpatterns

SEARCH_API = "/api/v1/search"

__all__ = ["SEARCH_API", "handler400", "handler403", "handler404", "handler500", "urlpatterns"]

"""URL patterns of a kernel record type's pages, named after its detail URL.

For a type whose ``detail_url_name`` is ``actors:assignment``, under ``assignments/``::

    assignments/                     actors:assignments        the list
    assignments/new/                 actors:assignment-new     create
    assignments/export.csv           actors:assignment-export  CSV with the list's filters
    assignments/<pk>/                actors:assignment         the record page
    assignments/<pk>/edit/           actors:assignment-edit
    assignments/<pk>/history/        actors:assignment-history
    assignments/<pk>/releases/       actors:assignment-releases (POST)
    assignments/<pk>/row/            actors:assignment-row     live list row
    assignments/<pk>/card/           actors:assignment-card    live card
"""

from __future__ import annotations

from django.urls import URLPattern, path

from civmil.core.kernel.views import KernelViews, decorate


def _local(name: str) -> str:
    return name.split(":", 1)[-1]


def patterns(views: KernelViews, prefix: str) -> list[URLPattern]:
    """The kernel's pages of ``views.record_type`` under ``prefix`` (``"assignments/"``), for the
    app's ``urlpatterns`` (its namespace must be the one of the type's URL names)."""
    names = {k: _local(v) for k, v in views.url_names().items()}
    return [
        path(prefix, decorate(views.list_page, ("GET",)), name=names["list"]),
        path(f"{prefix}new/", decorate(views.new, ("GET", "POST")), name=names["new"]),
        path(f"{prefix}export.csv", decorate(views.export, ("GET",)), name=names["export"]),
        path(f"{prefix}<uuid:pk>/", decorate(views.detail, ("GET",)), name=names["detail"]),
        path(f"{prefix}<uuid:pk>/edit/", decorate(views.edit, ("GET", "POST")), name=names["edit"]),
        path(f"{prefix}<uuid:pk>/history/", decorate(views.history, ("GET",)), name=names["history"]),
        path(f"{prefix}<uuid:pk>/releases/", decorate(views.releases, ("POST",)), name=names["releases"]),
        path(f"{prefix}<uuid:pk>/row/", decorate(views.row, ("GET",)), name=names["row"]),
        path(f"{prefix}<uuid:pk>/card/", decorate(views.card, ("GET",)), name=names["card"]),
    ]

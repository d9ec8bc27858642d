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

A type with no pages of an app's own gets them from :func:`mounted`, which the site's URLconf
mounts under ``records/``.
"""

from __future__ import annotations

from itertools import groupby

from django.urls import URLPattern, URLResolver, include, path

from civmil.core import registry
from civmil.core.choices import Level
from civmil.core.kernel.views import KernelViews, decorate


def _local(name: str) -> str:
    return name.split(":", 1)[-1]


def patterns(views: KernelViews, prefix: str) -> list[URLPattern]:
    """The kernel's pages of ``views.record_type`` under ``prefix`` (``"assignments/"``), for the
    app's ``urlpatterns`` (its namespace must be the one of the type's URL names)."""
    names = {k: _local(v) for k, v in views.url_names().items()}
    # Anonymous visitors read a type's PUBLIC records (and nothing else: the policy decides).
    public = Level.PUBLIC in views.record_type.levels
    return [
        path(prefix, decorate(views.list_page, ("GET",), public=public), name=names["list"]),
        path(f"{prefix}new/", decorate(views.new, ("GET", "POST")), name=names["new"]),
        path(f"{prefix}export.csv", decorate(views.export, ("GET",), public=public), name=names["export"]),
        path(f"{prefix}<uuid:pk>/", decorate(views.detail, ("GET",), public=public), name=names["detail"]),
        path(f"{prefix}<uuid:pk>/edit/", decorate(views.edit, ("GET", "POST")), name=names["edit"]),
        path(f"{prefix}<uuid:pk>/history/", decorate(views.history, ("GET",), public=public), name=names["history"]),
        path(f"{prefix}<uuid:pk>/releases/", decorate(views.releases, ("POST",)), name=names["releases"]),
        path(f"{prefix}<uuid:pk>/row/", decorate(views.row, ("GET",), public=public), name=names["row"]),
        path(f"{prefix}<uuid:pk>/card/", decorate(views.card, ("GET",), public=public), name=names["card"]),
    ]


def mounted() -> list[URLResolver]:
    """The pages of every type with no pages of an app's own (:attr:`RecordType.kernel_mounted`),
    from the declaration alone: ``<key>/`` (``records/kernel_proof.observation/``), in the
    namespace of the type's app (``kernel_proof:observation``, ``kernel_proof:observations``)."""
    out = []
    types = sorted(registry.kernel_mounted(), key=lambda t: t.model._meta.app_label)
    for app_label, of_app in groupby(types, key=lambda t: t.model._meta.app_label):
        app_patterns = [p for t in of_app for p in patterns(KernelViews(t), f"{t.key}/")]
        out.append(path("", include((app_patterns, app_label), namespace=app_label)))
    return out

"""Admin of the actors app, through the access policy (see :mod:`civmil.core.admin`).

Areas are reference data, edited here and saved by :func:`civmil.actors.services.save_area`.
Liaison log entries and liaison assignments are protected records with a kernel declaration:
the admin site gives them their read-only admin from it (:func:`civmil.core.admin.protected.declared_admin`),
listed only as the policy lets the acting administrator see them, each field only if their view
shows it.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy

from civmil.actors import services
from civmil.actors.models import Area
from civmil.core.acting import actor_of
from civmil.core.admin import ServiceAdmin, VersionedForm
from civmil.core.models.places import BOX_FIELDS


class AreaForm(VersionedForm):
    class Meta:
        model = Area
        fields = [name for name in services.AREA_FIELDS if name not in BOX_FIELDS]


@admin.register(Area)
class AreaAdmin(ServiceAdmin):
    form = AreaForm
    list_display = ("name", "pcode", "admin_level", "kind", "parent", "responsible")
    list_filter = ("kind", "admin_level")
    search_fields = ("name", "name_alt", "pcode")
    open_fields = ("kind", "name", "name_alt", "pcode", "admin_level", "parent", "responsible", "source", "version",
                   *BOX_FIELDS)
    autocomplete_fields = ("parent", "responsible")
    fields = ("kind", "name", "name_alt", "pcode", "admin_level", "parent", "responsible", "geometry", "source",
              "expected_version")
    ordering = ("admin_level", "name")
    delete_refusal = gettext_lazy("Areas are not deleted: records and the ledger refer to them. Import a newer "
                                  "edition of the boundaries to update them.")

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:  # type: ignore[override]
        fields = list(self.fields or ())
        return fields if obj is None else [*fields, "bounding_box", "version"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:  # type: ignore[override]
        return [] if obj is None else ["bounding_box", "version"]

    @admin.display(description=gettext_lazy("Extent (west, south, east, north)"))
    def bounding_box(self, obj: Area) -> str:
        return f"{obj.west:.4f}, {obj.south:.4f}, {obj.east:.4f}, {obj.north:.4f}"

    def save_via_service(self, request: HttpRequest, obj: Area, form: Any, change: bool) -> None:
        services.save_area(actor_of(request), obj, form.cleaned_data.get("geometry"),
                           expected_version=form.cleaned_data.get("expected_version"))


"""The mission's settings in the admin, written by their service."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy

from civmil.core import services
from civmil.core.acting import actor_of
from civmil.core.admin.base import ServiceAdmin, VersionedForm, is_admin_request
from civmil.core.models import MissionSettings


class MissionSettingsForm(VersionedForm):
    class Meta:
        model = MissionSettings
        fields = services.SETTINGS_FIELDS


@admin.register(MissionSettings)
class MissionSettingsAdmin(ServiceAdmin):
    form = MissionSettingsForm
    list_display = ("mission_name", "mission_acronym", "time_zone", "projection", "version")
    fields = (*services.SETTINGS_FIELDS, "expected_version")
    open_fields = (*services.SETTINGS_FIELDS, "version")
    delete_refusal = gettext_lazy("Mission settings are not deleted; change them instead.")

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False  # one record per space, made on first use

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).filter(space_id=actor_of(request).space_id)

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        if is_admin_request(request):
            services.mission_settings(actor_of(request).space_id)
        return super().changelist_view(request, extra_context)

    def save_via_service(self, request: HttpRequest, obj: MissionSettings, form: Any, change: bool) -> None:
        changes = {name: form.cleaned_data[name] for name in services.SETTINGS_FIELDS if name in form.cleaned_data}
        services.update_mission_settings(actor_of(request), obj.space, changes,
                                         expected_version=form.cleaned_data.get("expected_version"))

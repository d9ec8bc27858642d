"""People, organisations and memberships in the admin."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Q
from django.forms.models import ModelForm
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from civmil.core import queries, services
from civmil.core.acting import actor_of
from civmil.core.admin.base import WITHHELD_TEXT, ServiceAdmin, VersionedForm, shown_person
from civmil.core.admin.protected import ProtectedAdmin
from civmil.core.choices import MembershipStatus
from civmil.core.errors import Invalid, ServiceError
from civmil.core.models import Membership, Organisation, Person


@admin.register(Person)
class PersonAdmin(ProtectedAdmin):
    shown_fields = ("full_name", "title", "languages", "is_active", "level", "owner", "email", "phone",
                    "radio_call_sign", "messaging", "created_at", "updated_at", "version")
    list_columns = ("full_name", "title", "owner", "level", "is_active", "email", "phone")
    list_filter = ("level", "is_active")
    search_fields = ("full_name", "title")
    ordering = ("full_name",)


class OrganisationForm(VersionedForm):
    website = forms.URLField(label=gettext_lazy("website"), required=False, assume_scheme="https")

    class Meta:
        model = Organisation
        fields = services.ORGANISATION_FIELDS


@admin.register(Organisation)
class OrganisationAdmin(ServiceAdmin):
    form = OrganisationForm
    list_display = ("name", "acronym", "component", "kind", "parent", "is_active")
    list_filter = ("component", "kind", "is_active")
    search_fields = ("name", "acronym")
    open_fields = ("name", "acronym", "component", "kind", "parent", "country", "description", "contact_email",
                   "contact_phone", "website", "is_active", "version", "created_at", "updated_at")
    autocomplete_fields = ("parent",)
    fields = ("name", "acronym", "component", "kind", "parent", "country", "description", "contact_email",
              "contact_phone", "website", "security_focal_point", "is_active", "expected_version")
    delete_refusal = gettext_lazy("Organisations are not deleted: records refer to them and the ledger keeps "
                                  "their history. Untick 'active' instead.")

    def _focal_point_hidden(self, request: HttpRequest, obj: Organisation | None) -> bool:
        """Is the organisation's security focal point a person the reader may not know exists?"""
        if obj is None or obj.security_focal_point_id is None:
            return False
        return not queries.visible_records(actor_of(request), Person, pk=obj.security_focal_point_id).exists()

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:  # type: ignore[override]
        """A focal point the reader may not see is shown as withheld and kept as it is (a choice
        among the people the reader sees would otherwise drop it on save)."""
        fields = [str(name) for name in super().get_fields(request, obj)]
        if self._focal_point_hidden(request, obj):
            fields[fields.index("security_focal_point")] = "focal_point_withheld"
        return fields

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:  # type: ignore[override]
        readonly = list(super().get_readonly_fields(request, obj))
        return [*readonly, "focal_point_withheld"] if self._focal_point_hidden(request, obj) else readonly

    @admin.display(description=gettext_lazy("security focal point"))
    def focal_point_withheld(self, obj: Organisation) -> str:
        return str(WITHHELD_TEXT)

    def save_via_service(self, request: HttpRequest, obj: Organisation, form: Any, change: bool) -> None:
        services.save_organisation(actor_of(request), obj, expected_version=form.cleaned_data.get("expected_version"))


class MembershipForm(ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Membership
        fields = ("person", "organisation", "role", "position", "starts_on", "ends_on")


@admin.register(Membership)
class MembershipAdmin(ServiceAdmin):
    form = MembershipForm
    list_display = ("person_shown", "organisation", "role", "status", "starts_on", "ends_on")
    list_filter = ("status", "role")
    #: The person's name and the organisation's are searched through the policy (see below).
    search_fields = ("position",)
    open_fields = ("organisation", "role", "position", "starts_on", "ends_on", "status", "created_at")
    ordering = ("-starts_on", "-created_at")
    autocomplete_fields = ("person", "organisation")
    actions = ("approve", "refuse", "end_today")
    delete_refusal = gettext_lazy("Memberships are not deleted: end them (set the date they end) so the "
                                  "ledger and past records keep who acted for whom.")

    def get_queryset(self, request: HttpRequest) -> Any:
        people = queries.visible_records(actor_of(request), Person).values("pk")
        return super().get_queryset(request).filter(person__in=people).select_related("person", "organisation")

    people_columns = ("person_id",)

    @admin.display(description=gettext_lazy("person"))
    def person_shown(self, obj: Membership) -> str:
        return shown_person(obj, obj.person_id)

    def search_beyond_own_fields(self, request: HttpRequest, term: str) -> Q | None:
        """A membership by its person's name (among the people the reader may see; a name is on every
        view of a person) or by its organisation's name or acronym (reference data)."""
        people = queries.visible_records(actor_of(request), Person).filter(
            Q(full_name__icontains=term) | Q(title__icontains=term)).values("pk")
        organisations = Organisation.objects.filter(Q(name__icontains=term) | Q(acronym__icontains=term)).values("pk")
        return Q(person__in=people) | Q(organisation__in=organisations)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:  # type: ignore[override]
        fields = ["person", "organisation", "role", "position", "starts_on", "ends_on"]
        return fields if obj is None else [*fields, "status"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:  # type: ignore[override]
        # A membership changes only by ending it (or by a decision on a pending one, see the actions).
        return [] if obj is None else ["person", "organisation", "role", "position", "starts_on", "status"]

    def save_via_service(self, request: HttpRequest, obj: Membership, form: Any, change: bool) -> None:
        actor = actor_of(request)
        data = form.cleaned_data
        if not change:
            created = services.add_membership(
                actor, person=data["person"], organisation=data["organisation"], role=data["role"],
                position=data.get("position") or "", starts_on=data.get("starts_on"), ends_on=data.get("ends_on"))
            obj.pk, obj.status = created.pk, created.status
            obj._state.adding = False
            if created.status == MembershipStatus.PENDING:
                messages.warning(request, _("This membership waits for a second administrator's approval (it is "
                                            "a privileged role, or your own): see 'Waiting for approval'."))
            return
        if "ends_on" in form.changed_data:
            if data.get("ends_on") is None:
                raise Invalid(_("A membership that has an end date cannot be reopened; add a new membership."),
                              errors={"ends_on": [_("Give the date the membership ends.")]})
            services.end_membership(actor, obj, on=data["ends_on"])

    def _decide(self, request: HttpRequest, queryset: Iterable[Membership], approve: bool) -> None:
        done = 0
        for membership in queryset:
            try:
                services.decide_membership(actor_of(request), membership, approve=approve)
            except ServiceError as exc:
                messages.error(request, f"{membership}: {exc.message}")
            else:
                done += 1
        if done:
            messages.success(request, (_("%(n)s membership(s) approved.") if approve
                                       else _("%(n)s membership(s) refused.")) % {"n": done})

    @admin.action(description=gettext_lazy("Approve the selected pending memberships (second administrator)"))
    def approve(self, request: HttpRequest, queryset: Any) -> None:
        self._decide(request, queryset, approve=True)

    @admin.action(description=gettext_lazy("Refuse the selected pending memberships"))
    def refuse(self, request: HttpRequest, queryset: Any) -> None:
        self._decide(request, queryset, approve=False)

    @admin.action(description=gettext_lazy("End the selected memberships today"))
    def end_today(self, request: HttpRequest, queryset: Any) -> None:
        for membership in queryset:
            try:
                services.end_membership(actor_of(request), membership)
            except ServiceError as exc:
                messages.error(request, f"{membership}: {exc.message}")

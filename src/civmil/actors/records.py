"""Registration of the actors app's protected record types."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from civmil.core import registry
from civmil.core.choices import Level
from civmil.core.registry import FULL, FieldSpec

if TYPE_CHECKING:
    from civmil.core.acting import Actor

LIAISON_LEVELS = (Level.MISSION, Level.HUMANITARIAN, Level.MILITARY, Level.RESTRICTED)


# ---------------------------------------------------------------------------------------------
# Liaison assignments: a record kernel type (civmil.core.kernel)


def area_field(actor: Actor) -> forms.Field:
    """An assignment's area: picked by name or P-code, entered (and sent to the API) as its P-code."""
    from civmil.actors import queries
    from civmil.core.pickers import PickerSelect

    # The form sends the area's P-code (as the API takes it); the picker finds it by name too.
    coded = queries.areas(actor).exclude(pcode__isnull=True).order_by("admin_level", "name")
    return forms.ModelChoiceField(
        queryset=coded, to_field_name="pcode", required=False,
        widget=PickerSelect("areas", value_field="pcode"), label=_("Area (P-code)"),
        help_text=_("The area covered (optional): type its name or P-code."),
        error_messages={"invalid_choice": _("No area has this P-code.")})


def _area_json(area: Any) -> Any:
    from civmil.actors.schemas import area_ref

    return area_ref(area) if area is not None else None


def _organisation_field(actor: Actor) -> forms.Field:
    from civmil.actors.forms import OrganisationChoiceField
    from civmil.actors.queries import organisations

    return OrganisationChoiceField(label=_("Organisation"), queryset=organisations(actor), required=False,
                                   help_text=_("Sending or receiving."))


def _from_or_to(actor: Actor, qs: Any, org: Any) -> Any:
    return qs.filter(Q(from_organisation=org) | Q(to_organisation=org))


def _names_org(shown: Any, org: Any) -> bool:
    org_id = str(getattr(org, "pk", org))
    return bool((shown.view.shows("from_organisation") and str(shown.record.from_organisation_id) == org_id)
                or (shown.view.shows("to_organisation") and str(shown.record.to_organisation_id) == org_id))


def _current(actor: Actor, qs: Any, on: bool) -> Any:
    today = timezone.localdate()
    return qs.filter(starts_on__lte=today).filter(Q(ends_on__isnull=True) | Q(ends_on__gte=today))


def _to_decide(actor: Actor, qs: Any, on: bool) -> Any:
    from civmil.actors.queries import assignments_to_decide

    return qs.filter(pk__in=[s.record.pk for s in assignments_to_decide(actor)])


def _assignment_filters() -> tuple[Any, ...]:
    import uuid

    from civmil.core.kernel.queries import ListFilter

    return (
        ListFilter("organisation", _organisation_field, uuid.UUID | None, _from_or_to, keep=_names_org,
                   description="Assignments from or to this organisation."),
        ListFilter("current", lambda actor: forms.BooleanField(label=_("Current only"), required=False), bool,
                   _current, looks_at=("starts_on", "ends_on"), description="Only assignments running today."),
        ListFilter("to_decide", lambda actor: forms.BooleanField(
            label=_("Waiting for my organisation's confirmation"), required=False), bool, _to_decide,
            description="Only pending assignments of officers of your organisation that you may confirm or "
                        "refuse."),
    )


def _assign(actor: Actor, values: dict[str, Any]) -> Any:
    from civmil.actors import services

    def pk(name: str) -> Any:
        value = values.get(name)
        return getattr(value, "pk", value)

    return services.assign_liaison(actor, services.Assignment(
        officer_id=pk("officer"), starts_on=values["starts_on"], level=values["level"],
        to_organisation_id=pk("to_organisation"), community=values.get("community") or "", area_id=pk("area"),
        location=values.get("location") or "", ends_on=values.get("ends_on"), notes=values.get("notes") or "",
        latitude=values.get("latitude"), longitude=values.get("longitude"),
    ))


def _edit(actor: Actor, pk: Any, version: int, values: dict[str, Any]) -> Any:
    from civmil.actors import services

    return services.edit_assignment(actor, pk, version, values)


def _synthesize_assignment(draft: Any) -> None:
    """A made-up assignment (``civmil demo scale``) as :func:`civmil.actors.services.assign_liaison`
    records one by its officer's own organisation: the officer a member of the owner, which sends
    them; a counterpart (an organisation or a community); an end, if any, after the start; and
    confirmed, with no decision yet to record."""
    import datetime as dt

    from civmil.actors.choices import AssignmentStatus

    values, rng = draft.values, draft.rng
    members = draft.members(draft.owner.pk)
    values["officer"] = rng.choice(members).pk if members else draft.actor.person_id
    values["from_organisation"] = draft.owner.pk
    if values.get("to_organisation") == draft.owner.pk:
        values["to_organisation"] = None
    if not values.get("to_organisation") and not values.get("community"):
        values["to_organisation"] = rng.choice([o for o in draft.organisations if o.pk != draft.owner.pk]).pk
    starts, ends = values.get("starts_on"), values.get("ends_on")
    if starts is not None and ends is not None and ends < starts:
        values["ends_on"] = starts + dt.timedelta(days=rng.randint(0, 180))
    values["status"] = AssignmentStatus.CONFIRMED
    values.update(decided_by=None, decided_at=None, decision_reason="")


def assignment_fields() -> tuple[FieldSpec, ...]:
    """The declaration of a liaison assignment's fields (the record kernel's pages, CSV and API)."""
    from civmil.actors.schemas import AreaRef

    return (
        FieldSpec("officer", fixed=True),
        FieldSpec("from_organisation", editable=False, url_name="actors:organisation"),
        FieldSpec("to_organisation", url_name="actors:organisation",
                  help_text=_("The organisation the officer liaises with, or name a community below.")),
        FieldSpec("community", search=True),
        FieldSpec("area", url_name="actors:area", form_field=area_field, json=_area_json, api_type=AreaRef,
                  in_list=False),
        FieldSpec("latitude", views=(FULL,), in_list=False),
        FieldSpec("longitude", views=(FULL,), in_list=False),
        FieldSpec("starts_on", filter=True, sort=True),
        FieldSpec("ends_on", sort=True),
        FieldSpec("notes", views=(FULL,), search=True, in_list=False),
        # Whether the officer's organisation confirmed it shows with every view of it.
        FieldSpec("status", face=True, editable=False, filter=True),
        FieldSpec("decided_by", views=(FULL,), editable=False, in_list=False, on_card=False),
        FieldSpec("decided_at", views=(FULL,), editable=False, in_list=False, on_card=False),
        FieldSpec("decision_reason", views=(FULL,), editable=False, in_list=False, on_card=False),
    )


# ---------------------------------------------------------------------------------------------
# The liaison log: a record kernel type whose writes are its services' (their rules: a contact
# owned by the recorder's organisation, in the mission's window and not in the future, people the
# editor may not see kept on it)


def _when_field(actor: Actor) -> forms.Field:
    from civmil.actors.forms import MissionDateTimeField
    from civmil.core.pages import mission_tz

    tz = mission_tz(actor)
    return MissionDateTimeField(
        tz=tz, space_id=actor.space_id, label=_("When"), validators=[_not_ahead],
        help_text=gettext("Date and time of the contact, in the mission's time zone (%(tz)s).") % {"tz": str(tz)})


def _not_ahead(value: dt.datetime | None) -> None:
    """The service's rule, on the form too, so that it shows with the form's own errors."""
    from civmil.actors.services import CLOCK_SKEW

    if value is not None and value > timezone.now() + CLOCK_SKEW:
        raise ValidationError(_("A contact cannot be recorded in the future."), code="future")


def _organisations_field(actor: Actor) -> forms.Field:
    from civmil.actors.forms import OrganisationsChoiceField
    from civmil.actors.queries import organisations

    return OrganisationsChoiceField(
        label=_("Organisations"), queryset=organisations(actor), widget=forms.SelectMultiple(attrs={"size": 8}),
        help_text=_("The organisations that took part (hold Ctrl or Cmd to pick several)."))


def _people_field(actor: Actor) -> forms.Field:
    from civmil.actors.queries import people

    return forms.ModelMultipleChoiceField(
        label=_("People"), queryset=people(actor), required=False, widget=forms.SelectMultiple(attrs={"size": 8}),
        help_text=_("People met or spoken to (optional)."))


def _place_field(actor: Actor) -> forms.Field:
    from django.urls import reverse

    from civmil.actors.models import LiaisonLogEntry
    from civmil.core.forms_geometry import GeometryField

    return GeometryField(
        geometry_types=LiaisonLogEntry.GEOMETRY_TYPES, required=False, label=_("Location"),
        areas_url=reverse("actors:areas-geojson") + "?level=1",
        help_text=_("Where the contact took place: put a marker on the map, or type the point (optional)."))


def _now(actor: Actor) -> Any:
    return timezone.now().replace(second=0, microsecond=0)


def _contact(values: dict[str, Any]) -> Any:
    from civmil.actors import services

    return services.LiaisonContact(
        occurred_at=values["occurred_at"], channel=values["channel"], summary=values.get("summary") or "",
        level=values["level"], organisation_ids=[o.pk for o in values.get("organisations") or []],
        person_ids=[p.pk for p in values.get("people") or []], follow_ups=values.get("follow_ups") or "",
        geometry=values.get("geometry"), place_name=values.get("place_name") or "")


def _record_contact(actor: Actor, values: dict[str, Any]) -> Any:
    from civmil.actors import services

    return services.record_liaison_contact(actor, _contact(values))


def _edit_contact(actor: Actor, pk: Any, version: int, values: dict[str, Any]) -> Any:
    from civmil.actors import services

    return services.edit_liaison_contact(actor, pk, version, _contact(values))


def log_fields() -> tuple[FieldSpec, ...]:
    """The declaration of a liaison log entry's fields (the record kernel's pages, form and history)."""
    return (
        FieldSpec("occurred_at", form_field=_when_field, initial=_now, sort=True),
        FieldSpec("channel"),
        FieldSpec("organisations", url_name="actors:organisation", form_field=_organisations_field,
                  initial=lambda actor: [actor.organisation_id] if actor.organisation_id else []),
        FieldSpec("people", form_field=_people_field),
        FieldSpec("summary", help_text=_("What the contact was about. At most 10,000 characters.")),
        FieldSpec("follow_ups", help_text=_("What was agreed, and who does what next (optional).")),
        FieldSpec("geometry", in_list=False, form_field=_place_field),
        FieldSpec("place_name", help_text=_("A name people will recognise (optional).")),
    )


def register() -> None:
    from civmil.actors.models import LiaisonAssignment, LiaisonLogEntry

    registry.register(
        registry.RecordType(
            model=LiaisonLogEntry,
            levels=LIAISON_LEVELS,
            release_fields=("occurred_at", "channel", "organisations", "people", "summary", "follow_ups",
                            "geometry", "place_name"),
            search_fields=("summary", "follow_ups", "place_name"),
            fields=log_fields(),
            title=("occurred_at", "summary"),
            created_action="liaison.recorded",
            create=_record_contact,
            update=_edit_contact,
            action_labels={"liaison.recorded": _("Recorded"), "liaison.edited": _("Edited")},
            layer=registry.MapLayer(style="channel", time=("occurred_at",)),
            threads=True,
            attachments=True,
            detail_url_name="actors:liaison-entry",
            card_url_name="actors:liaison-card",
        )
    )
    registry.register(
        registry.RecordType(
            model=LiaisonAssignment,
            levels=LIAISON_LEVELS,
            fields=assignment_fields(),
            title=("officer", "to_organisation", "community"),
            list_filters=_assignment_filters(),
            create=_assign,
            update=_edit,
            created_action="liaison.assigned",
            synthesize=_synthesize_assignment,
            action_labels={"liaison.assigned": _("Assigned"), "liaison.assignment_edited": _("Edited"),
                           "liaison.assignment_confirmed": _("Confirmed"),
                           "liaison.assignment_refused": _("Refused")},
            detail_url_name="actors:assignment",
            layer=registry.MapLayer(point=("latitude", "longitude"), style="status", time=("starts_on", "ends_on"),
                                    colours={"pending": "#ff7f0e", "confirmed": "#2ca02c", "refused": "#7f7f7f"}),
        )
    )


def register_pickers() -> None:
    """Areas are searchable by name, alternative name or P-code on every form that picks one
    (:mod:`civmil.core.pickers`); a field that keeps an area's P-code loads P-codes."""
    from civmil.actors import queries
    from civmil.actors.models import Area
    from civmil.core import pickers

    def areas(actor: Actor, text: str) -> Any:
        qs = queries.areas(actor)
        if text:
            qs = qs.filter(Q(name__icontains=text) | Q(name_alt__icontains=text) | Q(pcode__istartswith=text))
        return qs.order_by("admin_level", "name")

    pickers.register(pickers.Picker("areas", Area, areas, value_fields=("pcode",),
                                    also_matches=lambda area: str(area.name_alt or "")))

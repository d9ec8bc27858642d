"""Forms of the actors app: they validate what a browser sends and hand it to one service.

Service errors (:class:`~civmil.core.errors.ServiceError`) map back onto the fields they name
(``exc.errors``); anything else becomes a non-field error.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from civmil.actors import queries, services
from civmil.actors.choices import ContactChannel
from civmil.actors.models import LiaisonAssignment, LiaisonLogEntry
from civmil.actors.records import LIAISON_LEVELS, area_field
from civmil.core import access, dates, pickers, registry
from civmil.core.choices import Component, Level, OrganisationKind, Role
from civmil.core.errors import ServiceError
from civmil.core.kernel.areas import AreaFilterField, within
from civmil.core.kernel.queries import sorted_list
from civmil.core.models import Organisation, Person
from civmil.core.pages import mission_tz

if TYPE_CHECKING:
    from civmil.core.acting import Actor

SUMMARY_MAX = 10_000
BLANK: list[tuple[str, Any]] = [("", "—")]


class ServiceErrorsMixin(forms.Form):
    """Puts a service error's messages on the fields they name, the rest above the form."""

    #: Service error keys that name a form field differently.
    error_field_map: dict[str, str] = {}

    def add_service_error(self, exc: ServiceError) -> None:
        """Show ``exc`` on the form (call after ``is_valid()``)."""
        shown: list[str] = []
        for key, messages in exc.errors.items():
            name = self.error_field_map.get(key, key)
            target = name if name in self.fields else None
            for message in messages:
                self.add_error(target, message)
                shown.append(message)
        if exc.message not in shown:
            self.add_error(None, exc.message)


class MissionDateTimeField(forms.DateTimeField):
    """A ``datetime-local`` input read and shown in the mission's time zone.

    With ``space_id`` it accepts only the space's date window (:mod:`civmil.core.dates`), with the
    window's message beside the field; a time Python cannot place in the zone (year 1 east of
    UTC) is outside the window, never an error page.
    """

    input_formats = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]

    def __init__(self, *, tz: dt.tzinfo, space_id: Any = None, **kwargs: Any) -> None:
        self.tz = tz
        self.space_id = space_id
        kwargs.setdefault("widget", forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"))
        super().__init__(**kwargs)

    def prepare_value(self, value: Any) -> Any:
        """Minutes, or seconds when the stored time has them (so saving a form never drops them)."""
        try:
            with timezone.override(self.tz):
                value = super().prepare_value(value)
        except (OverflowError, ValueError):
            return value
        if isinstance(value, dt.datetime):
            return value.strftime("%Y-%m-%dT%H:%M:%S" if value.second else "%Y-%m-%dT%H:%M")
        return value

    def to_python(self, value: Any) -> dt.datetime | None:
        try:
            with timezone.override(self.tz):
                return super().to_python(value)
        except (OverflowError, ValueError) as exc:
            message = dates.window_message(dates.accepted_window(self.space_id)) if self.space_id else \
                _("Enter a valid date/time.")
            raise ValidationError(message, code="out_of_window") from exc

    def validate(self, value: Any) -> None:
        super().validate(value)
        _check_window(value, self.space_id)


def _check_window(value: Any, space_id: Any) -> None:
    """The window's message beside the field when ``value`` is outside the space's accepted dates."""
    if space_id is not None and value is not None:
        message = dates.out_of_window(value, space_id)
        if message:
            raise ValidationError(message, code="out_of_window")


class WindowDateField(forms.DateField):
    """A date (``<input type="date">``) in the space's accepted window (:mod:`civmil.core.dates`)."""

    def __init__(self, *, space_id: Any = None, **kwargs: Any) -> None:
        self.space_id = space_id
        kwargs.setdefault("widget", forms.DateInput(attrs={"type": "date"}))
        super().__init__(**kwargs)

    def validate(self, value: Any) -> None:
        super().validate(value)
        _check_window(value, self.space_id)


def field_label(model: type[models.Model], name: str) -> str:
    """The label of a model field as forms and pages show it."""
    return str(getattr(model._meta.get_field(name), "verbose_name", name)).capitalize()


def _level_choices(actor: Actor, model: type[models.Model], current: str | None = None) -> list[tuple[str, str]]:
    choices = access.choosable_levels(actor, model)
    if current and current not in [c[0] for c in choices]:
        choices.append((current, str(Level(current).label)))
    return choices


class OrganisationChoiceField(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        return str(obj)


class OrganisationsChoiceField(forms.ModelMultipleChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        return str(obj)


class AssignmentForm(ServiceErrorsMixin):
    """Assign a liaison officer of one's organisation to an organisation or a community."""

    officer = forms.ModelChoiceField(label=gettext_lazy("Liaison officer"), queryset=Person.objects.none())
    to_organisation = OrganisationChoiceField(
        label=gettext_lazy("Liaises with organisation"), queryset=Organisation.objects.none(), required=False,
        help_text=gettext_lazy("The organisation the officer liaises with, or name a community below."),
    )
    community = forms.CharField(label=gettext_lazy("Community"), required=False, max_length=200)
    area = forms.CharField(required=False)  # replaced by the area picker (records.area_field)
    location = forms.CharField(
        label=gettext_lazy("Location"), required=False, max_length=80,
        help_text=gettext_lazy("'latitude, longitude' or an MGRS reference (optional)."),
    )
    starts_on = WindowDateField(label=gettext_lazy("Starts on"))
    ends_on = WindowDateField(label=gettext_lazy("Ends on"), required=False)
    level = forms.ChoiceField(label=gettext_lazy("Releasability"))
    notes = forms.CharField(label=gettext_lazy("Notes"), required=False, max_length=SUMMARY_MAX,
                            widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, actor: Actor, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.actor = actor
        self.fields["officer"].queryset = queries.people(actor)  # type: ignore[attr-defined]
        self.fields["to_organisation"].queryset = queries.organisations(actor)  # type: ignore[attr-defined]
        self.fields["level"].choices = _level_choices(actor, LiaisonAssignment)  # type: ignore[attr-defined]
        for name in ("starts_on", "ends_on"):
            self.fields[name].space_id = actor.space_id  # type: ignore[attr-defined]
        self.fields["area"] = area_field(actor)  # the edit form's: picked by name, sent as its P-code
        pickers.enhance(self.fields.values())

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        starts, ends = data.get("starts_on"), data.get("ends_on")
        if starts and ends and ends < starts:
            self.add_error("ends_on", _("The assignment cannot end before it starts."))
        return data

    def values(self) -> dict[str, Any]:
        """The cleaned values for the record kernel's create page (``RecordType.create``)."""
        d = self.cleaned_data
        return {name: d.get(name) for name in ("officer", "to_organisation", "community", "area", "location",
                                                 "starts_on", "ends_on", "level", "notes")}

    def to_assignment(self) -> services.Assignment:
        d = self.cleaned_data
        return services.Assignment(
            officer_id=d["officer"].pk, starts_on=d["starts_on"], level=d["level"],
            to_organisation_id=d["to_organisation"].pk if d.get("to_organisation") else None,
            community=d.get("community") or "", area_id=d["area"].pk if d.get("area") else None,
            location=d.get("location") or "", ends_on=d.get("ends_on"), notes=d.get("notes") or "",
        )


class DirectoryFilterForm(forms.Form):
    """Search of the directory: organisations and people."""

    q = forms.CharField(label=gettext_lazy("Search"), required=False, max_length=200,
                        help_text=gettext_lazy("Name, acronym or title."))
    component = forms.ChoiceField(label=gettext_lazy("Component"), required=False,
                                  choices=BLANK + list(Component.choices))
    kind = forms.ChoiceField(label=gettext_lazy("Kind of organisation"), required=False,
                             choices=BLANK + list(OrganisationKind.choices))
    role = forms.ChoiceField(label=gettext_lazy("Role"), required=False, choices=BLANK + list(Role.choices),
                             help_text=gettext_lazy("Narrows the people found, by their current role."))


class LiaisonFilterForm(forms.Form):
    """Filters of the liaison log (also used by its CSV export)."""

    q = forms.CharField(label=gettext_lazy("Text"), required=False, max_length=200)
    organisation = OrganisationChoiceField(label=gettext_lazy("Organisation"), queryset=Organisation.objects.none(),
                                           required=False)
    channel = forms.ChoiceField(label=gettext_lazy("Channel"), required=False,
                                choices=BLANK + list(ContactChannel.choices))
    level = forms.ChoiceField(label=gettext_lazy("Releasability"), required=False,
                              choices=BLANK + [(lv.value, lv.label) for lv in LIAISON_LEVELS])
    since = WindowDateField(label=gettext_lazy("From"), required=False)
    until = WindowDateField(label=gettext_lazy("To"), required=False)
    in_area = AreaFilterField()

    def __init__(self, actor: Actor, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.actor = actor
        self.tz = mission_tz(actor)
        self.fields["organisation"].queryset = queries.organisations(actor)  # type: ignore[attr-defined]
        for name in ("since", "until"):
            self.fields[name].space_id = actor.space_id  # type: ignore[attr-defined]
        pickers.enhance(self.fields.values())

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and until < since:
            self.add_error("until", _("The end date is before the start date."))
        return data

    def to_filter(self) -> queries.LiaisonFilter:
        """The query filter; dates are whole days in the mission's time zone."""
        d = self.cleaned_data
        return queries.LiaisonFilter(
            q=(d.get("q") or "").strip(), organisation=d.get("organisation"), channel=d.get("channel") or "",
            level=d.get("level") or "",
            since=dt.datetime.combine(d["since"], dt.time.min, self.tz) if d.get("since") else None,
            until=dt.datetime.combine(d["until"], dt.time.max, self.tz) if d.get("until") else None,
        )

    def filtered(self, sort: str = "") -> Any:
        """The reader's entries the filters keep, newest first or in the order of ``sort`` (the record
        kernel's list, rows and export)."""
        entries = queries.liaison_log(self.actor, self.to_filter())
        if self.cleaned_data.get("in_area") is not None:
            entries = within(self.actor, registry.get(LiaisonLogEntry), entries, self.cleaned_data["in_area"])
        return sorted_list(self.actor, registry.get(LiaisonLogEntry), entries, sort) if sort else entries


class AssignmentFilterForm(forms.Form):
    organisation = OrganisationChoiceField(label=gettext_lazy("Organisation"), queryset=Organisation.objects.none(),
                                           required=False, help_text=gettext_lazy("Sending or receiving."))
    current = forms.BooleanField(label=gettext_lazy("Current only"), required=False)

    def __init__(self, actor: Actor, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["organisation"].queryset = queries.organisations(actor)  # type: ignore[attr-defined]
        pickers.enhance(self.fields.values())


class MyLiaisonForm(forms.Form):
    to = OrganisationChoiceField(label=gettext_lazy("Organisation"), queryset=Organisation.objects.none(),
                                 help_text=gettext_lazy("The organisation you need to reach."))

    def __init__(self, actor: Actor, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["to"].queryset = queries.organisations(actor)  # type: ignore[attr-defined]
        pickers.enhance(self.fields.values())

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
from civmil.actors.records import LIAISON_LEVELS
from civmil.core import access, dates, geo
from civmil.core import merge as merging
from civmil.core.choices import Component, Level, OrganisationKind, Role
from civmil.core.errors import Invalid, ServiceError
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


#: The units a stale edit of a liaison entry is merged in, in the form's order: each a form field
#: and the stored fields it carries (latitude and longitude only make sense together).
LIAISON_MERGE_UNITS: dict[str, tuple[str, ...]] = {
    "occurred_at": ("occurred_at",), "channel": ("channel",), "organisations": ("organisations",),
    "people": ("people",), "summary": ("summary",), "follow_ups": ("follow_ups",),
    "location": ("latitude", "longitude"), "place_name": ("place_name",), "level": ("level",),
}
#: The stored fields behind the units.
LIAISON_MERGE_FIELDS = tuple(f for fields in LIAISON_MERGE_UNITS.values() for f in fields)


def pack_units(side: dict[str, Any]) -> dict[str, Any]:
    """One side of a merge (stored fields) as merge units; a unit with an unknown part is unknown."""
    out: dict[str, Any] = {}
    for unit, names in LIAISON_MERGE_UNITS.items():
        present = [n for n in names if n in side]
        if not present:
            continue
        if len(present) < len(names) or any(side[n] is merging.UNKNOWN for n in names):
            out[unit] = merging.UNKNOWN
        else:
            out[unit] = side[names[0]] if len(names) == 1 else tuple(side[n] for n in names)
    return out


def _minute(value: Any) -> Any:
    """A stored time as the form writes it: to the minute (the form never shows seconds it did not get)."""
    comparable = merging.comparable(value)
    if not isinstance(comparable, str):
        return comparable
    try:
        when = dt.datetime.fromisoformat(comparable)
    except ValueError:
        return comparable
    return when.replace(second=0, microsecond=0).isoformat()


class LiaisonEntryForm(ServiceErrorsMixin):
    """Record or edit one liaison contact.

    After a stale edit the form comes back merged (:meth:`merged_data`): ``merge_conflicts`` lists
    the fields both editors changed, and each needs ``merge_<field>`` = ``theirs`` or ``mine``
    before the form saves; ``theirs`` takes the value of the version the form carries.
    """

    occurred_at = forms.DateTimeField(label=gettext_lazy("When"))  # replaced per actor in __init__
    channel = forms.ChoiceField(label=gettext_lazy("Channel"), choices=ContactChannel.choices)
    organisations = OrganisationsChoiceField(
        label=gettext_lazy("Organisations"), queryset=Organisation.objects.none(),
        widget=forms.SelectMultiple(attrs={"size": 8}),
        help_text=gettext_lazy("The organisations that took part (hold Ctrl or Cmd to pick several)."),
    )
    people = forms.ModelMultipleChoiceField(
        label=gettext_lazy("People"), queryset=Person.objects.none(), required=False,
        widget=forms.SelectMultiple(attrs={"size": 8}),
        help_text=gettext_lazy("People met or spoken to (optional)."),
    )
    summary = forms.CharField(
        label=gettext_lazy("Summary"), max_length=SUMMARY_MAX, widget=forms.Textarea(attrs={"rows": 6}),
        help_text=gettext_lazy("What the contact was about. At most 10,000 characters."),
    )
    follow_ups = forms.CharField(
        label=gettext_lazy("Follow-ups"), max_length=SUMMARY_MAX, required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("What was agreed, and who does what next (optional)."),
    )
    level = forms.ChoiceField(
        label=gettext_lazy("Releasability"),
        help_text=gettext_lazy("Who may read this entry. The owner may release it to others later."),
    )
    location = forms.CharField(
        label=gettext_lazy("Location"), required=False, max_length=80,
        help_text=gettext_lazy("'latitude, longitude' in decimal degrees (e.g. 4.85, 31.6) or an MGRS "
                               "reference (e.g. 36N UF 12345 67890). It takes precedence over the map and "
                               "the latitude and longitude boxes; leave it empty to use those."),
    )
    latitude = forms.FloatField(label=gettext_lazy("Latitude"), required=False, min_value=-90, max_value=90,
                                widget=forms.NumberInput(attrs={"step": "any"}))
    longitude = forms.FloatField(label=gettext_lazy("Longitude"), required=False, min_value=-180, max_value=180,
                                 widget=forms.NumberInput(attrs={"step": "any"}))
    place_name = forms.CharField(label=gettext_lazy("Place"), required=False, max_length=200,
                                 help_text=gettext_lazy("A name people will recognise (optional)."))
    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)
    merge_conflicts = forms.CharField(widget=forms.HiddenInput, required=False, max_length=500)

    def __init__(self, actor: Actor, *args: Any, editing: LiaisonLogEntry | None = None, **kwargs: Any) -> None:
        self.actor = actor
        self.editing = editing
        self.merge_choices: dict[str, merging.Choice] = {}
        self.tz = mission_tz(actor)
        if editing is not None:
            kwargs.setdefault("initial", self.initial_from(editing))
        super().__init__(*args, **kwargs)
        self.fields["occurred_at"] = MissionDateTimeField(
            tz=self.tz, space_id=actor.space_id, label=_("When"),
            help_text=_("Date and time of the contact, in the mission's time zone (%(tz)s).") % {"tz": str(self.tz)},
        )
        self.fields["organisations"].queryset = queries.organisations(actor)  # type: ignore[attr-defined]
        self.fields["people"].queryset = queries.people(actor)  # type: ignore[attr-defined]
        self.fields["level"].choices = _level_choices(  # type: ignore[attr-defined]
            actor, LiaisonLogEntry, editing.level if editing is not None else None)

    def clean_merge_conflicts(self) -> list[str]:
        """The fields a merge left to the editor (unknown names are ignored)."""
        names = (self.cleaned_data.get("merge_conflicts") or "").split(",")
        return [n for n in dict.fromkeys(n.strip() for n in names) if n in LIAISON_MERGE_UNITS]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.editing is not None and not data.get("version"):
            raise ValidationError(_("The form does not say which version of the entry you edited; "
                                    "reload the page and make your changes again."))
        for unit in data.get("merge_conflicts") or []:
            choice = self.data.get(f"merge_{unit}")
            if choice in merging.CHOICES:
                self.merge_choices[unit] = choice
            else:
                self.add_error(unit, _("You and someone else both changed this field: choose which value to keep."))
        return data

    # -- merging a stale edit ------------------------------------------------------------------

    def same(self, unit: str, a: Any, b: Any) -> bool:
        """Equal as this form reads and writes them: times to the minute, only people the editor may see."""
        if unit == "occurred_at":
            return bool(_minute(a) == _minute(b))
        if unit == "people":
            mine, theirs = merging.comparable(a) or frozenset(), merging.comparable(b) or frozenset()
            visible = self._visible_people(mine | theirs)
            return bool(mine & visible == theirs & visible)
        return merging.same_value(unit, a, b)

    def _visible_people(self, ids: frozenset[str]) -> frozenset[str]:
        people = self.fields["people"].queryset  # type: ignore[attr-defined]
        try:
            return frozenset(str(pk) for pk in people.filter(pk__in=list(ids)).values_list("pk", flat=True))
        except (ValidationError, ValueError):
            return frozenset()

    def merge_of(self, stale: merging.Merge) -> merging.Merge:
        """The service's field-by-field merge, again in this form's units and comparisons."""
        return stale.remerge(pack=pack_units, same=self.same)

    def unit_as_data(self, unit: str, value: Any) -> dict[str, Any]:
        """The form data (``{name: str or list}``) that shows ``value`` (the ledger's JSON form) in ``unit``."""
        if unit == "people":  # only people the editor may see: the others are not choices of the field
            ids = [str(v) for v in value or []]
            visible = self._visible_people(frozenset(ids))
            return {unit: [i for i in ids if i in visible]}
        if unit == "organisations":
            return {unit: [str(v) for v in value or []]}
        if unit == "location":
            lat, lon = value if isinstance(value, tuple | list) else (None, None)
            return {"location": "", "latitude": "" if lat is None else repr(float(lat)),
                    "longitude": "" if lon is None else repr(float(lon))}
        if unit == "occurred_at":
            when = _parse_time(value)
            if when is None:
                return {unit: ""}
            local = timezone.localtime(when, self.tz)
            return {unit: local.strftime("%Y-%m-%dT%H:%M:%S" if local.second else "%Y-%m-%dT%H:%M")}
        return {unit: "" if value is None else str(value)}

    def merged_data(self, merged: merging.Merge) -> Any:
        """The submitted data merged over version ``merged.current_version``: theirs where only
        they changed a field, the editor's where only the editor did, and both to choose from
        where both did. The next save applies on top of that version."""
        data = self.data.copy()  # type: ignore[attr-defined]
        for key in [k for k in data if k.startswith("merge_")]:
            data.pop(key)
        for unit, f in merged.fields.items():
            if f.outcome == "theirs":
                value = f.theirs
            elif self.merge_choices.get(unit) == "theirs":
                value = f.mine  # this submission took their value then: the field shows what it sent
            else:
                continue
            for key, shown in self.unit_as_data(unit, value).items():
                if isinstance(shown, list):
                    data.setlist(key, shown)
                else:
                    data[key] = shown
        data["version"] = str(merged.current_version)
        data["merge_conflicts"] = ",".join(merged.conflicts)
        return data

    def submitted(self, unit: str) -> Any:
        """The cleaned value of ``unit`` in the ledger's JSON form (``None`` when it did not clean)."""
        d = getattr(self, "cleaned_data", {})
        names = LIAISON_MERGE_UNITS[unit]
        if unit == "location" and d.get("location"):
            try:
                return geo.parse_point(d["location"])
            except Invalid:
                return None
        if any(n not in d for n in names):
            return None
        packed = merging.json_values({n: d[n] for n in names if n not in ("organisations", "people")},
                                     {n: d[n] for n in names if n in ("organisations", "people")})
        return packed[names[0]] if len(names) == 1 else tuple(packed[n] for n in names)

    def apply_theirs(self, values: dict[str, Any]) -> bool:
        """Put the value of the carried version (``values``: stored fields, JSON) in each field the
        editor chose "theirs" for. ``False`` (with an error on the field) when a value is unknown."""
        d = self.cleaned_data
        ok = True
        for unit, choice in self.merge_choices.items():
            if choice != "theirs":
                continue
            names = LIAISON_MERGE_UNITS[unit]
            if not all(n in values for n in names):
                self.add_error(unit, _("Their value can no longer be read: enter the value to keep, and choose yours."))
                ok = False
                continue
            if unit in ("organisations", "people"):
                field = self.fields[unit]
                d[unit] = list(field.queryset.filter(pk__in=values[unit] or []))  # type: ignore[attr-defined]
            elif unit == "location":
                d["location"], d["latitude"], d["longitude"] = "", values["latitude"], values["longitude"]
            elif unit == "occurred_at":
                d[unit] = _parse_time(values[unit])
            else:
                d[unit] = values[unit] if values[unit] is not None else ""
        return ok

    @staticmethod
    def initial_from(entry: LiaisonLogEntry) -> dict[str, Any]:
        """The form's values for an entry its editor sees in full."""
        return {
            "occurred_at": entry.occurred_at, "channel": entry.channel,
            "organisations": [o.pk for o in entry.organisations.all()],
            "people": [p.pk for p in entry.people.all()],
            "summary": entry.summary, "follow_ups": entry.follow_ups, "level": entry.level,
            "latitude": entry.latitude, "longitude": entry.longitude, "place_name": entry.place_name,
            "version": entry.version,
        }

    def to_contact(self) -> services.LiaisonContact:
        d = self.cleaned_data
        return services.LiaisonContact(
            occurred_at=d["occurred_at"], channel=d["channel"], summary=d["summary"], level=d["level"],
            organisation_ids=[o.pk for o in d["organisations"]], person_ids=[p.pk for p in d["people"]],
            follow_ups=d.get("follow_ups") or "", latitude=d.get("latitude"), longitude=d.get("longitude"),
            location=d.get("location") or "", place_name=d.get("place_name") or "",
        )


def _parse_time(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value
    try:
        return dt.datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


class AssignmentForm(ServiceErrorsMixin):
    """Assign a liaison officer of one's organisation to an organisation or a community."""

    officer = forms.ModelChoiceField(label=gettext_lazy("Liaison officer"), queryset=Person.objects.none())
    to_organisation = OrganisationChoiceField(
        label=gettext_lazy("Liaises with organisation"), queryset=Organisation.objects.none(), required=False,
        help_text=gettext_lazy("The organisation the officer liaises with, or name a community below."),
    )
    community = forms.CharField(label=gettext_lazy("Community"), required=False, max_length=200)
    area = forms.CharField(label=gettext_lazy("Area (P-code)"), required=False, max_length=32,
                           help_text=gettext_lazy("The P-code of the area covered (optional)."))
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

    def clean_area(self) -> Any:
        code = (self.cleaned_data.get("area") or "").strip()
        if not code:
            return None
        found = queries.areas(self.actor).filter(pcode__iexact=code).first()
        if found is None:
            raise ValidationError(_("No area has the P-code %(code)s.") % {"code": code})
        return found

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

    def __init__(self, actor: Actor, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.actor = actor
        self.tz = mission_tz(actor)
        self.fields["organisation"].queryset = queries.organisations(actor)  # type: ignore[attr-defined]
        for name in ("since", "until"):
            self.fields[name].space_id = actor.space_id  # type: ignore[attr-defined]

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
        """The reader's entries the filters keep, newest first (the record kernel's list, rows and export)."""
        return queries.liaison_log(self.actor, self.to_filter())


class AssignmentFilterForm(forms.Form):
    organisation = OrganisationChoiceField(label=gettext_lazy("Organisation"), queryset=Organisation.objects.none(),
                                           required=False, help_text=gettext_lazy("Sending or receiving."))
    current = forms.BooleanField(label=gettext_lazy("Current only"), required=False)

    def __init__(self, actor: Actor, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["organisation"].queryset = queries.organisations(actor)  # type: ignore[attr-defined]


class MyLiaisonForm(forms.Form):
    to = OrganisationChoiceField(label=gettext_lazy("Organisation"), queryset=Organisation.objects.none(),
                                 help_text=gettext_lazy("The organisation you need to reach."))

    def __init__(self, actor: Actor, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["to"].queryset = queries.organisations(actor)  # type: ignore[attr-defined]

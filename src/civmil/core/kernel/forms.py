"""Forms of the record kernel, built from a type's declared fields: the list's filters, and the
create and edit form with its version check and the three-way merge of a stale edit
(:mod:`civmil.core.merge`)."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from civmil.core import access, pickers, registry
from civmil.core import merge as merging
from civmil.core.choices import Level
from civmil.core.errors import ServiceError
from civmil.core.kernel import areas as kernel_areas
from civmil.core.kernel import fields as kf
from civmil.core.pages import mission_tz

if TYPE_CHECKING:
    from civmil.core.acting import Actor

BLANK: list[tuple[str, str]] = [("", "—")]


def related_queryset(actor: Actor, model: Any) -> Any:
    """The records a reader may pick for a related field (:func:`civmil.core.kernel.queries.pickable`)."""
    from civmil.core.kernel.queries import pickable

    return pickable(actor, model)


def _choice_label(obj: Any) -> str:
    """An option's text: the picker's (an organisation's full name with its acronym, so typing
    part of the name finds it; the same text the picker loads), else the record's label."""
    picker = pickers.for_model(type(obj))
    return picker.label(obj) if picker is not None else kf.related_label(obj)


class _Related(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        return _choice_label(obj)


class _ManyRelated(forms.ModelMultipleChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Any) -> str:
        return _choice_label(obj)


def form_field(actor: Actor, f: kf.Field, *, required: bool | None = None) -> forms.Field:
    """The form field of a declared field (its declaration's ``form_field`` wins)."""
    if f.spec.form_field is not None:
        made: forms.Field = f.spec.form_field(actor)
        made.label = made.label or f.label
        return made
    common: dict[str, Any] = {"label": f.label, "help_text": f.help_text,
                              "required": f.required if required is None else required}
    if f.kind == kf.CHOICE:
        return forms.ChoiceField(choices=([] if common["required"] else BLANK) + f.choices, **common)
    if f.kind == kf.RELATED:
        return _Related(queryset=related_queryset(actor, f.related_model), **common)
    if f.kind == kf.MANY:
        return _ManyRelated(queryset=related_queryset(actor, f.related_model),
                            widget=forms.SelectMultiple(attrs={"size": 8}), **common)
    if f.kind == kf.DATE:
        return forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), **common)
    if f.kind == kf.DATETIME:
        return forms.DateTimeField(widget=forms.DateTimeInput(attrs={"type": "datetime-local"},
                                                              format="%Y-%m-%dT%H:%M"),
                                   input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"], **common)
    if f.kind == kf.BOOLEAN:
        return forms.BooleanField(**{**common, "required": False})
    if f.kind == kf.GEOMETRY:
        from civmil.core.forms_geometry import GeometryField

        return GeometryField(geometry_types=f.geometry_types, **common)
    if f.kind in (kf.NUMBER, kf.INTEGER):
        low, high = f.bounds()
        if f.kind == kf.NUMBER:
            return forms.FloatField(min_value=low, max_value=high, widget=forms.NumberInput(attrs={"step": "any"}),
                                    **common)
        return forms.IntegerField(min_value=None if low is None else int(low),
                                  max_value=None if high is None else int(high), **common)
    if f.kind == kf.LONG_TEXT:
        return forms.CharField(max_length=f.max_length, widget=forms.Textarea(attrs={"rows": 4}), **common)
    return forms.CharField(max_length=f.max_length, **common)


# ---------------------------------------------------------------------------------------------
# The list's filters


def filter_form(actor: Actor, record_type: registry.RecordType, data: Any) -> forms.Form:
    """The filters of a type's list (also its CSV export): text, level, each filtered field (dates
    and times as a from/to pair of days), the type's own filters and, for a type with a place, the
    area it lies in."""
    declared: dict[str, forms.Field] = {}
    if record_type.search_fields:
        declared["q"] = forms.CharField(label=gettext_lazy("Text"), required=False, max_length=200)
    for f in kf.resolve(record_type):
        if not f.spec.filter:
            continue
        if f.kind in (kf.DATE, kf.DATETIME):
            for end, label in (("from", _("from")), ("to", _("to"))):
                declared[f"{f.name}_{end}"] = forms.DateField(
                    label=f"{f.label} ({label})", required=False, widget=forms.DateInput(attrs={"type": "date"}))
        else:
            declared[f.name] = form_field(actor, f, required=False)
    declared["level"] = forms.ChoiceField(label=gettext_lazy("Releasability"), required=False,
                                          choices=BLANK + [(lv.value, lv.label) for lv in record_type.levels])
    for extra in record_type.list_filters:
        declared[extra.name] = extra.form_field(actor)
    if kernel_areas.offered(record_type) and actor.is_authenticated:  # areas: for signed-in readers
        declared[kernel_areas.NAME] = kernel_areas.AreaFilterField()
    form_class = type("FilterForm", (forms.Form,), dict(declared))
    form: forms.Form = form_class(data)
    pickers.enhance(form.fields.values())
    return form


# ---------------------------------------------------------------------------------------------
# Create and edit


class RecordForm(forms.Form):
    """Create or edit one record of a kernel type (every editable declared field, the level, and
    on edit the version it was loaded at).

    After a stale edit the form comes back merged (:meth:`merged_data`): ``merge_conflicts`` lists
    the fields both editors changed, and each needs ``merge_<field>`` = ``theirs`` or ``mine``
    before it saves; ``theirs`` takes the value of the version the form carries.
    """

    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)
    merge_conflicts = forms.CharField(widget=forms.HiddenInput, required=False, max_length=500)

    def __init__(self, actor: Actor, record_type: registry.RecordType, *args: Any, editing: Any = None,
                 **kwargs: Any) -> None:
        self.actor = actor
        self.record_type = record_type
        self.editing = editing
        self.tz = mission_tz(actor)
        self.kernel_fields = [f for f in kf.resolve(record_type)
                              if f.spec.editable and not (editing is not None and f.spec.fixed)]
        self.merge_choices: dict[str, merging.Choice] = {}
        if editing is not None:
            kwargs.setdefault("initial", self.initial_from(editing))
        super().__init__(*args, **kwargs)
        for f in self.kernel_fields:
            self.fields[f.name] = form_field(actor, f)
        choices = access.choosable_levels(actor, record_type.model)
        current = editing.level if editing is not None else None
        if current and current not in [c[0] for c in choices]:
            choices.append((current, str(Level(current).label)))
        self.fields["level"] = forms.ChoiceField(
            label=gettext_lazy("Releasability"), choices=choices,
            help_text=gettext_lazy("Who may read this record. The owner may release it to others later."))
        self.order_fields([f.name for f in self.kernel_fields] + ["level"])
        pickers.enhance(self.fields.values())  # declared and app-made fields alike

    @property
    def units(self) -> list[str]:
        """The units a stale edit is merged in: each editable field, and the level."""
        return [f.name for f in self.kernel_fields] + ["level"]

    def initial_from(self, record: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"level": record.level, "version": record.version}
        for f in self.kernel_fields:
            value = getattr(record, f.name)
            out[f.name] = [o.pk for o in value.all()] if f.kind == kf.MANY else value
        return out

    def clean_merge_conflicts(self) -> list[str]:
        names = (self.cleaned_data.get("merge_conflicts") or "").split(",")
        return [n for n in dict.fromkeys(n.strip() for n in names) if n in self.units]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.editing is not None and not data.get("version"):
            raise ValidationError(_("The form does not say which version of the record you edited; "
                                    "reload the page and make your changes again."))
        for unit in data.get("merge_conflicts") or []:
            choice = self.data.get(f"merge_{unit}")
            if choice in merging.CHOICES:
                self.merge_choices[unit] = choice
            else:
                self.add_error(unit, _("You and someone else both changed this field: choose which value to keep."))
        return data

    def values(self) -> dict[str, Any]:
        """The cleaned values for the type's services (related records as instances)."""
        d = self.cleaned_data
        return {name: d.get(name) for name in self.units}

    def add_service_error(self, exc: ServiceError) -> None:
        shown: list[str] = []
        for key, messages in exc.errors.items():
            target = key if key in self.fields else None
            for message in messages:
                self.add_error(target, message)
                shown.append(message)
        if exc.message not in shown:
            self.add_error(None, exc.message)

    # -- merging a stale edit ------------------------------------------------------------------

    def _field(self, unit: str) -> kf.Field | None:
        return next((f for f in self.kernel_fields if f.name == unit), None)

    def same(self, unit: str, a: Any, b: Any) -> bool:
        """Equal as this form reads and writes them: times to the minute, and of the protected
        records a field names (people) only those the editor may pick."""
        f = self._field(unit)
        if f is not None and f.kind == kf.DATETIME:
            return bool(_minute(a) == _minute(b))
        if f is not None and self._protected_many(f):
            mine, theirs = merging.comparable(a) or frozenset(), merging.comparable(b) or frozenset()
            visible = self._pickable(unit, mine | theirs)
            return bool(mine & visible == theirs & visible)
        return merging.same_value(unit, a, b)

    def _protected_many(self, f: kf.Field) -> bool:
        from civmil.core.kernel.views import _is_protected

        return f.kind == kf.MANY and _is_protected(f.related_model)

    def _pickable(self, unit: str, ids: Any) -> frozenset[str]:
        """Of ``ids``, those the field's choices hold (the records the editor may pick)."""
        choices = self.fields[unit].queryset  # type: ignore[attr-defined]
        try:
            return frozenset(str(pk) for pk in choices.filter(pk__in=list(ids)).values_list("pk", flat=True))
        except (ValidationError, ValueError):
            return frozenset()

    def merge_of(self, stale: merging.Merge) -> merging.Merge:
        return stale.remerge(same=self.same)

    def unit_as_data(self, unit: str, value: Any) -> dict[str, Any]:
        """The form data that shows ``value`` (the ledger's JSON form) in ``unit``."""
        f = self._field(unit)
        if f is not None and self._protected_many(f):  # only those the editor may pick: the others are no choices
            ids = [str(v) for v in value or []]
            visible = self._pickable(unit, ids)
            return {unit: [i for i in ids if i in visible]}
        if f is not None and f.kind == kf.MANY:
            return {unit: [str(v) for v in value or []]}
        if f is not None and f.kind == kf.RELATED:
            field = self.fields[unit]
            to_field = getattr(field, "to_field_name", None)
            if to_field and value:
                found = field.queryset.filter(pk=value).values_list(to_field, flat=True).first()  # type: ignore[attr-defined]
                return {unit: "" if found is None else str(found)}
            return {unit: "" if value is None else str(value)}
        if f is not None and f.kind == kf.DATETIME:
            when = _parse_time(value)
            if when is None:
                return {unit: ""}
            local = timezone.localtime(when, self.tz)
            return {unit: local.strftime("%Y-%m-%dT%H:%M:%S" if local.second else "%Y-%m-%dT%H:%M")}
        if f is not None and f.kind == kf.BOOLEAN:
            return {unit: "on" if value else ""}
        if f is not None and f.kind == kf.GEOMETRY:
            from civmil.core.forms_geometry import GeometryWidget

            drawn = "" if not value else json.dumps(value, separators=(",", ":"))
            return {unit: drawn, unit + GeometryWidget.LOCATION_SUFFIX: ""}
        return {unit: "" if value is None else str(value)}

    def merged_data(self, merged: merging.Merge) -> Any:
        """The submitted data merged over version ``merged.current_version``."""
        data = self.data.copy()  # type: ignore[attr-defined]
        for key in [k for k in data if k.startswith("merge_")]:
            data.pop(key)
        for unit, f in merged.fields.items():
            if f.outcome == "theirs":
                value = f.theirs
            elif self.merge_choices.get(unit) == "theirs":
                value = f.mine
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
        if unit not in d:
            return None
        f = self._field(unit)
        if f is not None and f.kind == kf.MANY:
            return merging.json_values({}, {unit: d[unit] or []})[unit]
        return merging.json_values({unit: d[unit]})[unit]

    def apply_theirs(self, values: dict[str, Any]) -> bool:
        """Put the carried version's value in each field the editor chose "theirs" for."""
        ok = True
        for unit, choice in self.merge_choices.items():
            if choice != "theirs":
                continue
            if unit not in values:
                self.add_error(unit, _("Their value can no longer be read: enter the value to keep, and choose yours."))
                ok = False
                continue
            f = self._field(unit)
            value = values[unit]
            if f is not None and f.kind == kf.MANY:
                value = list(self.fields[unit].queryset.filter(pk__in=value or []))  # type: ignore[attr-defined]
            elif f is not None and f.kind == kf.RELATED:
                value = self.fields[unit].queryset.filter(pk=value).first() if value else None  # type: ignore[attr-defined]
            elif f is not None and f.kind == kf.DATETIME:
                value = _parse_time(value)
            elif f is not None and f.kind == kf.DATE:
                value = dt.date.fromisoformat(value) if value else None
            self.cleaned_data[unit] = value if value is not None or f is None or f.kind != kf.TEXT else ""
        return ok


def _minute(value: Any) -> Any:
    comparable = merging.comparable(value)
    if not isinstance(comparable, str):
        return comparable
    try:
        when = dt.datetime.fromisoformat(comparable)
    except ValueError:
        return comparable
    return when.replace(second=0, microsecond=0).isoformat()


def _parse_time(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value
    try:
        return dt.datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


class ReleaseForm(forms.Form):
    """Release a record to exactly one organisation, component or person: fully or some fields."""

    target_organisation = _Related(label=gettext_lazy("Organisation"), queryset=None, required=False)
    target_component = forms.ChoiceField(label=gettext_lazy("Component"), required=False)
    target_person = _Related(label=gettext_lazy("Person"), queryset=None, required=False)
    scope = forms.ChoiceField(
        label=gettext_lazy("What to release"), widget=forms.RadioSelect, initial="full",
        choices=[("full", gettext_lazy("The whole record")),
                 ("fields", gettext_lazy("Only the fields ticked below"))],
    )
    released_fields = forms.MultipleChoiceField(label=gettext_lazy("Fields"), required=False,
                                                widget=forms.CheckboxSelectMultiple)

    def __init__(self, actor: Actor, record_type: registry.RecordType, *args: Any, **kwargs: Any) -> None:
        from civmil.core.choices import Component
        from civmil.core.models import Organisation, Person

        kwargs.setdefault("prefix", "release")
        super().__init__(*args, **kwargs)
        self.fields["target_organisation"].queryset = related_queryset(actor, Organisation)  # type: ignore[attr-defined]
        self.fields["target_person"].queryset = related_queryset(actor, Person)  # type: ignore[attr-defined]
        self.fields["target_component"].choices = BLANK + list(Component.choices)  # type: ignore[attr-defined]
        self.fields["released_fields"].choices = release_labels(record_type)  # type: ignore[attr-defined]
        pickers.enhance(self.fields.values())

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        targets = [data.get("target_organisation"), data.get("target_component"), data.get("target_person")]
        if sum(1 for t in targets if t) != 1:
            raise ValidationError(_("Choose exactly one target: an organisation, a component or a person."))
        if data.get("scope") == "fields" and not data.get("released_fields"):
            self.add_error("released_fields", _("Tick at least one field, or release the whole record."))
        return data

    def release_kwargs(self) -> dict[str, Any]:
        d = self.cleaned_data
        return {
            "organisation": d.get("target_organisation"), "component": d.get("target_component") or "",
            "person": d.get("target_person"),
            "fields": list(d["released_fields"]) if d.get("scope") == "fields" else None,
        }

    def add_service_error(self, exc: ServiceError) -> None:
        names = {"fields": "released_fields"}
        for key, messages in exc.errors.items():
            target = names.get(key, key)
            for message in messages:
                self.add_error(target if target in self.fields else None, message)
        if not exc.errors:
            self.add_error(None, exc.message)


def release_labels(record_type: registry.RecordType) -> list[tuple[str, str]]:
    """The fields an owner may release one by one, with their labels."""
    labels = {f.name: f.label for f in kf.resolve(record_type)}
    meta = record_type.model._meta
    out = []
    for name in record_type.release_fields:
        label = labels.get(name) or str(getattr(meta.get_field(name), "verbose_name", name)).capitalize()
        out.append((name, label))
    return out

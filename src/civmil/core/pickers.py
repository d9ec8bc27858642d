"""Searchable pickers of organisations, people and areas, built once for every form.

A form field that chooses organisations, people or areas (a ``ModelChoiceField`` or
``ModelMultipleChoiceField`` over a model with a registered :class:`Picker`) gets a
:class:`PickerSelect` or :class:`PickerSelectMultiple` (:func:`enhance`). Without JavaScript it
is the plain select Django renders. With JavaScript (``civmil/js/pickers.js``) it becomes a
searchable box, usable from the keyboard and by screen readers.

A short list (at most :data:`INLINE_MAX` choices) is written into the page, so the plain select
still offers every choice. A longer one is not shipped: the page carries only the values already
chosen, and the box asks :func:`options` (``/core/pick/<key>/``) as the user types, a few at a
time, through the same access policy as the field's choices: a person the reader may not see is
never offered.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.forms.models import ModelChoiceIterator
from django.urls import NoReverseMatch, reverse

if TYPE_CHECKING:
    from civmil.core.acting import Actor

#: Above this many choices a select carries only its chosen values and loads the rest as the user types.
INLINE_MAX = 100
#: The most options one answer of ``/core/pick/<key>/`` holds (``limit``), and its default.
LIMIT_MAX, LIMIT_DEFAULT = 50, 20
#: The longest text searched for.
QUERY_MAX = 100


@dataclass(frozen=True)
class Picker:
    """How the records of one model are picked: ``choices(actor, text)`` gives those the reader
    may pick matching the typed text (through the access policy), in the order offered;
    ``label(obj)`` is the text of an option."""

    key: str
    model: type[models.Model]
    choices: Callable[[Actor, str], models.QuerySet[Any]]
    label: Callable[[Any], str] = str
    #: Fields an option's value may be read from besides the primary key (``?value=pcode``).
    value_fields: tuple[str, ...] = ()
    #: Other text the server matched that the option's text does not show (an area's alternative
    #: name): sent as ``search`` so the box keeps the option while narrowing what it loaded.
    also_matches: Callable[[Any], str] | None = None


_PICKERS: dict[str, Picker] = {}


def register(picker: Picker) -> None:
    """Make ``picker`` the one of its model (apps call this in ``AppConfig.ready``)."""
    _PICKERS[picker.key] = picker


def get(key: str) -> Picker:
    """The picker registered under ``key`` (:class:`LookupError` if none)."""
    try:
        return _PICKERS[key]
    except KeyError:
        raise LookupError(key) from None


def for_model(model: Any) -> Picker | None:
    """The picker of ``model``, if one is registered."""
    return next((p for p in _PICKERS.values() if p.model is model), None)


def options(actor: Actor, key: str, text: str = "", limit: int = LIMIT_DEFAULT,
            value_field: str = "pk") -> tuple[list[dict[str, str]], bool]:
    """The first ``limit`` records ``actor`` may pick with ``key`` whose text matches ``text``,
    as ``{"value", "text"}``, and whether more match."""
    picker = get(key)
    qs = picker.choices(actor, text.strip())
    if value_field != "pk":
        qs = qs.exclude(**{f"{value_field}__isnull": True}).exclude(**{value_field: ""})
    found = list(qs[:limit + 1])
    results = []
    for o in found[:limit]:
        result = {"value": str(getattr(o, value_field)), "text": picker.label(o)}
        if picker.also_matches is not None:
            result["search"] = picker.also_matches(o)
        results.append(result)
    return results, len(found) > limit


def register_core_pickers() -> None:
    """Organisations (reference data, every signed-in reader) and people (the policy decides)."""
    from django.db.models import Q

    from civmil.core import queries
    from civmil.core.models import Organisation, Person

    def organisations(actor: Actor, text: str) -> models.QuerySet[Any]:
        if not actor.is_authenticated:
            return Organisation.objects.none()
        qs = Organisation.objects.all()
        if text:
            qs = qs.filter(Q(name__icontains=text) | Q(acronym__icontains=text))
        return qs.order_by("name")

    def people(actor: Actor, text: str) -> models.QuerySet[Any]:
        # Name and title only: every view of a person shows them, never their contact details.
        return queries.people(actor, text) if actor.is_authenticated else Person.objects.none()

    register(Picker("organisations", Organisation, organisations))
    register(Picker("people", Person, people))


# ---------------------------------------------------------------------------------------------
# Widgets


class _PickerMixin:
    """What both picker widgets add to Django's select: the attributes the script reads, and a
    long list cut to the chosen values."""

    choices: Any
    allow_multiple_selected: bool

    def __init__(self, picker: str = "", attrs: dict[str, Any] | None = None, value_field: str = "") -> None:
        super().__init__(attrs)  # type: ignore[call-arg]
        #: The registered picker it loads from; empty: only the choices written into the page.
        self.picker = picker
        self.value_field = value_field

    def _url(self) -> str:
        if not self.picker:
            return ""
        try:
            url = reverse("core:picker", kwargs={"key": self.picker})
        except NoReverseMatch:  # the core URLs are not mounted: the choices in the page only
            return ""
        return url + (f"?value={self.value_field}" if self.value_field else "")

    def _cut(self, value: Any) -> tuple[Any, bool]:
        """The choices to write into the page, and whether the rest are loaded as the user types."""
        choices = self.choices
        if not isinstance(choices, ModelChoiceIterator) or not self.picker:
            return choices, False
        field = choices.field
        first = list(choices.queryset[:INLINE_MAX + 1])
        blank = [("", field.empty_label)] if field.empty_label is not None else []
        if len(first) <= INLINE_MAX:
            return blank + [choices.choice(o) for o in first], False
        chosen = [v for v in self.format_value(value) if v]  # type: ignore[attr-defined]
        key = field.to_field_name or "pk"
        try:
            selected = list(choices.queryset.filter(**{f"{key}__in": chosen})) if chosen else []
        except (ValidationError, ValueError, TypeError):  # ids that are no ids: nothing chosen
            selected = []
        return blank + [choices.choice(o) for o in selected], True

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        original = self.choices
        self.choices, remote = self._cut(value)
        attrs = {**(attrs or {}), "data-picker": self.picker or "local"}
        attrs.pop("size", None)
        url = self._url() if remote else ""
        if url:
            attrs["data-picker-url"] = url
        try:
            return super().get_context(name, value, attrs)  # type: ignore[misc, no-any-return]
        finally:
            self.choices = original


class PickerSelect(_PickerMixin, forms.Select):
    """A select of one record, searchable once the script runs."""


class PickerSelectMultiple(_PickerMixin, forms.SelectMultiple):
    """A select of several records, searchable once the script runs."""


def picker_widget(field: forms.Field, picker: str = "", value_field: str = "") -> forms.Widget:
    """The picker widget for ``field`` (one or several), keeping its attributes and choices."""
    cls = PickerSelectMultiple if isinstance(field.widget, forms.SelectMultiple) else PickerSelect
    widget = cls(picker, attrs={k: v for k, v in field.widget.attrs.items() if k != "size"}, value_field=value_field)
    widget.choices = getattr(field, "choices", [])
    widget.is_required = field.widget.is_required
    return widget


def enhance(fields: Iterable[forms.Field]) -> None:
    """Give every select of organisations, people or areas among ``fields`` its picker (other
    fields, and fields whose widget is not a plain select, such as a typed P-code, are kept)."""
    for field in fields:
        if type(field.widget) not in (forms.Select, forms.SelectMultiple):
            continue
        queryset = getattr(field, "queryset", None)
        picker = for_model(queryset.model) if queryset is not None else None
        if picker is None:
            continue
        value_field = getattr(field, "to_field_name", None) or ""
        if value_field and value_field not in picker.value_fields:
            continue
        field.widget = picker_widget(field, picker.key, value_field)

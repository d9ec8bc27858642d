"""A record type's declared fields, resolved against its model, and how each is shown.

Every rendering starts from the reader's view (:class:`civmil.core.access.Shown`): a field the
view withholds is a withheld :class:`Cell` (pages), absent (JSON) or empty (CSV). A reduced view
shows a field through its declaration's ``coarsen``. People named in a record are named only when
the reader may see them (one query per page, :class:`Page`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import models
from django.urls import NoReverseMatch
from django.utils import timezone

from civmil.core import access, registry
from civmil.core.choices import Level
from civmil.core.formats import mission_datetime
from civmil.core.pages import record_url

if TYPE_CHECKING:
    from civmil.core.acting import Actor

#: A spreadsheet reads a cell starting with one of these as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: str) -> str:
    """Keep a spreadsheet from running a cell as a formula: prefix such cells with a quote."""
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


@dataclass(frozen=True)
class Cell:
    """One field of a record as the reader sees it (``{% cell %}`` draws it)."""

    text: str = ""
    url: str = ""
    withheld: bool = False
    items: tuple[Cell, ...] = field(default_factory=tuple)
    #: A number civmil writes itself (not user text): a CSV keeps it as is.
    number: bool = False

    @property
    def many(self) -> bool:
        return bool(self.items)

    def plain(self) -> str:
        """The cell as text (for exports): withheld cells are empty."""
        if self.withheld:
            return ""
        if self.items:
            return "; ".join(i.text for i in self.items if not i.withheld)
        return self.text


WITHHELD_CELL = Cell(withheld=True)

#: Kinds of field the kernel knows how to enter and show (``geometry``: the place of a
#: :class:`~civmil.core.models.Placed` model, GeoJSON in WGS84).
TEXT, LONG_TEXT, CHOICE, DATE, DATETIME, NUMBER, INTEGER, BOOLEAN, RELATED, MANY, GEOMETRY = (
    "text", "long_text", "choice", "date", "datetime", "number", "integer", "boolean", "related", "many", "geometry")


@dataclass(frozen=True)
class Field:
    """A :class:`~civmil.core.registry.FieldSpec` with the model field behind it."""

    spec: registry.FieldSpec
    model_field: Any
    kind: str

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def label(self) -> str:
        label = self.spec.label if self.spec.label is not None else getattr(self.model_field, "verbose_name", "")
        text = str(label or self.name)
        return text[:1].upper() + text[1:]

    @property
    def help_text(self) -> str:
        text = self.spec.help_text if self.spec.help_text is not None else getattr(self.model_field, "help_text", "")
        return str(text or "")

    @property
    def required(self) -> bool:
        f = self.model_field
        if self.kind == MANY:
            return not f.blank
        return not (getattr(f, "blank", False) or getattr(f, "null", False))

    @property
    def max_length(self) -> int | None:
        return getattr(self.model_field, "max_length", None)

    @property
    def choices(self) -> list[tuple[str, str]]:
        return [(str(v), str(label)) for v, label in (self.model_field.choices or [])]

    @property
    def related_model(self) -> Any:
        return getattr(self.model_field, "related_model", None)

    @property
    def geometry_types(self) -> tuple[str, ...]:
        """The GeoJSON types a geometry field accepts (its model's ``GEOMETRY_TYPES``)."""
        from civmil.core.geometry import GEOMETRY_TYPES

        return tuple(getattr(self.model_field.model, "GEOMETRY_TYPES", GEOMETRY_TYPES))

    def bounds(self) -> tuple[float | None, float | None]:
        """The range the model's validators (or, for latitude and longitude, the globe) allow."""
        low = high = None
        for v in getattr(self.model_field, "validators", []):
            code = getattr(v, "code", "")
            if code == "min_value":
                low = v.limit_value
            elif code == "max_value":
                high = v.limit_value
        if low is None and high is None and self.name in ("latitude", "longitude"):
            return (-90.0, 90.0) if self.name == "latitude" else (-180.0, 180.0)
        return low, high


def _kind(f: Any) -> str:
    from civmil.core.models import Placed

    if f.name == "geometry" and isinstance(f, models.JSONField) and issubclass(f.model, Placed):
        return GEOMETRY
    if f.many_to_many:
        return MANY
    if f.is_relation:
        return RELATED
    if getattr(f, "choices", None):
        return CHOICE
    if isinstance(f, models.DateTimeField):
        return DATETIME
    if isinstance(f, models.DateField):
        return DATE
    if isinstance(f, models.BooleanField):
        return BOOLEAN
    if isinstance(f, models.FloatField | models.DecimalField):
        return NUMBER
    if isinstance(f, models.IntegerField):
        return INTEGER
    if isinstance(f, models.TextField):
        return LONG_TEXT
    return TEXT


def resolve(record_type: registry.RecordType) -> list[Field]:
    """The declared fields of ``record_type``, in order, with their model fields."""
    meta = record_type.model._meta
    out = []
    for spec in record_type.fields:
        model_field = meta.get_field(spec.name)
        out.append(Field(spec=spec, model_field=model_field, kind=_kind(model_field)))
    return out


# ---------------------------------------------------------------------------------------------
# Showing values


def _related_url(f: Field, obj: Any) -> str:
    name = f.spec.url_name
    if not name:
        try:
            name = registry.get(type(obj)).detail_url_name
        except LookupError:
            name = ""
    if not name:
        return ""
    try:
        return record_url(name, obj.pk)
    except (NoReverseMatch, ValueError):
        return ""


def _is_person(model: Any) -> bool:
    from civmil.core.models import Person

    return model is Person


def related_label(obj: Any) -> str:
    return str(getattr(obj, "label", None) or obj)


@dataclass
class Page:
    """What rendering a page of records needs once: the reader, the mission's time zone, and the
    people the reader may know exist among those the records name."""

    actor: Actor
    tz: dt.tzinfo
    people: set[str]
    iso_times: bool = False

    @classmethod
    def of(cls, actor: Actor, fields: Sequence[Field], shown: Iterable[access.Shown[Any]], *,
           iso_times: bool = False) -> Page:
        from civmil.core.models import Person
        from civmil.core.pages import mission_tz

        ids: set[Any] = set()
        for s in shown:
            for f in fields:
                if not (_is_person(f.related_model) and s.view.shows(f.name)):
                    continue
                if f.kind == MANY:
                    ids.update(p.pk for p in getattr(s.record, f.name).all())
                elif getattr(s.record, f"{f.name}_id", None):
                    ids.add(getattr(s.record, f"{f.name}_id"))
        people = set()
        if ids:
            people = {str(pk) for pk in access.visible(actor, Person.objects.filter(pk__in=ids))
                      .values_list("pk", flat=True)}
        return cls(actor=actor, tz=mission_tz(actor), people=people, iso_times=iso_times)

    def may_name(self, person: Any) -> bool:
        return str(person.pk) in self.people


def value_of(f: Field, shown: access.Shown[Any]) -> Any:
    """The value the reader's view gives of ``f`` (coarsened in a reduced view); the caller has
    checked that the view shows it."""
    value = getattr(shown.record, f.name)
    if f.kind == MANY:
        value = list(value.all())
    if shown.reduced and f.spec.coarsen is not None:
        value = f.spec.coarsen(value)
    return value


def coarsened(shown: access.Shown[Any], name: str, value: Any) -> Any:
    """``value`` of the record's field ``name`` as the reader's view gives it: through its
    declaration's ``coarsen`` in a reduced view (a record's place drawn from its coordinates)."""
    if not shown.reduced:
        return value
    spec = next((s for s in registry.get(type(shown.record)).fields if s.name == name), None)
    return value if spec is None or spec.coarsen is None else spec.coarsen(value)


def stored_value(f: Field, shown: access.Shown[Any], value: Any) -> Any:
    """A stored change's value of ``f`` (as the ledger keeps it) as the reader's view gives it:
    coarsened in a reduced view, or "withheld" when it cannot be read back to coarsen it."""
    if not shown.reduced or f.spec.coarsen is None:
        return value
    try:
        read = getattr(f.model_field, "to_python", None)
        return f.spec.coarsen(value if value is None or read is None else read(value))
    except (TypeError, ValueError, ValidationError):
        return "withheld"


def _text(f: Field, value: Any, page: Page) -> str:
    if f.spec.cell is not None:
        return str(f.spec.cell(value))
    if value is None or value == "":
        return ""
    if f.kind == CHOICE:
        return str(dict(f.choices).get(str(value), value))
    if f.kind == DATETIME and isinstance(value, dt.datetime):
        if page.iso_times:
            return timezone.localtime(value, page.tz).isoformat(timespec="minutes")
        return mission_datetime(value, page.tz)
    if f.kind == DATE and isinstance(value, dt.date):
        return value.isoformat() if page.iso_times else mission_datetime(value, dt.UTC, "date")
    if f.kind == BOOLEAN:
        from django.utils.translation import gettext

        return gettext("yes") if value else gettext("no")
    if f.kind == GEOMETRY:
        return geometry_text(value)
    if isinstance(value, float):
        return f"{value:.6f}" if f.name in ("latitude", "longitude") else repr(value)
    return str(value)


def geometry_text(value: Any) -> str:
    """A stored geometry as a reader reads it: a point as 'latitude, longitude', another shape as
    its type and number of positions."""
    from django.utils.translation import ngettext

    if not isinstance(value, dict):
        return str(value)
    coordinates = value.get("coordinates")
    if value.get("type") == "Point" and isinstance(coordinates, list) and len(coordinates) >= 2:
        return f"{float(coordinates[1]):.5f}, {float(coordinates[0]):.5f}"

    def count(c: Any) -> int:
        if isinstance(c, list) and c and isinstance(c[0], int | float):
            return 1
        return sum(count(x) for x in c) if isinstance(c, list) else 0

    n = count(coordinates)
    return ngettext("%(type)s of %(n)s position", "%(type)s of %(n)s positions", n) % {
        "type": str(value.get("type", "")), "n": n}


def _related_cell(f: Field, obj: Any, page: Page) -> Cell:
    if obj is None:
        return Cell()
    if _is_person(f.related_model) and not page.may_name(obj):
        return WITHHELD_CELL
    return Cell(text=f.spec.cell(obj) if f.spec.cell else related_label(obj), url=_related_url(f, obj))


def cell(f: Field, shown: access.Shown[Any], page: Page) -> Cell:
    """The cell of ``f``: withheld unless the reader's view shows it."""
    if not shown.view.shows(f.name):
        return WITHHELD_CELL
    value = value_of(f, shown)
    if f.kind == MANY:
        # People the reader may not see make one withheld marker, so not even their count shows.
        items = [_related_cell(f, o, page) for o in value]
        shown_items = [i for i in items if not i.withheld]
        return Cell(items=(*shown_items, *((WITHHELD_CELL,) if len(shown_items) < len(items) else ())))
    if f.kind == RELATED and f.spec.cell is None:
        return _related_cell(f, value, page)
    return Cell(text=_text(f, value, page))


def cells(fields: Sequence[Field], shown: access.Shown[Any], page: Page) -> dict[str, Cell]:
    """Every declared field of a record, plus its level, owner and id, as cells."""
    record = shown.record
    out = {f.name: cell(f, shown, page) for f in fields}
    out["level"] = Cell(text=str(Level(record.level).label) if record.level in Level.values else str(record.level))
    out["owner"] = Cell(text=record.owner.label, url=_owner_url(record.owner))
    out["id"] = Cell(text=str(record.pk))
    return out


def _owner_url(owner: Any) -> str:
    try:
        return record_url("actors:organisation", owner.pk)
    except (NoReverseMatch, ValueError):
        return ""


#: Longest title :func:`title` gives (characters); the rest ends in an ellipsis.
TITLE_LENGTH = 120


def title(record_type: registry.RecordType, shown: access.Shown[Any], page: Page) -> str:
    """What names the record to this reader in a line: the cells of the type's declared
    :attr:`~civmil.core.registry.RecordType.title` fields (else its first text field) that the
    reader's view shows, joined by " · ". Empty when the view shows none of them."""
    fields = resolve(record_type)
    names = record_type.title or next(((f.name,) for f in fields if f.kind == TEXT), ())
    texts = [cell(f, shown, page).plain() for f in fields if f.name in names]
    line = " · ".join(" ".join(t.split()) for t in texts if t.strip())
    return line if len(line) <= TITLE_LENGTH else line[:TITLE_LENGTH - 1].rstrip() + "…"


def csv_cell(f: Field | None, c: Cell) -> str:
    """A cell as a CSV value: user text made formula-safe (numbers and places civmil writes itself are kept)."""
    text = c.plain()
    if (c.number or (f is not None and f.kind in (NUMBER, INTEGER, GEOMETRY))) and not c.withheld:
        return text
    return csv_safe(text)


# ---------------------------------------------------------------------------------------------
# JSON


def json_value(f: Field, value: Any, page: Page) -> Any:
    """``value`` of ``f`` as the API writes it (related records as references)."""
    if f.spec.json is not None:
        return f.spec.json(value)
    if f.kind == MANY:
        return [r for r in (_related_json(f, o, page) for o in value) if r is not None]
    if f.kind == RELATED:
        return _related_json(f, value, page)
    return value


def _related_json(f: Field, obj: Any, page: Page) -> Any:
    from civmil.core.models import Organisation

    if obj is None:
        return None
    if _is_person(f.related_model):
        return {"id": obj.pk, "full_name": obj.full_name} if page.may_name(obj) else None
    if isinstance(obj, Organisation):
        return {"id": obj.pk, "name": obj.name, "acronym": obj.acronym, "component": obj.component}
    return {"id": obj.pk, "name": str(obj)}


def record_json(fields: Sequence[Field], shown: access.Shown[Any], page: Page) -> dict[str, Any]:
    """A record as the API writes it: the face every view shows, ``view``, ``withheld``, and each
    declared field the view shows (withheld ones are absent)."""
    from civmil.core.schemas import record_out

    out = record_out(shown, tuple(f.name for f in fields))
    for f in fields:
        if not shown.view.shows(f.name):
            continue
        value = json_value(f, value_of(f, shown), page)
        if f.kind == RELATED and value is None and getattr(shown.record, f"{f.name}_id", None) is not None:
            out["withheld"].append(f.name)  # a person the reader may not see: never their id
            continue
        out[f.name] = value
    return out


# ---------------------------------------------------------------------------------------------
# History and stale-edit texts: values in the ledger's JSON form (ids, ISO times)


def change_text(f: Field | None, value: Any, page: Page, names: dict[str, str]) -> str:
    """A stored change's value as the reader reads it; ``names`` labels the ids the reader may see
    (organisations and people), and ``withheld`` stands for a person they may not."""
    if value is None or value == "" or value == []:
        return "—"
    if f is None:
        return str(value)
    if f.kind in (RELATED, MANY):
        ids = value if isinstance(value, list) else [value]
        return ", ".join(names.get(str(v), "—") for v in ids) or "—"
    if f.kind in (DATETIME, DATE):
        try:
            parsed: Any = (dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")) if f.kind == DATETIME
                           else dt.date.fromisoformat(str(value)))
        except ValueError:
            return str(value)
        return _text(f, parsed, page)
    return _text(f, value, page)


def related_names(actor: Actor, fields: Sequence[Field], values: Iterable[dict[str, Any]]) -> dict[str, str]:
    """Labels of the related records named in stored changes, by id: organisations and other
    reference data by label, people only those ``actor`` may see, protected records never."""
    from civmil.core.models import Organisation, Person

    wanted: dict[Any, set[str]] = {}
    for data in values:
        for f in fields:
            if f.kind not in (RELATED, MANY) or data.get(f.name) in (None, "", []):
                continue
            v = data[f.name]
            wanted.setdefault(f.related_model, set()).update(str(i) for i in (v if isinstance(v, list) else [v]))
    names: dict[str, str] = {}
    for model, ids in wanted.items():
        ids_list = [i for i in ids if i != "withheld"]
        if model is Person:
            qs = access.visible(actor, Person.objects.filter(pk__in=ids_list))
            names.update({str(pk): n for pk, n in qs.values_list("pk", "full_name")})
        elif model is Organisation or not _registered(model):
            names.update({str(o.pk): related_label(o) for o in model._default_manager.filter(pk__in=ids_list)})
    return names


def _registered(model: Any) -> bool:
    try:
        registry.get(model)
    except LookupError:
        return False
    return True

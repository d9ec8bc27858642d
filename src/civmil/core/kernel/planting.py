"""Planting: a record of a declared type with marker texts in chosen fields, for the access matrix.

The access-matrix tests plant records of every registered type at every level its declaration
allows and look for the markers on every channel. A type plants through its
:attr:`~civmil.core.registry.RecordType.plant` when it declares one, else through :func:`plant`:
its own ``create`` (or the generic create) with the markers in place and a plain value in every
other field the declaration requires.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.utils import timezone

from civmil.core import registry
from civmil.core.kernel import fields as kf
from civmil.core.kernel.views import generic_create

if TYPE_CHECKING:
    from civmil.core.acting import Actor


def plant(record_type: registry.RecordType, author: Actor, level: str, marked: dict[str, str]) -> Any:
    """A record of ``record_type`` created by ``author`` at ``level``, through the type's own
    writes, with ``marked`` (field name -> text) in its fields."""
    if record_type.plant is not None:
        return record_type.plant(author, level, marked)
    values: dict[str, Any] = {"level": level}
    for f in kf.resolve(record_type):
        if f.name in marked:
            values[f.name] = marked[f.name]
        elif f.spec.editable and f.required:
            values[f.name] = _plain_value(f, author)
    if _placed(record_type) and "geometry" not in values:
        values["geometry"] = PLACE  # on the map, for readers whose view shows the place
    create = record_type.create or generic_create(record_type)
    return create(author, values)


#: Where planted records of a type with a place are.
PLACE = {"type": "Point", "coordinates": [30.06, -1.95]}


def _placed(record_type: registry.RecordType) -> bool:
    from civmil.core.models import Placed

    return issubclass(record_type.model, Placed)


def _plain_value(f: kf.Field, author: Actor) -> Any:
    """A valid value of a required field that says nothing (the first choice, now, the author's
    organisation, the author themselves)."""
    from civmil.core.models import Organisation, Person

    if f.kind == kf.CHOICE:
        return f.choices[0][0]
    if f.kind == kf.DATETIME:
        return timezone.now()
    if f.kind == kf.DATE:
        return timezone.localdate()
    if f.kind in (kf.NUMBER, kf.INTEGER):
        low, high = f.bounds()
        return low if low is not None else high if high is not None and high < 0 else 0
    if f.kind == kf.BOOLEAN:
        return False
    if f.kind in (kf.RELATED, kf.MANY) and f.related_model is Organisation:
        return [author.organisation] if f.kind == kf.MANY else author.organisation
    if f.kind == kf.RELATED and f.related_model is Person:
        return author.person
    if f.kind in (kf.TEXT, kf.LONG_TEXT):
        return "—"
    raise LookupError(f"{f.name}: no plain value of a required {f.kind} field; declare the type's `plant`")




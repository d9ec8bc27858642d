"""The area filter of every list of a type with a place: records whose place lies in an area, by
the area's name or P-code, the areas below it included.

Areas are reference data of an app above core (``civmil.actors``), which registers how a name or
P-code finds them (:func:`set_lookup`). A type has a place when its model is
:class:`~civmil.core.models.Placed` or its map layer is a point of two fields.

Through the policy, as the map layers decide their box (:mod:`civmil.core.kernel.maps`): a record
is matched on its place as the reader's view gives it. A view that withholds the place matches
no area; a reduced view that coarsens it is matched on the coarsened place, never the exact one,
so the list never tells whether the exact place lies in the area.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext, gettext_lazy

from civmil.core import registry
from civmil.core.errors import Invalid
from civmil.core.geometry import Bounds
from civmil.core.kernel import fields as kf

if TYPE_CHECKING:
    from shapely.geometry.base import BaseGeometry

    from civmil.core.acting import Actor

#: The filter's name in the list's URL and form (not "area": a type may have a field of that name).
NAME = "in_area"


@dataclass(frozen=True)
class ChosenArea:
    """An area the reader named, with the boundaries of it and every area below it (GeoJSON)."""

    label: str
    boundaries: tuple[dict[str, Any], ...]

    def outline(self) -> BaseGeometry:
        import shapely
        from shapely.geometry import shape

        return shapely.union_all([shape(b) for b in self.boundaries])


#: ``lookup(text) -> ChosenArea``, raising :class:`~civmil.core.errors.Invalid` with a message
#: for the reader when no area (or more than one) answers to the text.
_lookup: Callable[[str], ChosenArea] | None = None


def set_lookup(lookup: Callable[[str], ChosenArea]) -> None:
    """Register how an area's name or P-code finds it and the areas below it (the areas' app)."""
    global _lookup
    _lookup = lookup


def find(text: str) -> ChosenArea:
    """The area ``text`` names (by the registered lookup); :class:`Invalid` when none answers."""
    if _lookup is None:
        raise Invalid(gettext("Areas are not known here."))
    return _lookup(text)


def has_place(record_type: registry.RecordType) -> bool:
    """Whether records of the type have a place the area filter can look at."""
    from civmil.core.models import Placed

    if record_type.layer is not None and record_type.layer.point is not None:
        return True
    return issubclass(record_type.model, Placed)


def offered(record_type: registry.RecordType) -> bool:
    """Whether the type's list offers the area filter."""
    return _lookup is not None and has_place(record_type)


class AreaFilterField(forms.CharField):
    """The area filter's input: a name or P-code, cleaned to the :class:`ChosenArea`."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("label", gettext_lazy("Area"))
        kwargs.setdefault("help_text", gettext_lazy("Name or P-code; the areas within it count too."))
        super().__init__(required=False, max_length=200, **kwargs)

    def clean(self, value: Any) -> ChosenArea | None:  # type: ignore[override]
        text = str(super().clean(value) or "").strip()
        if not text or _lookup is None:
            return None
        try:
            return find(text)
        except Invalid as exc:
            raise ValidationError(exc.message) from exc


def _place_names(record_type: registry.RecordType) -> tuple[str, ...]:
    layer = record_type.layer
    return layer.point if layer is not None and layer.point is not None else ("geometry",)


def within(actor: Actor, record_type: registry.RecordType, qs: models.QuerySet[Any],
           area: ChosenArea) -> models.QuerySet[Any]:
    """The records of ``qs`` whose place, as the reader's view gives it, meets the area.

    The box of the area narrows (the spatial index, or the range of a point's two columns); the
    exact boundary decides, in Python. Records the reader sees in part are decided on the place
    their view gives: none when withheld, the coarsened one where the view coarsens it.
    """
    from shapely.prepared import prep

    from civmil.core.kernel import maps, queries
    from civmil.core.spatial import overlapping

    outline = area.outline()
    inside = prep(outline)
    west, south, east, north = outline.bounds
    point = record_type.layer.point if record_type.layer is not None else None
    if point is not None:
        lat, lon = point
        boxed = qs.filter(**{f"{lat}__gte": south, f"{lat}__lte": north, f"{lon}__gte": west, f"{lon}__lte": east})
        outside = [pk for pk, y, x in boxed.values_list("pk", lat, lon).order_by()
                   if not inside.intersects(_point(x, y))]
    else:
        from shapely.geometry import shape

        boxed = overlapping(qs, Bounds(west, south, east, north))
        outside = [pk for pk, geometry in boxed.values_list("pk", "geometry").order_by()
                   if not geometry or not inside.intersects(shape(geometry))]
    kept = boxed.exclude(pk__in=outside) if outside else boxed

    # Records seen in part: decided on the place their view gives, across the whole of ``qs``
    # where a view coarsens the place (its coarsened place may lie in the area, its exact one not).
    fields = {f.name: f for f in kf.resolve(record_type)}
    coarse = any(fields[n].spec.coarsen is not None for n in _place_names(record_type) if n in fields)
    layer = record_type.layer or registry.MapLayer()
    hidden: list[Any] = []
    moved: list[Any] = []
    for shown in queries.suspects(actor, record_type, qs if coarse else kept):
        if shown.full:
            continue
        place = maps._geometry(layer, fields, shown)
        if place is None:
            hidden.append(shown.record.pk)
        elif coarse and maps._coarsened(fields, shown, _place_names(record_type)):
            from shapely.geometry import shape

            (moved if inside.intersects(shape(place)) else hidden).append(shown.record.pk)
    if moved:
        kept = qs.filter(models.Q(pk__in=kept.values("pk")) | models.Q(pk__in=moved))
    return kept.exclude(pk__in=hidden) if hidden else kept


def _point(x: float | None, y: float | None) -> Any:
    import shapely

    return shapely.Point(x, y) if x is not None and y is not None else shapely.Point()

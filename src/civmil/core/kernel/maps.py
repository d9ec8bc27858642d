"""Map layers of the record types that declare one (``RecordType.layer``, a :class:`MapLayer`).

=================================  =============================================================
``GET /map/layers``                the layers the reader may see: label, legend, URL
``GET /map/layers/<key>``          a GeoJSON FeatureCollection of the layer, filtered by
                                   ``bbox`` (west,south,east,north), a time window
                                   (``time_from``, ``time_to``) and the type's list filters
=================================  =============================================================

Every read goes through :func:`civmil.core.access.visible`; the views of a page of records are
decided in one batch (:func:`civmil.core.access.show_all`). Each feature is cut to the reader's
view: a record whose view withholds its geometry is no feature, withheld properties are absent and
named in ``withheld``; a reduced view that coarsens the place gets the coarsened geometry, and the
box meets that one. A record is kept by a time window or a filter only when its view shows the
fields they looked at, not coarsened, so neither reveals a withheld or exact value. Records the
reader gets no feature of are left out in the query, before ``limit`` and ``truncated``. Placed
models are found through :func:`civmil.core.spatial.overlapping` (their spatial index); point
layers through the range of their two float columns.
"""

import datetime as dt
import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal

from django.db import models
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema
from pydantic import create_model

from civmil.core import access, registry
from civmil.core.api import actor_of
from civmil.core.errors import Invalid
from civmil.core.geometry import Bounds
from civmil.core.geometry import bounds as geometry_bounds
from civmil.core.kernel import fields as kf
from civmil.core.kernel import queries as kq
from civmil.core.schemas import ERROR_RESPONSES, ApiDatetime

if TYPE_CHECKING:
    from civmil.core.acting import Actor

#: Colours given in order to the values of a layer's style field that its declaration leaves out.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
DEFAULT_LIMIT, MAX_LIMIT = 1000, 5000
BBOX_PATTERN = r"^-?\d+(\.\d+)?,-?\d+(\.\d+)?,-?\d+(\.\d+)?,-?\d+(\.\d+)?$"


class LegendItem(Schema):
    value: str
    label: str
    colour: str


class LayerOut(Schema):
    key: str = Field(description="The layer's key, as in its URL.")
    label: str
    style_field: str | None = Field(description="The field whose value picks each feature's colour.")
    legend: list[LegendItem]
    url: str


class FeatureOut(Schema):
    type: Literal["Feature"]
    id: str
    geometry: dict[str, Any] = Field(description="GeoJSON geometry, WGS84.")
    properties: dict[str, Any] = Field(description=(
        "The record as you see it (as its API gives it; withheld fields are absent and named in "
        "``withheld``), with ``colour`` and ``popup`` (title, URL and the card's lines)."))


class FeatureCollectionOut(Schema):
    type: Literal["FeatureCollection"]
    features: list[FeatureOut]
    truncated: bool = Field(description="More records matched than ``limit``: zoom in or narrow the filters.")
    limit: int


def layer_types() -> list[registry.RecordType]:
    return [t for t in registry.all_types() if t.layer is not None]


def _layer(record_type: registry.RecordType) -> registry.MapLayer:
    assert record_type.layer is not None
    return record_type.layer


def legend(record_type: registry.RecordType) -> list[dict[str, str]]:
    layer = _layer(record_type)
    if not layer.style:
        return []
    f = record_type.model._meta.get_field(layer.style)
    choices = [(str(v), str(label)) for v, label in (getattr(f, "choices", None) or [])]
    return [{"value": v, "label": label, "colour": colour_of(layer, v, [c for c, _l in choices])}
            for v, label in choices]


def colour_of(layer: registry.MapLayer, value: Any, values: list[str]) -> str:
    text = str(value)
    if text in layer.colours:
        return layer.colours[text]
    rest = [v for v in values if v not in layer.colours]
    return PALETTE[rest.index(text) % len(PALETTE)] if text in rest else PALETTE[-1]


def parse_bbox(text: str) -> Bounds:
    """``west,south,east,north`` in decimal degrees; :class:`Invalid` naming ``bbox`` otherwise."""

    def refuse(message: str) -> Invalid:
        return Invalid(message, errors={"bbox": [message]})

    parts = text.split(",")
    if len(parts) != 4:
        raise refuse(_("Give the box as west,south,east,north in decimal degrees."))
    try:
        west, south, east, north = (float(p) for p in parts)
    except ValueError:
        raise refuse(_("Give the box as west,south,east,north in decimal degrees.")) from None
    if not all(math.isfinite(v) for v in (west, south, east, north)):
        raise refuse(_("Give the box as west,south,east,north in decimal degrees."))
    if not (-180 <= west <= 180 and -180 <= east <= 180 and -90 <= south <= 90 and -90 <= north <= 90):
        raise refuse(_("Longitudes lie between -180 and 180, latitudes between -90 and 90."))
    if west > east or south > north:
        raise refuse(_("West must not be east of east, nor south north of north."))
    return Bounds(west=west, south=south, east=east, north=north)


def _time_window(record_type: registry.RecordType, qs: models.QuerySet[Any], starts: dt.datetime | None,
                 ends: dt.datetime | None) -> models.QuerySet[Any]:
    layer = _layer(record_type)
    if not layer.time or (starts is None and ends is None):
        return qs
    first, last = layer.time[0], layer.time[-1]
    is_date = isinstance(record_type.model._meta.get_field(first), models.DateField) and not isinstance(
        record_type.model._meta.get_field(first), models.DateTimeField)

    def bound(value: dt.datetime) -> Any:
        return value.date() if is_date else value

    if ends is not None:
        qs = qs.filter(**{f"{first}__lte": bound(ends)})
    if starts is not None:
        last_field = record_type.model._meta.get_field(last)
        after = models.Q(**{f"{last}__gte": bound(starts)})
        if getattr(last_field, "null", False):
            after |= models.Q(**{f"{last}__isnull": True})
        qs = qs.filter(after)
    return qs


def features_query(actor: "Actor", record_type: registry.RecordType, values: dict[str, Any], box: Bounds | None,
                   starts: dt.datetime | None, ends: dt.datetime | None) -> tuple[models.QuerySet[Any], set[str],
                                                                                 list[Any]]:
    """The records of the layer the reader gets a feature of, in the box and window, matching the
    filters; with the fields and custom filters a record's view must still satisfy.

    A record seen in part (:func:`civmil.core.kernel.queries.suspects`) is left out here, before
    any limit, unless its view shows its place and the fields the filters looked at, so neither the
    limit nor ``truncated`` counts records the reader gets no feature of. Where a reduced view
    coarsens the place, the box meets the coarsened place, never the exact one.
    """
    from civmil.core.spatial import overlapping

    layer = _layer(record_type)
    model = record_type.model
    fields = {f.name: f for f in kf.resolve(record_type)}
    qs = access.visible(actor, model._default_manager.all())
    qs, looked_at, custom = kq.apply_filters(actor, record_type, fields, qs, values)
    if layer.point is not None:
        lat, lon = layer.point
        qs = qs.filter(**{f"{lat}__isnull": False, f"{lon}__isnull": False})
        wide = qs = _time_window(record_type, qs, starts, ends)
        if box is not None:
            qs = qs.filter(**{f"{lat}__gte": box.south, f"{lat}__lte": box.north,
                              f"{lon}__gte": box.west, f"{lon}__lte": box.east})
    else:
        qs = qs.filter(models.Q(west__isnull=False))
        if layer.time:
            wide = qs = _time_window(record_type, qs, starts, ends)
            qs = overlapping(qs, box)
        else:
            wide, qs = overlapping(qs, None, starts, ends), overlapping(qs, box, starts, ends)
    if starts is not None or ends is not None:
        looked_at.update(layer.time or ("starts_at", "ends_at"))
    # The exact place decides the box only where no view coarsens it: otherwise the records seen in
    # part are looked at across the whole layer, and kept by their coarsened place.
    coarse = box is not None and any(fields[n].spec.coarsen is not None for n in _place(layer) if n in fields)
    hidden: list[Any] = []
    moved: list[Any] = []
    for s in kq.suspects(actor, record_type, wide if coarse else qs):
        geometry = _geometry(layer, fields, s)
        if geometry is None or not _still_matches(fields, s, looked_at, custom):
            hidden.append(s.record.pk)
        elif coarse and _coarsened(fields, s, _place(layer)):
            assert box is not None
            (moved if _meets(geometry, box) else hidden).append(s.record.pk)
    if moved:
        qs = wide.filter(models.Q(pk__in=qs.values("pk")) | models.Q(pk__in=moved))
    if hidden:
        qs = qs.exclude(pk__in=hidden)
    return qs.select_related("owner").order_by("pk"), looked_at, custom


def _place(layer: registry.MapLayer) -> tuple[str, ...]:
    """The fields a feature's geometry is made of."""
    return layer.point or ("geometry",)


def _coarsened(fields: dict[str, kf.Field], shown: access.Shown[Any], names: Iterable[str]) -> bool:
    """Does the reader's view give any of ``names`` coarsened (a reduced view of a field whose
    declaration coarsens it)?"""
    return shown.reduced and any(fields[n].spec.coarsen is not None for n in names if n in fields)


def _value(fields: dict[str, kf.Field], shown: access.Shown[Any], name: str) -> Any:
    """The value the reader's view gives of ``name`` (coarsened in a reduced view); the caller has
    checked that the view shows it."""
    return kf.value_of(fields[name], shown) if name in fields else getattr(shown.record, name)


def _still_matches(fields: dict[str, kf.Field], shown: access.Shown[Any], looked_at: set[str],
                   custom: list[tuple[Any, Any]]) -> bool:
    """Does the record still match the filters as the reader sees it? A field the view coarsens
    counts as not shown: the filters looked at its exact value."""
    looks_at = set(looked_at).union(*(extra.looks_at for extra, _given in custom))
    return kq.still_matches(shown, looked_at, custom, "", ()) and not _coarsened(fields, shown, looks_at)


def _meets(geometry: dict[str, Any], box: Bounds) -> bool:
    """Does ``geometry`` (as the reader sees it) meet ``box``? Edges that touch meet."""
    if geometry.get("type") == "Point":
        x, y = geometry["coordinates"][:2]
        return bool(box.west <= x <= box.east and box.south <= y <= box.north)
    there = geometry_bounds(geometry)
    return there.east >= box.west and there.west <= box.east and there.north >= box.south and there.south <= box.north


def _geometry(layer: registry.MapLayer, fields: dict[str, kf.Field], shown: access.Shown[Any]) -> dict[str, Any] | None:
    """The feature's geometry as the reader's view gives it (coarsened in a reduced view whose
    declaration coarsens the place); ``None`` when the view withholds it."""
    if layer.point is not None:
        lat, lon = layer.point
        if not (shown.view.shows(lat) and shown.view.shows(lon)):
            return None
        y, x = _value(fields, shown, lat), _value(fields, shown, lon)
        return {"type": "Point", "coordinates": [x, y]} if x is not None and y is not None else None
    if not shown.view.shows("geometry"):
        return None
    geometry = _value(fields, shown, "geometry")
    return geometry if isinstance(geometry, dict) else None


def features(actor: "Actor", record_type: registry.RecordType, records: list[Any], looked_at: set[str],
             custom: list[tuple[Any, Any]]) -> list[dict[str, Any]]:
    """GeoJSON features of ``records`` as the reader sees them (views decided in one batch)."""
    layer = _layer(record_type)
    fields = kf.resolve(record_type)
    by_name = {f.name: f for f in fields}
    many = [f.name for f in fields if f.kind == kf.MANY]
    if many:
        models.prefetch_related_objects(records, *many)
    shown = access.show_all(actor, records)
    page = kf.Page.of(actor, fields, shown)
    style_values = [v for v, _label in (getattr(record_type.model._meta.get_field(layer.style), "choices", None)
                                          or [])] if layer.style else []
    style_values = [str(v) for v in style_values]
    out = []
    for s in shown:
        geometry = _geometry(layer, by_name, s)
        if geometry is None or not _still_matches(by_name, s, looked_at, custom):
            continue
        props = kf.record_json(fields, s, page)
        if not fields:  # a type outside the kernel: its layer's own fields, as its view shows them
            for name in layer.fields():
                if s.view.shows(name):
                    props[name] = getattr(s.record, name)
                elif name not in props["withheld"]:
                    props["withheld"].append(name)
        props.pop("shown", None)
        if layer.style and s.view.shows(layer.style):
            props["colour"] = colour_of(layer, getattr(s.record, layer.style), style_values)
        cells = kf.cells(fields, s, page)
        props["popup"] = {
            "title": f"{record_type.label} ({cells['owner'].text})",
            "url": _url(record_type, s.record.pk),
            "lines": [{"label": f.label, "text": cells[f.name].plain()} for f in fields
                      if f.spec.on_card and not cells[f.name].withheld and cells[f.name].plain()],
        }
        out.append({"type": "Feature", "id": str(s.record.pk), "geometry": geometry,
                    "properties": _jsonable(props)})
    return out


def _url(record_type: registry.RecordType, pk: Any) -> str:
    from django.urls import NoReverseMatch

    from civmil.core.pages import record_url

    try:
        return record_url(record_type.detail_url_name, pk) if record_type.detail_url_name else ""
    except NoReverseMatch:
        return ""


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _query_schema(record_type: registry.RecordType) -> Any:
    from civmil.core.kernel.api import schemas

    base = schemas(record_type)["query"]
    kept = {name: (info.annotation, info) for name, info in base.model_fields.items()
            if name not in ("limit", "offset", "q")}
    return create_model(
        f"{record_type.model.__name__}LayerQuery", __base__=Schema,
        bbox=(str | None, Field(None, max_length=200, pattern=BBOX_PATTERN,
                                description="west,south,east,north in decimal degrees (WGS84).")),
        time_from=(ApiDatetime | None, Field(None, description="Only records of this time or later.")),
        time_to=(ApiDatetime | None, Field(None, description="Only records of this time or earlier.")),
        limit=(int, Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="At most this many features.")),
        **kept)  # type: ignore[call-overload]


def layer_path(record_type: registry.RecordType) -> str:
    return f"/map/layers/{record_type.key}"


def map_router() -> Router:
    """The map's API: built when the API is, from the types registered by then."""
    router = Router(tags=["map"])

    @router.get("/map/layers", response={200: list[LayerOut], **ERROR_RESPONSES}, url_name="map-layers",
                summary="Map layers")
    def layers(request: HttpRequest) -> list[dict[str, Any]]:
        """The layers you may see: a record type you may read records of (by its levels, or by a
        record of it you may see, e.g. through a release)."""
        actor = actor_of(request)
        readable = set(access.levels_for(actor))
        out = []
        for t in layer_types():
            if not actor.is_authenticated:
                continue
            if not (readable & {str(lv) for lv in t.levels}) and not access.visible(
                    actor, t.model._default_manager.all()).exists():
                continue
            layer = _layer(t)
            out.append({"key": t.key, "label": str(layer.label or t.model._meta.verbose_name_plural),
                        "style_field": layer.style or None, "legend": legend(t),
                        "url": "/api/v1" + layer_path(t)})
        return out

    for record_type in layer_types():
        _add_layer_route(router, record_type)
    return router


def _add_layer_route(router: Router, record_type: registry.RecordType) -> None:
    query = _query_schema(record_type)
    name = record_type.model._meta.model_name

    def one_layer(request: HttpRequest, filters: Query[query]) -> dict[str, Any]:  # type: ignore[valid-type]
        actor = actor_of(request)
        p: Any = filters
        box = parse_bbox(p.bbox) if p.bbox else None
        if p.time_from is not None and p.time_to is not None and p.time_from > p.time_to:
            message = _("The window ends before it starts.")
            raise Invalid(message, errors={"time_to": [message]})
        values = p.model_dump(exclude={"bbox", "time_from", "time_to", "limit"})
        qs, looked_at, custom = features_query(actor, record_type, values, box, p.time_from, p.time_to)
        records = list(qs[:p.limit + 1])
        truncated = len(records) > p.limit
        return {"type": "FeatureCollection", "limit": p.limit, "truncated": truncated,
                "features": features(actor, record_type, records[:p.limit], looked_at, custom)}

    one_layer.__doc__ = (f"{record_type.model._meta.verbose_name_plural} you may see, as GeoJSON: each cut to "
                         "your view; a record whose place you may not see is no feature.")
    router.get(layer_path(record_type), response={200: FeatureCollectionOut, **ERROR_RESPONSES},
               url_name=f"map-layer-{name}", summary=f"Map layer: {record_type.model._meta.verbose_name_plural}")(
        one_layer)

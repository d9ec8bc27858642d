"""Map layers of the record types that declare one (``RecordType.layer``, a :class:`MapLayer`).

=================================  =============================================================
``GET /map/layers``                the layers the reader may see: label, legend, URL
``GET /map/layers/<key>``          a GeoJSON FeatureCollection of the layer, filtered by
                                   ``bbox`` (west,south,east,north), a time window
                                   (``time_from``, ``time_to``) and the type's list filters
=================================  =============================================================

Every read goes through :func:`civmil.core.access.visible`; the views of a page of records are
decided in one batch from the rows read (:func:`civmil.core.access.views_for`). Each feature is
lean and cut to the reader's view: its place, title, level, colour and the layer's time, with the
fields the view withholds named in ``withheld``; the popup is the record's card, loaded when the
feature is clicked. A record whose view withholds its geometry is no feature; a reduced view that
coarsens the place gets the coarsened geometry, and the box meets that one. A record is kept by a
time window or a filter only when its view shows the fields they looked at, not coarsened, so
neither reveals a withheld or exact value. Records the reader gets no feature of count neither in
``limit`` nor in ``truncated`` (:func:`layer_page`). Placed models are found through
:func:`civmil.core.spatial.overlapping` (their spatial index); point
layers through the range of their two float columns.
"""

import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import orjson
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.utils.text import capfirst
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
from civmil.core.kernel.api import area_of, named
from civmil.core.schemas import ERROR_RESPONSES, ApiDatetime

if TYPE_CHECKING:
    from civmil.core.acting import Actor

#: Colours given in order to the values of a layer's style field that its declaration leaves out.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
DEFAULT_LIMIT, MAX_LIMIT = 1000, 5000
#: Rounds of reading a page again without the records that got no feature, before the records seen
#: in part are looked at across the whole query.
PAGE_ROUNDS = 3
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
        "What the map draws of the record, as your view gives it: ``title``, ``level``, ``view`` (full or "
        "reduced), ``url`` (the record's page), ``card`` (the record's card, the popup: load it when the "
        "feature is clicked), ``colour`` and the value of the layer's style field, the layer's time fields, "
        "and ``withheld``: the record's fields your view withholds (absent here and on the card)."))


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


@dataclass
class _Matching:
    """The records of a layer the reader may know exist in the box and window, matching the
    filters (``qs``), before the records seen in part are checked; ``wide`` is the same without
    the box. ``looked_at`` and ``custom``: what a record's view must still satisfy."""

    qs: models.QuerySet[Any]
    wide: models.QuerySet[Any]
    looked_at: set[str]
    custom: list[Any]
    box: Bounds | None
    #: Does a reduced view coarsen the place, so that the box must meet the coarsened place?
    coarse: bool


def _matching(actor: "Actor", record_type: registry.RecordType, values: dict[str, Any], box: Bounds | None,
              starts: dt.datetime | None, ends: dt.datetime | None) -> _Matching:
    from civmil.core.spatial import overlapping, time_fields

    layer = _layer(record_type)
    model = record_type.model
    fields = {f.name: f for f in kf.resolve(record_type)}
    # With a box, an index narrows the records first: the policy is then checked on each of them.
    level = values.get("level") or None
    qs = (access.visible(actor, model._default_manager.all()) if box is None
          else access.visible_among(actor, model._default_manager.all(), str(level) if level else None))
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
            wide = _time_window(record_type, qs, starts, ends)
            # When the layer's time is the spatial index's, the index narrows box and window at once,
            # and the window is compared once: PostgreSQL's planner took the comparisons written twice
            # for a narrower window than the index finds, and read the time's own index beside it.
            same = time_fields(model) == (layer.time[0], layer.time[-1])
            qs = overlapping(qs, box, starts, ends) if same else overlapping(wide, box)
        else:
            wide, qs = overlapping(qs, None, starts, ends), overlapping(qs, box, starts, ends)
    if starts is not None or ends is not None:
        looked_at.update(layer.time or ("starts_at", "ends_at"))
    coarse = box is not None and any(fields[n].spec.coarsen is not None for n in _place(layer) if n in fields)
    return _Matching(qs, wide, looked_at, custom, box, coarse)


def _exact(actor: "Actor", record_type: registry.RecordType, found: _Matching) -> models.QuerySet[Any]:
    """``found`` without the records the reader gets no feature of, looked at across the whole
    query (with the records whose coarsened place meets the box where a view coarsens it)."""
    layer = _layer(record_type)
    fields = {f.name: f for f in kf.resolve(record_type)}
    qs, wide, box = found.qs, found.wide, found.box
    # The exact place decides the box only where no view coarsens it: otherwise the records seen in
    # part are looked at across the whole layer, and kept by their coarsened place.
    hidden: list[Any] = []
    moved: list[Any] = []
    for s in kq.suspects(actor, record_type, wide if found.coarse else qs):
        geometry = _geometry(layer, fields, s)
        if geometry is None or not _still_matches(fields, s, found.looked_at, found.custom):
            hidden.append(s.record.pk)
        elif found.coarse and _coarsened(fields, s, _place(layer)):
            assert box is not None
            (moved if _meets(geometry, box) else hidden).append(s.record.pk)
    if moved:
        qs = wide.filter(models.Q(pk__in=qs.values("pk")) | models.Q(pk__in=moved))
    if hidden:
        qs = qs.exclude(pk__in=hidden)
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
    found = _matching(actor, record_type, values, box, starts, ends)
    return _exact(actor, record_type, found).order_by("pk"), found.looked_at, found.custom


def layer_page(actor: "Actor", record_type: registry.RecordType, values: dict[str, Any], box: Bounds | None,
               starts: dt.datetime | None, ends: dt.datetime | None, limit: int) -> tuple[list[dict[str, Any]], bool]:
    """The first ``limit`` features (by id) of the records :func:`features_query` keeps, and
    whether more matched (``truncated``).

    The page is read first and its views decided in one batch: where every record read gets a
    feature, those are the first of the records the reader gets a feature of, and no other record
    needs a look. Where some get none (a view withholding the place, or a field a filter looked
    at), they are left out and the page read again, so that neither the page nor ``truncated``
    counts them; after a few rounds, or where a view coarsens the place, the records seen in part
    are looked at across the whole query (:func:`features_query`).
    """
    found = _matching(actor, record_type, values, box, starts, ends)
    if not found.coarse:
        hidden: list[Any] = []
        for _round in range(PAGE_ROUNDS):
            qs = found.qs.exclude(pk__in=hidden) if hidden else found.qs
            out, dropped = _features(actor, record_type, _read(record_type, qs, limit + 1), found.looked_at,
                                     found.custom, stored=True)
            if not dropped or len(out) + len(dropped) <= limit:
                return out[:limit], len(out) > limit
            hidden.extend(dropped)
    out, _dropped = _features(actor, record_type, _read(record_type, _exact(actor, record_type, found), limit + 1),
                              found.looked_at, found.custom, stored=True)
    return out[:limit], len(out) > limit


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
        return _point(_value(fields, shown, lat), _value(fields, shown, lon))
    if not shown.view.shows("geometry"):
        return None
    geometry = _value(fields, shown, "geometry")
    return geometry if isinstance(geometry, dict) else None


def time_fields(record_type: registry.RecordType) -> tuple[str, ...]:
    """The fields a feature carries its time in: the layer's, or a period's start and end."""
    layer = _layer(record_type)
    if layer.time:
        return layer.time
    names = {f.name for f in record_type.model._meta.get_fields()}
    return ("starts_at", "ends_at") if {"starts_at", "ends_at"} <= names else ()


def _columns(record_type: registry.RecordType) -> list[str]:
    """What a feature is made of: the facts its view is decided from, its place, style and time."""
    layer = _layer(record_type)
    extra = [n for n in (*_place(layer), layer.style, *time_fields(record_type)) if n]
    return ["pk", "space_id", "level", "owner_id", "created_by_id", *dict.fromkeys(extra)]


#: The columns of :func:`_columns` that many rows of a page share: converted once per value.
_SHARED = frozenset({"space_id", "level", "owner_id", "created_by_id"})


def _read(record_type: registry.RecordType, qs: models.QuerySet[Any], n: int) -> list[Any]:
    """The first ``n`` records of ``qs`` by id, as rows of :func:`_columns` (no model instances),
    whose geometry (a placed type's) is the stored GeoJSON text (:func:`_features` puts it in the
    feature as it is, or reads it where a view must cut it).

    Each value is what Django would make of it, but a thousand rows are not worth Django's
    converters for every value: a value many rows share (the space, level, owner, submitter and
    style) is converted once, and the geometry not at all."""
    from django.db.models.sql.constants import MULTI
    from django.db.models.utils import create_namedtuple_class

    layer = _layer(record_type)
    columns = _columns(record_type)
    query = qs.order_by("pk").values_list(*columns)[:n].query
    compiler = query.get_compiler(qs.db)
    raw_rows = [row for chunk in compiler.execute_sql(MULTI) for row in chunk]
    if not raw_rows:
        return []
    selected = [s[0] for s in compiler.select[:compiler.col_count]]
    assert len(selected) == len(columns), "a row holds the columns asked for"
    connection = compiler.connection
    shared = _SHARED | {layer.style}
    conversions = []
    for pos, (converters, expression) in compiler.get_converters(selected).items():
        name = columns[pos]
        if name == "geometry" and layer.point is None:
            continue

        def convert(value: Any, converters: list[Any] = converters, expression: Any = expression) -> Any:
            for converter in converters:
                value = converter(value, expression, connection)
            return value

        conversions.append((pos, _once_per_value(convert) if name in shared else convert))
    row_class = create_namedtuple_class(*columns)
    new = tuple.__new__
    rows = []
    for raw in raw_rows:
        row = list(raw[:len(columns)])
        for pos, convert in conversions:
            row[pos] = convert(row[pos])
        rows.append(new(row_class, row))
    return rows


def _once_per_value(convert: Any) -> Any:
    """``convert``, called once for each distinct value."""
    done: dict[Any, Any] = {}

    def once(value: Any) -> Any:
        try:
            return done[value]
        except KeyError:
            out = done[value] = convert(value)
            return out

    return once


def features(actor: "Actor", record_type: registry.RecordType, records: list[Any], looked_at: set[str],
             custom: list[tuple[Any, Any]]) -> list[dict[str, Any]]:
    """GeoJSON features of ``records`` (model instances, or rows of :func:`_columns`) as the reader
    sees them (views decided in one batch); a record the reader gets no feature of is left out."""
    return _features(actor, record_type, records, looked_at, custom)[0]


def _features(actor: "Actor", record_type: registry.RecordType, records: list[Any], looked_at: set[str],
              custom: list[tuple[Any, Any]], *, stored: bool = False) -> tuple[list[dict[str, Any]], list[Any]]:
    """:func:`features`, and the ids of the records left out; ``stored``: the records are rows of
    :func:`_read`, whose geometry is the stored GeoJSON text.

    A feature is lean: its place, id, title, level, view, colour and the layer's style and time
    values as the view gives them, the fields the view withholds, and the URLs of the record's page
    and card (the popup, loaded when the feature is clicked). A record seen in full needs nothing
    more than its row (its stored geometry goes into the response as it is, neither read nor
    written again); one seen in part is read whole and checked as the lists check it."""
    from civmil.core.models import Organisation

    if not records:
        return [], []
    layer = _layer(record_type)
    model = record_type.model
    fields = kf.resolve(record_type)
    by_name = {f.name: f for f in fields}
    declared = tuple(f.name for f in fields) or layer.fields()
    times = time_fields(record_type)
    views = access.views_for(actor, model, records)
    partial = [r.pk for r, v in zip(records, views, strict=True) if v.kind != access.ViewKind.FULL]
    whole: dict[Any, Any] = {}
    if partial and not isinstance(records[0], model):
        whole = model._default_manager.in_bulk(partial)
    owners = {pk: acronym or name for pk, acronym, name in Organisation.objects.filter(
        pk__in={r.owner_id for r in records}).values_list("pk", "acronym", "name")}
    style_values = [str(v) for v, _label in (getattr(model._meta.get_field(layer.style), "choices", None)
                                              or [])] if layer.style else []
    colours: dict[str, str] = {}  # by value, decided once each
    page_url, card_url = _urls(record_type.detail_url_name), _urls(record_type.card_url)
    label = capfirst(record_type.label)
    out, dropped = [], []
    for record, view in zip(records, views, strict=True):
        pk = record.pk
        full = view.kind == access.ViewKind.FULL
        # A full view shows the record as it is: its row is all a feature needs.
        if full:
            shown = access.Shown(record, view)
        else:
            # A view that cuts the record is decided on the record read whole (or, if it is gone
            # since, on its row with the geometry read).
            shown = access.Shown(whole[pk] if pk in whole else _read_place(record_type, record) if stored
                                 else record, view)
        geometry: Any
        if full and layer.point:
            geometry = _point(getattr(record, layer.point[0]), getattr(record, layer.point[1]))
        elif full and stored:
            # Stored GeoJSON is valid JSON (the column is checked); an object is a geometry.
            text = record.geometry
            geometry = orjson.Fragment(text) if isinstance(text, str) and text.lstrip()[:1] == "{" else None
        elif full:
            geometry = record.geometry if isinstance(record.geometry, dict) else None
        else:
            geometry = _geometry(layer, by_name, shown)
        if geometry is None or not (full or _still_matches(by_name, shown, looked_at, custom)):
            dropped.append(pk)
            continue
        key = str(pk)
        props: dict[str, Any] = {
            "title": f"{label} ({owners.get(record.owner_id, '')})", "level": record.level,
            "view": "full" if full else "reduced", "url": page_url(key), "card": card_url(key),
            "withheld": [] if full else [n for n in declared if not view.shows(n)],
        }
        if layer.style and view.shows(layer.style):
            value = getattr(record, layer.style) if full else _value(by_name, shown, layer.style)
            props[layer.style] = value
            text = str(value)
            colour = colours.get(text)
            if colour is None:
                colour = colours[text] = colour_of(layer, text, style_values)
            props["colour"] = colour
        for name in times:
            if full:
                props[name] = getattr(record, name)
            elif view.shows(name):
                props[name] = _value(by_name, shown, name)
        out.append({"type": "Feature", "id": key, "geometry": geometry, "properties": props})
    return out, dropped


def _read_place(record_type: registry.RecordType, row: Any) -> Any:
    """A row of :func:`_read` with its stored geometry read, as Django reads it."""
    from django.db import connection

    model: Any = record_type.model
    place = model._meta.get_field("geometry")
    return row._replace(geometry=place.from_db_value(row.geometry, None, connection))


def _point(y: Any, x: Any) -> dict[str, Any] | None:
    return {"type": "Point", "coordinates": [x, y]} if x is not None and y is not None else None


def _urls(name: str) -> Any:
    """Each record's URL of pattern ``name`` (empty where the type has none)."""
    from django.urls import NoReverseMatch

    from civmil.core.pages import record_urls

    if name:
        try:
            return record_urls(name)
        except (NoReverseMatch, ValueError):
            pass
    return lambda pk: ""


def _json(value: Any) -> Any:
    """What :mod:`orjson` does not write itself (a lazy translation, a decimal) as text."""
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

    @router.get("/map/layers", response={200: list[LayerOut], **ERROR_RESPONSES}, **named("map-layers"),
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

    def one_layer(request: HttpRequest, filters: Query[query]) -> HttpResponse:  # type: ignore[valid-type]
        actor = actor_of(request)
        p: Any = filters
        box = parse_bbox(p.bbox) if p.bbox else None
        if p.time_from is not None and p.time_to is not None and p.time_from > p.time_to:
            message = _("The window ends before it starts.")
            raise Invalid(message, errors={"time_to": [message]})
        values = p.model_dump(exclude={"bbox", "time_from", "time_to", "limit"})
        area_of(values)
        found, truncated = layer_page(actor, record_type, values, box, p.time_from, p.time_to, p.limit)
        # Written straight to bytes: the features are built to the schema, and a thousand of them
        # are not worth validating again on the way out.
        body = {"type": "FeatureCollection", "limit": p.limit, "truncated": truncated, "features": found}
        return HttpResponse(orjson.dumps(body, default=_json, option=orjson.OPT_UTC_Z),
                            content_type="application/json")

    one_layer.__doc__ = (f"{record_type.model._meta.verbose_name_plural} you may see, as GeoJSON: each cut to "
                         "your view; a record whose place you may not see is no feature.")
    router.get(layer_path(record_type), response={200: FeatureCollectionOut, **ERROR_RESPONSES},
               **named(f"map-layer-{name}"), summary=f"Map layer: {record_type.model._meta.verbose_name_plural}")(
        one_layer)


def place_of(record_type: registry.RecordType, shown: access.Shown[Any]) -> dict[str, Any] | None:
    """A record's place on its layer as the reader's view gives it (GeoJSON; coarsened in a
    reduced view whose declaration coarsens it; ``None`` when the view withholds it)."""
    return _geometry(_layer(record_type), {f.name: f for f in kf.resolve(record_type)}, shown)

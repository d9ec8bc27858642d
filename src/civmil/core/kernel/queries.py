"""Reads of the record kernel: a type's list with its filters, through the access policy.

A filter matches only records whose view shows the fields it looked at: a record the reader
sees only through a release of some fields (or a type's floor) is kept only when those fields
are released, so a filter never reveals a withheld value. Text search matches only the text
the reader's view shows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import models
from django.db.models import Case, F, Q, Value, When
from django.utils.translation import gettext as _

from civmil.core import access, registry
from civmil.core.kernel import areas as kernel_areas
from civmil.core.kernel import fields as kf

if TYPE_CHECKING:
    from civmil.core.acting import Actor


@dataclass(frozen=True)
class ListFilter:
    """A filter of a type's list beyond its fields' own (declared in ``RecordType.list_filters``).

    ``form_field(actor)`` makes the page's input and ``api_type`` the API's query parameter (both
    give ``None`` or a falsy value for "no filter"). ``apply(actor, qs, value)`` narrows the
    query; ``keep(shown, value)`` says whether a record still matches as the reader sees it
    (default: its view shows every field of ``looks_at``).
    """

    name: str
    form_field: Callable[[Actor], Any]
    api_type: Any
    apply: Callable[[Actor, models.QuerySet[Any], Any], models.QuerySet[Any]]
    looks_at: tuple[str, ...] = ()
    keep: Callable[[access.Shown[Any], Any], bool] | None = None
    description: str = ""


def field_filter(f: kf.Field, value: Any, qs: models.QuerySet[Any], suffix: str = "") -> models.QuerySet[Any]:
    if f.kind == kf.DATETIME and isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time.min if suffix == "gte" else dt.time.max, dt.UTC)
    lookup = f"{f.name}__{suffix}" if suffix else f.name
    return qs.filter(**{lookup: value})


def apply_filters(actor: Actor, record_type: registry.RecordType, fields: dict[str, kf.Field],
                  qs: models.QuerySet[Any], values: dict[str, Any],
                  ) -> tuple[models.QuerySet[Any], set[str], list[tuple[ListFilter, Any]]]:
    """``qs`` narrowed by the filter ``values`` (filter name -> cleaned value; ranges as
    ``<field>_from`` / ``<field>_to``; the type's own list filters), with the fields the filters
    looked at and the type's own filters applied: a record seen in part still has to match them
    on what its view shows (:func:`still_matches`)."""
    looked_at: set[str] = set()
    custom: list[tuple[ListFilter, Any]] = []
    for name, value in values.items():
        if value in (None, "", [], False):
            continue
        if name == "level":
            qs = qs.filter(level=value)
        elif name == kernel_areas.NAME and isinstance(value, kernel_areas.ChosenArea):
            qs = kernel_areas.within(actor, record_type, qs, value)
        elif name in fields:
            qs = field_filter(fields[name], value, qs)
            looked_at.add(name)
        elif name.endswith(("_from", "_to")) and name.rsplit("_", 1)[0] in fields:
            base, end = name.rsplit("_", 1)
            qs = field_filter(fields[base], value, qs, "gte" if end == "from" else "lte")
            looked_at.add(base)
        else:
            extra = next((x for x in record_type.list_filters if x.name == name), None)
            if extra is not None:
                qs = extra.apply(actor, qs, value)
                custom.append((extra, value))
    return qs, looked_at, custom


def filtered(actor: Actor, record_type: registry.RecordType, values: dict[str, Any], *,
             sort: str = "") -> models.QuerySet[Any]:
    """Records of ``record_type`` the reader may know exist, matching ``values`` (filter name ->
    cleaned value; ranges as ``<field>_from`` / ``<field>_to``, text as ``q``)."""
    model = record_type.model
    fields = {f.name: f for f in kf.resolve(record_type)}
    qs = access.visible(actor, model._default_manager.all()).select_related("owner")
    qs, looked_at, custom = apply_filters(actor, record_type, fields, qs, values)
    q = str(values.get("q") or "").strip()
    searched = [f for f in record_type.search_fields if f in fields]
    if q and searched:
        text = Q()
        for name in searched:
            text |= Q(**{f"{name}__icontains": q})
        qs = qs.filter(text)
    sorted_by = _sort_field(fields, sort)
    filtering = bool(looked_at or custom or (q and searched))
    if not (filtering or sorted_by):
        return qs.order_by(*_ordering(record_type, ""))
    partly = suspects(actor, record_type, qs)
    hidden = [s.record.pk for s in partly if filtering and not still_matches(s, looked_at, custom, q, searched)]
    if hidden:
        qs = qs.exclude(pk__in=hidden)
    return _sorted(record_type, fields, qs, sort, partly)


def sorted_list(actor: Actor, record_type: registry.RecordType, qs: models.QuerySet[Any],
                sort: str) -> models.QuerySet[Any]:
    """``qs`` (the reader's records of a type's own filters) in the order of ``sort`` (a sortable
    field's name, ``-`` first for descending), as :func:`filtered` orders; unchanged without one."""
    fields = {f.name: f for f in kf.resolve(record_type)}
    if not _sort_field(fields, sort):
        return qs
    return _sorted(record_type, fields, qs, sort, suspects(actor, record_type, qs))


def _sorted(record_type: registry.RecordType, fields: dict[str, kf.Field], qs: models.QuerySet[Any], sort: str,
            partly: list[access.Shown[Any]]) -> models.QuerySet[Any]:
    sorted_by = _sort_field(fields, sort)
    # A record whose view withholds the sort field sorts as if it had no value: its place in the
    # list never tells where its hidden value lies.
    withheld = [s.record.pk for s in partly if sorted_by and not s.full and not s.view.shows(sorted_by)]
    return qs.order_by(*_ordering(record_type, sort if sorted_by else "", fields.get(sorted_by) if withheld else None,
                                  withheld))


def _sort_field(fields: dict[str, kf.Field], sort: str) -> str:
    """The field a list is sorted by (``sort`` is its name, ``-`` first for descending), or ""."""
    name = sort.lstrip("-")
    return name if name in fields and fields[name].spec.sort else ""


def _ordering(record_type: registry.RecordType, sort: str, masked: kf.Field | None = None,
              withheld: Sequence[Any] = ()) -> list[Any]:
    """The list's order: by ``sort`` (a sortable field's name, ``-`` first for descending; ``masked``:
    that field, whose value counts as null for the records of ``withheld``), else the model's own."""
    if masked is not None:
        key = Case(When(pk__in=withheld, then=Value(None)), default=F(masked.name),
                   output_field=masked.model_field)
        return [key.desc() if sort.startswith("-") else key.asc(), "id"]
    if sort:
        return [sort, "id"]
    return [*(record_type.model._meta.ordering or ["-created_at"]), "id"]


def suspects(actor: Actor, record_type: registry.RecordType, qs: models.QuerySet[Any]) -> list[access.Shown[Any]]:
    """The records of ``qs`` the reader might see only in part (through released fields or the
    type's floor), with their views; records seen in full need no second look."""
    if not actor.is_authenticated:
        return []
    if actor.component in record_type.floor_components:
        return access.show_all(actor, qs)
    candidates = access.active_releases(actor, record_type.model).filter(fields__isnull=False).values("object_id")
    return access.show_all(actor, qs.filter(pk__in=candidates))


def still_matches(shown: access.Shown[Any], looked_at: set[str], custom: Sequence[tuple[ListFilter, Any]],
                   q: str, searched: Sequence[str]) -> bool:
    if shown.full:
        return True
    if not all(shown.view.shows(name) for name in looked_at):
        return False
    for extra, value in custom:
        if extra.keep is not None:
            if not extra.keep(shown, value):
                return False
        elif not all(shown.view.shows(name) for name in extra.looks_at):
            return False
    if q and searched:
        return any(q.lower() in str(getattr(shown.record, name) or "").lower()
                   for name in searched if shown.view.shows(name))
    return True


# ---------------------------------------------------------------------------------------------
# What the pages and the API show beside a record: people, choices of related records, history


def pickable(actor: Actor, model: Any) -> models.QuerySet[Any]:
    """The records a reader may pick for a related field: protected ones (people) through the
    policy, reference data (organisations, areas) to signed-in readers only."""
    manager = model._default_manager
    if not actor.is_authenticated:
        return manager.none()  # type: ignore[no-any-return]
    try:
        registry.get(model)
    except LookupError:
        return manager.all()  # type: ignore[no-any-return]
    return access.visible(actor, manager.all())


def people_names(actor: Actor, ids: Iterable[Any]) -> dict[str, str]:
    """Names of the people among ``ids`` that ``actor`` may know exist, by id as text."""
    from civmil.core.models import Person

    wanted = [i for i in ids if i]
    if not wanted:
        return {}
    return {str(pk): name for pk, name in access.visible(actor, Person.objects.filter(pk__in=wanted))
            .values_list("pk", "full_name")}


def history_of(actor: Actor, shown: access.Shown[Any]) -> list[dict[str, Any]]:
    """The record's ledger history cut to the reader's view (people they may not see withheld,
    values coarsened as the record's page coarsens them)."""
    from civmil.core.models import LedgerEntry, Person

    obj = shown.record
    may_release = access.may(actor, access.Action.RELEASE, obj)
    # Releases and grants are their owner's business; attachments are for signed-in readers of the
    # whole record (a reduced view, or an anonymous visitor of a PUBLIC record, reads no files).
    files = actor.is_authenticated and shown.full
    withheld = (() if may_release else ("release.", "grant.")) + (() if files else ("attachment.",))
    entries = [e for e in LedgerEntry.objects.filter(object_type=f"{obj._meta.app_label}.{obj._meta.model_name}",
                                                     object_id=str(obj.pk)).select_related("change").order_by("seq")
               if not e.action.startswith(withheld)]
    person_keys = {"target_person", "person"} | {
        f.name for f in type(obj)._meta.get_fields()
        if getattr(f, "concrete", False) and (f.many_to_many or f.many_to_one) and f.related_model is Person}
    stored = [e.change.data if hasattr(e, "change") and e.change.data is not None else {} for e in entries]
    cut = [{k: v for k, v in data.items() if k != "version" and (shown.view.shows(k) or k in (
        "target_organisation", "target_component", "target_person", "fields", "release"))} for data in stored]
    inside = {str(i) for c in cut for k, v in c.items() if k in person_keys
              for i in (v if isinstance(v, list) else [v]) if i}
    visible = set(people_names(actor, uuids(inside)))
    user_ids = {e.actor_user_id for e in entries if e.actor_user_id is not None}
    authors: dict[Any, str] = {}
    if user_ids:
        people = Person.objects.filter(user_id__in=user_ids)
        authors = dict.fromkeys(user_ids - set(people.values_list("user_id", flat=True)), _("a user"))
        for s in access.show_all(actor, access.visible(actor, people)):
            if s.full_name:
                authors[s.record.user_id] = str(s.full_name)

    declared = {f.name: f for f in kf.resolve(registry.get(type(obj)))}

    def shown_as(name: str, value: Any) -> Any:
        if name in person_keys:
            return through(value)
        return kf.stored_value(declared[name], shown, value) if name in declared else value

    def through(value: Any) -> Any:
        if isinstance(value, list):
            seen = [str(v) for v in value if str(v) in visible]
            return [*seen, "withheld"] if len(seen) < len([v for v in value if v]) else seen
        return value if not value or str(value) in visible else "withheld"

    return [{
        "version": data.get("version"), "action": e.action, "recorded_at": e.recorded_at,
        "actor": _("console") if e.actor_user_id is None else authors.get(e.actor_user_id, _("withheld")),
        "changes": {k: shown_as(k, v) for k, v in c.items()},
    } for e, data, c in zip(entries, stored, cut, strict=True)]


def uuids(values: set[str]) -> list[Any]:
    """The ids among ``values`` (text) that are UUIDs."""
    import uuid

    out = []
    for v in values:
        try:
            out.append(uuid.UUID(v))
        except ValueError:
            continue
    return out



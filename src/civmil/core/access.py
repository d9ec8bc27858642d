"""The one access policy.

Every page, API response, export, feed and history renders what this module returns. It
answers two questions for an :class:`~civmil.core.acting.Actor`:

* which records of a queryset they may know exist (:func:`visible`), and
* for one record, which *view* they get (:func:`view_for`) and which actions they may take
  (:func:`may`).

The rules are those of DESIGN.md's releasability section. Nothing else in civmil filters by
component or role. Administrators and superusers get no door around it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext as _

from civmil.core import registry
from civmil.core.choices import Component, Level, Role

if TYPE_CHECKING:
    from civmil.core.acting import Actor
    from civmil.core.models import Organisation

M = TypeVar("M", bound=models.Model)

MISSION_COMPONENTS = frozenset(
    {Component.MILITARY, Component.POLICE, Component.CIVILIAN, Component.HUMANITARIAN}
)

#: Which components a level opens to by itself (before ownership, releases and grants).
LEVEL_AUDIENCE: dict[str, frozenset[str]] = {
    Level.PUBLIC: frozenset(Component.values),
    Level.MISSION: MISSION_COMPONENTS,
    Level.HUMANITARIAN: frozenset({Component.HUMANITARIAN, Component.CIVILIAN}),
    Level.MILITARY: frozenset({Component.MILITARY, Component.POLICE}),
    Level.RESTRICTED: frozenset(),
    Level.OVERSIGHT: frozenset(),
}
#: Roles a level opens to whatever their component.
LEVEL_ROLES: dict[str, frozenset[str]] = {Level.MILITARY: frozenset({Role.LEADERSHIP})}


class ViewKind(enum.IntEnum):
    NONE = 0
    DERIVED = 1
    REDUCED = 2
    FULL = 3


@dataclass(frozen=True)
class View:
    """How much of one record a reader gets.

    ``fields`` is ``None`` for the full view, else the exact set of field names shown.
    ``reason`` names the rule that opened it (for history and tests, never shown to users
    who get nothing).
    """

    kind: ViewKind
    fields: frozenset[str] | None = None
    reason: str = ""

    def shows(self, field: str) -> bool:
        if self.kind == ViewKind.FULL:
            return True
        if self.kind in (ViewKind.NONE, ViewKind.DERIVED):
            return False
        return self.fields is not None and field in self.fields

    def __bool__(self) -> bool:
        return self.kind != ViewKind.NONE


NO_VIEW = View(ViewKind.NONE)
#: The view of a record whose level opens it to the reader (as :func:`view_for` gives it).
_BY_LEVEL = View(ViewKind.FULL, reason="level")


class Withheld:
    """Stands for a field the reader's view does not show. Falsy, renders as nothing."""

    def __bool__(self) -> bool:
        return False

    def __str__(self) -> str:
        return ""

    def __iter__(self) -> Any:
        return iter(())

    def __repr__(self) -> str:
        return "WITHHELD"


WITHHELD = Withheld()


class Shown(Generic[M]):
    """A record as one reader sees it: attributes outside the view read as :data:`WITHHELD`."""

    __slots__ = ("_obj", "view")

    def __init__(self, obj: M, view: View) -> None:
        object.__setattr__(self, "_obj", obj)
        object.__setattr__(self, "view", view)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or not self.view.shows(name):
            if name.startswith("get_") and name.endswith("_display"):
                field = name[4:-8]
                if self.view.shows(field):
                    return getattr(self._obj, name)
            return WITHHELD
        return getattr(self._obj, name)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a shown record is read-only")

    @property
    def record(self) -> M:
        """The underlying model, for code that has already applied the view (services only)."""
        obj: M = self._obj
        return obj

    @property
    def full(self) -> bool:
        return bool(self.view.kind == ViewKind.FULL)

    @property
    def reduced(self) -> bool:
        return bool(self.view.kind == ViewKind.REDUCED)

    def value(self, name: str) -> Any:
        return getattr(self, name)

    def __str__(self) -> str:
        return str(self._obj) if self.view.kind == ViewKind.FULL else str(self._obj.pk)


# ---------------------------------------------------------------------------------------------
# Levels


def level_opens_to(level: str, component: str | None, role: str | None) -> bool:
    """Does ``level`` by itself open a record to a reader of this component and role?"""
    if level == Level.PUBLIC:
        return True
    if component is None:
        return False
    return component in LEVEL_AUDIENCE[level] or (role is not None and role in LEVEL_ROLES.get(level, ()))


def levels_for(actor: Actor) -> list[str]:
    return [lvl for lvl in Level.values if level_opens_to(lvl, actor.component, actor.role)]


def level_allowed_for_owner(record_model: type[models.Model], owner: Organisation, level: str) -> str | None:
    """Why ``owner`` may not hold a record of this type at ``level`` (``None`` when it may)."""
    record_type = registry.get(record_model)
    if level not in record_type.levels:
        return _("A %(type)s cannot be at level %(level)s; allowed: %(allowed)s.") % {
            "type": record_type.label,
            "level": Level(level).label,
            "allowed": ", ".join(str(Level(lv).label) for lv in record_type.levels),
        }
    if level in (Level.PUBLIC, Level.RESTRICTED, Level.OVERSIGHT):
        return None
    if owner.component not in LEVEL_AUDIENCE[level]:
        return _(
            "%(org)s belongs to the %(component)s component, which may not see %(level)s "
            "records; choose a level its members may see."
        ) % {"org": owner.label, "component": Component(owner.component).label, "level": Level(level).label}
    return None


# ---------------------------------------------------------------------------------------------
# Releases and grants


def _release_targets(actor: Actor) -> models.Q:
    from civmil.core.models import Release

    q = models.Q(pk__in=Release.objects.none())
    if actor.person_id is not None:
        q = models.Q(target_person_id=actor.person_id)
    if actor.membership is not None:
        q |= models.Q(target_organisation_id=actor.organisation_id)
        q |= models.Q(target_component=actor.component)
    return q


def active_releases(actor: Actor, model: type[models.Model], object_ids: Iterable[Any] | None = None) -> Any:
    from civmil.core.models import Release

    if not actor.is_authenticated:
        return Release.objects.none()
    qs = Release.objects.filter(
        content_type=ContentType.objects.get_for_model(model), revoked_at__isnull=True
    ).filter(_release_targets(actor))
    if object_ids is not None:
        qs = qs.filter(object_id__in=list(object_ids))
    return qs


def active_grants(actor: Actor, model: type[models.Model], object_ids: Iterable[Any] | None = None) -> Any:
    from civmil.core.models import Grant

    if actor.person_id is None:
        return Grant.objects.none()
    qs = Grant.objects.filter(
        content_type=ContentType.objects.get_for_model(model),
        person_id=actor.person_id,
        revoked_at__isnull=True,
        recused_at__isnull=True,
    )
    if object_ids is not None:
        qs = qs.filter(object_id__in=list(object_ids))
    return qs


def _grant_opens(actor: Actor, level: str) -> bool:
    """A grant opens an OVERSIGHT record only to a reader acting in the oversight role."""
    return level != Level.OVERSIGHT or actor.role == Role.OVERSIGHT


# ---------------------------------------------------------------------------------------------
# Querysets


# The audience: who may know a record exists, as keys. The two functions below are the whole rule
# of :func:`visible`; :func:`view_for` says how much of the record each reader gets.
#
# A record has one key for its level, and below OVERSIGHT one for its owner, its submitter, each
# active release target and each active grantee. A reader holds the keys of the levels open to
# them and of what they are (organisation, component, person). Level keys are disjoint (a record
# has one level), so a count is a sum of index ranges plus the few records opened to the reader
# by something else than their level.

LEVEL_KEY = "l:"
ORGANISATION_KEY = "o:"
COMPONENT_KEY = "c:"
PERSON_KEY = "p:"
#: A grant on an OVERSIGHT record: it opens the record only to its holder acting in the oversight role.
CASE_GRANT_KEY = "g:"


def audience_keys(level: str, owner_id: Any, created_by_id: Any,
                  releases: Iterable[tuple[Any, str, Any]] = (), grantees: Iterable[Any] = ()) -> set[str]:
    """The audience keys of one record: its ``level``, ``owner_id`` and submitter
    ``created_by_id``, its active ``releases`` as (organisation id, component, person id) with one
    of the three set, and the person ids of its active grants."""
    keys = {f"{LEVEL_KEY}{level}"}
    if level == Level.OVERSIGHT:
        keys.update(f"{CASE_GRANT_KEY}{p}" for p in grantees)
        return keys
    if owner_id is not None:
        keys.add(f"{ORGANISATION_KEY}{owner_id}")
    if created_by_id is not None:
        keys.add(f"{PERSON_KEY}{created_by_id}")
    for organisation_id, component, person_id in releases:
        if organisation_id is not None:
            keys.add(f"{ORGANISATION_KEY}{organisation_id}")
        elif person_id is not None:
            keys.add(f"{PERSON_KEY}{person_id}")
        elif component:
            keys.add(f"{COMPONENT_KEY}{component}")
    keys.update(f"{PERSON_KEY}{p}" for p in grantees)
    return keys


@dataclass(frozen=True)
class ReaderKeys:
    """A reader's audience keys for one record type: ``levels`` (the levels open to them, whose
    keys are :attr:`level_keys`) and ``relations`` (owner, submitter, release and grant keys)."""

    levels: tuple[str, ...]
    relations: tuple[str, ...]

    @property
    def level_keys(self) -> tuple[str, ...]:
        return tuple(f"{LEVEL_KEY}{lvl}" for lvl in self.levels)

    @property
    def all(self) -> tuple[str, ...]:
        return self.level_keys + self.relations


def reader_keys(actor: Actor, record_type: registry.RecordType) -> ReaderKeys:
    """The audience keys of ``actor`` for records of ``record_type``."""
    if not actor.is_authenticated:
        return ReaderKeys((Level.PUBLIC,), ())
    levels = set(levels_for(actor))
    if actor.component is not None and actor.component in record_type.floor_components:
        levels.update(lvl for lvl in Level.values if lvl != Level.OVERSIGHT)
    relations = []
    if actor.membership is not None:
        relations.append(f"{ORGANISATION_KEY}{actor.organisation_id}")
        if actor.component:
            relations.append(f"{COMPONENT_KEY}{actor.component}")
    if actor.person_id is not None:
        relations.append(f"{PERSON_KEY}{actor.person_id}")
        if actor.role == Role.OVERSIGHT:
            relations.append(f"{CASE_GRANT_KEY}{actor.person_id}")
    return ReaderKeys(tuple(sorted(levels)), tuple(relations))


def audience_of(model: type[models.Model], objs: Iterable[Any]) -> dict[Any, set[str]]:
    """The audience keys of records ``objs`` of ``model``, with their releases and grants read
    in two queries."""
    from civmil.core.models import Grant, Release

    objs = list(objs)
    ids = [o.pk for o in objs]
    content_type = ContentType.objects.get_for_model(model)
    releases: dict[Any, list[tuple[Any, str, Any]]] = {}
    grantees: dict[Any, list[Any]] = {}
    if ids:
        for row in Release.objects.filter(content_type=content_type, object_id__in=ids, revoked_at__isnull=True
                                          ).values_list("object_id", "target_organisation_id", "target_component",
                                                        "target_person_id"):
            releases.setdefault(row[0], []).append(row[1:])
        for object_id, person_id in Grant.objects.filter(
                content_type=content_type, object_id__in=ids, revoked_at__isnull=True, recused_at__isnull=True
        ).values_list("object_id", "person_id"):
            grantees.setdefault(object_id, []).append(person_id)
    return {
        o.pk: audience_keys(str(o.level), o.owner_id, o.created_by_id, releases.get(o.pk, ()), grantees.get(o.pk, ()))
        for o in objs
    }


# ---------------------------------------------------------------------------------------------
# Querysets


def _audience(model: type[models.Model]) -> Any:
    from civmil.core.models.records import Audience

    return Audience.objects.filter(content_type_id=ContentType.objects.get_for_model(model).pk)


class _VisibleQuerySet(models.QuerySet[Any]):
    """The queryset :func:`visible` returns: the caller's own class, whose :meth:`count` reads
    the audience index alone while nothing was added to the policy's filter."""

    _visible_count: tuple[Any, ...] | None = None

    def _clone(self) -> Any:
        clone = super()._clone()  # type: ignore[misc]
        clone._visible_count = self._visible_count
        return clone

    def count(self) -> int:
        plain = self._visible_count
        q = self.query
        if (plain is None or self._result_cache is not None or plain[0] != q.where or q.is_sliced
                or q.distinct or q.combinator or q.group_by is not None or q.annotation_select
                or q.extra or q.select_for_update or q.alias_refcount.keys() - plain[1]):
            return super().count()
        from civmil.core.models.records import AudienceCount

        model, space_id, keys = plain[2:]
        content_type = ContentType.objects.get_for_model(model)
        # The records the reader's levels open, from the level counts; then, once each, those
        # opened by something else (owner, submitter, release, grant) at the other levels.
        by_level = AudienceCount.objects.using(self.db).filter(
            content_type=content_type, space_id=space_id, level__in=keys.levels).aggregate(n=models.Sum("records"))["n"]
        other_levels = [lvl for lvl in Level.values if lvl not in keys.levels]
        if not keys.relations or not other_levels:
            return int(by_level or 0)
        others = (_audience(model).using(self.db).filter(space_id=space_id, key__in=keys.relations,
                                                          level__in=other_levels)
                  .aggregate(n=models.Count("object_id", distinct=True))["n"])
        return int(by_level or 0) + int(others)


_VISIBLE_CLASSES: dict[type[Any], type[Any]] = {}


def _visible_class(cls: type[Any]) -> type[Any]:
    if issubclass(cls, _VisibleQuerySet):
        return cls
    made = _VISIBLE_CLASSES.get(cls)
    if made is None:
        made = _VISIBLE_CLASSES[cls] = type(f"Visible{cls.__name__}", (_VisibleQuerySet, cls), {})
    return made


def visible(actor: Actor, qs: models.QuerySet[M]) -> models.QuerySet[M]:
    """The records of ``qs`` whose existence ``actor`` may know (any view but none).

    An indexed semi-join on the reader's audience keys (:func:`reader_keys`): the records are
    never scanned for the policy's sake. A record matched by several keys comes once.
    """
    model = qs.model
    keys = reader_keys(actor, registry.get(model))
    filtered_before = qs.query.has_filters()
    # The space is checked on the audience rows (they carry their record's), not on the records:
    # a filter on the records' space would lead the planner to read every record of the space.
    qs = qs.filter(models.Exists(_audience(model).filter(
        object_id=models.OuterRef("pk"), key__in=keys.all, space_id=actor.space_id)))
    out: Any = qs._chain()  # type: ignore[attr-defined]
    out.__class__ = _visible_class(type(qs))
    if not filtered_before:
        out._visible_count = (out.query.where, frozenset(out.query.alias_refcount), model, actor.space_id, keys)
    return out  # type: ignore[no-any-return]


def visible_among(actor: Actor, qs: models.QuerySet[M], level: str | None = None) -> models.QuerySet[M]:
    """:func:`visible`, as a condition on each record of a query that another index already
    narrows to a few thousand records (a map layer's box and window through the spatial index).

    The same records: those at a level whose key the reader holds, in the reader's space (a
    record's level key is its level, its audience rows carry its space: what :func:`views_for`
    decides from the row alone), and the others through an indexed probe of the audience for the
    reader's other keys (owner, component, person, grant). Most records of a layer are opened by
    their level, and are then never looked up in the audience: a semi-join on every key probed the
    audience once for each key for each record the index had narrowed to.

    ``level``: the caller keeps only the records at this level. The condition is then the one part
    that can hold at it: the level alone when the reader holds its key, else the probe alone.
    PostgreSQL's planner counts the probe's cost for every record, even where the level decides
    first, and read another index beside the spatial one to have fewer records to probe.
    """
    model = qs.model
    keys = reader_keys(actor, registry.get(model))
    by_level = models.Q(level__in=keys.levels, space_id=actor.space_id)
    by_relation = models.Q(models.Exists(_audience(model).filter(
        object_id=models.OuterRef("pk"), key__in=keys.relations, space_id=actor.space_id)))
    if level is not None:
        qs = qs.filter(level=level)
        if level in keys.levels:
            return qs.filter(by_level)
        return qs.filter(by_relation) if keys.relations else qs.none()
    return qs.filter(by_level | by_relation) if keys.relations else qs.filter(by_level)


# ---------------------------------------------------------------------------------------------
# One record


def view_for(actor: Actor, obj: Any, *, _releases: list[Any] | None = None,
             _granted: bool | None = None, _record_type: registry.RecordType | None = None) -> View:
    """The view ``actor`` gets of ``obj``. Agrees with :func:`visible` on every record."""
    record_type = _record_type or registry.get(type(obj))
    if obj.space_id != actor.space_id:
        return NO_VIEW
    level = str(obj.level)
    if not actor.is_authenticated:
        return View(ViewKind.FULL, reason="public") if level == Level.PUBLIC else NO_VIEW
    # The grant is read only when the level, the owner and the submitter do not open the record
    # already: most views of most records need no query at all.
    if level == Level.OVERSIGHT:
        granted = _granted if _granted is not None else active_grants(actor, type(obj), [obj.pk]).exists()
        return View(ViewKind.FULL, reason="grant") if granted and _grant_opens(actor, level) else NO_VIEW
    if level_opens_to(level, actor.component, actor.role):
        return View(ViewKind.FULL, reason="level")
    if actor.organisation_id is not None and obj.owner_id == actor.organisation_id:
        return View(ViewKind.FULL, reason="owner")
    if actor.person_id is not None and obj.created_by_id == actor.person_id:
        return View(ViewKind.FULL, reason="submitter")
    granted = _granted if _granted is not None else active_grants(actor, type(obj), [obj.pk]).exists()
    if granted:
        return View(ViewKind.FULL, reason="grant")
    releases = _releases if _releases is not None else list(active_releases(actor, type(obj), [obj.pk]))
    if releases:
        if any(r.fields is None for r in releases):
            return View(ViewKind.FULL, reason="release")
        released: set[str] = set()
        for r in releases:
            released.update(r.fields or ())
        allowed = released & set(record_type.release_fields)
        return View(ViewKind.REDUCED, record_type.face() | allowed, reason="release")
    if actor.component in record_type.floor_components:
        return View(ViewKind.REDUCED, record_type.face(), reason="floor")
    if record_type.derive is not None:
        return View(ViewKind.DERIVED, reason="derived")
    return NO_VIEW


@dataclass(frozen=True)
class AccessFacts:
    """Every active release and grant on some records, whoever they name.

    Loaded once (:func:`access_facts`) to decide many readers' views of the same records
    without a query per reader — the fan-out of a live event to every subscriber of a process.
    """

    releases: dict[str, list[Any]]
    grantees: dict[str, frozenset[Any]]


def access_facts(model: type[models.Model], object_ids: Iterable[Any]) -> AccessFacts:
    """The active releases and grants of ``model`` records ``object_ids`` (two queries)."""
    from civmil.core.models import Grant, Release

    ids = list(object_ids)
    content_type = ContentType.objects.get_for_model(model)
    releases: dict[str, list[Any]] = {}
    for r in Release.objects.filter(content_type=content_type, revoked_at__isnull=True, object_id__in=ids):
        releases.setdefault(str(r.object_id), []).append(r)
    grantees: dict[str, set[Any]] = {}
    for object_id, person_id in Grant.objects.filter(
        content_type=content_type, object_id__in=ids, revoked_at__isnull=True, recused_at__isnull=True
    ).values_list("object_id", "person_id"):
        grantees.setdefault(str(object_id), set()).add(person_id)
    return AccessFacts(releases, {k: frozenset(v) for k, v in grantees.items()})


def _release_reaches(actor: Actor, release: Any) -> bool:
    """Does ``release`` name ``actor``? The same rule as :func:`_release_targets`, in Python."""
    if not actor.is_authenticated:
        return False
    if actor.person_id is not None and release.target_person_id == actor.person_id:
        return True
    if actor.membership is None:
        return False
    return bool((release.target_organisation_id is not None
                 and release.target_organisation_id == actor.organisation_id)
                or (release.target_component and release.target_component == actor.component))


def view_from_facts(actor: Actor, obj: Any, facts: AccessFacts) -> View:
    """:func:`view_for` with releases and grants read from ``facts`` instead of the database."""
    key = str(obj.pk)
    releases = [r for r in facts.releases.get(key, ()) if _release_reaches(actor, r)]
    granted = actor.person_id is not None and actor.person_id in facts.grantees.get(key, frozenset())
    return view_for(actor, obj, _releases=releases, _granted=granted)


def fetch(actor: Actor, model: type[M] | str, pk: Any, *, derived: bool = False,
          for_update: bool = False) -> Shown[M]:
    """The one door to a single protected record: the record of type ``model`` (a model or its
    registry key) with id ``pk``, as ``actor`` sees it.

    A hidden record, a missing one, a malformed id and an unknown type key all raise the same
    :class:`~civmil.core.errors.NotFound`, with the same message. A derived face counts as hidden
    unless ``derived`` is true (the caller then renders the face itself). ``for_update`` locks
    the row for the caller's transaction (services that edit it).
    """
    from civmil.core.errors import NotFound

    try:
        record_model: Any = registry.by_key(model).model if isinstance(model, str) else model
    except LookupError:
        raise NotFound(_("No such record.")) from None
    manager = record_model._default_manager
    rows = manager.select_for_update() if for_update else manager.all()
    obj: M | None
    try:
        obj = visible(actor, rows.filter(pk=pk)).first()
    except (ValueError, TypeError, ValidationError):
        obj = None
    if obj is None:
        raise NotFound(_("No such record."))
    view = view_for(actor, obj)
    if not view or (view.kind == ViewKind.DERIVED and not derived):
        raise NotFound(_("No such record."))
    return Shown(obj, view)


def show(actor: Actor, obj: M) -> Shown[M]:
    return Shown(obj, view_for(actor, obj))


def _needs_facts(actor: Actor, obj: Any) -> bool:
    """Does :func:`view_for` read releases or grants to decide ``obj`` for ``actor``? Not when the
    space, the level, the owner or the submitter decides it first (in view_for's order)."""
    if obj.space_id != actor.space_id or not actor.is_authenticated:
        return False
    level = str(obj.level)
    if level == Level.OVERSIGHT:
        return True
    return not (level_opens_to(level, actor.component, actor.role)
                or (actor.organisation_id is not None and obj.owner_id == actor.organisation_id)
                or (actor.person_id is not None and obj.created_by_id == actor.person_id))


def views_for(actor: Actor, model: type[models.Model], records: Sequence[Any]) -> list[View]:
    """The views of many records of ``model`` at once, in their order, with at most two queries
    for releases and grants (none when the level, the owner or the submitter decides every record).

    A record is anything with the facts the policy decides from: ``pk``, ``space_id``, ``level``,
    ``owner_id`` and ``created_by_id`` (a model instance, or a row of those values read with
    ``values_list(..., named=True)``), so a long page need not build model instances."""
    if not records:
        return []
    record_type = registry.get(model)
    # Most records of a page are opened by their level: those are decided once for the page.
    space_id = actor.space_id
    opened = frozenset(levels_for(actor)) - {Level.OVERSIGHT} if actor.is_authenticated else frozenset()
    by_level = [o.space_id == space_id and o.level in opened for o in records]
    ids = [o.pk for o, done in zip(records, by_level, strict=True) if not done and _needs_facts(actor, o)]
    releases: dict[Any, list[Any]] = {}
    granted: set[Any] = set()
    if ids:
        for r in active_releases(actor, model, ids):
            releases.setdefault(r.object_id, []).append(r)
        granted = set(active_grants(actor, model, ids).values_list("object_id", flat=True))
    return [_BY_LEVEL if done else view_for(actor, o, _releases=releases.get(o.pk, []), _granted=o.pk in granted,
                                            _record_type=record_type)
            for o, done in zip(records, by_level, strict=True)]


def show_all(actor: Actor, objs: Iterable[M]) -> list[Shown[M]]:
    """Views for many records at once, with at most two queries for releases and grants (none
    when the level, the owner or the submitter decides every record)."""
    objs = list(objs)
    if not objs:
        return []
    return [Shown(o, v) for o, v in zip(objs, views_for(actor, type(objs[0]), objs), strict=True)]


# ---------------------------------------------------------------------------------------------
# Actions


class Action(enum.StrEnum):
    VIEW = "view"
    EDIT = "edit"
    RELEASE = "release"
    GRANT = "grant"
    HISTORY = "history"


def may(actor: Actor, action: Action, obj: Any, view: View | None = None) -> bool:
    """May ``actor`` take ``action`` on ``obj``?"""
    view = view if view is not None else view_for(actor, obj)
    if not view:
        return False
    if action in (Action.VIEW, Action.HISTORY):
        return view.kind in (ViewKind.REDUCED, ViewKind.FULL)
    if view.kind != ViewKind.FULL or actor.membership is None:
        return False
    if obj.level == Level.OVERSIGHT:
        return actor.role == Role.OVERSIGHT and action == Action.EDIT
    owner_member = obj.owner_id == actor.organisation_id
    if action == Action.EDIT:
        return bool(owner_member or (actor.person_id is not None and obj.created_by_id == actor.person_id))
    if action in (Action.RELEASE, Action.GRANT):
        return bool(owner_member)
    return False


def creation_refused(actor: Actor, model: type[models.Model], owner: Organisation, level: str) -> str | None:
    """Why ``actor`` may not create a record of ``model`` owned by ``owner`` at ``level``."""
    if not actor.is_authenticated or actor.membership is None:
        return _("You need a current membership of an organisation to create records.")
    if owner.pk != actor.organisation_id:
        return _("You can only create records owned by the organisation you act for (%(org)s).") % {
            "org": actor.organisation.label if actor.organisation else ""
        }
    if level == Level.OVERSIGHT and actor.role != Role.OVERSIGHT:
        return _("Only oversight staff may create oversight records.")
    return level_allowed_for_owner(model, owner, level)


def choosable_levels(actor: Actor, model: type[models.Model]) -> list[tuple[str, str]]:
    """The levels ``actor`` may give a new record of ``model`` (for forms)."""
    owner = actor.organisation
    if owner is None:
        return []
    return [
        (lvl, str(Level(lvl).label))
        for lvl in registry.get(model).levels
        if creation_refused(actor, model, owner, lvl) is None
    ]

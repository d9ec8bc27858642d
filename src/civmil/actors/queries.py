"""Reads of the actors app. Every read of a protected record passes the access policy."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext as _

from civmil.actors import boundaries
from civmil.actors.choices import AssignmentStatus
from civmil.actors.models import Area, LiaisonAssignment, LiaisonLogEntry
from civmil.core import access, geo
from civmil.core.errors import Invalid, NotFound
from civmil.core.geometry import Bounds
from civmil.core.kernel.areas import ChosenArea
from civmil.core.models import Membership, Organisation, Person

# A person's reads live in core; the directory's pages and API name them through this module too.
from civmil.core.queries import memberships as memberships
from civmil.core.queries import people as people
from civmil.core.queries import person as person
from civmil.core.spatial import overlapping

if TYPE_CHECKING:
    from civmil.core.acting import Actor


@dataclass
class LiaisonFilter:
    q: str = ""
    organisation: Any = None
    channel: str = ""
    level: str = ""
    since: dt.datetime | None = None
    until: dt.datetime | None = None


def _liaison_candidates(actor: Actor, f: LiaisonFilter | None = None) -> models.QuerySet[LiaisonLogEntry]:
    """Entries ``actor`` may know exist, filtered. Text search only matches what the view shows."""
    f = f or LiaisonFilter()
    qs = access.visible(actor, LiaisonLogEntry.objects.all()).select_related("owner")
    if f.organisation:
        qs = qs.filter(Q(organisations=f.organisation) | Q(owner=f.organisation)).distinct()
    if f.channel:
        qs = qs.filter(channel=f.channel)
    if f.level:
        qs = qs.filter(level=f.level)
    if f.since:
        qs = qs.filter(occurred_at__gte=f.since)
    if f.until:
        qs = qs.filter(occurred_at__lte=f.until)
    if f.q:
        # Match on text fields, then keep only records whose view shows a matching field, so a
        # search never reveals text the reader may not see.
        text = Q(summary__icontains=f.q) | Q(follow_ups__icontains=f.q) | Q(place_name__icontains=f.q)
        ids = [
            s.pk for s in access.show_all(actor, qs.filter(text))
            if any(f.q.lower() in str(getattr(s, name) or "").lower()
                   for name in ("summary", "follow_ups", "place_name"))
        ]
        qs = qs.filter(pk__in=ids)
    return qs.order_by("-occurred_at", "id")


def shown_entries(actor: Actor, entries: Iterable[LiaisonLogEntry]) -> list[access.Shown[LiaisonLogEntry]]:
    entries = list(entries)
    models.prefetch_related_objects(entries, "organisations", "people")
    return access.show_all(actor, entries)


def _get(actor: Actor, model: type[Any], pk: Any) -> access.Shown[Any]:
    return access.fetch(actor, model, pk, derived=True)


def liaison_entry(actor: Actor, pk: Any) -> access.Shown[LiaisonLogEntry]:
    """One entry as ``actor`` sees it; hidden and missing entries both raise :class:`NotFound`."""
    return _get(actor, LiaisonLogEntry, pk)


def assignment(actor: Actor, pk: Any) -> access.Shown[LiaisonAssignment]:
    return _get(actor, LiaisonAssignment, pk)


def organisations(actor: Actor, q: str = "", component: str = "", kind: str = "") -> models.QuerySet[Organisation]:
    """Organisations are reference data: any signed-in reader sees them; anonymous readers none."""
    if not actor.is_authenticated:
        return Organisation.objects.none()
    qs = Organisation.objects.select_related("parent")
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(acronym__icontains=q))
    if component:
        qs = qs.filter(component=component)
    if kind:
        qs = qs.filter(kind=kind)
    return qs.order_by("name")


def organisation(actor: Actor, pk: Any) -> Organisation:
    try:
        org = organisations(actor).filter(pk=pk).first()
    except (ValueError, TypeError, models.ObjectDoesNotExist):
        org = None
    if org is None:
        raise NotFound(_("No such organisation."))
    return org


def assignments(actor: Actor, *, to_organisation: Any = None, from_organisation: Any = None,
                current_only: bool = False) -> models.QuerySet[LiaisonAssignment]:
    qs = access.visible(actor, LiaisonAssignment.objects.all()).select_related(
        "officer", "from_organisation", "to_organisation", "area")
    if to_organisation is not None:
        qs = qs.filter(to_organisation=to_organisation)
    if from_organisation is not None:
        qs = qs.filter(from_organisation=from_organisation)
    if current_only:
        from django.utils import timezone

        today = timezone.localdate()
        qs = qs.filter(starts_on__lte=today).filter(Q(ends_on__isnull=True) | Q(ends_on__gte=today))
    return qs


def my_liaisons_to(actor: Actor, target: Organisation) -> list[access.Shown[LiaisonAssignment]]:
    """Who liaises between the actor's organisation and ``target``, in either direction.

    Only confirmed assignments count: one another organisation recorded for an officer who is not
    its own says nothing until the officer's organisation confirms it.
    """
    if actor.organisation_id is None:
        return []
    qs = assignments(actor, current_only=True).filter(status=AssignmentStatus.CONFIRMED).filter(
        Q(from_organisation_id=actor.organisation_id, to_organisation=target)
        | Q(from_organisation=target, to_organisation_id=actor.organisation_id)
    )
    return access.show_all(actor, qs)


def assignments_to_decide(actor: Actor) -> list[access.Shown[LiaisonAssignment]]:
    """Pending assignments of officers of the actor's organisation that the actor may confirm or refuse."""
    from civmil.actors.services import may_decide

    if actor.organisation_id is None:
        return []
    officers = Membership.objects.current().filter(organisation_id=actor.organisation_id).values("person_id")
    qs = assignments(actor).filter(status=AssignmentStatus.PENDING, officer__in=officers).order_by("created_at", "id")
    return [s for s in access.show_all(actor, qs) if may_decide(actor, s.record)]


def areas(actor: Actor, q: str = "", admin_level: int | None = None) -> models.QuerySet[Area]:
    if not actor.is_authenticated:
        return Area.objects.none()
    qs = Area.objects.select_related("parent")
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(pcode__iexact=q) | Q(name_alt__icontains=q))
    if admin_level is not None:
        qs = qs.filter(admin_level=admin_level)
    return qs


def area(actor: Actor, pk: Any) -> Area:
    try:
        found = areas(actor).filter(pk=pk).first()
    except (ValueError, TypeError, models.ObjectDoesNotExist):
        found = None
    if found is None:
        raise NotFound(_("No such area."))
    return found


def areas_at(actor: Actor, lat: float, lon: float) -> list[Area]:
    """Areas containing a point, by admin level (the spatial index narrows the search first)."""
    geo.check_lat_lon(lat, lon)
    qs = overlapping(areas(actor), Bounds(west=lon, south=lat, east=lon, north=lat))
    found = [a for a in qs if geo.contains(a.geometry, lat, lon)]
    return sorted(found, key=lambda a: (a.kind, a.admin_level if a.admin_level is not None else 99, a.name))


# ---------------------------------------------------------------------------------------------
# Reads for the directory and liaison pages. Each keeps a record only where the reader's view
# shows the field a filter matched on, so a filter never reveals a withheld value.


def _reduced_candidates(actor: Actor, model: type[models.Model]) -> set[Any]:
    """Ids of records ``actor`` might see only through a release of declared fields."""
    if not actor.is_authenticated:
        return set()
    return set(access.active_releases(actor, model).filter(fields__isnull=False)
               .values_list("object_id", flat=True))


def liaison_log(actor: Actor, f: LiaisonFilter | None = None) -> models.QuerySet[LiaisonLogEntry]:
    """Entries ``actor`` may know exist, filtered; a filter on channel, time or organisation only matches
    entries whose view shows that field (an owner match always counts: the owner is on every face)."""
    f = f or LiaisonFilter()
    qs = _liaison_candidates(actor, f)
    checked = [name for name, active in (("channel", bool(f.channel)),
                                         ("occurred_at", bool(f.since or f.until))) if active]
    if not checked and not f.organisation:
        return qs
    candidates = _reduced_candidates(actor, LiaisonLogEntry)
    if not candidates:
        return qs
    org_id = getattr(f.organisation, "pk", f.organisation)
    suspects = LiaisonLogEntry.objects.filter(pk__in=qs.filter(pk__in=candidates).values("pk"))
    hidden = []
    for shown in access.show_all(actor, suspects):
        withheld_match = any(not shown.view.shows(name) for name in checked)
        org_only_in_withheld = bool(org_id) and str(shown.record.owner_id) != str(org_id) \
            and not shown.view.shows("organisations")
        if withheld_match or org_only_in_withheld:
            hidden.append(shown.record.pk)
    return qs.exclude(pk__in=hidden) if hidden else qs


def visible_person_ids(actor: Actor, ids: Iterable[Any]) -> set[Any]:
    """The ids among ``ids`` of people ``actor`` may know exist (to name them beside a record)."""
    ids = [i for i in ids if i is not None]
    if not ids:
        return set()
    return set(access.visible(actor, Person.objects.filter(pk__in=ids)).values_list("pk", flat=True))


def directory_people(actor: Actor, q: str = "", component: str = "", kind: str = "",
                     role: str = "") -> models.QuerySet[Person]:
    """People ``actor`` may know exist, by name or title and by a *current* membership's
    organisation component, organisation kind and role (all on the same membership)."""
    qs = people(actor, q=q)
    conditions: dict[str, str] = {}
    if component:
        conditions["organisation__component"] = component
    if kind:
        conditions["organisation__kind"] = kind
    if role:
        conditions["role"] = role
    if conditions:
        qs = qs.filter(pk__in=Membership.objects.current().filter(**conditions).values("person_id"))
    return qs


def child_organisations(actor: Actor, org: Organisation) -> models.QuerySet[Organisation]:
    """The organisations directly under ``org`` in the hierarchy."""
    return organisations(actor).filter(parent=org)


def current_memberships(actor: Actor, *, person_ids: Iterable[Any] | None = None,
                        organisation: Any = None) -> models.QuerySet[Membership]:
    """Current memberships of people ``actor`` may know exist."""
    current = Membership.objects.current().values("pk")
    return memberships(actor, person_ids=person_ids, organisation=organisation).filter(pk__in=current)


def areas_of_responsibility(actor: Actor, org: Organisation) -> models.QuerySet[Area]:
    """Areas for which ``org`` is the responsible organisation."""
    return areas(actor).filter(responsible=org)


def _shows_all(shown: access.Shown[Any], names: Iterable[str]) -> bool:
    return all(shown.view.shows(name) for name in names)


def organisation_liaisons(actor: Actor, org: Organisation) -> tuple[
        list[access.Shown[LiaisonAssignment]], list[access.Shown[LiaisonAssignment]]]:
    """Liaison assignments sent by ``org`` and received by it, as the reader sees them."""
    sent = [s for s in access.show_all(actor, assignments(actor, from_organisation=org))
            if s.view.shows("from_organisation")]
    received = [s for s in access.show_all(actor, assignments(actor, to_organisation=org))
                if s.view.shows("to_organisation")]
    return sent, received


def officer_assignments(actor: Actor, officer: Any) -> list[access.Shown[LiaisonAssignment]]:
    """The liaison assignments of one officer whose view names that officer."""
    qs = assignments(actor).filter(officer=officer)
    return [s for s in access.show_all(actor, qs) if s.view.shows("officer")]


def assignment_list(actor: Actor, *, organisation: Any = None,
                    current_only: bool = False) -> list[access.Shown[LiaisonAssignment]]:
    """Liaison assignments, optionally from or to one organisation and current only."""
    qs = assignments(actor, current_only=current_only)
    if organisation is not None:
        qs = qs.filter(Q(from_organisation=organisation) | Q(to_organisation=organisation))
    org_id = str(getattr(organisation, "pk", organisation)) if organisation is not None else None
    out = []
    for s in access.show_all(actor, qs):
        if current_only and not _shows_all(s, ("starts_on", "ends_on")):
            continue
        if org_id is not None and not (
            (s.view.shows("from_organisation") and str(s.record.from_organisation_id) == org_id)
            or (s.view.shows("to_organisation") and str(s.record.to_organisation_id) == org_id)
        ):
            continue
        out.append(s)
    return out


def my_liaisons(actor: Actor, target: Organisation) -> list[access.Shown[LiaisonAssignment]]:
    """:func:`my_liaisons_to`, keeping assignments whose view shows who links which organisations."""
    names = ("officer", "from_organisation", "to_organisation", "starts_on", "ends_on")
    return [s for s in my_liaisons_to(actor, target) if _shows_all(s, names)]


def people_names(actor: Actor, ids: Iterable[Any]) -> dict[str, str]:
    """Names of the people among ``ids`` that ``actor`` may know exist, by id as text."""
    ids = [i for i in ids if i]
    if not ids:
        return {}
    return {str(pk): name for pk, name in access.visible(actor, Person.objects.filter(pk__in=ids))
            .values_list("pk", "full_name")}


# ---------------------------------------------------------------------------------------------
# Reads for the REST API


def shown_people(actor: Actor, people: Iterable[Person]) -> list[access.Shown[Person]]:
    """People (already filtered by :func:`people`) as ``actor`` sees each of them."""
    return access.show_all(actor, people)


# ---------------------------------------------------------------------------------------------
# Areas: the parent chain, bounding-box filter and boundary import plans


def area_ancestors(area: Area) -> list[Area]:
    """The parents of ``area``, nearest first (stops at a loop rather than walking forever)."""
    chain: list[Area] = []
    seen = {area.pk}
    node = area.parent
    while node is not None and node.pk not in seen and len(chain) < 20:
        chain.append(node)
        seen.add(node.pk)
        node = node.parent
    return chain


def area_for_filter(text: str) -> ChosenArea:
    """The area a list's area filter names (its P-code, else its name or alternative name, any
    case) with the boundaries of it and every area below it; refused, saying why, when no area or
    several answer to the text."""
    found = list(Area.objects.filter(pcode__iexact=text)[:1]) or list(
        Area.objects.filter(Q(name__iexact=text) | Q(name_alt__iexact=text)).order_by("admin_level", "pcode")[:6])
    if not found:
        raise Invalid(_("No area is called “%(text)s”. Give an area's name or P-code.") % {"text": text})
    if len(found) > 1:
        raise Invalid(_("Several areas are called “%(text)s”: give the P-code of one (%(pcodes)s).")
                      % {"text": text, "pcodes": ", ".join(a.pcode or a.name for a in found[:5])})
    area = found[0]
    boundaries_below = [area.geometry]
    level, seen = [area.pk], {area.pk}
    while level and len(seen) < 100_000:  # the areas below, level by level (a loop stops it)
        children = list(Area.objects.filter(parent_id__in=level).exclude(pk__in=seen).values_list("pk", "geometry"))
        level = [pk for pk, _geometry in children]
        seen.update(level)
        boundaries_below += [geometry for _pk, geometry in children if geometry]
    return ChosenArea(label=str(area), boundaries=tuple(boundaries_below))


def areas_in_bbox(qs: models.QuerySet[Area], west: float, south: float, east: float,
                  north: float) -> models.QuerySet[Area]:
    """Areas of ``qs`` whose bounding box meets the given one (through the spatial index)."""
    return overlapping(qs, Bounds(west=west, south=south, east=east, north=north))


def boundary_plan(actor: Actor | None, data: bytes, options: boundaries.ImportOptions) -> boundaries.BoundaryPlan:
    """Plan an import of boundaries against the areas stored now. Writes nothing.

    ``actor`` is ``None`` for the operator at the console; a signed-out reader plans against
    nothing (areas are shown to signed-in readers only).
    """
    existing: dict[str, boundaries.ExistingArea] = {}
    if actor is None or actor.is_authenticated:
        for pcode, level, parent_pcode in Area.objects.exclude(pcode=None).values_list(
                "pcode", "admin_level", "parent__pcode"):
            if pcode:
                existing[pcode] = boundaries.ExistingArea(pcode=pcode, admin_level=level,
                                                          parent_pcode=parent_pcode or "")
    return boundaries.plan_import(data, options, existing)

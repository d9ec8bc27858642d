"""Reads of the actors app. Every read of a protected record passes the access policy."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext as _

from civmil.actors.models import Area, LiaisonAssignment, LiaisonLogEntry
from civmil.core import access, geo
from civmil.core.errors import NotFound
from civmil.core.models import LedgerEntry, Membership, Organisation, Person, Release

if TYPE_CHECKING:
    from civmil.core.actors import Actor


@dataclass
class LiaisonFilter:
    q: str = ""
    organisation: Any = None
    channel: str = ""
    level: str = ""
    since: dt.datetime | None = None
    until: dt.datetime | None = None


def liaison_entries(actor: Actor, f: LiaisonFilter | None = None) -> models.QuerySet[LiaisonLogEntry]:
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
    try:
        obj = access.visible(actor, model.objects.filter(pk=pk)).first()
    except (ValueError, TypeError, models.ObjectDoesNotExist):
        obj = None
    if obj is None:
        raise NotFound(_("No such record."))
    shown = access.show(actor, obj)
    if not shown.view:
        raise NotFound(_("No such record."))
    return shown


def liaison_entry(actor: Actor, pk: Any) -> access.Shown[LiaisonLogEntry]:
    """One entry as ``actor`` sees it; hidden and missing entries both raise :class:`NotFound`."""
    return _get(actor, LiaisonLogEntry, pk)


def assignment(actor: Actor, pk: Any) -> access.Shown[LiaisonAssignment]:
    return _get(actor, LiaisonAssignment, pk)


def person(actor: Actor, pk: Any) -> access.Shown[Person]:
    return _get(actor, Person, pk)


def people(actor: Actor, q: str = "", organisation: Any = None, role: str = "") -> models.QuerySet[Person]:
    qs = access.visible(actor, Person.objects.all())
    if q:
        qs = qs.filter(Q(full_name__icontains=q) | Q(title__icontains=q))
    if organisation:
        qs = qs.filter(memberships__organisation=organisation).distinct()
    if role:
        qs = qs.filter(memberships__role=role).distinct()
    return qs.order_by("full_name")


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


def memberships(actor: Actor, *, person_ids: Iterable[Any] | None = None,
                organisation: Any = None) -> models.QuerySet[Membership]:
    """Memberships of people ``actor`` may know exist."""
    visible_people = access.visible(actor, Person.objects.all()).values("pk")
    qs = Membership.objects.filter(person__in=visible_people).select_related("person", "organisation")
    if person_ids is not None:
        qs = qs.filter(person_id__in=list(person_ids))
    if organisation is not None:
        qs = qs.filter(organisation=organisation)
    return qs


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
    """Who liaises between the actor's organisation and ``target``, in either direction."""
    if actor.organisation_id is None:
        return []
    qs = assignments(actor, current_only=True).filter(
        Q(from_organisation_id=actor.organisation_id, to_organisation=target)
        | Q(from_organisation=target, to_organisation_id=actor.organisation_id)
    )
    return access.show_all(actor, qs)


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
    """Areas containing a point, by admin level (bounding boxes narrow the search first)."""
    geo.check_lat_lon(lat, lon)
    qs = areas(actor).filter(min_lon__lte=lon, max_lon__gte=lon, min_lat__lte=lat, max_lat__gte=lat)
    found = [a for a in qs if geo.contains(a.geometry, lat, lon)]
    return sorted(found, key=lambda a: (a.kind, a.admin_level if a.admin_level is not None else 99, a.name))


def releases(actor: Actor, shown: access.Shown[Any]) -> list[Release]:
    """Releases of a record, listed only to those who may release it."""
    if not access.may(actor, access.Action.RELEASE, shown.record, shown.view):
        return []
    return list(Release.objects.filter(
        content_type=ContentType.objects.get_for_model(shown.record), object_id=shown.record.pk,
    ).select_related("target_organisation", "target_person").order_by("created_at"))


@dataclass
class Version:
    version: int | None
    action: str
    recorded_at: dt.datetime
    actor: str
    changes: dict[str, Any]


def history(actor: Actor, shown: access.Shown[Any]) -> list[Version]:
    """The record's ledger history, cut to the reader's view of the record."""
    if not access.may(actor, access.Action.HISTORY, shown.record, shown.view):
        raise NotFound(_("No such record."))
    obj = shown.record
    key = f"{obj._meta.app_label}.{obj._meta.model_name}"
    entries = list(LedgerEntry.objects.filter(object_type=key, object_id=str(obj.pk))
                   .select_related("change").order_by("seq"))
    user_ids = {e.actor_user_id for e in entries if e.actor_user_id}
    names = dict(Person.objects.filter(user_id__in=user_ids).values_list("user_id", "full_name"))
    out = []
    for e in entries:
        data = e.change.data if hasattr(e, "change") and e.change.data is not None else {}
        visible_changes = {k: v for k, v in data.items() if k != "version" and shown.view.shows(k)}
        if e.action.startswith(("release.", "grant.")) and not access.may(actor, access.Action.RELEASE, obj):
            continue
        out.append(Version(
            version=data.get("version"), action=e.action, recorded_at=e.recorded_at,
            actor=names.get(e.actor_user_id, _("console") if e.actor_user_id is None else _("a user")),
            changes=visible_changes,
        ))
    return out

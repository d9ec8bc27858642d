"""REST endpoints of the actors app: the directory, areas, liaison assignments and the liaison log.

Each endpoint validates its input (schemas), calls one service or query, and returns the
reader's view. A record the reader may not see answers exactly like one that does not exist.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Router, Status

from civmil.actors import queries, services
from civmil.actors.models import LiaisonAssignment, LiaisonLogEntry
from civmil.actors.schemas import (
    ORGANISATION_OR_COMMUNITY,
    AreaDetailOut,
    AreaLookupOut,
    AreaPage,
    AreaQuery,
    AssignmentDecisionIn,
    AssignmentIn,
    LiaisonEntryOut,
    LiaisonEntryPage,
    LiaisonIn,
    LiaisonQuery,
    LiaisonStaleOut,
    LiaisonUpdateIn,
    LookupQuery,
    MembershipQuery,
    OrganisationQuery,
    PeopleQuery,
    area_out,
    entry_out,
    people_named_in,
    point_out,
)
from civmil.core import access, dates, geo, registry
from civmil.core import merge as core_merge
from civmil.core.acting import Actor
from civmil.core.api import actor_of, page_of
from civmil.core.errors import Invalid, StaleEdit
from civmil.core.kernel.api import history_and_releases, record_router, records_out
from civmil.core.models import Person
from civmil.core.schemas import (
    ERROR_RESPONSES,
    MembershipPage,
    OrganisationOut,
    OrganisationPage,
    PersonOut,
    PersonPage,
    membership_out,
    organisation_out,
    person_out,
)

directory = Router(tags=["directory"])
areas = Router(tags=["areas"])
liaison = Router(tags=["liaison"])

#: Liaison assignments: the record kernel's router of the type (list, create, detail, update with
#: the version, history, releases), plus the confirmation by the officer's organisation.
assignments = record_router(registry.get(LiaisonAssignment), name="assignment", tags=["liaison"],
                            create_schema=AssignmentIn, body_rule=ORGANISATION_OR_COMMUNITY)
_AssignmentOut = assignments.record_schemas["out"]  # type: ignore[attr-defined]

router = Router()
router.add_router("", directory)
router.add_router("/areas", areas)
router.add_router("/liaison-assignments", assignments)
router.add_router("", liaison)
#: The liaison log's history and releases: the record kernel's operations of the type.
router.add_router("/liaison-log", history_and_releases(Router(tags=["liaison"]), registry.get(LiaisonLogEntry),
                                                       name="liaison"))


def _page(items: list[dict[str, Any]], total: int, page: Any) -> dict[str, Any]:
    return {"count": total, "limit": page.limit, "offset": page.offset, "items": items}


def _in_window(actor: Actor, **values: Any) -> None:
    """422 naming each date outside the mission's accepted window (``civmil.core.dates``), as forms do."""
    errors = dates.window_errors(values, actor.space_id)
    if errors:
        raise Invalid(_("Some fields are not valid; see errors."), errors=errors)


# ---------------------------------------------------------------------------------------------
# Organisations, people, memberships


@directory.get("/organisations", response={200: OrganisationPage, **ERROR_RESPONSES}, url_name="organisations")
def list_organisations(request: HttpRequest, filters: Query[OrganisationQuery]) -> dict[str, Any]:
    """Organisations present in the mission (reference data: every signed-in user sees them)."""
    actor = actor_of(request)
    qs = queries.organisations(actor, q=filters.q, component=filters.component or "", kind=filters.kind or "")
    orgs, total = page_of(qs, filters)
    names = queries.people_names(actor, [o.security_focal_point_id for o in orgs])
    return _page([organisation_out(o, names) for o in orgs], total, filters)


@directory.get("/organisations/{organisation_id}", response={200: OrganisationOut, **ERROR_RESPONSES},
               url_name="organisation")
def get_organisation(request: HttpRequest, organisation_id: uuid.UUID) -> dict[str, Any]:
    actor = actor_of(request)
    org = queries.organisation(actor, organisation_id)
    return organisation_out(org, queries.people_names(actor, [org.security_focal_point_id]))


def _people_out(actor: Actor, shown: list[access.Shown[Person]]) -> list[dict[str, Any]]:
    by_person: dict[Any, list[Any]] = {}
    for m in queries.current_memberships(actor, person_ids=[s.record.pk for s in shown]).order_by(
            "created_at", "id"):
        by_person.setdefault(m.person_id, []).append(m)
    return [person_out(s, by_person.get(s.record.pk, [])) for s in shown]


@directory.get("/people", response={200: PersonPage, **ERROR_RESPONSES}, url_name="people", exclude_unset=True)
def list_people(request: HttpRequest, filters: Query[PeopleQuery]) -> dict[str, Any]:
    """People you may know exist. Contact details appear only where your view of the person shows them."""
    actor = actor_of(request)
    qs = queries.people(actor, q=filters.q, organisation=filters.organisation, role=filters.role or "")
    people, total = page_of(qs.order_by("full_name", "id"), filters)
    return _page(_people_out(actor, queries.shown_people(actor, people)), total, filters)


@directory.get("/people/{person_id}", response={200: PersonOut, **ERROR_RESPONSES}, url_name="person",
               exclude_unset=True)
def get_person(request: HttpRequest, person_id: uuid.UUID) -> dict[str, Any]:
    actor = actor_of(request)
    return _people_out(actor, [queries.person(actor, person_id)])[0]


@directory.get("/memberships", response={200: MembershipPage, **ERROR_RESPONSES}, url_name="memberships")
def list_memberships(request: HttpRequest, filters: Query[MembershipQuery]) -> dict[str, Any]:
    """Memberships of people you may know exist (current ones unless ``current=false``)."""
    actor = actor_of(request)
    person_ids = [filters.person] if filters.person else None
    if filters.current:
        qs = queries.current_memberships(actor, person_ids=person_ids, organisation=filters.organisation)
    else:
        qs = queries.memberships(actor, person_ids=person_ids, organisation=filters.organisation)
    if filters.role:
        qs = qs.filter(role=filters.role)
    found, total = page_of(qs.order_by("person__full_name", "organisation__name", "id"), filters)
    return _page([membership_out(m) for m in found], total, filters)


# ---------------------------------------------------------------------------------------------
# Areas


@areas.get("", response={200: AreaPage, **ERROR_RESPONSES}, url_name="areas")
def list_areas(request: HttpRequest, filters: Query[AreaQuery]) -> dict[str, Any]:
    """Administrative areas and areas of responsibility (reference data), without their geometry."""
    qs = queries.areas(actor_of(request), q=filters.q, admin_level=filters.admin_level)
    found, total = page_of(qs.order_by("admin_level", "name", "id"), filters)
    return _page([area_out(a) for a in found], total, filters)


@areas.get("/lookup", response={200: AreaLookupOut, **ERROR_RESPONSES}, url_name="area-lookup")
def lookup_areas(request: HttpRequest, filters: Query[LookupQuery]) -> dict[str, Any]:
    """The areas containing a point given as ``latitude, longitude`` or as an MGRS reference."""
    try:
        lat, lon = geo.parse_point(filters.location)
    except Invalid as exc:
        raise Invalid(exc.message, errors={"location": [exc.message]}) from exc
    found = queries.areas_at(actor_of(request), lat, lon)
    return {"location": point_out(lat, lon), "areas": [area_out(a) for a in found]}


@areas.get("/{area_id}", response={200: AreaDetailOut, **ERROR_RESPONSES}, url_name="area")
def get_area(request: HttpRequest, area_id: uuid.UUID) -> dict[str, Any]:
    return area_out(queries.area(actor_of(request), area_id), geometry=True)


# ---------------------------------------------------------------------------------------------
# Liaison assignments


def _assignment(actor: Actor, assignment_id: uuid.UUID) -> dict[str, Any]:
    return records_out(actor, registry.get(LiaisonAssignment), [queries.assignment(actor, assignment_id).record])[0]


def _decide(request: HttpRequest, assignment_id: uuid.UUID, payload: AssignmentDecisionIn,
            confirm: bool) -> dict[str, Any]:
    actor = actor_of(request)
    services.decide_assignment(actor, assignment_id, confirm=confirm, reason=payload.reason)
    return _assignment(actor, assignment_id)


@assignments.post("/{assignment_id}/confirm", response={200: _AssignmentOut, **ERROR_RESPONSES},
              url_name="assignment-confirm", exclude_unset=True)
def confirm_assignment(request: HttpRequest, assignment_id: uuid.UUID, payload: AssignmentDecisionIn) -> dict[str, Any]:
    """Confirm, for the officer's organisation, an assignment another organisation recorded (send ``{}``
    or a ``reason``). Members of the officer's organisation only, not the officer nor who asked (403);
    an assignment that is not pending answers 422. Ledgered."""
    return _decide(request, assignment_id, payload, confirm=True)


@assignments.post("/{assignment_id}/refuse", response={200: _AssignmentOut, **ERROR_RESPONSES},
              url_name="assignment-refuse", exclude_unset=True)
def refuse_assignment(request: HttpRequest, assignment_id: uuid.UUID, payload: AssignmentDecisionIn) -> dict[str, Any]:
    """Refuse, for the officer's organisation, an assignment another organisation recorded: it never
    counts as a liaison. The same rules as confirming. Ledgered."""
    return _decide(request, assignment_id, payload, confirm=False)


# ---------------------------------------------------------------------------------------------
# The liaison log


def _entries_out(actor: Actor, shown: list[access.Shown[LiaisonLogEntry]]) -> list[dict[str, Any]]:
    names = queries.people_names(actor, people_named_in(shown))
    return [
        entry_out(s, names, may_edit=access.may(actor, access.Action.EDIT, s.record, s.view),
                  may_release=access.may(actor, access.Action.RELEASE, s.record, s.view))
        for s in shown
    ]


def _entry(actor: Actor, entry_id: uuid.UUID) -> dict[str, Any]:
    return _entries_out(actor, queries.shown_entries(actor, [queries.liaison_entry(actor, entry_id).record]))[0]


def _contact(payload: LiaisonIn) -> services.LiaisonContact:
    return services.LiaisonContact(
        occurred_at=payload.occurred_at, channel=payload.channel, summary=payload.summary, level=payload.level,
        organisation_ids=list(payload.organisations), person_ids=list(payload.people),
        follow_ups=payload.follow_ups, geometry=payload.geometry, latitude=payload.latitude,
        longitude=payload.longitude, location=payload.location, place_name=payload.place_name,
    )


@liaison.get("/liaison-log", response={200: LiaisonEntryPage, **ERROR_RESPONSES}, url_name="liaison-log",
             exclude_unset=True)
def list_liaison_entries(request: HttpRequest, filters: Query[LiaisonQuery]) -> dict[str, Any]:
    """Contacts between organisations, newest first. Filters match only what your view shows."""
    actor = actor_of(request)
    _in_window(actor, since=filters.since, until=filters.until)
    qs = queries.liaison_log(actor, queries.LiaisonFilter(
        q=filters.q, organisation=filters.organisation, channel=filters.channel or "", level=filters.level or "",
        since=filters.since, until=filters.until,
    ))
    found, total = page_of(qs, filters)
    return _page(_entries_out(actor, queries.shown_entries(actor, found)), total, filters)


@liaison.post("/liaison-log", response={201: LiaisonEntryOut, **ERROR_RESPONSES}, url_name="liaison-create",
              exclude_unset=True)
def create_liaison_entry(request: HttpRequest, payload: LiaisonIn) -> Status[dict[str, Any]]:
    """Record a contact, owned by the organisation you act for, at a level it may see."""
    actor = actor_of(request)
    _in_window(actor, occurred_at=payload.occurred_at)
    entry = services.record_liaison_contact(actor, _contact(payload))
    return Status(201, _entry(actor, entry.pk))


@liaison.get("/liaison-log/{entry_id}", response={200: LiaisonEntryOut, **ERROR_RESPONSES}, url_name="liaison-entry",
             exclude_unset=True)
def get_liaison_entry(request: HttpRequest, entry_id: uuid.UUID) -> dict[str, Any]:
    return _entry(actor_of(request), entry_id)


#: The fields of an entry a stale PUT reports, in the order of the body.
_UPDATE_FIELDS = ("occurred_at", "channel", "level", "summary", "organisations", "people", "follow_ups",
                  "geometry", "place_name")


def _stale_out(actor: Actor, exc: StaleEdit) -> dict[str, Any]:
    """The 409 body: every field where the sender's edit and the entry now differ, with both values
    and who changed it since the sender's version. People the sender may not see count nowhere."""
    body: dict[str, Any] = {"detail": exc.message, "errors": {}, "current_version": exc.current_version,
                            "differences": []}
    if not isinstance(exc.merge, core_merge.Merge):
        return body
    named = {str(p) for f in exc.merge.fields.values() if f.name == "people"
             for side in (f.base, f.mine, f.theirs) if isinstance(side, list) for p in side}
    visible = set(queries.people_names(actor, named))

    def seen(name: str, value: Any) -> Any:
        return sorted(p for p in value if p in visible) if name == "people" and isinstance(value, list) else value

    def same(name: str, a: Any, b: Any) -> bool:
        return core_merge.same_value(name, seen(name, a), seen(name, b))

    merged = exc.merge.remerge(same=same)
    body["differences"] = [
        {"field": f.name, "theirs": seen(f.name, f.theirs), "yours": seen(f.name, f.mine), "changed_by": f.changed_by}
        for name in _UPDATE_FIELDS if (f := merged.fields.get(name)) is not None and f.differs
    ]
    return body


@liaison.put("/liaison-log/{entry_id}", response={200: LiaisonEntryOut, 409: LiaisonStaleOut, **ERROR_RESPONSES},
             url_name="liaison-update", exclude_unset=True)
def update_liaison_entry(request: HttpRequest, entry_id: uuid.UUID,
                         payload: LiaisonUpdateIn) -> dict[str, Any] | Status[dict[str, Any]]:
    """Replace an entry. Send the ``version`` you loaded: if someone changed it since, nothing is
    overwritten and the answer is 409 with ``current_version`` and ``differences``, the fields where
    your edit and the entry now differ (their value, yours, and who changed it since your version)."""
    actor = actor_of(request)
    _in_window(actor, occurred_at=payload.occurred_at)
    try:
        services.edit_liaison_contact(actor, entry_id, payload.version, _contact(payload))
    except StaleEdit as exc:
        return Status(409, _stale_out(actor, exc))
    return _entry(actor, entry_id)

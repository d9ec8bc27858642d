"""Writes of the actors app: the liaison log, liaison assignments and areas."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from civmil.actors import boundaries
from civmil.actors.choices import AreaKind, AssignmentStatus, ContactChannel
from civmil.actors.models import Area, LiaisonAssignment, LiaisonLogEntry
from civmil.core import access, dates, events, geo, ledger, services, staging
from civmil.core.choices import Role
from civmil.core.errors import Forbidden, Invalid, ServiceError, StaleEdit
from civmil.core.geometry import parse as parse_geometry
from civmil.core.geometry import point as point_geometry
from civmil.core.models import Membership, Organisation, Person

if TYPE_CHECKING:
    from civmil.core.acting import Actor

LIAISON_FIELDS = ("occurred_at", "channel", "summary", "follow_ups", "geometry", "place_name", "level", "owner")
ASSIGNMENT_FIELDS = ("officer", "from_organisation", "to_organisation", "community", "area", "latitude",
                     "longitude", "starts_on", "ends_on", "notes", "level", "owner", "status")
#: What the officer's organisation is shown of an assignment it is asked to confirm (released to
#: it, by the asking organisation, when the assignment's level does not already open it).
CONFIRMATION_FIELDS = ("officer", "from_organisation", "to_organisation", "community", "starts_on", "ends_on")
#: Roles whose members may confirm or refuse, for their organisation, the assignment of one of its
#: officers by another organisation (not trainers, oversight or administrators: it is not theirs).
CONFIRMING_ROLES = frozenset({
    Role.LEADERSHIP, Role.MILITARY_STAFF, Role.MILITARY_LIAISON, Role.POLICE, Role.CIVILIAN_STAFF, Role.CMCOORD,
    Role.NGO_STAFF, Role.HOST_NATION_LIAISON, Role.COMMUNITY_LIAISON,
})
CONFIRMED_ACTION = "liaison.assignment_confirmed"
REFUSED_ACTION = "liaison.assignment_refused"
DECISION_REASON_MAX = 2000
AREA_FIELDS = ("kind", "name", "name_alt", "pcode", "admin_level", "parent", "responsible", "source", "west",
               "south", "east", "north")

#: How far ahead of the server's clock a contact's time may be (a device's clock runs fast).
CLOCK_SKEW = dt.timedelta(minutes=5)


@dataclass
class LiaisonContact:
    """What a user submits for a liaison log entry (from a form, the API or an import)."""

    occurred_at: dt.datetime
    channel: str
    summary: str
    level: str
    organisation_ids: list[uuid.UUID] = field(default_factory=list)
    person_ids: list[uuid.UUID] = field(default_factory=list)
    follow_ups: str = ""
    #: The place: a GeoJSON Point (dict or text) drawn or sent as is...
    geometry: Any = None
    #: ...or typed, as 'latitude, longitude' or MGRS (wins over the others)...
    location: str = ""
    #: ...or as two numbers (used when neither ``location`` nor ``geometry`` is given).
    latitude: float | None = None
    longitude: float | None = None
    place_name: str = ""


def contact_place(data: LiaisonContact) -> dict[str, Any] | None:
    """The entry's place (a stored GeoJSON Point, or None) from what was submitted; a refusal
    names the input it comes from (``location``, ``geometry``, ``latitude`` or ``longitude``)."""
    allowed = LiaisonLogEntry.GEOMETRY_TYPES
    if data.location.strip():
        try:
            lat, lon = geo.parse_point(data.location)
        except Invalid as exc:
            raise Invalid(exc.message, errors={"location": [exc.message]}) from exc
        return point_geometry(lat, lon)
    if data.geometry not in (None, "", {}):
        try:
            return parse_geometry(data.geometry, where=_("Location"), allowed=allowed).geojson
        except Invalid as exc:
            raise Invalid(exc.message, errors={"geometry": [exc.message]}) from exc
    try:
        geo.check_lat_lon(data.latitude, data.longitude)
    except Invalid as exc:
        raise Invalid(exc.message, errors={"location": [exc.message]}) from exc
    if data.latitude is None or data.longitude is None:
        return None
    return point_geometry(data.latitude, data.longitude)


def _resolve_contact(actor: Actor, data: LiaisonContact) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    errors: dict[str, list[str]] = {}
    if data.channel not in ContactChannel.values:
        errors["channel"] = [_("Choose one of: %(c)s.") % {"c": ", ".join(ContactChannel.values)}]
    if not data.summary.strip():
        errors["summary"] = [_("Say what the contact was about.")]
    if timezone.is_naive(data.occurred_at):
        errors["occurred_at"] = [_("Give the time with its time zone.")]
    elif outside := dates.window_errors({"occurred_at": data.occurred_at}, actor.space_id):
        errors.update(outside)
    elif data.occurred_at > timezone.now() + CLOCK_SKEW:
        errors["occurred_at"] = [_("A contact cannot be recorded in the future.")]
    org_ids = list(dict.fromkeys(data.organisation_ids))
    organisations = list(Organisation.objects.filter(pk__in=org_ids))
    if not org_ids:
        errors["organisations"] = [_("Name at least one organisation taking part.")]
    elif len(organisations) != len(org_ids):
        errors["organisations"] = [_("Some of these organisations do not exist.")]
    person_ids = list(dict.fromkeys(data.person_ids))
    people = list(access.visible(actor, Person.objects.filter(pk__in=person_ids)))
    if len(people) != len(person_ids):
        errors["people"] = [_("Some of these people do not exist.")]
    place = None
    try:
        place = contact_place(data)
    except Invalid as exc:
        errors.update(exc.errors)
    if errors:
        raise Invalid(_("The liaison log entry has errors; see each field."), errors=errors)
    values = {
        "occurred_at": data.occurred_at, "channel": data.channel, "summary": data.summary.strip(),
        "follow_ups": data.follow_ups.strip(), "geometry": place,
        "place_name": data.place_name.strip(), "level": data.level,
    }
    return values, {"organisations": organisations, "people": people}


def record_liaison_contact(actor: Actor, data: LiaisonContact) -> LiaisonLogEntry:
    """Record one contact between organisations, owned by the actor's organisation."""
    if actor.organisation is None:
        raise Invalid(_("You need a current membership of an organisation to record contacts."))
    values, m2m = _resolve_contact(actor, data)
    entry = LiaisonLogEntry(owner=actor.organisation, **values)
    return services.create_record(actor, entry, action="liaison.recorded", fields=LIAISON_FIELDS, m2m=m2m)


def edit_liaison_contact(actor: Actor, pk: Any, expected_version: int, data: LiaisonContact) -> LiaisonLogEntry:
    """Edit an entry if it is still at ``expected_version`` (else a stale-edit error)."""
    values, m2m = _resolve_contact(actor, data)
    # People on the entry whom the editor may not see stay on it: an editor cannot remove what
    # they cannot see (and never learns it is there).
    current = LiaisonLogEntry.objects.filter(pk=pk).first()
    if current is not None:
        seen = access.visible(actor, current.people.all()).values("pk")
        m2m["people"] = [*m2m["people"], *current.people.exclude(pk__in=seen)]
    return services.update_record(actor, LiaisonLogEntry, pk, expected_version, values,
                                  action="liaison.edited", m2m=m2m)


@dataclass
class Assignment:
    officer_id: uuid.UUID
    starts_on: dt.date
    level: str
    to_organisation_id: uuid.UUID | None = None
    community: str = ""
    area_id: uuid.UUID | None = None
    location: str = ""
    ends_on: dt.date | None = None
    notes: str = ""
    #: Used when ``location`` is empty.
    latitude: float | None = None
    longitude: float | None = None


def officer_organisations(officer: Person) -> list[Organisation]:
    """The organisations of the officer's current memberships: the ones that assign or confirm them."""
    current = Membership.objects.current().filter(person=officer).values("organisation_id")
    return list(Organisation.objects.filter(pk__in=current).order_by("name"))


def assign_liaison(actor: Actor, data: Assignment) -> LiaisonAssignment:
    """Assign a liaison officer to an organisation or a community, on behalf of the actor's organisation.

    An officer is assigned by their own organisation (one of their current memberships): then the
    assignment stands at once. Recorded by another organisation, it is ``PENDING`` until a member
    of the officer's organisation confirms or refuses it (:func:`decide_assignment`), and it does
    not say who liaises with whom meanwhile; the officer's organisation is released what it needs
    to decide (:data:`CONFIRMATION_FIELDS`) where the level would not show it.
    """
    if actor.organisation is None:
        raise Invalid(_("You need a current membership of an organisation to assign liaison officers."))
    errors: dict[str, list[str]] = {}
    officer = access.visible(actor, Person.objects.filter(pk=data.officer_id)).first()
    officer_orgs = officer_organisations(officer) if officer is not None else []
    if officer is None:
        errors["officer"] = [_("No such person.")]
    elif not officer_orgs:
        errors["officer"] = [_("This person has no current membership of an organisation, so no organisation can "
                               "assign or confirm them as a liaison officer.")]
    if not data.to_organisation_id and not data.community.strip():
        errors["to_organisation"] = [_("Name the organisation or the community the officer liaises with.")]
    to_org = Organisation.objects.filter(pk=data.to_organisation_id).first() if data.to_organisation_id else None
    if data.to_organisation_id and to_org is None:
        errors["to_organisation"] = [_("No such organisation.")]
    area = Area.objects.filter(pk=data.area_id).first() if data.area_id else None
    if data.area_id and area is None:
        errors["area"] = [_("No such area.")]
    lat, lon = data.latitude, data.longitude
    if data.location.strip():
        try:
            lat, lon = geo.parse_point(data.location)
        except Invalid as exc:
            errors["location"] = [exc.message]
    else:
        try:
            geo.check_lat_lon(lat, lon)
        except Invalid as exc:
            errors["location"] = [exc.message]
    errors.update(dates.window_errors({"starts_on": data.starts_on, "ends_on": data.ends_on}, actor.space_id))
    if data.ends_on and data.ends_on < data.starts_on and "ends_on" not in errors:
        errors["ends_on"] = [_("The assignment cannot end before it starts.")]
    if errors:
        raise Invalid(_("The liaison assignment has errors; see each field."), errors=errors)
    own = any(org.pk == actor.organisation_id for org in officer_orgs)
    assignment = LiaisonAssignment(
        owner=actor.organisation, level=data.level, officer=officer, from_organisation=actor.organisation,
        to_organisation=to_org, community=data.community.strip(), area=area, latitude=lat, longitude=lon,
        starts_on=data.starts_on, ends_on=data.ends_on, notes=data.notes.strip(),
        status=AssignmentStatus.CONFIRMED if own else AssignmentStatus.PENDING,
    )
    with transaction.atomic():
        created = services.create_record(actor, assignment, action="liaison.assigned", fields=ASSIGNMENT_FIELDS)
        if not own:
            for org in officer_orgs:
                if not access.level_opens_to(created.level, org.component, None):
                    services.release_record(actor, created, organisation=org, fields=list(CONFIRMATION_FIELDS))
    return created


#: The fields of an assignment its owner may change; the officer is not one of them (another
#: officer is another assignment, with its own confirmation).
ASSIGNMENT_EDITABLE = ("to_organisation", "community", "area", "latitude", "longitude", "starts_on", "ends_on",
                       "notes", "level")
EDITED_ACTION = "liaison.assignment_edited"


def edit_assignment(actor: Actor, pk: Any, expected_version: int, values: dict[str, Any]) -> LiaisonAssignment:
    """Change an assignment if it is still at ``expected_version`` (else a stale-edit error).

    ``values`` holds :data:`ASSIGNMENT_EDITABLE` (related records as instances). The same rules
    as :func:`assign_liaison`: a counterpart (organisation or community), dates in the mission's
    window and in order, a location with both coordinates or none. The owner and whoever recorded
    it may edit; its status and the officer stay as they are.
    """
    changes = {name: values[name] for name in ASSIGNMENT_EDITABLE if name in values}
    changes["community"] = (changes.get("community") or "").strip()
    changes["notes"] = (changes.get("notes") or "").strip()
    errors: dict[str, list[str]] = {}
    if not changes.get("to_organisation") and not changes["community"]:
        errors["to_organisation"] = [_("Name the organisation or the community the officer liaises with.")]
    lat, lon = changes.get("latitude"), changes.get("longitude")
    try:
        geo.check_lat_lon(lat, lon)
    except Invalid as exc:
        errors["latitude" if lat is None else "longitude"] = [exc.message]
    starts, ends = changes.get("starts_on"), changes.get("ends_on")
    if starts is None:
        errors["starts_on"] = [_("This field is required.")]
    errors.update(dates.window_errors({"starts_on": starts, "ends_on": ends}, actor.space_id))
    if starts and ends and ends < starts and "ends_on" not in errors:
        errors["ends_on"] = [_("The assignment cannot end before it starts.")]
    if errors:
        raise Invalid(_("The liaison assignment has errors; see each field."), errors=errors)
    return services.update_record(actor, LiaisonAssignment, pk, expected_version, changes, action=EDITED_ACTION)


def may_decide(actor: Actor, assignment: LiaisonAssignment) -> bool:
    """Whether ``actor`` may confirm or refuse ``assignment`` for the officer's organisation.

    A pending assignment, decided by a member of one of the officer's current organisations (acting
    as that membership) in a :data:`CONFIRMING_ROLES` role, who is neither the officer nor the
    person who asked.
    """
    if (assignment.status != AssignmentStatus.PENDING or actor.membership is None or actor.person_id is None
            or actor.organisation_id is None):
        return False
    if actor.role not in CONFIRMING_ROLES or actor.person_id in (assignment.officer_id, assignment.created_by_id):
        return False
    return Membership.objects.current().filter(person_id=assignment.officer_id,
                                               organisation_id=actor.organisation_id).exists()


def decide_assignment(actor: Actor, pk: Any, *, confirm: bool, reason: str = "") -> LiaisonAssignment:
    """Confirm or refuse, for the officer's organisation, an assignment another organisation recorded.

    A hidden or missing assignment is :class:`NotFound`; one that is not pending, or a decider who
    may not decide (:func:`may_decide`), is refused with the reason. Ledgered (who decided, and the
    reason given) and published live.
    """
    shown = access.fetch(actor, LiaisonAssignment, pk)
    reason = (reason or "").strip()
    if len(reason) > DECISION_REASON_MAX:
        message = _("Give the reason in at most %(n)s characters.") % {"n": DECISION_REASON_MAX}
        raise Invalid(message, errors={"reason": [message]})
    with transaction.atomic():
        assignment = LiaisonAssignment.objects.select_for_update().get(pk=shown.record.pk)
        if assignment.status != AssignmentStatus.PENDING:
            raise Invalid(_("This assignment is not waiting for confirmation (it is %(status)s).")
                          % {"status": assignment.get_status_display()})
        if not may_decide(actor, assignment):
            raise Forbidden(_("Only a member of the liaison officer's own organisation may confirm or refuse this "
                              "assignment (not the officer, nor the person who asked)."))
        assignment.status = AssignmentStatus.CONFIRMED if confirm else AssignmentStatus.REFUSED
        assignment.decided_by = actor.person
        assignment.decided_at = timezone.now()
        assignment.decision_reason = reason
        assignment.version += 1
        assignment.save(update_fields=["status", "decided_by", "decided_at", "decision_reason", "version",
                                       "updated_at"])
        action = CONFIRMED_ACTION if confirm else REFUSED_ACTION
        ledger.append(actor, action, services.object_type(assignment), assignment.pk, {
            "version": assignment.version, "status": assignment.status, "decided_by": actor.person_id,
            "organisation": actor.organisation_id, "reason": reason,
        })
        events.publish(action, assignment)
    return assignment


def save_area(actor: Actor | None, area: Area, geometry: Any, expected_version: int | None = None) -> Area:
    """Create or update an area from GeoJSON; refuses invalid geometry with the reason."""
    services._require_admin(actor)
    area.set_geometry(parse_geometry(geometry, where=_("Area %(name)s") % {"name": area.name or area.pcode or "?"},
                                     allowed=Area.GEOMETRY_TYPES, limit=Area.MAX_VERTICES))
    services._clean(area)
    node, seen = area.parent, set()
    while node is not None and node.pk not in seen:
        if node.pk == area.pk:
            raise Invalid(_("That parent would make a loop in the area hierarchy."),
                          errors={"parent": [_("Choose a parent outside this area's own branch.")]})
        seen.add(node.pk)
        node = node.parent
    with transaction.atomic():
        creating = area._state.adding
        if not creating:
            current = Area.objects.select_for_update().get(pk=area.pk)
            if expected_version is not None and current.version != expected_version:
                raise StaleEdit(_("This area was changed by someone else; reload and try again."),
                                         current_version=current.version)
            area.version = current.version + 1
        area.save(force_insert=creating)
        ledger.append(actor, "area.created" if creating else "area.updated", services.object_type(area), area.pk,
                      {"version": area.version, **ledger.snapshot(area, AREA_FIELDS),
                       # The boundary itself is large: the ledger keeps its hash, which proves it.
                       "geometry_sha256": ledger.change_hash(area.geometry)})
    return area


# ---------------------------------------------------------------------------------------------
# Boundary import: administrative areas from a COD-AB GeoJSON file (see civmil.actors.boundaries)

_PCODE_CHUNK = 500


@dataclass
class BoundaryImportResult:
    """What an import wrote; ``skipped`` are the rejected features left out after confirmation."""

    import_id: uuid.UUID
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[boundaries.RejectedFeature] = field(default_factory=list)


def _areas_by_pcode(pcodes: Iterable[str], *, lock: bool) -> dict[str, Area]:
    codes = list(dict.fromkeys(p for p in pcodes if p))
    found: dict[str, Area] = {}
    for start in range(0, len(codes), _PCODE_CHUNK):
        qs = Area.objects.filter(pcode__in=codes[start:start + _PCODE_CHUNK])
        if lock:
            qs = qs.select_for_update()
        found.update({str(a.pcode): a for a in qs})
    return found


def _boundary_unchanged(area: Area, planned: boundaries.PlannedArea, parent: Area | None,
                        options: boundaries.ImportOptions) -> bool:
    return (
        area.name == planned.name
        and area.admin_level == options.level
        and (not options.alt_name_field or area.name_alt == planned.name_alt)
        and (not options.parent_field or area.parent_id == (parent.pk if parent else None))
        and (not options.source or area.source == options.source)
        and boundaries.same_geometry(area.geometry, planned.geometry)
    )


def import_boundaries(
    actor: Actor | None, plan: boundaries.BoundaryPlan, confirm: bool = False
) -> BoundaryImportResult:
    """Write a boundary plan, all or nothing (administrators, or the operator at the console).

    With any rejected feature nothing is written unless ``confirm`` is given: then the valid
    features are imported and the rejected ones are left out (and named in the ledger). Areas
    are matched by P-code: a known P-code updates its area (an area that would not change is
    left alone), a new one creates an administrative area. Each area is written by
    :func:`save_area` (ledgered there), and one ``areas.imported`` entry records the file and
    the outcome. Any failure rolls the whole import back.
    """
    services._require_admin(actor)
    staging.refuse_unconfirmed(
        error=plan.error, rejected=plan.rejected, valid=len(plan.areas), confirm=confirm, field="features",
        rejected_message=lambda n, ok: ngettext(
            "%(n)s feature is rejected, so nothing was imported. Fix it and import the file again, or "
            "confirm to import the %(ok)s valid features without it.",
            "%(n)s features are rejected, so nothing was imported. Fix them and import the file again, or "
            "confirm to import the %(ok)s valid features without them.",
            n,
        ) % {"n": n, "ok": ok},
        nothing_message=_("No feature of the file can be imported."))
    options = plan.options
    result = BoundaryImportResult(import_id=uuid.uuid4(), skipped=list(plan.rejected))
    with transaction.atomic():
        current = _areas_by_pcode([a.pcode for a in plan.areas], lock=True)
        in_file = {a.pcode for a in plan.areas}
        outside = _areas_by_pcode([a.parent_pcode for a in plan.areas if a.parent_pcode not in in_file], lock=False)
        done: dict[str, Area] = {}
        for planned in plan.areas:
            where = {"n": planned.index, "pcode": planned.pcode}
            parent: Area | None = None
            if planned.parent_pcode:
                parent = done.get(planned.parent_pcode) or outside.get(planned.parent_pcode)
                if parent is None:
                    raise Invalid(
                        _("Feature %(n)s (P-code %(pcode)s): its parent %(parent)s no longer exists; check the "
                          "file again.") % {**where, "parent": planned.parent_pcode})
            area = current.get(planned.pcode)
            if area is not None and _boundary_unchanged(area, planned, parent, options):
                result.unchanged += 1
                done[planned.pcode] = area
                continue
            if area is None:
                area = Area(kind=AreaKind.ADMINISTRATIVE, pcode=planned.pcode)
                result.created += 1
            else:
                result.updated += 1
            area.name = planned.name
            area.admin_level = options.level
            if options.alt_name_field or area._state.adding:
                area.name_alt = planned.name_alt
            if options.parent_field or area._state.adding:
                area.parent = parent
            if options.source:
                area.source = options.source
            try:
                save_area(actor, area, planned.geometry)
            except ServiceError as exc:
                raise type(exc)(_("Feature %(n)s (P-code %(pcode)s): %(why)s") % {**where, "why": exc.message},
                                errors=exc.errors) from exc
            done[planned.pcode] = area
        ledger.append(actor, "areas.imported", services.object_type(Area), result.import_id, {
            "sha256": plan.sha256,
            "level": options.level,
            "fields": {"pcode": options.pcode_field, "name": options.name_field, "alt_name": options.alt_name_field,
                       "parent": options.parent_field},
            "source": options.source,
            "features": plan.feature_count,
            "created": result.created,
            "updated": result.updated,
            "unchanged": result.unchanged,
            "skipped": [[r.index, r.pcode] for r in plan.rejected],
        })
    return result


# ---------------------------------------------------------------------------------------------
# Directory import (CSV of organisations or people)


@dataclass
class DirectoryImportResult:
    """What a directory import wrote; ``skipped`` are the rejected rows left out after confirmation."""

    import_id: uuid.UUID
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    memberships: int = 0
    skipped: list[Any] = field(default_factory=list)


def _parent_order(rows: list[Any]) -> list[Any]:
    """Organisation rows with every parent (a row of the file) before its children."""
    by_name = {r.label.casefold(): r for r in rows}
    ordered: list[Any] = []
    placed: set[int] = set()

    def place(row: Any, depth: int = 0) -> None:
        if row.number in placed or depth > len(rows):
            return
        parent = by_name.get(row.parent_in_file) if row.parent_in_file else None
        if parent is not None:
            place(parent, depth + 1)
        placed.add(row.number)
        ordered.append(row)

    for row in rows:
        place(row)
    return ordered


def _import_organisation_row(actor: Actor | None, planned: Any, written: dict[str, Organisation]) -> None:
    if planned.target_id is None:
        org = Organisation()
    else:
        org = Organisation.objects.select_for_update().get(pk=planned.target_id)
    for name, value in planned.values.items():
        setattr(org, name, value)
    if planned.parent_in_file:
        org.parent = written[planned.parent_in_file]
    services.save_organisation(actor, org, expected_version=planned.target_version)
    written[org.name.casefold()] = org


def _import_person_row(actor: Actor | None, planned: Any) -> bool:
    """Write one person row; ``True`` when a membership was added."""
    person = Person() if planned.target_id is None else Person.objects.select_for_update().get(pk=planned.target_id)
    changed = planned.target_id is None or any(n != "membership" for n in planned.changes)
    if changed:
        for name, value in planned.values.items():
            setattr(person, name, value)
        services.save_person(actor, person, expected_version=planned.target_version)
    if planned.membership:
        org_id, role, position = planned.membership
        services.add_membership(actor, person=person, organisation=Organisation.objects.get(pk=org_id),
                                role=role, position=position)
        return True
    return False


def import_directory(actor: Actor | None, plan: Any, confirm: bool = False) -> DirectoryImportResult:
    """Write a directory plan (:mod:`civmil.actors.directory_csv`), all or nothing.

    Administrators only (or the operator at the console). With any rejected row nothing is
    written unless ``confirm`` is given: then the valid rows are imported and the rejected ones
    left out (and named in the ledger). Every write goes through the kernel's
    ``save_organisation`` / ``save_person`` / ``add_membership`` (each ledgered there), in one
    transaction with a closing ``directory.imported`` entry. A record changed since the plan
    was made, or any other failure, rolls the whole import back.
    """
    from civmil.actors import directory_csv

    services._require_admin(actor)
    staging.refuse_unconfirmed(
        error=plan.error, rejected=plan.rejected, valid=len(plan.rows), confirm=confirm, field="rows",
        rejected_message=lambda n, ok: ngettext(
            "%(n)s row is rejected, so nothing was imported. Fix it and import the file again, or confirm to "
            "import the %(ok)s valid rows without it.",
            "%(n)s rows are rejected, so nothing was imported. Fix them and import the file again, or confirm "
            "to import the %(ok)s valid rows without them.",
            n,
        ) % {"n": n, "ok": ok},
        nothing_message=_("No row of the file can be imported."))
    result = DirectoryImportResult(import_id=uuid.uuid4(), skipped=list(plan.rejected))
    organisations = plan.kind == directory_csv.ORGANISATIONS
    rows = _parent_order(plan.rows) if organisations else plan.rows
    written: dict[str, Organisation] = {}
    with transaction.atomic():
        for planned in rows:
            if planned.action == directory_csv.UNCHANGED:
                result.unchanged += 1
                if organisations:
                    written[planned.label.casefold()] = Organisation.objects.get(pk=planned.target_id)
                continue
            try:
                if organisations:
                    _import_organisation_row(actor, planned, written)
                elif _import_person_row(actor, planned):
                    result.memberships += 1
            except StaleEdit as exc:
                raise StaleEdit(_("Row %(n)s (%(label)s) was changed by someone else since the check; upload the "
                                  "file again.") % {"n": planned.number, "label": planned.label},
                                **exc.extra) from exc
            except ServiceError as exc:
                raise type(exc)(_("Row %(n)s (%(label)s): %(why)s") % {
                    "n": planned.number, "label": planned.label, "why": exc.message}, errors=exc.errors) from exc
            if planned.action == directory_csv.CREATE:
                result.created += 1
            else:
                result.updated += 1
        model = Organisation if organisations else Person
        ledger.append(actor, "directory.imported", services.object_type(model), result.import_id, {
            "kind": plan.kind,
            "sha256": plan.sha256,
            "created": result.created,
            "updated": result.updated,
            "unchanged": result.unchanged,
            "memberships": result.memberships,
            "skipped": [r.number for r in plan.rejected],
        })
    return result

"""API schemas of the actors app: areas, liaison assignments, the liaison log, releases, history.

Output follows :mod:`civmil.core.schemas`: a field the reader's view withholds is absent.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING, Annotated, Any, Literal

from ninja import Field, Schema
from pydantic import ConfigDict, WithJsonSchema
from pydantic.config import JsonDict

from civmil.actors.choices import AreaKind, AssignmentStatus, ContactChannel
from civmil.core import geo
from civmil.core.access import Shown
from civmil.core.choices import Component, OrganisationKind, Role
from civmil.core.dates import DEFAULT_EARLIEST_YEAR
from civmil.core.kernel.api import FieldDifference
from civmil.core.schemas import (
    NOT_BLANK,
    WINDOW_NOTE,
    CleanStr,
    Latitude,
    Longitude,
    OrganisationRef,
    Page,
    PageQuery,
    PersonRef,
    RecordOut,
    StaleEditOut,
    UtcDatetime,
    Version,
    WindowDate,
    WindowDatetime,
    date_schema,
    organisation_ref,
    record_out,
    withholdable,
)
from civmil.core.schemas_geometry import geometry_schema

if TYPE_CHECKING:
    from civmil.actors.models import Area, LiaisonAssignment, LiaisonLogEntry


#: A time that has passed, inside the window: the document states the default window's first year to this one.
PastDatetime = Annotated[UtcDatetime, WithJsonSchema(date_schema(DEFAULT_EARLIEST_YEAR, dt.date.today().year,
                                                                   time=True))]

#: The levels a liaison record may have (``civmil.actors.records.LIAISON_LEVELS``; a test keeps them equal).
LiaisonLevel = Literal["mission", "humanitarian", "military", "restricted"]

ENTRY_FIELDS = ("occurred_at", "channel", "organisations", "people", "summary", "follow_ups", "geometry",
                "place_name", "created_by")
#: An entry's place: a GeoJSON Point (``LiaisonLogEntry.GEOMETRY_TYPES``).
EntryPlace = geometry_schema(("Point",))
ASSIGNMENT_FIELDS = ("officer", "from_organisation", "to_organisation", "community", "area", "latitude",
                     "longitude", "starts_on", "ends_on", "notes")


# ---------------------------------------------------------------------------------------------
# The directory (kernel records; their queries live in this app)


class OrganisationQuery(PageQuery):
    q: CleanStr = Field("", max_length=200, description="Name or acronym.")
    component: Component | None = None
    kind: OrganisationKind | None = None


class PeopleQuery(PageQuery):
    q: CleanStr = Field("", max_length=200, description="Name or title.")
    organisation: uuid.UUID | None = Field(None, description="People with a membership of this organisation.")
    role: Role | None = None


class MembershipQuery(PageQuery):
    person: uuid.UUID | None = None
    organisation: uuid.UUID | None = None
    role: Role | None = None
    current: bool = Field(True, description="Only memberships active today (false: every status and period).")


# ---------------------------------------------------------------------------------------------
# Areas


class AreaRef(Schema):
    id: uuid.UUID
    name: str
    pcode: str | None
    admin_level: int | None


class AreaOut(Schema):
    id: uuid.UUID
    kind: AreaKind
    name: str
    name_alt: str
    pcode: str | None
    admin_level: int | None
    parent: AreaRef | None
    responsible: OrganisationRef | None
    bbox: list[float] = Field(description="[west, south, east, north] in WGS84 (GeoJSON's bbox order).")
    source: str
    version: int


class AreaDetailOut(AreaOut):
    geometry: dict[str, Any] = Field(description="GeoJSON geometry (Polygon or MultiPolygon) in WGS84.")


class AreaPage(Page):
    items: list[AreaOut]


class AreaQuery(PageQuery):
    q: CleanStr = Field("", max_length=200, description="Name, alternative name or exact P-code.")
    admin_level: int | None = Field(None, ge=0, le=20)


class LookupQuery(Schema):
    location: CleanStr = Field(max_length=100, description=(
        "'latitude, longitude' in decimal degrees, or an MGRS reference such as 34N CF 12345 67890."))


class PointOut(Schema):
    latitude: float
    longitude: float
    mgrs: str = Field(description="MGRS reference of the point (empty outside MGRS coverage).")


class AreaLookupOut(Schema):
    location: PointOut
    areas: list[AreaOut] = Field(description="Areas containing the point, by kind and admin level.")


def area_ref(area: Area) -> dict[str, Any]:
    return {"id": area.pk, "name": area.name, "pcode": area.pcode, "admin_level": area.admin_level}


def area_out(area: Area, *, geometry: bool = False) -> dict[str, Any]:
    out = {
        "id": area.pk, "kind": area.kind, "name": area.name, "name_alt": area.name_alt, "pcode": area.pcode,
        "admin_level": area.admin_level, "parent": area_ref(area.parent) if area.parent else None,
        "responsible": organisation_ref(area.responsible) if area.responsible else None,
        "bbox": [area.west, area.south, area.east, area.north], "source": area.source,
        "version": area.version,
    }
    if geometry:
        out["geometry"] = area.geometry
    return out


def point_out(lat: float, lon: float) -> dict[str, Any]:
    return {"latitude": lat, "longitude": lon, "mgrs": geo.to_mgrs(lat, lon)}


# ---------------------------------------------------------------------------------------------
# Liaison assignments


#: The assignment's rule across two fields, for the document: an organisation, or a community that
#: is not blank (the service refuses neither on ``to_organisation``, naming it).
ORGANISATION_OR_COMMUNITY: JsonDict = {"anyOf": [
    {"required": ["to_organisation"], "properties": {"to_organisation": {"type": "string"}}},
    {"required": ["community"], "properties": {"community": NOT_BLANK}},
]}


class AssignmentIn(Schema):
    model_config = ConfigDict(json_schema_extra=ORGANISATION_OR_COMMUNITY)

    officer: uuid.UUID = Field(description="The liaison officer (a person you may see).")
    level: LiaisonLevel
    starts_on: WindowDate
    ends_on: WindowDate | None = None
    to_organisation: uuid.UUID | None = Field(None, description="Give this, or a community, or both.")
    community: CleanStr = Field("", max_length=200)
    area: uuid.UUID | None = None
    location: CleanStr = Field("", max_length=100, description="'latitude, longitude' or an MGRS reference.")
    notes: CleanStr = Field("", max_length=10_000)


class AssignmentOut(RecordOut):
    officer: PersonRef = withholdable()
    from_organisation: OrganisationRef = withholdable()
    to_organisation: OrganisationRef | None = withholdable()
    community: str = withholdable()
    area: AreaRef | None = withholdable()
    latitude: float | None = withholdable()
    longitude: float | None = withholdable()
    starts_on: dt.date = withholdable()
    ends_on: dt.date | None = withholdable()
    notes: str = withholdable()
    status: AssignmentStatus = Field(description=(
        "confirmed: recorded by the officer's own organisation, or confirmed by it; pending: recorded by "
        "another organisation and waiting for the officer's organisation to confirm it (it does not count "
        "as a liaison meanwhile); refused: the officer's organisation refused it."))
    decided_by: PersonRef | None = withholdable(
        "Who confirmed or refused it for the officer's organisation; null when no one did, or when you may "
        "not see that person.")
    decided_at: dt.datetime | None = withholdable()
    decision_reason: str = withholdable()


class AssignmentPage(Page):
    items: list[AssignmentOut]


class AssignmentQuery(PageQuery):
    organisation: uuid.UUID | None = Field(None, description="Assignments from or to this organisation.")
    current: bool = Field(False, description="Only assignments running today.")
    status: AssignmentStatus | None = Field(None, description="Only assignments with this status.")
    to_decide: bool = Field(False, description=(
        "Only pending assignments of officers of your organisation that you may confirm or refuse."))


class AssignmentDecisionIn(Schema):
    reason: CleanStr = Field("", max_length=2000, description="Why (optional); kept in the ledger.")


def assignment_out(shown: Shown[LiaisonAssignment], names: dict[str, str]) -> dict[str, Any]:
    """``names``: people the reader may see, by id (see ``queries.people_names``)."""
    a = shown.record
    out = record_out(shown, ASSIGNMENT_FIELDS)
    show = shown.view.shows
    if show("officer") and str(a.officer_id) in names:
        out["officer"] = {"id": a.officer_id, "full_name": names[str(a.officer_id)]}
    elif "officer" not in out["withheld"]:
        out["withheld"].append("officer")
    if show("from_organisation"):
        out["from_organisation"] = organisation_ref(a.from_organisation)
    if show("to_organisation"):
        out["to_organisation"] = organisation_ref(a.to_organisation) if a.to_organisation else None
    if show("area"):
        out["area"] = area_ref(a.area) if a.area else None
    for name in ("community", "latitude", "longitude", "starts_on", "ends_on", "notes"):
        if show(name):
            out[name] = getattr(a, name)
    out["status"] = a.status
    for name in ("decided_by", "decided_at", "decision_reason"):
        if not show(name):
            out["withheld"].append(name)
        elif name == "decided_by":
            decider = str(a.decided_by_id) if a.decided_by_id else ""
            out[name] = {"id": a.decided_by_id, "full_name": names[decider]} if decider in names else None
        else:
            out[name] = getattr(a, name)
    return out


# ---------------------------------------------------------------------------------------------
# The liaison log


class LiaisonIn(Schema):
    occurred_at: PastDatetime = Field(description="When the contact took place, with its offset; not in the "
                                                  "future. " + WINDOW_NOTE)
    channel: ContactChannel
    level: LiaisonLevel
    summary: CleanStr = Field(max_length=10_000, json_schema_extra=NOT_BLANK)
    organisations: list[uuid.UUID] = Field(max_length=50, json_schema_extra={"minItems": 1},
                                           description="Organisations taking part (one or more).")
    people: list[uuid.UUID] = Field(default_factory=list, max_length=100)
    follow_ups: CleanStr = Field("", max_length=10_000)
    geometry: EntryPlace | None = Field(None, description=(  # type: ignore[valid-type]
        "Where the contact took place: a GeoJSON Point in WGS84 ([longitude, latitude]). Or give "
        "``location``, or ``latitude`` and ``longitude``."))
    latitude: Latitude | None = Field(None, description="With longitude, when neither geometry nor location is given.")
    longitude: Longitude | None = Field(None, description="With latitude, when neither geometry nor location is given.")
    location: CleanStr = Field("", max_length=100, description=(
        "'latitude, longitude' or an MGRS reference; when given it replaces geometry, latitude and longitude."))
    place_name: CleanStr = Field("", max_length=200)


class LiaisonUpdateIn(LiaisonIn):
    version: Version


class LiaisonStaleOut(StaleEditOut):
    """409: the entry changed since the version you sent, and nothing was written. ``differences``
    lists every field where your edit and the entry now differ; to apply your changes on top of the
    new version, take theirs where ``changed_by`` is 'them', keep yours where it is 'you', decide
    where it is 'both', and send again with ``current_version``."""

    differences: list[FieldDifference]


class LiaisonEntryOut(RecordOut):
    occurred_at: dt.datetime = withholdable()
    channel: ContactChannel = withholdable()
    organisations: list[OrganisationRef] = withholdable()
    people: list[PersonRef] = withholdable("Only the people you may see are named.")
    summary: str = withholdable()
    follow_ups: str = withholdable()
    geometry: dict[str, Any] | None = withholdable("Where the contact took place: a GeoJSON Point (WGS84), or null.")
    latitude: float | None = withholdable("The point's latitude (withheld with the geometry).")
    longitude: float | None = withholdable("The point's longitude (withheld with the geometry).")
    mgrs: str = withholdable("MGRS reference of the location (when the geometry is shown).")
    place_name: str = withholdable()
    created_by: PersonRef | None = withholdable("Who recorded it; null when you may not see that person.")
    may_edit: bool
    may_release: bool


class LiaisonEntryPage(Page):
    items: list[LiaisonEntryOut]


class LiaisonQuery(PageQuery):
    q: CleanStr = Field("", max_length=200, description="Text in the summary, follow-ups or place.")
    organisation: uuid.UUID | None = Field(None, description="Entries owned by or naming this organisation.")
    channel: ContactChannel | None = None
    level: LiaisonLevel | None = None
    since: WindowDatetime | None = Field(None, description="Contacts at or after this time (with its offset).")
    until: WindowDatetime | None = Field(None, description="Contacts at or before this time (with its offset).")


def entry_out(shown: Shown[LiaisonLogEntry], names: dict[str, str], *, may_edit: bool,
              may_release: bool) -> dict[str, Any]:
    """``names``: people the reader may see, by id; the organisations and people are prefetched."""
    e = shown.record
    out = record_out(shown, ENTRY_FIELDS)
    show = shown.view.shows
    for name in ("occurred_at", "channel", "summary", "follow_ups", "geometry", "place_name"):
        if show(name):
            out[name] = getattr(e, name)
    if show("geometry"):
        point = e.point
        out["latitude"], out["longitude"] = point if point is not None else (None, None)
        if point is not None:
            out["mgrs"] = geo.to_mgrs(*point)
    else:  # the point's coordinates go with it (clients of the time before geometry read these names)
        out["withheld"] += ["latitude", "longitude"]
    if show("organisations"):
        out["organisations"] = [organisation_ref(o) for o in sorted(e.organisations.all(), key=lambda o: o.name)]
    if show("people"):
        out["people"] = [{"id": p.pk, "full_name": names[str(p.pk)]}
                         for p in e.people.all() if str(p.pk) in names]
    if show("created_by"):
        creator = str(e.created_by_id) if e.created_by_id else None
        out["created_by"] = {"id": e.created_by_id, "full_name": names[creator]} \
            if creator and creator in names else None
    out.update(may_edit=may_edit, may_release=may_release)
    return out


def people_named_in(entries: list[Shown[LiaisonLogEntry]]) -> set[Any]:
    """Ids of the people the views of ``entries`` could name (to look up which the reader may see)."""
    ids: set[Any] = set()
    for shown in entries:
        if shown.view.shows("people"):
            ids.update(p.pk for p in shown.record.people.all())
        if shown.view.shows("created_by") and shown.record.created_by_id:
            ids.add(shown.record.created_by_id)
    return ids

"""API schemas of the kernel: errors, pagination, organisations, people, memberships.

Records come out of the API as the reader's *view* (:class:`civmil.core.access.Shown`): a field
the view withholds is **absent** from the JSON, never ``null`` and never an empty string, so a
client can tell "withheld" from "empty". Such fields are declared optional (not ``required``) in
the OpenAPI document; ``withheld`` lists their names and ``view`` says which view was given.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING, Annotated, Any, Literal

from django.utils.translation import gettext as _
from ninja import Field, Schema
from pydantic import AfterValidator, AwareDatetime, WithJsonSchema
from pydantic.config import JsonDict

from civmil.core.access import Shown, ViewKind
from civmil.core.choices import Component, Level, MembershipStatus, OrganisationKind, Role

if TYPE_CHECKING:
    from civmil.core.models import Membership, Organisation, Person

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50
MAX_OFFSET = 1_000_000
PERSON_CONTACT_FIELDS = ("email", "phone", "radio_call_sign", "messaging")


# ---------------------------------------------------------------------------------------------
# Input types


def _clean_text(value: str) -> str:
    """Refuse what no database stores faithfully: NUL characters and unpaired surrogates."""
    if "\x00" in value:
        raise ValueError(_("Text may not contain NUL characters."))
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(_("Text must be valid Unicode (it contains an unpaired surrogate).")) from exc
    return value


def _sane_year(value: dt.datetime) -> dt.datetime:
    if not 1900 <= value.year <= 2999:
        raise ValueError(_("Give a time between the years 1900 and 2999."))
    return value


def _in_utc(value: dt.datetime) -> dt.datetime:
    """The same instant in UTC: PostgreSQL refuses offsets beyond 15:59 that ISO 8601 allows (up to 23:59).
    A time at the edge of Python's calendar stays as given, for the window check to refuse."""
    try:
        return value.astimezone(dt.UTC)
    except (OverflowError, ValueError):
        return value


def _sane_date(value: dt.date) -> dt.date:
    if not 1900 <= value.year <= 2999:
        raise ValueError(_("Give a date between the years 1900 and 2999."))
    return value


def years_pattern(first: int, last: int) -> str:
    """A regular expression matching the four-digit years ``first`` to ``last`` (whole centuries as
    ``19\\d\\d``, whole decades as ``199\\d``)."""
    parts: list[str] = []
    year = first
    while year <= last:
        if year % 100 == 0 and year + 99 <= last:
            parts.append(f"{year // 100}\\d\\d")
            year += 100
        elif year % 10 == 0 and year + 9 <= last:
            parts.append(f"{year // 10}\\d")
            year += 10
        else:
            parts.append(str(year))
            year += 1
    return "(" + "|".join(parts) + ")"


_MONTH_DAY = r"-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"
_TIME = r"T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,6})?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)"


def date_schema(first: int, last: int, *, time: bool = False) -> dict[str, Any]:
    """The OpenAPI schema of a date (or a time with its offset) in the years ``first`` to ``last``:
    the pattern lets clients and fuzzers see the years the server accepts."""
    return {"type": "string", "format": "date-time" if time else "date",
            "pattern": f"^{years_pattern(first, last)}{_MONTH_DAY}{_TIME if time else ''}$"}


def _default_window() -> tuple[int, int]:
    """The years of a mission's default accepted window (``civmil.core.dates``): from the default
    earliest year to the default number of years after this one."""
    from civmil.core.dates import DEFAULT_EARLIEST_YEAR, DEFAULT_YEARS_AHEAD

    return DEFAULT_EARLIEST_YEAR, dt.date.today().year + DEFAULT_YEARS_AHEAD


#: A time with its offset, given back in UTC (any offset below 24 hours).
UtcDatetime = Annotated[AwareDatetime, AfterValidator(_in_utc)]
#: ``json_schema_extra`` of a required text the services refuse when blank (with their own message
#: naming the field): the document says it needs a character other than white space.
NOT_BLANK: JsonDict = {"pattern": r"\S"}
#: A string every database can store; give its ``max_length`` with ``Field``.
CleanStr = Annotated[str, AfterValidator(_clean_text)]
#: A time with its offset (``2025-03-01T09:30:00Z`` or ``...+01:00``), years 1900-2999.
ApiDatetime = Annotated[AwareDatetime, AfterValidator(_sane_year), AfterValidator(_in_utc),
                        WithJsonSchema(date_schema(1900, 2999, time=True))]
ApiDate = Annotated[dt.date, AfterValidator(_sane_date), WithJsonSchema(date_schema(1900, 2999))]
_WINDOW = ("The mission's accepted date window applies (a mission setting, by default 1 January %d to "
           "31 December ten years ahead, as the pattern says); outside it the answer is 422 naming the window.")
#: A time with its offset inside the mission's accepted date window, which the endpoint checks
#: (``civmil.core.dates``, one message naming the window): the document states the default window.
WINDOW_NOTE = _WINDOW % _default_window()[0]
WindowDatetime = Annotated[AwareDatetime, AfterValidator(_in_utc),
                           WithJsonSchema({**date_schema(*_default_window(), time=True), "description": WINDOW_NOTE})]
#: A date inside the mission's accepted date window, which the endpoint checks.
WindowDate = Annotated[dt.date,
                       WithJsonSchema({**date_schema(*_default_window()), "description": WINDOW_NOTE})]
Latitude = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
Longitude = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
Version = Annotated[int, Field(ge=1, le=2_147_483_647, description="The version you loaded (optimistic locking).")]


class PageQuery(Schema):
    """``limit`` and ``offset`` of every list."""

    limit: int = Field(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="Items per page (1-200).")
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description="Items to skip.")


# ---------------------------------------------------------------------------------------------
# Errors


class ErrorOut(Schema):
    """Every error: a message and, per field, what is wrong with it (``{}`` when none)."""

    detail: str
    errors: dict[str, list[str]]


class StaleEditOut(ErrorOut):
    """409: the record changed since the version you sent; ``current_version`` is the new one."""

    current_version: int


#: The error answers every operation may give, for ``response=`` declarations.
ERROR_RESPONSES: dict[int, type[Schema]] = {
    400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 413: ErrorOut, 422: ErrorOut,
}


# ---------------------------------------------------------------------------------------------
# Output building blocks


def _not_required(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def withholdable(description: str = "") -> Any:
    """A field that is absent from the JSON when the reader's view withholds it."""
    note = "Absent when your view of the record withholds it."
    return Field(default=None, description=f"{description} {note}".strip(), json_schema_extra=_not_required)


class OrganisationRef(Schema):
    id: uuid.UUID
    name: str
    acronym: str
    component: Component


class PersonRef(Schema):
    """A person named in a record; only people the reader may see are named."""

    id: uuid.UUID
    full_name: str


class RecordOut(Schema):
    """What every view of a protected record shows."""

    id: uuid.UUID
    level: Level
    owner: OrganisationRef
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    view: Literal["full", "reduced"] = Field(description="The view you were given of this record.")
    withheld: list[str] = Field(description="Fields your view withholds (absent from this object).")


class Page(Schema):
    count: int = Field(description="How many items match, counting only what you may see.")
    limit: int
    offset: int


class MembershipOut(Schema):
    id: uuid.UUID
    person: PersonRef
    organisation: OrganisationRef
    role: Role
    position: str
    starts_on: dt.date
    ends_on: dt.date | None
    status: MembershipStatus
    current: bool


class MembershipPage(Page):
    items: list[MembershipOut]


class OrganisationOut(Schema):
    id: uuid.UUID
    name: str
    acronym: str
    component: Component
    kind: OrganisationKind
    parent: OrganisationRef | None
    country: str
    description: str
    contact_email: str
    contact_phone: str
    website: str
    security_focal_point: PersonRef | None = Field(
        description="Null when there is none, or none you may see.")
    is_active: bool
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


class OrganisationPage(Page):
    items: list[OrganisationOut]


class PersonOut(RecordOut):
    """A person. Contact details appear only when your view of the person shows them."""

    full_name: str
    title: str
    languages: str
    is_active: bool
    memberships: list[MembershipOut] = Field(description="Current memberships.")
    email: str = withholdable()
    phone: str = withholdable()
    radio_call_sign: str = withholdable()
    messaging: str = withholdable()


class PersonPage(Page):
    items: list[PersonOut]


class MeOut(Schema):
    """The signed-in actor: the person and the one membership acted as for this session."""

    username: str
    person: PersonOut | None
    acting_membership: MembershipOut | None
    organisation: OrganisationRef | None
    component: Component | None
    role: Role | None
    memberships: list[MembershipOut] = Field(description="Your current memberships (you may act as any one).")
    levels: list[Level] = Field(description="The levels whose records your acting membership sees by default.")


# ---------------------------------------------------------------------------------------------
# Building output from models and views (plain dicts; a withheld key is left out)


def organisation_ref(org: Organisation) -> dict[str, Any]:
    return {"id": org.pk, "name": org.name, "acronym": org.acronym, "component": org.component}


def person_ref(shown: Shown[Person]) -> dict[str, Any]:
    return {"id": shown.record.pk, "full_name": shown.full_name}


def membership_out(m: Membership) -> dict[str, Any]:
    return {
        "id": m.pk, "person": {"id": m.person.pk, "full_name": m.person.full_name},
        "organisation": organisation_ref(m.organisation), "role": m.role, "position": m.position,
        "starts_on": m.starts_on, "ends_on": m.ends_on, "status": m.status, "current": m.is_current(),
    }


def organisation_out(org: Organisation, names: dict[str, str]) -> dict[str, Any]:
    """``names``: people the reader may see, by id as text (to name the security focal point)."""
    focal = str(org.security_focal_point_id) if org.security_focal_point_id else None
    return {
        "id": org.pk, "name": org.name, "acronym": org.acronym, "component": org.component, "kind": org.kind,
        "parent": organisation_ref(org.parent) if org.parent else None, "country": org.country,
        "description": org.description, "contact_email": org.contact_email, "contact_phone": org.contact_phone,
        "website": org.website,
        "security_focal_point": {"id": org.security_focal_point_id, "full_name": names[focal]}
        if focal and focal in names else None,
        "is_active": org.is_active, "version": org.version, "created_at": org.created_at,
        "updated_at": org.updated_at,
    }


def record_out(shown: Shown[Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """The face every view shows, plus ``view`` and ``withheld`` for the given optional fields."""
    obj = shown.record
    kind = "full" if shown.view.kind == ViewKind.FULL else "reduced"
    return {
        "id": obj.pk, "level": obj.level, "owner": organisation_ref(obj.owner), "version": obj.version,
        "created_at": obj.created_at, "updated_at": obj.updated_at, "view": kind,
        "withheld": [name for name in fields if not shown.view.shows(name)],
    }


def shown_fields(shown: Shown[Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """The fields of ``fields`` the view shows, by name; withheld ones are left out."""
    return {name: getattr(shown.record, name) for name in fields if shown.view.shows(name)}


def person_out(shown: Shown[Person], memberships: list[Membership]) -> dict[str, Any]:
    out = record_out(shown, PERSON_CONTACT_FIELDS)
    out.update(full_name=shown.full_name, title=shown.title, languages=shown.languages,
               is_active=shown.is_active, memberships=[membership_out(m) for m in memberships])
    out.update(shown_fields(shown, PERSON_CONTACT_FIELDS))
    return out

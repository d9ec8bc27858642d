"""The directory's CSV export: organisations, and people as the reader sees them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from civmil.actors.directory_csv.parsing import ORGANISATION_COLUMNS, PERSON_COLUMNS
from civmil.core import access
from civmil.core.choices import MembershipStatus
from civmil.core.kernel.fields import csv_safe
from civmil.core.models import Organisation, Person

if TYPE_CHECKING:

    pass


def organisation_rows(orgs: Iterable[Organisation]) -> Iterable[list[str]]:
    yield list(ORGANISATION_COLUMNS)
    for o in orgs:
        yield [csv_safe(str(x)) for x in (
            o.name, o.acronym, o.component, o.kind, o.parent.name if o.parent else "", o.country, o.contact_email,
            o.contact_phone, o.website, o.description)]


def _text(value: Any) -> str:
    return "" if value is None or isinstance(value, access.Withheld) else str(value)


def person_rows(shown_people: Iterable[access.Shown[Person]]) -> Iterable[list[str]]:
    """Rows of people as the reader sees them; withheld cells are empty."""
    yield list(PERSON_COLUMNS)
    for s in shown_people:
        person = s.record
        memberships = [m for m in person.memberships.all()
                       if m.status in (MembershipStatus.ACTIVE, MembershipStatus.PENDING) and m.is_current()]
        owner = s.owner if s.view.shows("owner") else None
        if owner is None and memberships:
            owner = memberships[0].organisation
        at_owner = [m for m in memberships if owner is not None and m.organisation_id == owner.pk]
        membership = at_owner[0] if at_owner else None
        yield [csv_safe(_text(x)) for x in (
            s.full_name, s.title, s.email, s.phone, s.radio_call_sign, s.messaging, s.languages,
            owner.name if owner is not None else "", membership.role if membership else "",
            membership.position if membership else "", s.level)]

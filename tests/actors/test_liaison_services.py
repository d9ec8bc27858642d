"""Rules the liaison services keep for every channel (form, API, import and any to come)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from civmil.actors import services
from civmil.core.choices import Component, Level
from civmil.core.errors import Invalid
from tests.factories import make_member

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("when", [
    dt.datetime(1, 1, 1, 12, tzinfo=dt.UTC),
    dt.datetime(1900, 6, 1, 12, tzinfo=dt.UTC),
    dt.datetime(1989, 12, 31, 12, tzinfo=dt.UTC),
])
def test_a_contact_outside_the_missions_date_window_is_refused_by_the_service(when: dt.datetime) -> None:
    member = make_member(Component.CIVILIAN)
    with pytest.raises(Invalid) as refused:
        services.record_liaison_contact(member.actor, services.LiaisonContact(
            occurred_at=when, channel="meeting", summary="old", level=Level.MISSION,
            organisation_ids=[member.org.pk]))
    assert "occurred_at" in refused.value.errors
    assert "1 January 1990" in refused.value.errors["occurred_at"][0]


def test_an_assignment_outside_the_window_is_refused_by_the_service() -> None:
    member = make_member(Component.CIVILIAN)
    other = make_member(Component.CIVILIAN)
    with pytest.raises(Invalid) as refused:
        services.assign_liaison(member.actor, services.Assignment(
            officer_id=member.person.pk, starts_on=dt.date(1900, 1, 1), level=Level.MISSION,
            to_organisation_id=other.org.pk))
    assert "starts_on" in refused.value.errors


def test_an_edit_keeps_the_people_its_editor_may_not_see() -> None:
    """An editor cannot remove, unseen, a person named on the entry whom they may not see (named by a
    colleague through a personal release, or before the person's record was restricted)."""
    from civmil.core import access
    from civmil.core.models import Person

    host = make_member(Component.HOST_NATION)
    soldier = make_member(Component.MILITARY, contact_level=Level.MILITARY)
    assert not access.visible(host.actor, Person.objects.filter(pk=soldier.person.pk)).exists()
    entry = services.record_liaison_contact(host.actor, services.LiaisonContact(
        occurred_at=timezone.now(), channel="meeting", summary="camp visit", level=Level.RESTRICTED,
        organisation_ids=[host.org.pk]))
    entry.people.add(soldier.person)
    services.edit_liaison_contact(host.actor, entry.pk, entry.version, services.LiaisonContact(
        occurred_at=entry.occurred_at, channel="meeting", summary="camp visit, water point", level=Level.RESTRICTED,
        organisation_ids=[host.org.pk], person_ids=[]))
    entry.refresh_from_db()
    assert entry.summary == "camp visit, water point"
    assert list(entry.people.values_list("pk", flat=True)) == [soldier.person.pk]

from __future__ import annotations

import pytest
from django.utils import timezone

from civmil.actors import services as actor_services
from civmil.actors.models import LiaisonLogEntry
from civmil.core import access, services
from civmil.core.acting import actor_for_user
from civmil.core.choices import Component, Level, MembershipStatus, Role
from civmil.core.errors import Forbidden, Invalid, StaleEdit
from civmil.core.models import LedgerEntry, Membership, Organisation, Person
from tests.factories import make_member, make_org

pytestmark = pytest.mark.django_db


def _entry(actor, level=Level.MISSION, summary="talked about the bridge"):  # type: ignore[no-untyped-def]
    return actor_services.record_liaison_contact(actor, actor_services.LiaisonContact(
        occurred_at=timezone.now(), channel="meeting", summary=summary, level=level,
        organisation_ids=[actor.organisation_id]))


def test_privileged_role_waits_for_a_second_administrator() -> None:
    first = make_member(Component.CIVILIAN, role=Role.ADMINISTRATOR)
    second = make_member(Component.CIVILIAN, role=Role.ADMINISTRATOR, org=first.org)
    candidate = make_member(Component.CIVILIAN, org=first.org)
    pending = services.add_membership(first.actor, person=candidate.person, organisation=first.org,
                                      role=Role.OVERSIGHT)
    assert pending.status == MembershipStatus.PENDING
    assert not Membership.objects.current().filter(pk=pending.pk).exists()
    with pytest.raises(Forbidden, match="second administrator"):
        services.decide_membership(first.actor, pending, approve=True)
    approved = services.decide_membership(second.actor, pending, approve=True)
    assert approved.status == MembershipStatus.ACTIVE and approved.approved_by_id == second.user.pk
    assert LedgerEntry.objects.filter(action="membership.approved", object_id=str(pending.pk)).exists()


def test_no_one_approves_their_own_privilege() -> None:
    admin = make_member(Component.CIVILIAN, role=Role.ADMINISTRATOR)
    other = make_member(Component.CIVILIAN, role=Role.ADMINISTRATOR, org=admin.org)
    pending = services.add_membership(other.actor, person=admin.person, organisation=admin.org, role=Role.LEADERSHIP)
    with pytest.raises(Forbidden):
        services.decide_membership(admin.actor, pending, approve=True)


def test_only_administrators_change_the_directory() -> None:
    staff = make_member(Component.MILITARY)
    with pytest.raises(Forbidden):
        services.save_organisation(staff.actor, Organisation(name="X", component="military", kind="military_unit"))


def test_organisation_hierarchy_cannot_loop() -> None:
    parent = make_org(Component.MILITARY)
    child = make_org(Component.MILITARY, parent=parent)
    parent.parent = child
    with pytest.raises(Invalid, match="loop"):
        services.save_organisation(None, parent)


def test_acting_switch_is_ledgered_and_changes_the_view() -> None:
    dual = make_member(Component.CIVILIAN, role=Role.LEADERSHIP)
    hum_org = make_org(Component.HUMANITARIAN)
    hum = services.add_membership(None, person=dual.person, organisation=hum_org, role=Role.CMCOORD)
    mil_entry = _entry(make_member(Component.MILITARY).actor, Level.MILITARY)
    as_leader = actor_for_user(dual.user, dual.membership.pk)
    as_hum = actor_for_user(dual.user, hum.pk)
    assert access.view_for(as_leader, mil_entry).kind == access.ViewKind.FULL
    assert access.view_for(as_hum, mil_entry).kind == access.ViewKind.NONE
    services.record_acting_switch(as_leader, hum)
    assert LedgerEntry.objects.filter(action="membership.acting", object_id=str(hum.pk)).exists()


def test_an_ended_membership_no_longer_acts() -> None:
    m = make_member(Component.HUMANITARIAN)
    services.end_membership(None, m.membership, on=timezone.localdate() - timezone.timedelta(days=1))
    assert actor_for_user(m.user, m.membership.pk).membership is None


def test_level_the_owner_may_not_see_is_refused_with_the_reason() -> None:
    soldier = make_member(Component.MILITARY)
    with pytest.raises(Forbidden, match="may not see Humanitarian"):
        _entry(soldier.actor, Level.HUMANITARIAN)
    assert not LiaisonLogEntry.objects.exists()


def test_stale_edit_is_refused_and_nothing_is_overwritten() -> None:
    m = make_member(Component.CIVILIAN)
    entry = _entry(m.actor)
    data = actor_services.LiaisonContact(occurred_at=entry.occurred_at, channel="phone", summary="first edit",
                                         level=Level.MISSION, organisation_ids=[m.org.pk])
    actor_services.edit_liaison_contact(m.actor, entry.pk, 1, data)
    data.summary = "second edit from an old page"
    with pytest.raises(StaleEdit, match="version 2"):
        actor_services.edit_liaison_contact(m.actor, entry.pk, 1, data)
    entry.refresh_from_db()
    assert entry.summary == "first edit" and entry.version == 2


def test_release_of_undeclared_fields_is_refused() -> None:
    m = make_member(Component.HUMANITARIAN)
    entry = _entry(m.actor, Level.HUMANITARIAN)
    with pytest.raises(Invalid, match="cannot be released"):
        services.release_record(m.actor, entry, organisation=make_org(Component.MILITARY), fields=["owner"])
    with pytest.raises(Invalid, match="exactly one target"):
        services.release_record(m.actor, entry, organisation=make_org(Component.MILITARY), component="police")


def test_only_owners_release_and_revocation_closes_the_view() -> None:
    owner = make_member(Component.HUMANITARIAN)
    soldier = make_member(Component.MILITARY)
    entry = _entry(owner.actor, Level.HUMANITARIAN)
    with pytest.raises(Exception):  # noqa: B017 - NotFound: the soldier may not even see it
        services.release_record(soldier.actor, entry, organisation=soldier.org)
    release = services.release_record(owner.actor, entry, organisation=soldier.org)
    assert access.view_for(soldier.actor, entry).kind == access.ViewKind.FULL
    services.revoke_release(owner.actor, release)
    assert access.view_for(soldier.actor, entry).kind == access.ViewKind.NONE
    assert LedgerEntry.objects.filter(action="release.revoked").count() == 1


def test_grants_revocation_and_recusal() -> None:
    owner = make_member(Component.CIVILIAN)
    reader = make_member(Component.MILITARY)
    entry = _entry(owner.actor, Level.RESTRICTED)
    grant = services.grant_access(owner.actor, entry, reader.person, "review")
    assert access.view_for(reader.actor, entry).kind == access.ViewKind.FULL
    services.recuse(reader.actor, grant, "conflict of interest")
    assert access.view_for(reader.actor, entry).kind == access.ViewKind.NONE
    with pytest.raises(Invalid):
        services.grant_access(owner.actor, entry, reader.person, "  ")


def test_person_contact_details_follow_their_level() -> None:
    ngo = make_member(Component.HUMANITARIAN)
    soldier = make_member(Component.MILITARY)
    host = make_member(Component.HOST_NATION)
    person = services.save_person(None, Person(full_name="Amina K.", owner=ngo.org, level=Level.HUMANITARIAN,
                                               phone="+000 555 0101"))
    seen_by_soldier = access.show(soldier.actor, person)
    assert seen_by_soldier.reduced and seen_by_soldier.full_name == "Amina K." and not seen_by_soldier.phone
    assert access.show(ngo.actor, person).phone == "+000 555 0101"
    assert access.view_for(host.actor, person).kind == access.ViewKind.NONE


def test_mission_settings_are_validated_and_ledgered() -> None:
    admin = make_member(Component.CIVILIAN, role=Role.ADMINISTRATOR)
    space = admin.person.space
    with pytest.raises(Invalid):
        services.update_mission_settings(admin.actor, space, {"time_zone": "Mars/Olympus"})
    with pytest.raises(Invalid):
        services.update_mission_settings(admin.actor, space, {"projection": "EPSG:4326"})
    settings = services.update_mission_settings(admin.actor, space, {"time_zone": "Africa/Bangui",
                                                                     "projection": "EPSG:32634"})
    assert settings.time_zone == "Africa/Bangui"
    assert LedgerEntry.objects.filter(action="settings.updated").exists()
    with pytest.raises(StaleEdit):
        services.update_mission_settings(admin.actor, space, {"map_zoom": 7}, expected_version=1)

"""The admin site goes through the access policy: who gets in, what they see, how saves are written."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from civmil.actors import services as actor_services
from civmil.actors.models import Area, LiaisonLogEntry
from civmil.core import services
from civmil.core.admin import PolicyAdmin
from civmil.core.choices import Component, Level, MembershipStatus, Role
from civmil.core.middleware import ACTING_SESSION_KEY
from civmil.core.models import LedgerEntry, Membership, MissionSettings, Organisation, Person, Space, User
from tests.factories import Member, make_member, make_org

pytestmark = pytest.mark.django_db

MARKER = "ZEBRA-7731-HUMANITARIAN-ONLY"
CONTACT_MARKER = "okapi-4410@aid.example.org"


def signed_in(m: Member) -> Client:
    client = Client()
    client.force_login(m.user)
    return client


def admin_of(component: str) -> Member:
    return make_member(component, role=Role.ADMINISTRATOR)


def humanitarian_entry(summary: str = f"Protection concern at the camp: {MARKER}") -> tuple[Member, LiaisonLogEntry]:
    ngo = make_member(Component.HUMANITARIAN)
    entry = actor_services.record_liaison_contact(ngo.actor, actor_services.LiaisonContact(
        occurred_at=timezone.now(), channel="meeting", summary=summary, level=Level.HUMANITARIAN,
        organisation_ids=[ngo.org.pk]))
    return ngo, entry


def changelist(model: str) -> str:
    return reverse(f"admin:{model}_changelist")


def change(model: str, pk: Any) -> str:
    return reverse(f"admin:{model}_change", args=[pk])


# ---------------------------------------------------------------------------------------------
# Who gets in


def test_a_superuser_without_an_administrator_membership_is_refused() -> None:
    m = make_member(Component.MILITARY)
    User.objects.filter(pk=m.user.pk).update(is_superuser=True, is_staff=True)
    client = signed_in(m)
    for url in ("/admin/", changelist("core_organisation"), changelist("actors_liaisonlogentry"),
                changelist("core_ledgerentry")):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("admin:login"))
    refused = client.get("/admin/", follow=True)
    assert refused.status_code == 403
    assert "superuser" in refused.content.decode()
    assert client.post(changelist("core_organisation"), {}).status_code == 302


def test_an_administrator_gets_in_without_any_django_flag() -> None:
    m = admin_of(Component.CIVILIAN)
    assert not m.user.is_staff and not m.user.is_superuser
    assert signed_in(m).get("/admin/").status_code == 200


def test_the_acting_membership_decides_not_any_membership() -> None:
    m = admin_of(Component.CIVILIAN)
    staff = services.add_membership(None, person=m.person, organisation=make_org(Component.CIVILIAN),
                                    role=Role.CIVILIAN_STAFF)
    client = signed_in(m)
    assert client.get("/admin/").status_code == 200
    session = client.session
    session[ACTING_SESSION_KEY] = str(staff.pk)
    session.save()
    assert client.get("/admin/").status_code == 302


def test_signing_in_is_the_applications_own_login(client: Client) -> None:
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302 and response["Location"].startswith(reverse("account_login"))
    assert "next=/admin/" in response["Location"]


def test_only_policy_admins_are_registered() -> None:
    assert admin.site._registry, "the site has models"
    for model, model_admin in admin.site._registry.items():
        assert isinstance(model_admin, PolicyAdmin), model
        assert model.__module__.startswith("civmil."), model
    assert Group not in admin.site._registry


# ---------------------------------------------------------------------------------------------
# What they see


def test_administrators_see_only_what_their_membership_may_see() -> None:
    _ngo, entry = humanitarian_entry()
    military, civilian = admin_of(Component.MILITARY), admin_of(Component.CIVILIAN)
    mil, civ = signed_in(military), signed_in(civilian)

    mil_list = mil.get(changelist("actors_liaisonlogentry"))
    assert mil_list.status_code == 200
    assert MARKER not in mil_list.content.decode() and str(entry.pk) not in mil_list.content.decode()
    hidden = mil.get(change("actors_liaisonlogentry", entry.pk))
    missing = mil.get(change("actors_liaisonlogentry", uuid.uuid4()))
    assert hidden.status_code == missing.status_code == 302
    assert MARKER not in mil.get(change("actors_liaisonlogentry", entry.pk), follow=True).content.decode()

    civ_list = civ.get(changelist("actors_liaisonlogentry")).content.decode()
    assert MARKER in civ_list
    civ_page = civ.get(change("actors_liaisonlogentry", entry.pk))
    assert civ_page.status_code == 200 and MARKER in civ_page.content.decode()
    # Read-only: no save button, and a POST is refused.
    assert 'name="_save"' not in civ_page.content.decode()
    assert civ.post(change("actors_liaisonlogentry", entry.pk), {"summary": "edited"}).status_code == 403
    assert LiaisonLogEntry.objects.get(pk=entry.pk).summary.endswith(MARKER)


def test_a_reduced_view_shows_only_the_released_fields() -> None:
    ngo, entry = humanitarian_entry()
    military = admin_of(Component.MILITARY)
    services.release_record(ngo.actor, entry, organisation=military.org, fields=["occurred_at", "channel"])
    mil = signed_in(military)
    listing = mil.get(changelist("actors_liaisonlogentry")).content.decode()
    assert str(entry.pk) in listing and "(withheld)" in listing and MARKER not in listing
    page = mil.get(change("actors_liaisonlogentry", entry.pk)).content.decode()
    assert "Meeting" in page and MARKER not in page
    assert "Summary" not in page  # the withheld field is not even named


@pytest.mark.parametrize("probe", [f"summary__icontains={MARKER}", "summary__startswith=Protection",
                                   "follow_ups__isnull=True"])
def test_the_list_cannot_be_filtered_on_withheld_text(probe: str) -> None:
    ngo, entry = humanitarian_entry()
    military = admin_of(Component.MILITARY)
    services.release_record(ngo.actor, entry, organisation=military.org, fields=["occurred_at"])
    response = signed_in(military).get(changelist("actors_liaisonlogentry") + "?" + probe)
    assert response.status_code == 400  # a lookup outside the face fields is refused outright


def test_contact_details_of_a_person_need_the_full_view() -> None:
    hidden = make_member(Component.HUMANITARIAN, contact_level=Level.HUMANITARIAN)
    Person.objects.filter(pk=hidden.person.pk).update(email=CONTACT_MARKER)
    military, civilian = signed_in(admin_of(Component.MILITARY)), signed_in(admin_of(Component.CIVILIAN))

    mil_list = military.get(changelist("core_person")).content.decode()
    assert hidden.person.full_name in mil_list and CONTACT_MARKER not in mil_list
    mil_page = military.get(change("core_person", hidden.person.pk)).content.decode()
    assert hidden.person.full_name in mil_page and CONTACT_MARKER not in mil_page
    assert CONTACT_MARKER in civilian.get(change("core_person", hidden.person.pk)).content.decode()


def test_the_ledger_is_listed_without_content_or_hidden_records() -> None:
    _ngo, entry = humanitarian_entry()
    recorded = LedgerEntry.objects.get(action="liaison.recorded", object_id=str(entry.pk))
    military, civilian = signed_in(admin_of(Component.MILITARY)), signed_in(admin_of(Component.CIVILIAN))

    listing = military.get(changelist("core_ledgerentry")).content.decode()
    assert "liaison.recorded" in listing and str(entry.pk) not in listing
    page = military.get(change("core_ledgerentry", recorded.seq)).content.decode()
    assert str(entry.pk) not in page and MARKER not in page
    probe = military.get(changelist("core_ledgerentry") + f"?object_id={entry.pk}")
    assert probe.status_code == 400

    civ_page = civilian.get(change("core_ledgerentry", recorded.seq)).content.decode()
    assert str(entry.pk) in civ_page and recorded.entry_hash in civ_page
    assert MARKER not in civ_page  # the change itself (which holds the summary) is never shown
    for client in (military, civilian):
        assert client.post(change("core_ledgerentry", recorded.seq), {"action": "x"}).status_code == 403
        assert client.get(reverse("admin:core_ledgerentry_delete", args=[recorded.seq])).status_code == 403


def test_releases_are_listed_only_to_their_owners() -> None:
    ngo, entry = humanitarian_entry()
    military = admin_of(Component.MILITARY)
    release = services.release_record(ngo.actor, entry, organisation=military.org, fields=["occurred_at"])
    owner_admin = admin_of(Component.HUMANITARIAN)
    Membership.objects.filter(pk=owner_admin.membership.pk).update(organisation=ngo.org)
    assert str(release.object_id) not in signed_in(military).get(changelist("core_release")).content.decode()
    assert str(release.object_id) in signed_in(owner_admin).get(changelist("core_release")).content.decode()


# ---------------------------------------------------------------------------------------------
# Saves go through the services


def _org_form(org: Organisation, **changes: Any) -> dict[str, Any]:
    data = {"name": org.name, "acronym": org.acronym, "component": org.component, "kind": org.kind,
            "parent": "", "country": "", "description": "", "contact_email": "", "contact_phone": "",
            "website": "", "security_focal_point": "", "is_active": "on", "expected_version": org.version,
            "_save": "Save"}
    data.update(changes)
    return data


def test_saving_an_organisation_goes_through_its_service() -> None:
    adm = admin_of(Component.CIVILIAN)
    org = make_org(Component.HUMANITARIAN, name="Water Relief")
    client = signed_in(adm)
    response = client.post(change("core_organisation", org.pk), _org_form(org, name="Water Relief International"))
    assert response.status_code == 302
    org.refresh_from_db()
    assert org.name == "Water Relief International" and org.version == 2
    entry = LedgerEntry.objects.filter(action="organisation.updated", object_id=str(org.pk)).get()
    assert entry.actor_user_id == adm.user.pk and entry.actor_membership_id == adm.membership.pk


def test_a_stale_admin_edit_is_refused_on_the_form() -> None:
    adm = admin_of(Component.CIVILIAN)
    org = make_org(Component.HUMANITARIAN, name="Food Aid")
    stale_version = org.version
    org.description = "changed elsewhere"
    services.save_organisation(None, org)
    response = signed_in(adm).post(change("core_organisation", org.pk),
                                   _org_form(org, name="Food Aid 2", expected_version=stale_version))
    assert response.status_code == 200
    assert "changed by someone else" in response.content.decode()
    org.refresh_from_db()
    assert org.name == "Food Aid"


def test_adding_an_area_goes_through_its_service_and_bad_geometry_is_refused() -> None:
    adm = admin_of(Component.CIVILIAN)
    client = signed_in(adm)
    base = {"kind": "admin", "name": "Lakeside", "name_alt": "", "pcode": "LK01", "admin_level": "1",
            "parent": "", "responsible": "", "source": "", "expected_version": "", "_save": "Save"}
    open_ring = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]}
    refused = client.post(reverse("admin:actors_area_add"), {**base, "geometry": json.dumps(open_ring)})
    assert refused.status_code == 200 and "not closed" in refused.content.decode()
    assert not Area.objects.filter(pcode="LK01").exists()

    square = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}
    done = client.post(reverse("admin:actors_area_add"), {**base, "geometry": json.dumps(square)})
    assert done.status_code == 302
    area = Area.objects.get(pcode="LK01")
    assert (area.min_lon, area.max_lat) == (0, 1)
    assert LedgerEntry.objects.filter(action="area.created", object_id=str(area.pk),
                                      actor_user_id=adm.user.pk).exists()


def test_deleting_reference_data_is_refused_with_a_message() -> None:
    adm = admin_of(Component.CIVILIAN)
    org = make_org(Component.HUMANITARIAN)
    client = signed_in(adm)
    response = client.post(reverse("admin:core_organisation_delete", args=[org.pk]), {"post": "yes"}, follow=True)
    assert "not deleted" in response.content.decode()
    assert Organisation.objects.filter(pk=org.pk).exists()


def test_a_privileged_membership_waits_for_a_second_administrator() -> None:
    first, second = admin_of(Component.CIVILIAN), admin_of(Component.CIVILIAN)
    candidate = make_member(Component.CIVILIAN)
    data = {"person": candidate.person.pk, "organisation": candidate.org.pk, "role": Role.LEADERSHIP,
            "position": "Deputy head", "starts_on": timezone.localdate().isoformat(), "ends_on": "",
            "_save": "Save"}
    added = signed_in(first).post(reverse("admin:core_membership_add"), data)
    assert added.status_code == 302
    pending = Membership.objects.get(person=candidate.person, role=Role.LEADERSHIP)
    assert pending.status == MembershipStatus.PENDING
    assert LedgerEntry.objects.filter(action="membership.requested", object_id=str(pending.pk)).exists()

    action = {"action": "approve", "_selected_action": [str(pending.pk)], "index": 0}
    own = signed_in(first).post(changelist("core_membership"), action, follow=True)
    assert "second administrator must approve" in own.content.decode()
    assert Membership.objects.get(pk=pending.pk).status == MembershipStatus.PENDING

    signed_in(second).post(changelist("core_membership"), action)
    assert Membership.objects.get(pk=pending.pk).status == MembershipStatus.ACTIVE
    assert LedgerEntry.objects.filter(action="membership.approved", object_id=str(pending.pk),
                                      actor_user_id=second.user.pk).exists()


def test_mission_settings_are_changed_through_their_service() -> None:
    adm = admin_of(Component.CIVILIAN)
    client = signed_in(adm)
    assert client.get(changelist("core_missionsettings")).status_code == 200
    settings = MissionSettings.objects.get(space=Space.live())
    data = {"mission_name": "Mission in Testland", "mission_acronym": "MT", "time_zone": "Africa/Juba",
            "projection": "auto", "map_center_lat": "4.85", "map_center_lon": "31.6", "map_zoom": "7",
            "expected_version": settings.version, "_save": "Save"}
    assert client.post(change("core_missionsettings", settings.pk), data).status_code == 302
    settings.refresh_from_db()
    assert settings.time_zone == "Africa/Juba"
    assert LedgerEntry.objects.filter(action="settings.updated", actor_user_id=adm.user.pk).exists()
    bad = client.post(change("core_missionsettings", settings.pk),
                      {**data, "time_zone": "Mars/Olympus", "expected_version": settings.version})
    assert bad.status_code == 200 and "Unknown time zone" in bad.content.decode()


def test_an_account_is_created_for_a_person_through_the_service() -> None:
    adm = admin_of(Component.CIVILIAN)
    person = services.save_person(None, Person(full_name="New Officer", owner=adm.org, level=Level.MISSION))
    response = signed_in(adm).post(reverse("admin:core_user_add"), {
        "person": person.pk, "username": "new.officer", "email": "new@example.org", "password": "",
        "_save": "Save"})
    assert response.status_code == 302
    person.refresh_from_db()
    assert person.user is not None and person.user.username == "new.officer"
    assert LedgerEntry.objects.filter(action="account.created", actor_user_id=adm.user.pk).exists()


def test_choices_naming_people_list_only_people_the_membership_may_know() -> None:
    host_admin = admin_of(Component.HOST_NATION)
    stranger = make_member(Component.CIVILIAN)  # contact level MISSION: unknown to host-nation users
    colleague = make_member(Component.HOST_NATION, org=host_admin.org)
    client = signed_in(host_admin)
    url = reverse("admin:autocomplete") + "?app_label=core&model_name=membership&field_name=person&term=Person"
    names = {r["text"] for r in client.get(url).json()["results"]}
    assert str(colleague.person) in names and str(stranger.person) not in names
    form = client.get(reverse("admin:core_organisation_change", args=[host_admin.org.pk])).content.decode()
    assert str(stranger.person.pk) not in form


def test_every_admin_page_opens_for_an_administrator() -> None:
    _ngo, entry = humanitarian_entry()
    adm = admin_of(Component.CIVILIAN)
    actor_services.save_area(None, Area(name="Lakeside", pcode="LK01", admin_level=1),
                             {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]})
    client = signed_in(adm)
    assert client.get("/admin/").status_code == 200
    for model in admin.site._registry:
        opts = model._meta
        base = f"admin:{opts.app_label}_{opts.model_name}"
        assert client.get(reverse(f"{base}_changelist")).status_code == 200, model
        first = admin.site._registry[model].get_queryset(client.get("/admin/").wsgi_request).first()
        if first is not None:
            assert client.get(reverse(f"{base}_change", args=[first.pk])).status_code == 200, model
        if admin.site._registry[model].has_add_permission(client.get("/admin/").wsgi_request):
            assert client.get(reverse(f"{base}_add")).status_code == 200, model
    assert MARKER in client.get(change("actors_liaisonlogentry", entry.pk)).content.decode()

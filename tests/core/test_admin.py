"""The admin site goes through the access policy: who gets in, what they see, how saves are written."""

from __future__ import annotations

import dataclasses
import json
import uuid
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from civmil.actors import services as actor_services
from civmil.actors.models import Area, LiaisonAssignment, LiaisonLogEntry
from civmil.core import registry, services
from civmil.core.acting import ACTING_SESSION_KEY
from civmil.core.admin import PolicyAdmin
from civmil.core.choices import Component, Level, MembershipStatus, Role
from civmil.core.models import LedgerEntry, Membership, MissionSettings, Organisation, Person, Space, User
from tests.core.test_access_matrix import _normalised
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
        assert model.__module__.startswith(("civmil.", "tests.")), model  # tests declare a record type
    assert Group not in admin.site._registry


def _assignment(notes: str) -> LiaisonAssignment:
    soldier = make_member(Component.MILITARY)
    return actor_services.assign_liaison(soldier.actor, actor_services.Assignment(
        officer_id=soldier.person.pk, starts_on=timezone.localdate(), level=Level.MISSION,
        community="Riverside market", notes=notes))


def test_a_declared_record_type_has_its_admin_from_its_declaration_alone() -> None:
    """The actors app writes no admin for its liaison types: the site makes each from its declaration."""
    for model in (LiaisonAssignment, LiaisonLogEntry):
        assert type(admin.site._registry[model]).__module__ == "civmil.core.admin.protected", model
    assignment = _assignment(notes=f"Meets the elders weekly {MARKER}")
    client = signed_in(admin_of(Component.CIVILIAN))
    listing = client.get(changelist("actors_liaisonassignment")).content.decode()
    assert "Riverside market" in listing, "the community is declared in the list"
    assert MARKER not in listing, "the notes are declared out of the list"
    assert MARKER in client.get(change("actors_liaisonassignment", assignment.pk)).content.decode()


def test_a_changed_declaration_changes_the_admin(monkeypatch: pytest.MonkeyPatch) -> None:
    declared = registry.get(LiaisonAssignment)
    fields = tuple(dataclasses.replace(f, in_list=f.name == "notes") for f in declared.fields)
    monkeypatch.setitem(registry._TYPES, LiaisonAssignment, dataclasses.replace(declared, fields=fields))
    monkeypatch.delitem(admin.site._registry, LiaisonAssignment)  # the site makes it again
    _assignment(notes=f"Meets the elders weekly {MARKER}")
    request = signed_in(admin_of(Component.CIVILIAN)).get("/admin/").wsgi_request
    model_admin = admin.site._registry[LiaisonAssignment]
    assert model_admin.get_list_display(request) == ("list_notes", "list_owner", "list_level")
    listing = model_admin.changelist_view(request).rendered_content
    assert MARKER in listing and "Riverside market" not in listing


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


def invalid_lookup_answer(client: Client, model: str) -> tuple[int, str]:
    """What the list answers for a lookup on a field that does not exist (Django's redirect to ``?e=1``)."""
    response = client.get(changelist(model) + "?no_such_field__icontains=x")
    return response.status_code, response.get("Location", "")


def answer(client: Client, url: str, probe: str = "") -> tuple[Any, ...]:
    """Everything a probe can observe: status, redirect target, and the page it ends on (its row count
    and body, where the probed text itself, echoed in the search box, reads PROBE)."""
    first = client.get(url)
    final = client.get(url, follow=True)
    cl = final.context["cl"] if final.context and "cl" in final.context else None
    counts = (cl.result_count, cl.full_result_count) if cl is not None else None
    body = _normalised(final.content, final.request["PATH_INFO"])
    if probe:  # as typed, and as quoted in links (once, or twice inside _changelist_filters)
        for form in (probe, quote(probe, safe=""), quote(quote(probe, safe=""), safe=""), quote_plus(probe),
                     quote(quote_plus(probe), safe="")):
            body = body.replace(form.encode(), b"PROBE")
    return (first.status_code, first.get("Location", ""), final.status_code, counts, body)


@pytest.mark.parametrize("probe", [f"summary__icontains={MARKER}", "summary__startswith=Protection",
                                   "follow_ups__isnull=True"])
def test_the_list_cannot_be_filtered_on_withheld_text(probe: str) -> None:
    ngo, entry = humanitarian_entry()
    military = admin_of(Component.MILITARY)
    services.release_record(ngo.actor, entry, organisation=military.org, fields=["occurred_at"])
    client = signed_in(military)
    response = client.get(changelist("actors_liaisonlogentry") + "?" + probe)
    # A lookup outside the face fields answers exactly as any invalid lookup does.
    assert (response.status_code, response["Location"]) == invalid_lookup_answer(client, "actors_liaisonlogentry")
    assert response["Location"].endswith("?e=1")


def military_entry(summary: str, soldier: Member | None = None) -> tuple[Member, LiaisonLogEntry]:
    soldier = soldier or make_member(Component.MILITARY)
    entry = actor_services.record_liaison_contact(soldier.actor, actor_services.LiaisonContact(
        occurred_at=timezone.now(), channel="radio", summary=summary, level=Level.MILITARY,
        organisation_ids=[soldier.org.pk]))
    return soldier, entry


@pytest.mark.parametrize("model", ["core_person", "actors_liaisonlogentry"])
def test_a_lookup_through_a_relation_answers_alike_whether_or_not_a_hidden_record_matches(model: str) -> None:
    secret = f"OPERATION-{uuid.uuid4().hex[:8].upper()} at the river crossing"
    soldier, _hidden = military_entry(secret)
    # A record the civilian administrator does see, owned by the same military unit.
    actor_services.record_liaison_contact(soldier.actor, actor_services.LiaisonContact(
        occurred_at=timezone.now(), channel="meeting", summary="Weekly coordination meeting",
        level=Level.MISSION, organisation_ids=[soldier.org.pk]))
    client = signed_in(admin_of(Component.CIVILIAN))
    base = changelist(model) + "?owner__liaison_log_entries__summary__icontains="
    matching, not_matching = answer(client, base + secret[:12]), answer(client, base + "QQQQ-NO-MATCH")
    assert matching == not_matching
    assert matching[:2] == invalid_lookup_answer(client, model)
    for path in ("owner__liaison_log_entries__level", "owner__name__icontains", "created_by__email__icontains",
                 "owner__memberships__person__email__icontains"):
        assert client.get(f"{changelist(model)}?{path}=x").get("Location") == invalid_lookup_answer(client, model)[1]


def test_a_withheld_e_mail_is_not_confirmed_through_a_chain_of_relations() -> None:
    hidden = make_member(Component.HUMANITARIAN, contact_level=Level.HUMANITARIAN)
    Person.objects.filter(pk=hidden.person.pk).update(email=CONTACT_MARKER)
    client = signed_in(admin_of(Component.MILITARY))  # sees the person's face only, not the e-mail
    base = changelist("core_person") + "?owner__memberships__person__email="
    assert answer(client, base + CONTACT_MARKER) == answer(client, base + "nobody@example.org")
    for path in ("user__email", "memberships__person__email", "user__person__email"):
        probe = answer(client, f"{changelist('core_person')}?{path}={CONTACT_MARKER}")
        assert probe == answer(client, f"{changelist('core_person')}?{path}=nobody@example.org")
    assert answer(client, base + CONTACT_MARKER)[:2] == invalid_lookup_answer(client, "core_person")


def test_a_lookup_on_an_own_face_field_still_filters() -> None:
    client = signed_in(admin_of(Component.CIVILIAN))
    shown = make_member(Component.CIVILIAN)
    response = client.get(changelist("core_person") + f"?full_name={shown.person.full_name}")
    assert response.status_code == 200 and response.context["cl"].result_count == 1
    by_owner = client.get(changelist("core_person") + f"?owner__id__exact={shown.org.pk}")
    assert by_owner.status_code == 200 and by_owner.context["cl"].result_count == 1
    assert client.get(changelist("core_person") + "?level=MISSION&is_active__exact=1").status_code == 200


def _account_order(client: Client, query: str, usernames: list[str]) -> list[str]:
    rows = [u.username for u in client.get(changelist("core_user") + query).context["cl"].result_list]
    return [name for name in rows if name in usernames]


def test_ordering_by_a_withheld_field_does_not_follow_its_values() -> None:
    first = make_member(Component.HUMANITARIAN, contact_level=Level.HUMANITARIAN)
    second = make_member(Component.HUMANITARIAN, contact_level=Level.HUMANITARIAN)
    names = [first.user.username, second.user.username]
    client = signed_in(admin_of(Component.MILITARY))  # may not see these people's e-mail addresses
    User.objects.filter(pk=first.user.pk).update(email="a@example.org")
    User.objects.filter(pk=second.user.pk).update(email="z@example.org")
    # Every column, in both directions (the first columns are the action box and the username).
    orders = [f"{sign}{i}" for i in range(8) for sign in ("", "-")] + ["2.1", "-2.-1", "3.1", "-3.-1"]
    before = {o: _account_order(client, f"?o={o}", names) for o in orders}
    User.objects.filter(pk=first.user.pk).update(email="z@example.org")
    User.objects.filter(pk=second.user.pk).update(email="a@example.org")
    after = {o: _account_order(client, f"?o={o}", names) for o in orders}
    assert before == after


def test_the_ledger_counts_no_entry_of_a_record_the_reader_may_not_see() -> None:
    reader = admin_of(Component.CIVILIAN)
    client = signed_in(reader)
    soldier = make_member(Component.MILITARY)
    before = client.get(changelist("core_ledgerentry")).context["cl"]
    _soldier, hidden = military_entry(f"Patrol plan {MARKER}", soldier)
    military_entry("another patrol", soldier)
    after = client.get(changelist("core_ledgerentry")).context["cl"]
    assert (after.result_count, after.full_result_count) == (before.result_count, before.full_result_count)
    assert not any(e.object_id == str(hidden.pk) for e in after.result_list)

    # Entries of records the reader sees are counted; so are the reader's own acts, even on a record
    # they no longer see (its name withheld).
    actor_services.record_liaison_contact(soldier.actor, actor_services.LiaisonContact(
        occurred_at=timezone.now(), channel="meeting", summary="open", level=Level.MISSION,
        organisation_ids=[soldier.org.pk]))
    own = actor_services.record_liaison_contact(reader.actor, actor_services.LiaisonContact(
        occurred_at=timezone.now(), channel="meeting", summary="mine", level=Level.MISSION,
        organisation_ids=[reader.org.pk]))
    LiaisonLogEntry.objects.filter(pk=own.pk).update(level=Level.MILITARY, owner=soldier.org,
                                                     created_by=soldier.person)
    services.refresh_audience(LiaisonLogEntry, [own.pk])  # update() bypasses the services
    final = client.get(changelist("core_ledgerentry"))
    assert final.context["cl"].result_count == before.result_count + 2
    assert str(own.pk) not in final.content.decode()
    # A filter on what is listed counts only listed entries.
    recorded = client.get(changelist("core_ledgerentry") + "?action=liaison.recorded").context["cl"]
    assert recorded.result_count == 2


def test_the_ledger_counts_no_message_membership_or_account_of_someone_the_reader_may_not_see() -> None:
    from civmil.comms.services import threads as thread_services

    reader = admin_of(Component.HOST_NATION)  # knows no military person and no military entry
    client = signed_in(reader)
    soldier, hidden = military_entry("patrol")
    unit = make_org(Component.MILITARY)  # organisations are reference data: their entries are listed
    before = client.get(changelist("core_ledgerentry")).context["cl"].result_count
    thread_services.post_message(soldier.actor, "actors.liaisonlogentry", hidden.pk, "moving at dawn")
    services.add_membership(None, person=soldier.person, organisation=unit, role=Role.MILITARY_STAFF)
    after = client.get(changelist("core_ledgerentry"))
    assert after.context["cl"].result_count == before
    assert "thread.message" not in after.content.decode()


def test_the_accounts_admin_neither_shows_nor_finds_a_withheld_e_mail() -> None:
    hidden = make_member(Component.HUMANITARIAN, contact_level=Level.HUMANITARIAN)
    User.objects.filter(pk=hidden.user.pk).update(email=CONTACT_MARKER)
    colleague = make_member(Component.MILITARY)  # contact level MISSION: the full view for the reader
    client = signed_in(admin_of(Component.MILITARY))

    listing = client.get(changelist("core_user"))
    assert hidden.user.username in listing.content.decode()
    assert CONTACT_MARKER not in listing.content.decode() and "(withheld)" in listing.content.decode()
    assert colleague.user.email in listing.content.decode()
    assert CONTACT_MARKER not in client.get(change("core_user", hidden.user.pk)).content.decode()

    found = client.get(changelist("core_user") + f"?q={CONTACT_MARKER}")
    assert answer(client, changelist("core_user") + f"?q={CONTACT_MARKER}", CONTACT_MARKER) == answer(
        client, changelist("core_user") + "?q=nobody-4410@aid.example.org", "nobody-4410@aid.example.org")
    assert hidden.user.username not in found.content.decode().split("result")[-1]
    assert found.context["cl"].result_count == 0
    for prefix in ("okapi", "aid.example"):
        assert client.get(changelist("core_user") + f"?q={prefix}").context["cl"].result_count == 0
    shown = client.get(changelist("core_user") + f"?q={colleague.user.email}").context["cl"]
    assert [u.pk for u in shown.result_list] == [colleague.user.pk]
    assert client.get(changelist("core_user") + f"?email={CONTACT_MARKER}")["Location"].endswith("?e=1")


def test_release_and_grant_targets_are_shown_through_the_policy() -> None:
    host_admin = admin_of(Component.HOST_NATION)
    entry = actor_services.record_liaison_contact(host_admin.actor, actor_services.LiaisonContact(
        occurred_at=timezone.now(), channel="meeting", summary="restricted", level=Level.RESTRICTED,
        organisation_ids=[host_admin.org.pk]))
    stranger = make_member(Component.CIVILIAN)  # contact level MISSION: unknown to host-nation users
    services.release_record(host_admin.actor, entry, person=stranger.person)
    services.grant_access(host_admin.actor, entry, stranger.person, "review")
    client = signed_in(host_admin)
    for model in ("core_release", "core_grant"):
        page = client.get(changelist(model)).content.decode()
        assert str(entry.pk) in page, model
        assert stranger.person.full_name not in page and "(withheld)" in page, model
    colleague = make_member(Component.HOST_NATION, org=host_admin.org)
    services.release_record(host_admin.actor, entry, person=colleague.person)
    assert colleague.person.full_name in client.get(changelist("core_release")).content.decode()


def test_memberships_are_found_by_the_names_of_people_the_reader_may_see_only() -> None:
    host_admin = admin_of(Component.HOST_NATION)
    colleague = make_member(Component.HOST_NATION, org=host_admin.org)
    stranger = make_member(Component.CIVILIAN)  # contact level MISSION: unknown to host-nation users
    client = signed_in(host_admin)
    found = client.get(changelist("core_membership") + f"?q={colleague.person.full_name}").context["cl"]
    assert [m.pk for m in found.result_list] == [colleague.membership.pk]
    by_org = client.get(changelist("core_membership") + f"?q={host_admin.org.acronym}").context["cl"]
    assert {m.pk for m in by_org.result_list} == {host_admin.membership.pk, colleague.membership.pk}
    assert answer(client, changelist("core_membership") + f"?q={stranger.person.full_name}",
                  stranger.person.full_name) == answer(client, changelist("core_membership") + "?q=Nobody 999999",
                                                       "Nobody 999999")
    assert client.get(changelist("core_membership") + f"?person__full_name={stranger.person.full_name}"
                      )["Location"].endswith("?e=1")


def test_an_organisation_s_hidden_focal_point_is_withheld_and_kept_on_save() -> None:
    host_admin = admin_of(Component.HOST_NATION)
    stranger = make_member(Component.CIVILIAN)  # unknown to host-nation users
    org = make_org(Component.CIVILIAN, name="Civil Affairs", security_focal_point=stranger.person)
    client = signed_in(host_admin)
    page = client.get(change("core_organisation", org.pk)).content.decode()
    assert stranger.person.full_name not in page and str(stranger.person.pk) not in page and "(withheld)" in page
    data = _org_form(org, name="Civil Affairs Section")
    data.pop("security_focal_point")
    assert client.post(change("core_organisation", org.pk), data).status_code == 302
    org.refresh_from_db()
    assert org.name == "Civil Affairs Section" and org.security_focal_point_id == stranger.person.pk


def test_every_admin_list_filters_searches_and_orders_on_open_own_fields_only() -> None:
    from civmil.core.admin import PolicyAdmin as Policy

    request = signed_in(admin_of(Component.CIVILIAN)).get("/admin/").wsgi_request
    for model, model_admin in admin.site._registry.items():
        assert isinstance(model_admin, Policy)
        declared = [f if isinstance(f, str) else f[0] for f in model_admin.list_filter]
        for name in declared:
            assert model_admin.lookup_allowed(name, "x", request), (model, name)
        for name in model_admin.search_fields:
            assert "__" not in name.lstrip("^=@"), (model, name)
            assert name in model_admin.get_search_fields(request), (model, name)
        for term in model_admin.get_ordering(request):
            assert "__" not in term and model_admin.lookup_allowed(term.lstrip("-"), "x", request), (model, term)
        assert "__" not in (model.__dict__.get("date_hierarchy") or "")


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
    assert "liaison.recorded" not in listing and str(entry.pk) not in listing
    # The entry of a record the reader may not see answers like an entry that does not exist.
    page, missing = military.get(change("core_ledgerentry", recorded.seq)), military.get(
        change("core_ledgerentry", 10**9))
    assert (page.status_code, page["Location"]) == (missing.status_code, missing["Location"])
    assert MARKER not in military.get(change("core_ledgerentry", recorded.seq), follow=True).content.decode()
    probe = military.get(changelist("core_ledgerentry") + f"?object_id={entry.pk}")
    assert (probe.status_code, probe["Location"]) == invalid_lookup_answer(military, "core_ledgerentry")

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
    assert (area.west, area.north) == (0, 1)
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
            "earliest_year": "1990", "years_ahead": "10", "session_idle_minutes": "60", "session_max_hours": "12",
            "expected_version": settings.version, "_save": "Save"}
    assert client.post(change("core_missionsettings", settings.pk), data).status_code == 302
    settings.refresh_from_db()
    assert settings.time_zone == "Africa/Juba"
    assert LedgerEntry.objects.filter(action="settings.updated", actor_user_id=adm.user.pk).exists()
    bad = client.post(change("core_missionsettings", settings.pk),
                      {**data, "time_zone": "Mars/Olympus", "expected_version": settings.version})
    assert bad.status_code == 200 and "Unknown time zone" in bad.content.decode()


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

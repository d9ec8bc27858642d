"""The directory pages: search, organisations and people, through the test client."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from civmil.actors.models import Area
from civmil.actors.services import save_area
from civmil.core import services as core_services
from civmil.core.choices import Component, Level, OrganisationKind, Role
from civmil.core.models import Person
from tests.actors.test_liaison_views import RecordPageContract, make_assignment, normalised, signed_in
from tests.factories import Member, make_member, make_org

pytestmark = pytest.mark.django_db

SQUARE = {"type": "Polygon", "coordinates": [[[31.0, 4.0], [32.0, 4.0], [32.0, 5.0], [31.0, 5.0], [31.0, 4.0]]]}


def rename(person: Person, **changes: str) -> Person:
    """Change a person's details through the service, as an administrator would."""
    for name, value in changes.items():
        setattr(person, name, value)
    return core_services.save_person(None, person)


class TestPersonPage(RecordPageContract):
    """A person's contact details are at a level, but every mission component sees the name:
    the person is hidden only from readers outside the mission components."""

    url_name = "actors:person"
    owner_component = Component.CIVILIAN
    hidden_level = Level.MISSION
    hidden_from = Component.HOST_NATION
    seen_by = Component.MILITARY

    def make_record(self, owner: Member, level: str) -> Any:
        return make_member(org=owner.org, contact_level=level).person


def test_anonymous_visitors_are_sent_to_sign_in(client: Client) -> None:
    org = make_org()
    for url in (reverse("actors:index"), reverse("actors:organisations"), reverse("actors:people"),
                reverse("actors:organisation", args=[org.pk])):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("account_login")), url


def test_unknown_organisation_is_not_found(client: Client) -> None:
    signed_in(client, make_member())
    assert client.get(reverse("actors:organisation", args=[uuid.uuid4()])).status_code == 404


def test_search_across_organisations_and_people(client: Client) -> None:
    reader = make_member(Component.CIVILIAN)
    wfp = make_org(Component.HUMANITARIAN, name="World Food Programme", kind=OrganisationKind.UN_AGENCY)
    make_org(Component.MILITARY, name="Sector East Battalion")
    officer = make_member(org=wfp)
    rename(officer.person, full_name="Amina Programme-Officer")
    signed_in(client, reader)
    found = client.get(reverse("actors:index"), {"q": "programme"})
    assert found.status_code == 200
    assert [o.name for o in found.context["organisations"]] == ["World Food Programme"]
    assert [r["person"].full_name for r in found.context["people_rows"]] == ["Amina Programme-Officer"]
    assert found.context["people_rows"][0]["memberships"][0].organisation == wfp
    by_component = client.get(reverse("actors:index"), {"component": Component.MILITARY})
    assert [o.name for o in by_component.context["organisations"]] == ["Sector East Battalion"]
    by_kind = client.get(reverse("actors:index"), {"kind": OrganisationKind.UN_AGENCY})
    assert [o.name for o in by_kind.context["organisations"]] == ["World Food Programme"]
    assert [r["person"].pk for r in by_kind.context["people_rows"]] == [officer.person.pk]


def test_role_filter_narrows_people(client: Client) -> None:
    reader = make_member(Component.CIVILIAN)
    liaison = make_member(Component.MILITARY, role=Role.MILITARY_LIAISON)
    make_member(Component.MILITARY, role=Role.MILITARY_STAFF)
    signed_in(client, reader)
    response = client.get(reverse("actors:people"), {"role": Role.MILITARY_LIAISON})
    assert [r["person"].pk for r in response.context["rows"]] == [liaison.person.pk]
    index = client.get(reverse("actors:index"), {"role": Role.MILITARY_LIAISON})
    assert [r["person"].pk for r in index.context["people_rows"]] == [liaison.person.pk]


def test_bad_filter_gets_a_field_message(client: Client) -> None:
    signed_in(client, make_member())
    response = client.get(reverse("actors:index"), {"component": "aliens"})
    assert response.status_code == 422
    assert response.context["form"].errors["component"]
    assert client.get(reverse("actors:organisations"), {"kind": "nope"}).status_code == 422
    assert client.get(reverse("actors:people"), {"role": "nope"}).status_code == 422


def test_organisation_list_paginates(client: Client) -> None:
    for i in range(51):
        make_org(Component.HUMANITARIAN, name=f"Partner {i:02d}")
    signed_in(client, make_member(Component.HUMANITARIAN))
    first = client.get(reverse("actors:organisations"), {"component": Component.HUMANITARIAN})
    assert len(first.context["page_obj"].object_list) == 50
    second = client.get(reverse("actors:organisations"), {"component": Component.HUMANITARIAN, "page": 2})
    assert len(second.context["page_obj"].object_list) == 2  # 51 partners and the reader's own


def test_organisation_page(client: Client) -> None:
    hq = make_org(Component.MILITARY, name="Force Headquarters")
    sector = make_org(Component.MILITARY, name="Sector East", parent=hq)
    battalion = make_org(Component.MILITARY, name="Battalion 3", parent=sector)
    cimic = make_member(org=sector)
    agency = make_member(Component.HUMANITARIAN)
    sent = make_assignment(cimic, agency.org)
    received = make_assignment(agency, sector)
    save_area(None, Area(name="Kaya county", pcode="SS0101", admin_level=2, responsible=sector), SQUARE)

    response = signed_in(client, make_member(Component.CIVILIAN)).get(
        reverse("actors:organisation", args=[sector.pk]))
    assert response.status_code == 200
    assert [a.name for a in response.context["ancestors"]] == ["Force Headquarters"]
    assert [c.name for c in response.context["children"]] == ["Battalion 3"]
    assert [m.person for m in response.context["members"]] == [cimic.person]
    assert [r["pk"] for r in response.context["sent"]] == [sent.pk]
    assert [r["pk"] for r in response.context["received"]] == [received.pk]
    body = response.content.decode()
    assert reverse("actors:organisation", args=[battalion.pk]) in body
    assert reverse("actors:person", args=[cimic.person.pk]) in body
    assert 'data-map="view"' in body and 'id="aor-geojson"' in body and "Kaya county" in body
    assert f'{reverse("actors:my-liaison")}?to={sector.pk}' in body


def test_hidden_liaison_links_do_not_show_on_an_organisation_page(client: Client) -> None:
    agency = make_member(Component.HUMANITARIAN)
    target = make_org(Component.CIVILIAN)
    make_assignment(agency, target, level=Level.HUMANITARIAN)
    signed_in(client, make_member(Component.MILITARY))
    response = client.get(reverse("actors:organisation", args=[target.pk]))
    assert response.context["received"] == []
    signed_in(client, make_member(Component.CIVILIAN))
    assert len(client.get(reverse("actors:organisation", args=[target.pk])).context["received"]) == 1


def test_person_contact_details_follow_their_releasability(client: Client) -> None:
    agency = make_org(Component.HUMANITARIAN)
    person = make_member(org=agency, contact_level=Level.HUMANITARIAN).person
    rename(person, phone="+211 900 000 001")
    url = reverse("actors:person", args=[person.pk])

    signed_in(client, make_member(Component.CIVILIAN))
    seen = client.get(url).content.decode()
    assert person.email in seen and "+211 900 000 001" in seen
    assert "contact details are not released to you" not in seen

    signed_in(client, make_member(Component.MILITARY))
    withheld = client.get(url)
    assert withheld.status_code == 200
    text = withheld.content.decode()
    assert person.full_name in text
    assert person.email not in text and "+211 900 000 001" not in text
    assert "contact details are not released to you" in text
    assert [m.organisation for m in withheld.context["memberships"]] == [agency]


def test_a_released_contact_field_shows_alone(client: Client) -> None:
    agency = make_member(Component.HUMANITARIAN)
    person = make_member(org=agency.org, contact_level=Level.HUMANITARIAN).person
    rename(person, phone="+211 900 000 002")
    soldier = make_member(Component.MILITARY)
    core_services.release_record(agency.actor, Person.objects.get(pk=person.pk), organisation=soldier.org,
                                 fields=["phone"])
    text = signed_in(client, soldier).get(reverse("actors:person", args=[person.pk])).content.decode()
    assert "+211 900 000 002" in text
    assert person.email not in text
    assert "Other contact details of this person are not released to you" in text


def test_person_page_lists_liaison_assignments(client: Client) -> None:
    officer = make_member(Component.MILITARY, role=Role.MILITARY_LIAISON)
    target = make_org(Component.HUMANITARIAN, name="Relief Partner")
    assignment = make_assignment(officer, target)
    response = signed_in(client, make_member()).get(reverse("actors:person", args=[officer.person.pk]))
    assert [r["pk"] for r in response.context["assignments"]] == [assignment.pk]
    assert target.label in response.content.decode()


def test_hidden_person_is_not_listed(client: Client) -> None:
    person = make_member(Component.CIVILIAN, contact_level=Level.MISSION).person
    host = make_member(Component.HOST_NATION)
    response = signed_in(client, host).get(reverse("actors:people"))
    assert person.pk not in [r["person"].pk for r in response.context["rows"]]
    assert person.full_name not in response.content.decode()
    missing_pk = uuid.uuid4()
    hidden = client.get(reverse("actors:person", args=[person.pk]))
    missing = client.get(reverse("actors:person", args=[missing_pk]))
    assert normalised(hidden.content, person.pk) == normalised(missing.content, missing_pk)


# ---------------------------------------------------------------------------------------------
# Liaison assignments: an officer is assigned by their own organisation, or with its confirmation


def _assign_on_the_page(client: Client, asking: Member, officer: Member, to: Any) -> Any:
    from django.utils import timezone

    from civmil.actors.models import LiaisonAssignment

    response = signed_in(client, asking).post(reverse("actors:assignment-new"), {
        "officer": str(officer.person.pk), "to_organisation": str(to.pk), "community": "", "area": "",
        "location": "", "starts_on": timezone.localdate().isoformat(), "ends_on": "", "level": Level.MISSION,
        "notes": "Weekly coordination",
    }, follow=True)
    assert response.status_code == 200
    return LiaisonAssignment.objects.get(officer=officer.person), response.content.decode()


def _my_liaisons(client: Client, m: Member, target: Any) -> list[Any]:
    page = signed_in(client, m).get(reverse("actors:my-liaison"), {"to": str(target.pk)})
    return [row["pk"] for row in page.context["rows"]]


def test_an_assignment_of_another_organisations_officer_is_pending_until_it_confirms(client: Client) -> None:
    from civmil.core.models import LedgerEntry

    ngo = make_member(Component.HUMANITARIAN)
    unit = make_org(Component.MILITARY)
    officer, staff = make_member(org=unit), make_member(org=unit)
    assignment, page = _assign_on_the_page(client, ngo, officer, unit)
    assert assignment.status == "pending"
    assert "waits for that organisation&#x27;s confirmation" in page
    assert "Waiting for the officer&#x27;s organisation" in page
    assert reverse("actors:assignment-confirm", args=[assignment.pk]) not in page  # the asker may not decide
    assert _my_liaisons(client, ngo, unit) == []

    listing = signed_in(client, staff).get(reverse("actors:assignments"))
    assert [row["pk"] for row in listing.context["to_decide"]] == [assignment.pk]
    assert "Waiting for your organisation" in listing.content.decode()
    detail = client.get(reverse("actors:assignment", args=[assignment.pk])).content.decode()
    assert reverse("actors:assignment-confirm", args=[assignment.pk]) in detail
    assert reverse("actors:assignment-refuse", args=[assignment.pk]) in detail
    done = client.post(reverse("actors:assignment-confirm", args=[assignment.pk]), {"reason": ""})
    assert done.status_code == 302 and done["Location"] == reverse("actors:assignment", args=[assignment.pk])
    assignment.refresh_from_db()
    assert (assignment.status, assignment.decided_by) == ("confirmed", staff.person)
    assert _my_liaisons(client, ngo, unit) == [assignment.pk]
    assert LedgerEntry.objects.filter(object_id=str(assignment.pk), action="liaison.assignment_confirmed").exists()
    shown = signed_in(client, ngo).get(reverse("actors:assignment", args=[assignment.pk])).content.decode()
    assert "Confirmed by" in shown and staff.person.full_name in shown


def test_a_refusal_on_the_page_keeps_its_reason_and_a_too_long_one_is_refused_beside_the_field(
        client: Client) -> None:
    police = make_member(Component.POLICE)
    unit = make_org(Component.MILITARY)
    officer, staff = make_member(org=unit), make_member(org=unit)
    assignment, _page = _assign_on_the_page(client, police, officer, unit)
    signed_in(client, staff)
    refuse = reverse("actors:assignment-refuse", args=[assignment.pk])
    too_long = client.post(refuse, {"reason": "x" * 2001})
    assert too_long.status_code == 422
    assert "at most 2000 characters" in too_long.content.decode()
    assert client.post(refuse, {"reason": "Not our officer any more."}).status_code == 302
    assignment.refresh_from_db()
    assert (assignment.status, assignment.decision_reason) == ("refused", "Not our officer any more.")
    shown = signed_in(client, police).get(reverse("actors:assignment", args=[assignment.pk])).content.decode()
    assert "Refused by" in shown and "Not our officer any more." in shown
    assert _my_liaisons(client, police, unit) == []


def test_who_may_not_decide_is_refused_and_a_hidden_assignment_answers_404(client: Client) -> None:
    ngo = make_member(Component.HUMANITARIAN)
    unit = make_org(Component.MILITARY)
    officer = make_member(org=unit)
    assignment, _page = _assign_on_the_page(client, ngo, officer, unit)
    confirm = reverse("actors:assignment-confirm", args=[assignment.pk])
    for who in (officer, ngo, make_member(Component.MILITARY)):
        response = signed_in(client, who).post(confirm)
        assert response.status_code == 403, who
        assert "own organisation" in response.content.decode()
    assert signed_in(client, make_member(org=unit)).get(confirm).status_code == 405
    missing = client.post(reverse("actors:assignment-confirm", args=[uuid.uuid4()]))
    assert missing.status_code == 404
    assignment.refresh_from_db()
    assert assignment.status == "pending"


def test_an_organisation_whose_name_carries_its_acronym_is_named_once() -> None:
    """The demo's "Force CIMIC Branch (U9)" read "Force CIMIC Branch (U9) (U9)" on every page."""
    from civmil.core.models import Organisation

    assert str(Organisation(name="Force CIMIC Branch (U9)", acronym="U9")) == "Force CIMIC Branch (U9)"
    assert str(Organisation(name="Civil Affairs Section", acronym="CAS")) == "Civil Affairs Section (CAS)"
    assert str(Organisation(name="Frontline Medical Relief", acronym="")) == "Frontline Medical Relief"

"""Organisations, people, memberships and the signed-in actor over the API."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from civmil.core import services
from civmil.core.choices import Component, Level, Role
from civmil.core.models import Organisation
from tests.factories import make_member, make_org

pytestmark = pytest.mark.django_db


def test_organisations_list_filters_and_detail(signed_in) -> None:
    m = make_member(Component.CIVILIAN)
    brigade = make_org(Component.MILITARY, name="North Brigade")
    battalion = make_org(Component.MILITARY, name="North Battalion", parent=brigade)
    make_org(Component.HUMANITARIAN, name="Relief Without Borders")
    api = signed_in(m)

    body = api.get("/organisations", {"q": "north"}).json()
    assert body["count"] == 2
    assert [o["name"] for o in body["items"]] == ["North Battalion", "North Brigade"]
    assert api.get("/organisations", {"component": "humanitarian"}).json()["items"][0]["name"] == \
        "Relief Without Borders"

    detail = api.get(f"/organisations/{battalion.pk}").json()
    assert detail["parent"] == {"id": str(brigade.pk), "name": "North Brigade", "acronym": brigade.acronym,
                                "component": "military"}
    assert detail["kind"] == "military_unit" and detail["security_focal_point"] is None
    missing = api.get(f"/organisations/{uuid.uuid4()}")
    assert missing.status_code == 404 and missing.json() == {"detail": "No such organisation.", "errors": {}}


def test_an_organisations_focal_point_is_named_only_to_readers_who_may_see_them(signed_in) -> None:
    hum = make_member(Component.HUMANITARIAN, contact_level=Level.RESTRICTED)
    org = hum.org
    org.security_focal_point = hum.person
    services.save_organisation(None, org)
    community = make_member(Component.COMMUNITY)

    seen = signed_in(make_member(Component.MILITARY)).get(f"/organisations/{org.pk}").json()
    assert seen["security_focal_point"] == {"id": str(hum.person.pk), "full_name": hum.person.full_name}
    assert signed_in(community).get(f"/organisations/{org.pk}").json()["security_focal_point"] is None


def test_contact_details_only_when_the_view_shows_them(signed_in) -> None:
    hum = make_member(Component.HUMANITARIAN, contact_level=Level.RESTRICTED)
    colleague = make_member(Component.HUMANITARIAN, org=hum.org)
    soldier = make_member(Component.MILITARY)

    face = signed_in(soldier).get(f"/people/{hum.person.pk}")
    assert face.status_code == 200
    body = face.json()
    assert body["full_name"] == hum.person.full_name and body["view"] == "reduced"
    for field in ("email", "phone", "radio_call_sign", "messaging"):
        assert field not in body and field in body["withheld"]
    assert hum.person.email not in face.content.decode()
    assert body["memberships"][0]["organisation"]["id"] == str(hum.org.pk)

    full = signed_in(colleague).get(f"/people/{hum.person.pk}").json()
    assert full["view"] == "full" and full["email"] == hum.person.email and full["withheld"] == []

    listed = signed_in(soldier).get("/people", {"q": hum.person.full_name}).json()["items"]
    assert [p["id"] for p in listed] == [str(hum.person.pk)] and "email" not in listed[0]


def test_people_hidden_from_a_reader_answer_like_missing_ones(signed_in) -> None:
    hum = make_member(Component.HUMANITARIAN)
    community = signed_in(make_member(Component.COMMUNITY))
    hidden = community.get(f"/people/{hum.person.pk}")
    missing = community.get(f"/people/{uuid.uuid4()}")
    assert hidden.status_code == missing.status_code == 404 and hidden.content == missing.content
    assert str(hum.person.pk) not in community.get("/people").content.decode()
    assert str(hum.person.pk) not in community.get("/memberships").content.decode()


def test_people_filters(signed_in) -> None:
    m = make_member(Component.CIVILIAN)
    soldier = make_member(Component.MILITARY, role=Role.MILITARY_LIAISON)
    api = signed_in(m)
    by_org = api.get("/people", {"organisation": str(soldier.org.pk)}).json()
    assert [p["id"] for p in by_org["items"]] == [str(soldier.person.pk)]
    by_role = api.get("/people", {"role": "military_liaison"}).json()
    assert [p["id"] for p in by_role["items"]] == [str(soldier.person.pk)]
    bad = api.get("/people", {"role": "general"})
    assert bad.status_code == 422 and list(bad.json()["errors"]) == ["role"]


def test_memberships_current_by_default(signed_in) -> None:
    m = make_member(Component.CIVILIAN)
    admin = make_member(Component.CIVILIAN, role=Role.ADMINISTRATOR, org=m.org)
    pending = services.add_membership(admin.actor, person=m.person, organisation=m.org, role=Role.LEADERSHIP)
    api = signed_in(m)

    current = api.get("/memberships", {"person": str(m.person.pk)}).json()
    assert [x["id"] for x in current["items"]] == [str(m.membership.pk)]
    every = api.get("/memberships", {"person": str(m.person.pk), "current": "false"}).json()
    assert {x["id"] for x in every["items"]} == {str(m.membership.pk), str(pending.pk)}
    assert {x["status"] for x in every["items"]} == {"active", "pending"}
    by_role = api.get("/memberships", {"organisation": str(m.org.pk), "role": "administrator"}).json()
    assert [x["person"]["id"] for x in by_role["items"]] == [str(admin.person.pk)]


def test_me_names_the_acting_membership(signed_in) -> None:
    m = make_member(Component.HUMANITARIAN)
    second_org = make_org(Component.CIVILIAN)
    admin = make_member(Component.CIVILIAN, role=Role.ADMINISTRATOR)
    second = services.add_membership(admin.actor, person=m.person, organisation=second_org, role=Role.CIVILIAN_STAFF)
    api = signed_in(m)

    me = api.get("/me").json()
    assert me["username"] == m.user.username
    assert me["person"]["id"] == str(m.person.pk) and me["person"]["email"] == m.person.email
    assert me["acting_membership"]["id"] == str(m.membership.pk)
    assert me["component"] == "humanitarian" and me["role"] == "cmcoord"
    assert "military" not in me["levels"] and "humanitarian" in me["levels"]
    assert {x["id"] for x in me["memberships"]} == {str(m.membership.pk), str(second.pk)}

    switched = api.client.post("/core/acting-as/", {"membership": str(second.pk), "next": "/"})
    assert switched.status_code == 302
    me = api.get("/me").json()
    assert me["acting_membership"]["id"] == str(second.pk) and me["component"] == "civilian"


def test_a_user_without_a_person_record(signed_in, client_handler) -> None:
    from civmil.core.models import User
    from tests.api.conftest import Api, make_client

    user = User.objects.create_user("loner", password="x-long-password-1")
    client = make_client(client_handler)
    client.force_login(user)
    me = Api(client).get("/me").json()
    assert me == {"username": "loner", "person": None, "acting_membership": None, "organisation": None,
                  "component": None, "role": None, "memberships": [], "levels": ["public"]}
    assert Api(client).get("/organisations").json()["count"] == Organisation.objects.count()


def test_me_answers_for_a_membership_that_may_not_see_its_own_record(signed_in) -> None:
    """Acting for a community group, a person whose record is at MISSION level does not see it:
    /me answers 200 with no person (it answered 500)."""
    m = make_member(Component.CIVILIAN)
    admin = make_member(Component.CIVILIAN, role=Role.ADMINISTRATOR)
    community = services.add_membership(admin.actor, person=m.person, organisation=make_org(Component.COMMUNITY),
                                        role=Role.COMMUNITY_LIAISON)
    api = signed_in(m)
    assert api.client.post("/core/acting-as/", {"membership": str(community.pk), "next": "/"}).status_code == 302
    me = api.get("/me").json()
    assert me["person"] is None and me["component"] == "community"
    assert {x["id"] for x in me["memberships"]} == {str(m.membership.pk), str(community.pk)}


def test_a_page_of_people_costs_the_same_queries_whatever_its_length(signed_in: Any) -> None:
    """The owner of each person, their memberships and the views are read once per page, not once
    per person (a page of 20 cost 20 more queries than a page of one)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    m = make_member(Component.CIVILIAN)
    for n in range(12):
        make_member(Component.HUMANITARIAN, org=make_org(Component.HUMANITARIAN, name=f"Agency {n}"))
    api = signed_in(m)
    api.get("/people", {"limit": 1})  # the session and the mission settings, read once
    counts = {}
    for limit in (1, 12):
        with CaptureQueriesContext(connection) as ctx:
            body = api.get("/people", {"limit": limit}).json()
        assert len(body["items"]) == limit
        counts[limit] = len(ctx.captured_queries)
    assert counts[12] == counts[1]

"""Areas (with the point-in-area lookup) and liaison assignments over the API."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from civmil.actors import services as actor_services
from civmil.actors.models import Area, LiaisonAssignment
from civmil.core import geo
from civmil.core.choices import Component, Level
from tests.factories import make_member, make_org

pytestmark = pytest.mark.django_db


def _square(lon: float, lat: float, size: float) -> dict[str, Any]:
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def _area(name: str, pcode: str, level: int, geometry: dict[str, Any], parent: Area | None = None) -> Area:
    return actor_services.save_area(None, Area(name=name, pcode=pcode, admin_level=level, parent=parent), geometry)


@pytest.fixture
def provinces() -> tuple[Area, Area]:
    north = _area("North Province", "XY01", 1, _square(30.0, 10.0, 2.0))
    district = _area("Riverside District", "XY0101", 2, _square(30.0, 10.0, 1.0), parent=north)
    return north, district


def test_areas_list_and_detail(signed_in, provinces) -> None:
    north, district = provinces
    api = signed_in(make_member(Component.CIVILIAN))

    body = api.get("/areas").json()
    assert body["count"] == 2 and [a["pcode"] for a in body["items"]] == ["XY01", "XY0101"]
    assert "geometry" not in body["items"][0]
    assert body["items"][0]["bbox"] == [30.0, 10.0, 32.0, 12.0]
    assert [a["name"] for a in api.get("/areas", {"admin_level": "2"}).json()["items"]] == ["Riverside District"]
    assert [a["name"] for a in api.get("/areas", {"q": "xy01"}).json()["items"]] == ["North Province"]

    detail = api.get(f"/areas/{district.pk}").json()
    assert detail["parent"] == {"id": str(north.pk), "name": "North Province", "pcode": "XY01", "admin_level": 1}
    assert detail["geometry"]["type"] == "Polygon"
    assert api.get(f"/areas/{uuid.uuid4()}").json() == {"detail": "No such area.", "errors": {}}


def test_lookup_by_decimal_degrees_and_by_mgrs(signed_in, provinces) -> None:
    api = signed_in(make_member(Component.MILITARY))

    r = api.get("/areas/lookup", {"location": "10.5, 30.5"})
    assert r.status_code == 200
    assert [a["pcode"] for a in r.json()["areas"]] == ["XY01", "XY0101"]
    assert r.json()["location"]["latitude"] == 10.5

    reference = geo.to_mgrs(11.5, 31.5)
    by_grid = api.get("/areas/lookup", {"location": reference}).json()
    assert [a["pcode"] for a in by_grid["areas"]] == ["XY01"]
    assert abs(by_grid["location"]["latitude"] - 11.5) < 0.001
    assert api.get("/areas/lookup", {"location": "-45, 100"}).json()["areas"] == []


@pytest.mark.parametrize(("location", "reason"), [
    ("34N CF 1234 567", "odd number of digits"),
    ("95, 10", "Latitude 95.0 is out of range"),
    ("somewhere near the river", "neither 'latitude, longitude'"),
])
def test_lookup_refuses_a_bad_location_with_the_reason(signed_in, location: str, reason: str) -> None:
    r = signed_in(make_member(Component.MILITARY)).get("/areas/lookup", {"location": location})
    assert r.status_code == 422
    body = r.json()
    assert reason in body["detail"] and body["errors"] == {"location": [body["detail"]]}


def test_lookup_needs_a_location(signed_in) -> None:
    r = signed_in(make_member(Component.MILITARY)).get("/areas/lookup")
    assert r.status_code == 422 and r.json()["errors"] == {"location": ["This field is required."]}


def _assignment_body(member: Any, **overrides: Any) -> dict[str, Any]:
    body = {"officer": str(member.person.pk), "level": "mission", "starts_on": "2025-01-10"}
    body.update(overrides)
    return body


def test_assign_list_and_detail(signed_in, provinces) -> None:
    cimic = make_member(Component.MILITARY)
    partner = make_org(Component.HUMANITARIAN)
    api = signed_in(cimic)

    r = api.post("/liaison-assignments", _assignment_body(
        cimic, to_organisation=str(partner.pk), area=str(provinces[1].pk), location="10.5, 30.5",
        notes="Weekly at the hub"))

    assert r.status_code == 201, r.content
    created = r.json()
    a = LiaisonAssignment.objects.get(pk=created["id"])
    assert a.from_organisation == cimic.org and a.to_organisation == partner and a.latitude == 10.5
    assert created["officer"] == {"id": str(cimic.person.pk), "full_name": cimic.person.full_name}
    assert created["area"]["pcode"] == "XY0101" and created["starts_on"] == "2025-01-10"

    listed = signed_in(make_member(Component.CIVILIAN)).get("/liaison-assignments",
                                                            {"organisation": str(partner.pk)}).json()
    assert listed["count"] == 1 and listed["items"][0]["id"] == created["id"]
    assert api.get(f"/liaison-assignments/{a.pk}").json()["notes"] == "Weekly at the hub"
    assert api.get("/liaison-assignments", {"organisation": str(uuid.uuid4())}).json()["count"] == 0


def test_current_assignments_only(signed_in) -> None:
    cimic = make_member(Component.MILITARY)
    api = signed_in(cimic)
    today = dt.date.today()
    ended = api.post("/liaison-assignments", _assignment_body(
        cimic, community="Riverside", starts_on="2020-01-01", ends_on="2020-06-30")).json()
    running = api.post("/liaison-assignments", _assignment_body(
        cimic, community="Hilltop", starts_on=(today - dt.timedelta(days=3)).isoformat())).json()
    assert {a["id"] for a in api.get("/liaison-assignments").json()["items"]} == {ended["id"], running["id"]}
    assert [a["id"] for a in api.get("/liaison-assignments", {"current": "true"}).json()["items"]] == [running["id"]]


def test_assignment_errors_name_their_fields(signed_in) -> None:
    cimic = make_member(Component.MILITARY)
    api = signed_in(cimic)
    r = api.post("/liaison-assignments", _assignment_body(
        cimic, officer=str(uuid.uuid4()), starts_on="2025-02-01", ends_on="2025-01-01", location="nowhere"))
    assert r.status_code == 422
    assert set(r.json()["errors"]) == {"officer", "to_organisation", "ends_on", "location"}
    level = api.post("/liaison-assignments", _assignment_body(cimic, community="Hilltop", level="humanitarian"))
    assert level.status_code == 403 and "level" in level.json()["errors"]
    assert not LiaisonAssignment.objects.exists()


def test_hidden_assignment_answers_like_a_missing_one(signed_in) -> None:
    hum = make_member(Component.HUMANITARIAN)
    a = actor_services.assign_liaison(hum.actor, actor_services.Assignment(
        officer_id=hum.person.pk, starts_on=dt.date(2025, 1, 1), level=Level.HUMANITARIAN, community="Camp 3"))
    api = signed_in(make_member(Component.MILITARY))
    hidden, missing = api.get(f"/liaison-assignments/{a.pk}"), api.get(f"/liaison-assignments/{uuid.uuid4()}")
    assert hidden.status_code == missing.status_code == 404 and hidden.content == missing.content
    assert api.get("/liaison-assignments").json()["count"] == 0


# ---------------------------------------------------------------------------------------------
# An officer is assigned by their own organisation, or with its confirmation


def _pending(api: Any, officer: Any, to: Any, **overrides: Any) -> dict[str, Any]:
    r = api.post("/liaison-assignments", _assignment_body(officer, to_organisation=str(to.pk),
                                                          starts_on=dt.date.today().isoformat(), **overrides))
    assert r.status_code == 201, r.content
    return dict(r.json())


def _liaisons(api: Any, target: Any) -> list[str]:
    """The assignments "who is my liaison to ``target``" answers with (the page's rows)."""
    from django.urls import reverse

    page = api.client.get(reverse("actors:my-liaison"), {"to": str(target.pk)})
    assert page.status_code == 200
    return [str(row["pk"]) for row in page.context["rows"]]


def test_another_organisations_officer_waits_for_that_organisations_confirmation(signed_in) -> None:
    from civmil.core.models import LedgerEntry

    ngo = make_member(Component.HUMANITARIAN)
    battalion = make_org(Component.MILITARY)
    officer = make_member(org=battalion)
    commander = make_member(org=battalion)
    asking = signed_in(ngo)
    created = _pending(asking, officer, battalion, notes="Our focal point at the battalion")
    assert created["status"] == "pending" and created["decided_by"] is None
    assert _liaisons(asking, battalion) == []  # pending: not "my liaison" yet
    deciding = signed_in(commander)
    listed = deciding.get("/liaison-assignments", {"to_decide": "true"}).json()
    assert [a["id"] for a in listed["items"]] == [created["id"]]
    assert asking.get("/liaison-assignments", {"to_decide": "true"}).json()["count"] == 0
    assert [a["id"] for a in asking.get("/liaison-assignments", {"status": "pending"}).json()["items"]] == [
        created["id"]]

    confirmed = deciding.post(f"/liaison-assignments/{created['id']}/confirm", {})
    assert confirmed.status_code == 200, confirmed.content
    assert confirmed.json()["status"] == "confirmed"
    assert confirmed.json()["decided_by"] == {"id": str(commander.person.pk), "full_name": commander.person.full_name}
    assert _liaisons(asking, battalion) == [created["id"]]
    again = deciding.post(f"/liaison-assignments/{created['id']}/refuse", {})
    assert again.status_code == 422 and "not waiting" in again.json()["detail"]
    actions = list(LedgerEntry.objects.filter(object_id=created["id"]).values_list("action", flat=True))
    assert actions == ["liaison.assigned", "liaison.assignment_confirmed"]


def test_a_refusal_is_ledgered_with_its_reason_and_never_counts(signed_in) -> None:
    from civmil.core.models import LedgerEntry

    police = make_member(Component.POLICE)
    unit = make_org(Component.MILITARY)
    officer, staff = make_member(org=unit), make_member(org=unit)
    asking = signed_in(police)
    created = _pending(asking, officer, unit)
    refused = signed_in(staff).post(f"/liaison-assignments/{created['id']}/refuse",
                                    {"reason": "He left for another sector."})
    assert refused.status_code == 200 and refused.json()["status"] == "refused"
    seen = asking.get(f"/liaison-assignments/{created['id']}").json()
    assert seen["decision_reason"] == "He left for another sector."
    assert _liaisons(asking, unit) == []
    entry = LedgerEntry.objects.get(object_id=created["id"], action="liaison.assignment_refused")
    assert entry.change.data["reason"] == "He left for another sector."  # type: ignore[attr-defined]
    assert entry.change.data["decided_by"] == str(staff.person.pk)  # type: ignore[attr-defined]
    assert asking.get("/liaison-assignments", {"status": "refused"}).json()["count"] == 1


def test_only_a_member_of_the_officers_organisation_decides_not_the_officer_nor_who_asked(signed_in) -> None:
    from civmil.core import services as core_services
    from civmil.core.choices import Role

    unit = make_org(Component.MILITARY)
    officer = make_member(org=unit)
    outsider = make_member(Component.MILITARY)
    trainer = make_member(org=unit, role=Role.TRAINER)
    dual = make_member(Component.CIVILIAN)  # also a member of the unit: asks as civilian, would confirm as unit
    second = core_services.add_membership(None, person=dual.person, organisation=unit, role=Role.MILITARY_STAFF)
    created = _pending(signed_in(dual), officer, unit)
    for who in (officer, outsider, trainer):
        r = signed_in(who).post(f"/liaison-assignments/{created['id']}/confirm", {})
        assert r.status_code == 403, (who, r.content)
        assert "own organisation" in r.json()["detail"]
    as_unit = signed_in(dual)
    session = as_unit.client.session
    session["civmil.acting_membership"] = str(second.pk)
    session.save()
    assert as_unit.get("/me").json()["acting_membership"]["id"] == str(second.pk)
    assert as_unit.post(f"/liaison-assignments/{created['id']}/confirm", {}).status_code == 403
    missing = signed_in(make_member(org=unit)).post(f"/liaison-assignments/{uuid.uuid4()}/confirm", {})
    assert missing.status_code == 404
    assert LiaisonAssignment.objects.get(pk=created["id"]).status == "pending"


def test_the_officers_organisation_is_shown_what_it_must_confirm_even_above_its_level(signed_in) -> None:
    ngo = make_member(Component.HUMANITARIAN)
    unit = make_org(Component.MILITARY)
    officer, staff = make_member(org=unit), make_member(org=unit)
    created = _pending(signed_in(ngo), officer, unit, level="humanitarian", notes="Camp security contacts")
    deciding = signed_in(staff)
    seen = deciding.get(f"/liaison-assignments/{created['id']}").json()
    assert seen["view"] == "reduced" and seen["status"] == "pending"
    assert seen["officer"]["id"] == str(officer.person.pk) and "notes" in seen["withheld"]
    assert deciding.post(f"/liaison-assignments/{created['id']}/confirm", {}).json()["status"] == "confirmed"
    # Another military unit still sees nothing of it.
    other = signed_in(make_member(Component.MILITARY)).get(f"/liaison-assignments/{created['id']}")
    assert other.status_code == 404


def test_an_officer_without_a_current_membership_cannot_be_assigned(signed_in) -> None:
    import datetime as _dt

    from civmil.core import services as core_services

    cimic = make_member(Component.MILITARY)
    gone = make_member(Component.MILITARY)
    core_services.end_membership(None, gone.membership, on=_dt.date.today() - _dt.timedelta(days=1))
    r = signed_in(cimic).post("/liaison-assignments", _assignment_body(gone, community="Hilltop"))
    assert r.status_code == 422 and "officer" in r.json()["errors"]
    assert not LiaisonAssignment.objects.exists()


def test_ones_own_officer_is_assigned_at_once(signed_in) -> None:
    cimic = make_member(Component.MILITARY)
    colleague = make_member(org=cimic.org)
    partner = make_org(Component.HUMANITARIAN)
    created = _pending(signed_in(cimic), colleague, partner)
    assert created["status"] == "confirmed"
    assert _liaisons(signed_in(cimic), partner) == [created["id"]]

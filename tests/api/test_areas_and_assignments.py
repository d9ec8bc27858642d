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

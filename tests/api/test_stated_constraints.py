"""What the OpenAPI document states about a field is what the server enforces: a value the
document refuses is refused with a 422 naming the field, and a value it allows is accepted.

Each rule here was once enforced by the server alone, so generated clients and fuzzers sent
requests the server refused (tests/api/test_schemathesis.py measures that share per operation).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from civmil.core.choices import Component, Level
from tests.api.conftest import entry_body, record_entry
from tests.factories import make_member

pytestmark = pytest.mark.django_db


def _components(anonymous: Any) -> dict[str, Any]:
    doc: dict[str, Any] = anonymous.get("/openapi.json").json()
    return doc["components"]["schemas"]


def _matches(schema: dict[str, Any], value: str) -> bool:
    return re.search(schema["pattern"], value) is not None


def test_contact_time_outside_the_stated_years_is_refused_naming_it(anonymous: Any, signed_in: Any) -> None:
    occurred_at = _components(anonymous)["LiaisonIn"]["properties"]["occurred_at"]
    assert not _matches(occurred_at, "1989-12-31T12:00:00Z")
    assert _matches(occurred_at, "1990-01-02T12:00:00Z")
    me = make_member(Component.HUMANITARIAN)
    api = signed_in(me)
    r = api.post("/liaison-log", entry_body(me, occurred_at="1989-12-31T12:00:00Z"))
    assert r.status_code == 422
    assert r.json()["errors"] == {"occurred_at": [r.json()["errors"]["occurred_at"][0]]}
    assert "1 January 1990" in r.json()["errors"]["occurred_at"][0]
    assert api.post("/liaison-log", entry_body(me, occurred_at="1990-01-02T12:00:00Z")).status_code == 201


def test_kernel_date_states_the_mission_window(anonymous: Any, signed_in: Any) -> None:
    """A kernel-mounted type's date: the window's years are in the document, the 422 names the field."""
    observed_on = _components(anonymous)["ObservationIn"]["properties"]["observed_on"]["anyOf"][0]
    last = dt.date.today().year + 10
    assert _matches(observed_on, f"{last}-12-31") and not _matches(observed_on, f"{last + 1}-01-01")
    me = make_member(Component.HUMANITARIAN)
    body = {"title": "Crowd", "category": "crowd", "level": Level.HUMANITARIAN, "observed_on": f"{last + 1}-01-01",
            "geometry": {"type": "Point", "coordinates": [30.5, 10.5]}}
    r = signed_in(me).post("/records/kernel_proof.observation", body)
    assert r.status_code == 422 and list(r.json()["errors"]) == ["observed_on"]


def test_blank_required_text_is_stated_and_refused_naming_it(anonymous: Any, signed_in: Any) -> None:
    components = _components(anonymous)
    assert components["LiaisonIn"]["properties"]["summary"]["pattern"] == r"\S"
    assert components["ObservationIn"]["properties"]["title"]["pattern"] == r"\S"
    assert components["LiaisonIn"]["properties"]["organisations"]["minItems"] == 1
    me = make_member(Component.HUMANITARIAN)
    r = signed_in(me).post("/liaison-log", entry_body(me, summary="   "))
    assert r.status_code == 422 and r.json()["errors"] == {"summary": ["Say what the contact was about."]}
    r = signed_in(me).post("/liaison-log", entry_body(me, organisations=[]))
    assert r.status_code == 422 and list(r.json()["errors"]) == ["organisations"]


def test_release_states_exactly_one_target(anonymous: Any, signed_in: Any) -> None:
    rule = _components(anonymous)["LiaisonLogEntryReleaseIn"]["oneOf"]
    assert sorted(r["required"][0] for r in rule) == ["target_component", "target_organisation", "target_person"]
    me = make_member(Component.HUMANITARIAN)
    entry = record_entry(me)
    api = signed_in(me)
    r = api.post(f"/liaison-log/{entry.pk}/releases", {})
    assert r.status_code == 422 and "target" in r.json()["errors"]
    r = api.post(f"/liaison-log/{entry.pk}/releases", {"target_component": Component.CIVILIAN})
    assert r.status_code == 201


def test_assignment_states_organisation_or_community(anonymous: Any, signed_in: Any) -> None:
    components = _components(anonymous)
    for name in ("AssignmentIn", "LiaisonAssignmentUpdateIn"):
        assert sorted(r["required"][0] for r in components[name]["anyOf"]) == ["community", "to_organisation"]
    me = make_member(Component.HUMANITARIAN)
    body = {"officer": str(me.person.pk), "level": Level.MISSION, "starts_on": "2025-01-01", "community": " "}
    r = signed_in(me).post("/liaison-assignments", body)
    assert r.status_code == 422
    assert r.json()["errors"]["to_organisation"] == ["Name the organisation or the community the officer liaises with."]
    assert signed_in(me).post("/liaison-assignments", {**body, "community": "Riverside"}).status_code == 201


def test_any_offset_the_document_allows_is_stored(signed_in: Any) -> None:
    """An offset beyond 15:59 (which ISO 8601 allows and PostgreSQL does not store) is the same instant in UTC."""
    me = make_member(Component.HUMANITARIAN)
    api = signed_in(me)
    r = api.post("/liaison-log", entry_body(me, occurred_at="1998-10-30T22:26:09-20:07"))
    assert r.status_code == 201
    assert dt.datetime.fromisoformat(r.json()["occurred_at"]) == dt.datetime(1998, 10, 31, 18, 33, 9, tzinfo=dt.UTC)
    r = api.get("/liaison-log", {"since": "1998-10-31T22:00:00+21:44", "until": "2030-01-01T00:00:00-23:59"})
    assert r.status_code == 200

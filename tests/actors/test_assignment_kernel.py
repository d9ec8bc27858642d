"""Liaison assignments on the record kernel: what two users of different components see on the
pages, in the CSV and through the API, reduced views after a release of some fields, history,
and a stale edit refused with the merge shown."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from civmil.actors import services
from civmil.actors.models import LiaisonAssignment
from civmil.core import registry
from civmil.core import services as core_services
from civmil.core.choices import Component, Level
from tests.factories import Member, make_member, make_org

pytestmark = pytest.mark.django_db

API = "/api/v1/liaison-assignments"
NOTES = "=HYPERLINK(\"http://evil.example\",\"open\")"
COMMUNITY = "+Hilltop camp"


@pytest.fixture
def soldier() -> Member:
    return make_member(Component.MILITARY)


@pytest.fixture
def aid_worker() -> Member:
    return make_member(Component.HUMANITARIAN)


@pytest.fixture
def assignment(soldier: Member) -> LiaisonAssignment:
    """A military-level assignment of the soldier, with text a spreadsheet would run."""
    return services.assign_liaison(soldier.actor, services.Assignment(
        officer_id=soldier.person.pk, starts_on=timezone.localdate(), level=Level.MILITARY,
        to_organisation_id=make_org(Component.CIVILIAN).pk, community=COMMUNITY, notes=NOTES,
        location="4.85, 31.6"))


def signed_in(m: Member) -> Client:
    client = Client()
    client.force_login(m.user)
    return client


def export(client: Client, **params: str) -> list[dict[str, str]]:
    response = client.get(reverse("actors:assignment-export"), params)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")  # type: ignore[attr-defined]
    return list(csv.DictReader(io.StringIO(text)))


def test_the_declaration_gives_the_type_its_releasable_face_and_search_fields() -> None:
    record_type = registry.get(LiaisonAssignment)
    assert record_type.release_fields == ("officer", "from_organisation", "to_organisation", "community", "area",
                                          "starts_on", "ends_on")
    assert record_type.face_fields == ("status",)
    assert record_type.search_fields == ("community", "notes")


def test_a_reader_of_another_component_finds_nothing_on_any_channel(
        soldier: Member, aid_worker: Member, assignment: LiaisonAssignment) -> None:
    mine, theirs = signed_in(soldier), signed_in(aid_worker)
    detail = reverse("actors:assignment", args=[assignment.pk])
    assert mine.get(detail).status_code == 200
    assert [r["pk"] for r in mine.get(reverse("actors:assignments")).context["rows"]] == [assignment.pk]
    assert [r["id"] for r in export(mine)] == [str(assignment.pk)]
    assert mine.get(f"{API}/{assignment.pk}").json()["notes"] == NOTES

    for url in (detail, reverse("actors:assignment-history", args=[assignment.pk]),
                reverse("actors:assignment-card", args=[assignment.pk]),
                reverse("actors:assignment-row", args=[assignment.pk])):
        assert theirs.get(url).status_code == 404, url
    assert theirs.get(reverse("actors:assignments")).context["rows"] == []
    assert export(theirs) == []
    assert theirs.get(f"{API}/{assignment.pk}").status_code == 404
    assert theirs.get(API).json()["count"] == 0
    assert theirs.get(f"{API}/{assignment.pk}/history").status_code == 404


def test_a_release_of_some_fields_gives_a_reduced_view_everywhere(
        soldier: Member, aid_worker: Member, assignment: LiaisonAssignment) -> None:
    owner = signed_in(soldier)
    response = owner.post(reverse("actors:assignment-releases", args=[assignment.pk]), {
        "release-target_organisation": str(aid_worker.org.pk), "release-scope": "fields",
        "release-released_fields": ["officer", "starts_on"]})
    assert response.status_code == 302

    reader = signed_in(aid_worker)
    page = reader.get(reverse("actors:assignment", args=[assignment.pk]))
    assert page.status_code == 200
    body = page.content.decode()
    assert soldier.person.full_name in body and "withheld" in body
    assert "Hilltop" not in body and "HYPERLINK" not in body
    assert not page.context["may_edit"] and not page.context["may_release"]

    seen = reader.get(f"{API}/{assignment.pk}").json()
    assert seen["view"] == "reduced" and seen["status"] == "confirmed"
    assert seen["officer"]["full_name"] == soldier.person.full_name
    assert "notes" not in seen and "community" not in seen and "latitude" not in seen
    assert {"notes", "community", "to_organisation", "latitude"} <= set(seen["withheld"])

    [row] = export(reader)
    assert row["Liaison officer"] == soldier.person.full_name
    assert row["Community"] == "" and row["Notes"] == "" and row["Latitude"] == ""

    # A filter on a field the reader's view withholds never matches: it would reveal the value.
    to_org = str(assignment.to_organisation_id)
    assert reader.get(reverse("actors:assignments"), {"organisation": to_org}).context["rows"] == []
    assert reader.get(API, {"organisation": to_org}).json()["count"] == 0
    assert len(owner.get(reverse("actors:assignments"), {"organisation": to_org}).context["rows"]) == 1
    assert reader.get(API, {"q": "Hilltop"}).json()["count"] == 0
    assert owner.get(API, {"q": "Hilltop"}).json()["count"] == 1

    # The reduced reader's history holds only the released fields' values.
    history = reader.get(f"{API}/{assignment.pk}/history").json()
    assert [v["action"] for v in history] == ["liaison.assigned"]
    assert "notes" not in history[0]["changes"] and "officer" in history[0]["changes"]
    assert reader.get(f"{API}/{assignment.pk}/releases").status_code == 403


def test_the_csv_export_is_formula_safe(soldier: Member, assignment: LiaisonAssignment) -> None:
    [row] = export(signed_in(soldier))
    assert row["Notes"] == "'" + NOTES
    assert row["Community"] == "'" + COMMUNITY
    assert row["Latitude"] == "4.850000"  # numbers civmil writes itself stay numbers
    assert row["Starts on"] == timezone.localdate().isoformat()


def test_a_stale_edit_is_refused_and_comes_back_merged(soldier: Member, assignment: LiaisonAssignment) -> None:
    editor = signed_in(soldier)
    edit = reverse("actors:assignment-edit", args=[assignment.pk])
    form = editor.get(edit)
    assert form.status_code == 200
    data = {name: value for name, value in form.context["form"].initial.items() if value is not None}
    data.update(to_organisation=str(assignment.to_organisation_id), area="", ends_on="",
                latitude="4.85", longitude="31.6")

    colleague = make_member(org=soldier.org)
    services.edit_assignment(colleague.actor, assignment.pk, 1, {
        **{name: getattr(assignment, name) for name in services.ASSIGNMENT_EDITABLE},
        "notes": "Their notes", "community": "Riverside"})

    response = editor.post(edit, {**data, "notes": "My notes", "version": "1"})
    assert response.status_code == 409
    assert b"Nothing was saved" in response.content
    merge = response.context["merge"]
    assert merge["version"] == 2 and list(merge["panels"]) == ["notes"]
    assert merge["panels"]["notes"]["theirs"] == "Their notes" and merge["panels"]["notes"]["mine"] == "My notes"
    assert merge["taken"] == ["Community"]  # their change where only they changed a field
    assert LiaisonAssignment.objects.get(pk=assignment.pk).notes == "Their notes"

    again = response.context["form"].data.copy()
    again["merge_notes"] = "mine"
    saved = editor.post(edit, again)
    assert saved.status_code == 302
    final = LiaisonAssignment.objects.get(pk=assignment.pk)
    assert (final.version, final.notes, final.community) == (3, "My notes", "Riverside")

    history = editor.get(reverse("actors:assignment-history", args=[assignment.pk]))
    actions = [v["action"] for v in history.context["versions"]]
    assert actions == ["Assigned", "Edited", "Edited"]


def test_a_reader_who_does_not_own_it_may_not_edit(soldier: Member, assignment: LiaisonAssignment) -> None:
    other_soldier = signed_in(make_member(Component.MILITARY))
    assert other_soldier.get(reverse("actors:assignment", args=[assignment.pk])).status_code == 200
    assert other_soldier.get(reverse("actors:assignment-edit", args=[assignment.pk])).status_code == 403
    r = other_soldier.put(f"{API}/{assignment.pk}", json.dumps(_put_body(assignment, version=1)),
                          content_type="application/json")
    assert r.status_code == 403


def _put_body(a: LiaisonAssignment, **overrides: Any) -> dict[str, Any]:
    body = {"to_organisation": str(a.to_organisation_id), "community": a.community, "area": None,
            "latitude": a.latitude, "longitude": a.longitude, "starts_on": a.starts_on.isoformat(),
            "ends_on": None, "notes": a.notes, "level": a.level}
    body.update(overrides)
    return body


def test_the_api_updates_with_the_version_and_answers_409_with_the_differences(
        soldier: Member, assignment: LiaisonAssignment) -> None:
    client = signed_in(soldier)

    def put(**overrides: Any) -> Any:
        return client.put(f"{API}/{assignment.pk}", json.dumps(_put_body(assignment, **overrides)),
                          content_type="application/json")

    first = put(version=1, notes="Weekly")
    assert first.status_code == 200, first.content
    assert first.json()["version"] == 2 and first.json()["notes"] == "Weekly"
    stale = put(version=1, notes="Daily")
    assert stale.status_code == 409
    body = stale.json()
    assert body["current_version"] == 2
    assert {"field": "notes", "theirs": "Weekly", "yours": "Daily", "changed_by": "both"} in body["differences"]
    assert LiaisonAssignment.objects.get(pk=assignment.pk).notes == "Weekly"
    assert put(version=2, latitude=91).status_code == 422
    assert put(version=2, ends_on="2000-01-01").status_code == 422
    assert [v["action"] for v in client.get(f"{API}/{assignment.pk}/history").json()] == [
        "liaison.assigned", "liaison.assignment_edited"]


def test_releases_through_the_api(soldier: Member, aid_worker: Member, assignment: LiaisonAssignment) -> None:
    client = signed_in(soldier)
    added = client.post(f"{API}/{assignment.pk}/releases",
                        json.dumps({"target_organisation": str(aid_worker.org.pk), "fields": ["officer"]}),
                        content_type="application/json")
    assert added.status_code == 201, added.content
    assert signed_in(aid_worker).get(f"{API}/{assignment.pk}").json()["view"] == "reduced"
    revoked = client.delete(f"{API}/{assignment.pk}/releases/{added.json()['id']}")
    assert revoked.status_code == 200 and revoked.json()["active"] is False
    assert signed_in(aid_worker).get(f"{API}/{assignment.pk}").status_code == 404
    bad = client.post(f"{API}/{assignment.pk}/releases", json.dumps({"fields": ["notes"],
                                                                    "target_component": "humanitarian"}),
                      content_type="application/json")
    assert bad.status_code == 422  # notes is not releasable one by one: the schema says so


def test_the_openapi_document_carries_the_declared_constraints(soldier: Member) -> None:
    doc = Client().get("/api/v1/openapi.json").json()
    schema = doc["components"]["schemas"]["LiaisonAssignmentUpdateIn"]["properties"]
    assert schema["community"]["maxLength"] == 200
    assert any(part.get("maximum") == 90 for part in schema["latitude"].get("anyOf", [schema["latitude"]]))
    out = doc["components"]["schemas"]["LiaisonAssignmentOut"]
    assert "status" in out["required"] and "notes" not in out.get("required", [])


@pytest.mark.django_db(transaction=True)
def test_the_csv_export_streams_under_the_asynchronous_handler(soldier: Member, assignment: LiaisonAssignment) -> None:
    """Under ASGI each batch is read in the request's synchronous thread, never on the event loop."""
    from asgiref.sync import async_to_sync
    from django.test import AsyncClient

    client = AsyncClient()
    client.force_login(soldier.user)

    async def fetch() -> str:
        response = await client.get(reverse("actors:assignment-export"))
        assert response.status_code == 200
        return b"".join([chunk async for chunk in response.streaming_content]).decode("utf-8-sig")

    rows = list(csv.DictReader(io.StringIO(async_to_sync(fetch)())))
    assert [r["id"] for r in rows] == [str(assignment.pk)]
    assert rows[0]["Notes"] == "'" + NOTES


def test_a_list_sorted_by_a_withheld_field_does_not_follow_its_hidden_values(
        soldier: Member, aid_worker: Member) -> None:
    """GET /directory/assignments/?sort=starts_on and ?sort=-starts_on (and the same on
    export.csv) as a reader whose view of two assignments withholds ``starts_on``: the order of
    the rows must not reveal which one starts first."""
    early, late = (services.assign_liaison(soldier.actor, services.Assignment(
        officer_id=soldier.person.pk, starts_on=starts, level=Level.MILITARY, community=community,
        latitude=10.5, longitude=30.5, to_organisation_id=make_org(Component.CIVILIAN).pk))
        for starts, community in ((dt.date(2025, 1, 1), "Early"), (dt.date(2025, 6, 1), "Late")))
    for record in (early, late):
        core_services.release_record(soldier.actor, record, organisation=aid_worker.org, fields=["community"])
    reader = signed_in(aid_worker)

    def order(sort: str) -> list[Any]:
        page = reader.get(reverse("actors:assignments"), {"sort": sort})
        assert page.status_code == 200
        rows = page.context["rows"]
        assert all(row["cells"]["starts_on"].withheld for row in rows)
        return [row["pk"] for row in rows]

    assert set(order("starts_on")) == {early.pk, late.pk}
    assert order("starts_on") == order("-starts_on")
    assert [r["id"] for r in export(reader, sort="starts_on")] == [r["id"] for r in export(reader, sort="-starts_on")]

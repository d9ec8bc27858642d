"""The liaison log over the API: list, filters, pagination, detail, create, edit, releases, history."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from django.utils import timezone

from civmil.actors.models import LiaisonLogEntry
from civmil.core import services
from civmil.core.choices import Component, Level
from civmil.core.models import Release
from tests.api.conftest import entry_body, record_entry
from tests.factories import make_member, make_org

pytestmark = pytest.mark.django_db


def test_list_shows_what_the_reader_may_see_newest_first_with_a_count(signed_in) -> None:
    civ = make_member(Component.CIVILIAN)
    hum = make_member(Component.HUMANITARIAN)
    older = record_entry(civ, summary="older", occurred_at=timezone.now() - dt.timedelta(days=2))
    newer = record_entry(civ, summary="newer", occurred_at=timezone.now() - dt.timedelta(hours=1))
    record_entry(hum, level=Level.HUMANITARIAN, summary="humanitarian only")
    soldier = make_member(Component.MILITARY)

    r = signed_in(soldier).get("/liaison-log")

    assert r.status_code == 200
    body = r.json()
    assert body["count"] == 2
    assert [e["id"] for e in body["items"]] == [str(newer.pk), str(older.pk)]
    assert "humanitarian only" not in r.content.decode()
    first = body["items"][0]
    assert first["summary"] == "newer" and first["view"] == "full" and first["withheld"] == []
    assert first["owner"]["id"] == str(civ.org.pk)
    assert first["may_edit"] is False and first["may_release"] is False


def test_filters_narrow_the_list(signed_in) -> None:
    m = make_member(Component.CIVILIAN)
    other = make_org(Component.HUMANITARIAN)
    now = timezone.now()
    phone = record_entry(m, channel="phone", summary="call about fuel", occurred_at=now - dt.timedelta(days=3))
    meeting = record_entry(m, channel="meeting", summary="meeting on the market", level=Level.HUMANITARIAN,
                           organisation_ids=[m.org.pk, other.pk], occurred_at=now - dt.timedelta(hours=5))
    api = signed_in(m)

    def ids(**params: str) -> list[str]:
        r = api.get("/liaison-log", params)
        assert r.status_code == 200, r.content
        return [e["id"] for e in r.json()["items"]]

    assert ids(channel="phone") == [str(phone.pk)]
    assert ids(q="MARKET") == [str(meeting.pk)]
    assert ids(level="humanitarian") == [str(meeting.pk)]
    assert ids(organisation=str(other.pk)) == [str(meeting.pk)]
    assert ids(since=(now - dt.timedelta(days=1)).isoformat()) == [str(meeting.pk)]
    assert ids(until=(now - dt.timedelta(days=1)).isoformat()) == [str(phone.pk)]
    assert ids(q="nothing like this") == []


def test_pagination_pages_through_everything_once(signed_in) -> None:
    m = make_member(Component.CIVILIAN)
    now = timezone.now()
    made = [record_entry(m, summary=f"entry {i}", occurred_at=now - dt.timedelta(minutes=i)) for i in range(5)]
    api = signed_in(m)

    seen = []
    for offset in (0, 2, 4):
        body = api.get("/liaison-log", {"limit": "2", "offset": str(offset)}).json()
        assert body["count"] == 5 and body["limit"] == 2 and body["offset"] == offset
        seen += [e["id"] for e in body["items"]]
    assert seen == [str(e.pk) for e in made]
    assert api.get("/liaison-log", {"offset": "10"}).json()["items"] == []


def test_page_size_is_capped(signed_in) -> None:
    api = signed_in(make_member(Component.CIVILIAN))
    r = api.get("/liaison-log", {"limit": "201"})
    assert r.status_code == 422
    assert r.json()["errors"] == {"limit": ["Ensure this value is at most 200."]}
    assert api.get("/liaison-log", {"limit": "200"}).status_code == 200


def test_the_count_ignores_records_the_reader_may_not_see(signed_in) -> None:
    hum = make_member(Component.HUMANITARIAN)
    for _ in range(3):
        record_entry(hum, level=Level.HUMANITARIAN)
    body = signed_in(make_member(Component.MILITARY)).get("/liaison-log").json()
    assert body == {"count": 0, "limit": 50, "offset": 0, "items": []}


def test_detail(signed_in) -> None:
    m = make_member(Component.CIVILIAN)
    colleague = make_member(Component.CIVILIAN, org=m.org)
    entry = record_entry(m, person_ids=[colleague.person.pk], location="34N CF 12345 67890", place_name="Bridge")

    r = signed_in(m).get(f"/liaison-log/{entry.pk}")

    assert r.status_code == 200
    body = r.json()
    assert body["id"] == str(entry.pk) and body["version"] == 1 and body["level"] == "mission"
    assert body["people"] == [{"id": str(colleague.person.pk), "full_name": colleague.person.full_name}]
    assert body["created_by"] == {"id": str(m.person.pk), "full_name": m.person.full_name}
    assert body["organisations"][0]["id"] == str(m.org.pk)
    assert body["place_name"] == "Bridge" and body["mgrs"].startswith("34N CF")
    assert -90 <= body["latitude"] <= 90
    assert body["geometry"] == {"type": "Point", "coordinates": [body["longitude"], body["latitude"]]}
    assert body["may_edit"] is True and body["may_release"] is True


def test_create(signed_in) -> None:
    m = make_member(Component.HUMANITARIAN)
    partner = make_org(Component.MILITARY)

    r = signed_in(m).post("/liaison-log", entry_body(
        m, organisations=[str(m.org.pk), str(partner.pk)], level="humanitarian", location="12.5, 30.25"))

    assert r.status_code == 201, r.content
    body = r.json()
    entry = LiaisonLogEntry.objects.get(pk=body["id"])
    assert entry.owner == m.org and entry.level == Level.HUMANITARIAN and entry.created_by == m.person
    assert entry.geometry == {"type": "Point", "coordinates": [30.25, 12.5]}
    assert (body["latitude"], body["longitude"]) == (12.5, 30.25) and body["geometry"] == entry.geometry
    assert {o["id"] for o in body["organisations"]} == {str(m.org.pk), str(partner.pk)}
    assert body["summary"] == "Agreed the convoy schedule" and body["version"] == 1


def test_a_level_the_owner_may_not_see_is_refused_with_the_reason(signed_in) -> None:
    m = make_member(Component.HUMANITARIAN)

    r = signed_in(m).post("/liaison-log", entry_body(m, level="military"))

    assert r.status_code == 403
    body = r.json()
    assert "may not see Military records" in body["detail"]
    assert body["errors"]["level"] == [body["detail"]]
    assert not LiaisonLogEntry.objects.exists()


def test_bad_mgrs_is_refused_with_the_reason(signed_in) -> None:
    m = make_member(Component.CIVILIAN)
    r = signed_in(m).post("/liaison-log", entry_body(m, location="34N CF 1234 567"))
    assert r.status_code == 422
    assert r.json()["errors"]["location"] == ["MGRS reference 34N CF 1234 567 has an odd number of digits."]
    assert not LiaisonLogEntry.objects.exists()


def test_a_drawn_point_is_stored_with_its_box(signed_in) -> None:
    m = make_member(Component.CIVILIAN)
    r = signed_in(m).post("/liaison-log", entry_body(m, geometry={"type": "Point", "coordinates": [30.25, 12.5]}))
    assert r.status_code == 201, r.content
    entry = LiaisonLogEntry.objects.get()
    assert (entry.west, entry.south, entry.east, entry.north) == (30.25, 12.5, 30.25, 12.5)
    assert r.json()["mgrs"]


@pytest.mark.parametrize(("geometry", "reason"), [
    ("somewhere by the river", "must be a GeoJSON geometry object"),
    ({"coordinates": [30, 12]}, 'no "type"'),
    ({"type": "Point", "coordinates": [200, 12]}, "out of range"),
    ({"type": "Point", "coordinates": [30, "north"]}, "finite numbers"),
    # A contact happens at a point: a route or an area is refused, naming what is accepted.
    ({"type": "LineString", "coordinates": [[30, 12], [31, 13]]}, "accepted: Point"),
    ({"type": "Polygon", "coordinates": [[[30, 12], [31, 12], [31, 13], [30, 12.5]]]}, "accepted: Point"),
])
def test_bad_geometry_is_refused_with_the_reason(signed_in, geometry: Any, reason: str) -> None:
    m = make_member(Component.CIVILIAN)
    r = signed_in(m).post("/liaison-log", entry_body(m, geometry=geometry))
    assert r.status_code == 422, r.content
    messages = r.json()["errors"]["geometry"]
    assert any(reason in message for message in messages), messages
    assert not LiaisonLogEntry.objects.exists()


def test_service_checks_come_back_per_field(signed_in) -> None:
    m = make_member(Component.CIVILIAN)
    future = (timezone.now() + dt.timedelta(days=1)).isoformat()
    r = signed_in(m).post("/liaison-log", entry_body(m, summary="   ", organisations=[str(uuid.uuid4())],
                                                    occurred_at=future))
    assert r.status_code == 422
    errors = r.json()["errors"]
    assert set(errors) == {"summary", "organisations", "occurred_at"}
    assert errors["occurred_at"] == ["A contact cannot be recorded in the future."]


def test_update_with_the_current_version(signed_in) -> None:
    m = make_member(Component.CIVILIAN)
    entry = record_entry(m)

    r = signed_in(m).put(f"/liaison-log/{entry.pk}", entry_body(m, summary="Corrected summary", version=1))

    assert r.status_code == 200, r.content
    assert r.json()["version"] == 2 and r.json()["summary"] == "Corrected summary"
    entry.refresh_from_db()
    assert entry.summary == "Corrected summary" and entry.version == 2


def test_stale_update_is_a_conflict_and_overwrites_nothing(signed_in) -> None:
    m = make_member(Component.CIVILIAN)
    entry = record_entry(m)
    api = signed_in(m)
    assert api.put(f"/liaison-log/{entry.pk}", entry_body(m, summary="First edit", version=1)).status_code == 200

    r = api.put(f"/liaison-log/{entry.pk}", entry_body(m, summary="Second edit from stale copy", version=1))

    assert r.status_code == 409
    body = r.json()
    assert body["current_version"] == 2 and body["errors"] == {}
    assert "now version 2" in body["detail"]
    entry.refresh_from_db()
    assert entry.summary == "First edit" and entry.version == 2


def test_a_stale_update_lists_the_fields_that_differ_and_who_changed_them(signed_in) -> None:
    a = make_member(Component.CIVILIAN)
    b = make_member(org=a.org)
    other = make_org(Component.HUMANITARIAN)
    entry = record_entry(a, summary="Original", follow_ups="")
    loaded = signed_in(b).get(f"/liaison-log/{entry.pk}").json()
    mine = entry_body(b, occurred_at=loaded["occurred_at"], summary="Original", version=1)
    assert signed_in(a).put(f"/liaison-log/{entry.pk}", {
        **mine, "summary": "A's summary", "organisations": [str(a.org.pk), str(other.pk)]}).status_code == 200

    r = signed_in(b).put(f"/liaison-log/{entry.pk}", {**mine, "follow_ups": "B's follow-up"})

    assert r.status_code == 409
    body = r.json()
    assert body["current_version"] == 2 and body["errors"] == {}
    assert body["differences"] == [
        {"field": "summary", "theirs": "A's summary", "yours": "Original", "changed_by": "them"},
        {"field": "organisations", "theirs": sorted([str(a.org.pk), str(other.pk)]), "yours": [str(a.org.pk)],
         "changed_by": "them"},
        {"field": "follow_ups", "theirs": "", "yours": "B's follow-up", "changed_by": "you"},
    ]
    entry.refresh_from_db()
    assert (entry.summary, entry.follow_ups, entry.version) == ("A's summary", "", 2)

    # Applying the differences as they advise, on top of version 2, keeps both changes.
    r = signed_in(b).put(f"/liaison-log/{entry.pk}", {
        **mine, "summary": "A's summary", "organisations": [str(a.org.pk), str(other.pk)],
        "follow_ups": "B's follow-up", "version": 2})
    assert r.status_code == 200, r.content
    entry.refresh_from_db()
    assert (entry.summary, entry.follow_ups, entry.version) == ("A's summary", "B's follow-up", 3)
    assert {o.pk for o in entry.organisations.all()} == {a.org.pk, other.pk}


def test_a_stale_update_of_a_field_both_changed_says_both(signed_in) -> None:
    a = make_member(Component.CIVILIAN)
    entry = record_entry(a, summary="Original")
    body = entry_body(a, occurred_at=entry.occurred_at.isoformat(), summary="Original", version=1)
    assert signed_in(a).put(f"/liaison-log/{entry.pk}", {**body, "summary": "Theirs",
                                                         "location": "4.85, 31.6"}).status_code == 200
    r = signed_in(a).put(f"/liaison-log/{entry.pk}", {**body, "summary": "Mine",
                                                      "geometry": {"type": "Point", "coordinates": [31.6, 5.0]}})
    assert r.status_code == 409
    assert r.json()["differences"] == [
        {"field": "summary", "theirs": "Theirs", "yours": "Mine", "changed_by": "both"},
        {"field": "geometry", "theirs": {"type": "Point", "coordinates": [31.6, 4.85]},
         "yours": {"type": "Point", "coordinates": [31.6, 5.0]}, "changed_by": "both"},
    ]


def test_a_stale_update_never_names_a_person_the_sender_may_not_see(signed_in) -> None:
    # Host-nation users see only the people of their own organisation (and what is released to it).
    a = make_member(Component.HOST_NATION)
    b = make_member(org=a.org)
    hidden = make_member(org=a.org).person
    entry = record_entry(a, summary="Original", level=Level.RESTRICTED)
    body = entry_body(a, occurred_at=entry.occurred_at.isoformat(), summary="Original", level="restricted",
                      version=1)
    assert signed_in(a).put(f"/liaison-log/{entry.pk}", {**body, "people": [str(hidden.pk)]}).status_code == 200
    hidden.owner = make_org(Component.HOST_NATION)  # from now on hidden from a and b
    services.save_person(None, hidden)
    assert signed_in(b).get(f"/people/{hidden.pk}").status_code == 404

    r = signed_in(b).put(f"/liaison-log/{entry.pk}", {**body, "summary": "B's summary"})

    assert r.status_code == 409
    assert r.json()["differences"] == [
        {"field": "summary", "theirs": "Original", "yours": "B's summary", "changed_by": "you"}]
    assert str(hidden.pk) not in r.content.decode()


# -- the accepted date window (civmil.core.dates), as on the forms ---------------------------------

WINDOW = f"Give a date between 1 January 1990 and 31 December {dt.date.today().year + 10}."
TEN_YEARS_AHEAD = dt.date.today().replace(year=dt.date.today().year + 10, day=1)
BEYOND = dt.date(dt.date.today().year + 11, 1, 1)


@pytest.mark.parametrize(("when", "refusal"), [
    ("0001-01-01T00:00:00+14:00", WINDOW),
    ("0001-01-01T00:00:00Z", WINDOW),
    ("1900-01-01T10:00:00Z", WINDOW),
    ("1989-12-31T23:59:00Z", WINDOW),
    ("1989-12-31T23:30:00-01:00", None),  # 1 January 1990 in the mission's zone (UTC)
    ("1990-01-01T00:00:00Z", None),
    (f"{TEN_YEARS_AHEAD.isoformat()}T10:00:00Z", "future"),  # in the window, but a contact is never ahead
    (f"{BEYOND.isoformat()}T10:00:00Z", WINDOW),
])
def test_the_log_takes_times_in_the_window_only(signed_in, when: str, refusal: str | None) -> None:
    m = make_member(Component.CIVILIAN)
    api = signed_in(m)
    entry = record_entry(m, summary="Original")
    created = api.post("/liaison-log", entry_body(m, occurred_at=when))
    updated = api.put(f"/liaison-log/{entry.pk}", entry_body(m, occurred_at=when, version=1))
    for r in (created, updated):
        if refusal is None:
            assert r.status_code in (200, 201), r.content
        else:
            assert r.status_code == 422, r.content
            assert any(refusal in message for message in r.json()["errors"]["occurred_at"])
    if refusal is not None:
        assert LiaisonLogEntry.objects.count() == 1
        entry.refresh_from_db()
        assert entry.version == 1


@pytest.mark.parametrize(("when", "accepted"), [
    ("0001-01-01T00:00:00Z", False), ("1900-01-01T00:00:00Z", False), ("1989-12-31T12:00:00Z", False),
    ("1990-01-01T00:00:00Z", True), (f"{TEN_YEARS_AHEAD.isoformat()}T00:00:00Z", True),
    (f"{BEYOND.isoformat()}T00:00:00Z", False),
])
def test_the_log_filters_take_times_in_the_window_only(signed_in, when: str, accepted: bool) -> None:
    api = signed_in(make_member(Component.CIVILIAN))
    for name in ("since", "until"):
        r = api.get("/liaison-log", {name: when})
        assert r.status_code == (200 if accepted else 422)
        if not accepted:
            assert r.json()["errors"] == {name: [WINDOW]}


@pytest.mark.parametrize(("day", "accepted"), [
    ("0001-01-01", False), ("1900-01-01", False), ("1989-12-31", False), ("1990-01-01", True),
    (TEN_YEARS_AHEAD.isoformat(), True), (BEYOND.isoformat(), False),
])
def test_assignment_dates_are_in_the_window(signed_in, day: str, accepted: bool) -> None:
    cimic = make_member(Component.MILITARY)
    partner = make_org(Component.HUMANITARIAN)
    api = signed_in(cimic)
    body = {"officer": str(cimic.person.pk), "level": "mission", "starts_on": "1990-01-01",
            "to_organisation": str(partner.pk)}
    for name in ("starts_on", "ends_on"):
        r = api.post("/liaison-assignments", {**body, name: day})
        if accepted:
            assert r.status_code == 201, r.content
        else:
            assert r.status_code == 422
            assert r.json() == {"detail": "Some fields are not valid; see errors.", "errors": {name: [WINDOW]}}


def test_a_reader_who_may_not_edit_gets_403(signed_in) -> None:
    m = make_member(Component.CIVILIAN)
    entry = record_entry(m)
    other = make_member(Component.MILITARY)
    r = signed_in(other).put(f"/liaison-log/{entry.pk}", entry_body(other, summary="Hijack", version=1))
    assert r.status_code == 403
    entry.refresh_from_db()
    assert entry.summary != "Hijack"


def test_hidden_is_answered_like_missing_on_every_entry_endpoint(signed_in) -> None:
    hum = make_member(Component.HUMANITARIAN)
    hidden = record_entry(hum, level=Level.HUMANITARIAN, summary="protection data")
    api = signed_in(make_member(Component.MILITARY))
    missing = uuid.uuid4()
    body = entry_body(hum, version=1)

    for path in ("", "/releases", "/history"):
        a, b = api.get(f"/liaison-log/{hidden.pk}{path}"), api.get(f"/liaison-log/{missing}{path}")
        assert a.status_code == b.status_code == 404, path
        assert a.content == b.content, path
    a, b = api.put(f"/liaison-log/{hidden.pk}", body), api.put(f"/liaison-log/{missing}", body)
    assert a.status_code == b.status_code == 404 and a.content == b.content
    release = {"target_component": "military"}
    a = api.post(f"/liaison-log/{hidden.pk}/releases", release)
    b = api.post(f"/liaison-log/{missing}/releases", release)
    assert a.status_code == b.status_code == 404 and a.content == b.content
    assert a.json() == {"detail": "No such record.", "errors": {}}


def test_a_partial_release_shows_only_the_released_fields(signed_in) -> None:
    hum = make_member(Component.HUMANITARIAN)
    entry = record_entry(hum, level=Level.HUMANITARIAN, summary="convoy at dawn", follow_ups="secret follow-up")
    soldier = make_member(Component.MILITARY)
    owner_api = signed_in(hum)

    r = owner_api.post(f"/liaison-log/{entry.pk}/releases",
                       {"target_organisation": str(soldier.org.pk), "fields": ["summary", "occurred_at"]})
    assert r.status_code == 201, r.content
    assert r.json()["fields"] == ["occurred_at", "summary"] and r.json()["active"] is True

    seen = signed_in(soldier).get(f"/liaison-log/{entry.pk}").json()
    assert seen["view"] == "reduced"
    assert seen["summary"] == "convoy at dawn"
    for withheld in ("follow_ups", "channel", "organisations", "people", "geometry", "latitude", "longitude",
                     "place_name", "created_by"):
        assert withheld not in seen and withheld in seen["withheld"]
    assert "secret follow-up" not in signed_in(soldier).get("/liaison-log").content.decode()


def test_releases_list_add_and_revoke(signed_in) -> None:
    hum = make_member(Component.HUMANITARIAN)
    entry = record_entry(hum, level=Level.HUMANITARIAN)
    soldier = make_member(Component.MILITARY)
    api = signed_in(hum)

    added = api.post(f"/liaison-log/{entry.pk}/releases", {"target_component": "military"}).json()
    listed = api.get(f"/liaison-log/{entry.pk}/releases").json()
    assert [r["id"] for r in listed] == [added["id"]]
    assert listed[0]["target_component"] == "military" and listed[0]["fields"] is None
    assert signed_in(soldier).get(f"/liaison-log/{entry.pk}").status_code == 200

    r = api.delete(f"/liaison-log/{entry.pk}/releases/{added['id']}")
    assert r.status_code == 200 and r.json()["active"] is False
    assert Release.objects.get(pk=added["id"]).revoked_at is not None
    assert signed_in(soldier).get(f"/liaison-log/{entry.pk}").status_code == 404
    again = api.delete(f"/liaison-log/{entry.pk}/releases/{added['id']}")
    assert again.status_code == 200 and again.json()["revoked_at"] == r.json()["revoked_at"]
    assert api.delete(f"/liaison-log/{entry.pk}/releases/{uuid.uuid4()}").status_code == 404


def test_only_owners_see_and_change_releases(signed_in) -> None:
    civ = make_member(Component.CIVILIAN)
    entry = record_entry(civ)
    release = services.release_record(civ.actor, entry, component=Component.HOST_NATION)
    reader = signed_in(make_member(Component.MILITARY))

    assert reader.get(f"/liaison-log/{entry.pk}/releases").status_code == 403
    assert reader.post(f"/liaison-log/{entry.pk}/releases", {"target_component": "police"}).status_code == 403
    assert reader.delete(f"/liaison-log/{entry.pk}/releases/{release.pk}").status_code == 403
    release.refresh_from_db()
    assert release.revoked_at is None


def test_a_release_needs_exactly_one_known_target(signed_in) -> None:
    m = make_member(Component.CIVILIAN)
    entry = record_entry(m)
    api = signed_in(m)
    both = api.post(f"/liaison-log/{entry.pk}/releases",
                    {"target_component": "police", "target_organisation": str(m.org.pk)})
    assert both.status_code == 422 and "target" in both.json()["errors"]
    unknown = api.post(f"/liaison-log/{entry.pk}/releases", {"target_person": str(uuid.uuid4())})
    assert unknown.status_code == 422 and unknown.json()["errors"] == {"target_person": ["No such person."]}
    bad_field = api.post(f"/liaison-log/{entry.pk}/releases", {"target_component": "police", "fields": ["level"]})
    assert bad_field.status_code == 422 and list(bad_field.json()["errors"]) == ["fields.0"]


def test_history_is_cut_to_the_readers_view(signed_in) -> None:
    hum = make_member(Component.HUMANITARIAN)
    entry = record_entry(hum, level=Level.HUMANITARIAN, summary="first", follow_ups="call back")
    owner_api = signed_in(hum)
    owner_api.put(f"/liaison-log/{entry.pk}", entry_body(hum, level="humanitarian", summary="second", version=1))
    soldier = make_member(Component.MILITARY)
    owner_api.post(f"/liaison-log/{entry.pk}/releases", {"target_organisation": str(soldier.org.pk),
                                                          "fields": ["summary"]})

    own = owner_api.get(f"/liaison-log/{entry.pk}/history").json()
    assert [v["action"] for v in own] == ["liaison.recorded", "liaison.edited", "release.added"]
    assert own[0]["changes"]["follow_ups"] == "call back" and own[1]["version"] == 2
    assert own[0]["actor"] == hum.person.full_name

    theirs = signed_in(soldier).get(f"/liaison-log/{entry.pk}/history").json()
    assert [v["action"] for v in theirs] == ["liaison.recorded", "liaison.edited"]
    assert theirs[1]["changes"] == {"summary": "second", "level": "humanitarian"}
    assert all("follow_ups" not in v["changes"] for v in theirs)

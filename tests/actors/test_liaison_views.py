"""The liaison log and liaison assignment pages, through the test client."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import uuid
from typing import Any, ClassVar

import pytest
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from civmil.actors import services
from civmil.actors.models import LiaisonAssignment, LiaisonLogEntry
from civmil.core import geo
from civmil.core import services as core_services
from civmil.core.choices import Component, Level
from civmil.core.models import Organisation, Release, Space
from tests.factories import Member, make_member, make_org

pytestmark = pytest.mark.django_db

WHEN = "2025-01-10T09:30"
_CSRF = re.compile(rb'(name="csrfmiddlewaretoken" value=|name="csrf-token" content=)"[^"]*"')


def normalised(body: bytes, pk: Any) -> bytes:
    """A page body without its per-request CSRF tokens (masked differently on every render) and
    with the id asked for (echoed in links back to the same page) replaced by a placeholder."""
    return _CSRF.sub(rb"\1-", body).replace(str(pk).encode(), b"<id>")


def make_entry(m: Member, level: str = Level.MISSION, summary: str = "Water point at Kaya", **extra: Any
               ) -> LiaisonLogEntry:
    data = services.LiaisonContact(
        occurred_at=extra.pop("occurred_at", timezone.now() - dt.timedelta(hours=1)),
        channel=extra.pop("channel", "meeting"), summary=summary, level=level,
        organisation_ids=extra.pop("organisation_ids", [m.org.pk]), **extra)
    return services.record_liaison_contact(m.actor, data)


def make_assignment(m: Member, to: Organisation, level: str = Level.MISSION, **extra: Any) -> LiaisonAssignment:
    return services.assign_liaison(m.actor, services.Assignment(
        officer_id=extra.pop("officer_id", m.person.pk), starts_on=extra.pop("starts_on", timezone.localdate()),
        level=level, to_organisation_id=to.pk, **extra))


def form_data(m: Member, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "occurred_at": WHEN, "channel": "meeting", "organisations": [str(m.org.pk)],
        "summary": "Agreed the convoy timings for Tuesday.", "follow_ups": "", "level": Level.MISSION,
        "geometry": "", "geometry_location": "", "place_name": "",
    }
    data.update(overrides)
    return data


def signed_in(client: Client, m: Member) -> Client:
    client.force_login(m.user)
    return client


def field_errors(response: Any, name: str) -> list[str]:
    return list(response.context["form"].errors.get(name, []))


# ---------------------------------------------------------------------------------------------
# A generic contract for pages of one record: inherit, name the URL and how to make a record.


class RecordPageContract:
    """Pages that address one protected record by id.

    A subclass sets ``url_name`` and implements ``make_record(owner, level)``. It inherits:
    anonymous readers are sent to sign in; a record the reader may not see answers exactly like
    an id that does not exist; a reader who may see it gets ``seen_status``.
    """

    url_name: ClassVar[str]
    method: ClassVar[str] = "get"
    owner_component: ClassVar[str] = Component.HUMANITARIAN
    hidden_level: ClassVar[str] = Level.HUMANITARIAN
    hidden_from: ClassVar[str] = Component.MILITARY
    seen_by: ClassVar[str] = Component.CIVILIAN
    seen_status: ClassVar[int] = 200

    def make_record(self, owner: Member, level: str) -> Any:
        raise NotImplementedError

    def request(self, client: Client, pk: Any) -> Any:
        return getattr(client, self.method)(reverse(self.url_name, args=[pk]))

    def test_anonymous_reader_is_sent_to_sign_in(self, client: Client) -> None:
        record = self.make_record(make_member(self.owner_component), self.hidden_level)
        response = self.request(client, record.pk)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))

    def test_hidden_record_answers_like_a_missing_one(self, client: Client) -> None:
        record = self.make_record(make_member(self.owner_component), self.hidden_level)
        signed_in(client, make_member(self.hidden_from))
        missing_pk = uuid.uuid4()
        hidden = self.request(client, record.pk)
        missing = self.request(client, missing_pk)
        assert hidden.status_code == missing.status_code == 404
        assert normalised(hidden.content, record.pk) == normalised(missing.content, missing_pk)

    def test_reader_who_may_see_it_gets_the_page(self, client: Client) -> None:
        record = self.make_record(make_member(self.owner_component), self.hidden_level)
        signed_in(client, make_member(self.seen_by))
        assert self.request(client, record.pk).status_code == self.seen_status


class EntryContract(RecordPageContract):
    def make_record(self, owner: Member, level: str) -> Any:
        return make_entry(owner, level=level)


class TestEntryPage(EntryContract):
    url_name = "actors:liaison-entry"


class TestEntryHistoryPage(EntryContract):
    url_name = "actors:liaison-history"


class TestEntryEditPage(EntryContract):
    url_name = "actors:liaison-edit"
    seen_status = 403  # the civilian reader sees the entry but is not its owner


class TestEntryReleases(EntryContract):
    url_name = "actors:liaison-releases"
    method = "post"
    seen_status = 403  # only the owner may release; others who see it are refused


class TestAssignmentPage(RecordPageContract):
    url_name = "actors:assignment"

    def make_record(self, owner: Member, level: str) -> Any:
        return make_assignment(owner, make_org(Component.CIVILIAN), level=level)


# ---------------------------------------------------------------------------------------------
# Recording a contact


@pytest.fixture
def juba() -> None:
    """The mission runs in Africa/Juba (UTC+2, no daylight saving)."""
    core_services.update_mission_settings(None, Space.live(), {"time_zone": "Africa/Juba"})


def test_anonymous_visitors_are_sent_to_sign_in(client: Client) -> None:
    for name in ("actors:liaison-log", "actors:liaison-new", "actors:liaison-export", "actors:assignments",
                 "actors:assignment-new", "actors:my-liaison"):
        response = client.get(reverse(name))
        assert response.status_code == 302, name
        assert response["Location"].startswith(reverse("account_login")), name


def test_record_a_contact_reads_the_time_in_the_mission_zone(client: Client, juba: None) -> None:
    m = make_member(Component.CIVILIAN)
    other = make_org(Component.HUMANITARIAN)
    response = signed_in(client, m).post(reverse("actors:liaison-new"), form_data(
        m, organisations=[str(m.org.pk), str(other.pk)], people=[str(m.person.pk)], place_name="Kaya"))
    entry = LiaisonLogEntry.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("actors:liaison-entry", args=[entry.pk])
    assert entry.occurred_at == dt.datetime(2025, 1, 10, 7, 30, tzinfo=dt.UTC)
    assert set(entry.organisations.all()) == {m.org, other}
    assert list(entry.people.all()) == [m.person]
    assert entry.owner == m.org and entry.level == Level.MISSION and entry.place_name == "Kaya"
    page = client.get(response["Location"])
    assert "10 January 2025, 09:30 CAT" in page.content.decode()  # shown back in the mission zone
    client.cookies["django_language"] = "fr"
    assert "10 janvier 2025 09:30 CAT" in client.get(response["Location"]).content.decode()  # as French writes it


def test_the_form_offers_only_levels_the_author_may_give(client: Client) -> None:
    m = make_member(Component.MILITARY)
    page = signed_in(client, m).get(reverse("actors:liaison-new"))
    levels = [value for value, _label in page.context["form"].fields["level"].choices]
    assert Level.MILITARY in levels and Level.HUMANITARIAN not in levels
    response = client.post(reverse("actors:liaison-new"), form_data(m, level=Level.HUMANITARIAN))
    assert response.status_code == 422
    assert field_errors(response, "level")
    assert not LiaisonLogEntry.objects.exists()


def test_decimal_location(client: Client) -> None:
    m = make_member()
    signed_in(client, m).post(reverse("actors:liaison-new"), form_data(m, geometry_location="4.85, 31.6"))
    entry = LiaisonLogEntry.objects.get()
    assert entry.geometry == {"type": "Point", "coordinates": [31.6, 4.85]}
    assert (entry.west, entry.south, entry.east, entry.north) == (31.6, 4.85, 31.6, 4.85)


def test_mgrs_location(client: Client) -> None:
    m = make_member()
    reference = geo.to_mgrs(4.85, 31.6)
    assert reference.startswith("36N")
    response = signed_in(client, m).post(reverse("actors:liaison-new"), form_data(m, geometry_location=reference))
    assert response.status_code == 302
    entry = LiaisonLogEntry.objects.get()
    assert entry.point == pytest.approx((4.85, 31.6), abs=1e-4)
    page = client.get(response["Location"])
    assert reference.encode() in page.content  # the page gives the MGRS reference back
    assert b'data-map="view"' in page.content and b'id="entry-geojson"' in page.content


def test_point_drawn_on_the_map_without_typed_location(client: Client) -> None:
    m = make_member()
    drawn = '{"type": "Point", "coordinates": [29.25, -1.5]}'
    signed_in(client, m).post(reverse("actors:liaison-new"), form_data(m, geometry=drawn))
    entry = LiaisonLogEntry.objects.get()
    assert entry.point == (-1.5, 29.25)


def test_typed_point_wins_over_the_drawing(client: Client) -> None:
    m = make_member()
    drawn = '{"type": "Point", "coordinates": [29.25, -1.5]}'
    signed_in(client, m).post(reverse("actors:liaison-new"), form_data(m, geometry=drawn, geometry_location="4.5, 31"))
    assert LiaisonLogEntry.objects.get().point == (4.5, 31.0)


@pytest.mark.parametrize(("overrides", "field", "expected"), [
    ({"geometry_location": "36N ZZ 123"}, "geometry", "MGRS"),
    ({"geometry_location": "somewhere near the river"}, "geometry", "MGRS"),
    ({"geometry_location": "95, 31"}, "geometry", "out of range"),
    ({"geometry": "somewhere"}, "geometry", "not valid JSON"),
    ({"geometry": '{"coordinates": [30, 4]}'}, "geometry", "no \"type\""),
    ({"geometry": '{"type": "Point", "coordinates": [200, 4]}'}, "geometry", "out of range"),
    ({"geometry": '{"type": "Point", "coordinates": [30, "north"]}'}, "geometry", "finite numbers"),
    # A contact happens at a point: routes and areas are refused with the types accepted.
    ({"geometry": '{"type": "LineString", "coordinates": [[30, 4], [31, 5]]}'}, "geometry", "accepted: Point"),
    ({"geometry": '{"type": "Polygon", "coordinates": [[[30, 4], [31, 4], [31, 5], [30, 4.5]]]}'}, "geometry",
     "not accepted"),
    ({"summary": "x" * 10_001}, "summary", "10000"),
    ({"summary": "   "}, "summary", "required"),
    ({"organisations": []}, "organisations", "required"),
    ({"organisations": ["not-an-id"]}, "organisations", "not-an-id"),
    ({"channel": "pigeon"}, "channel", "pigeon"),
    ({"occurred_at": "yesterday"}, "occurred_at", "valid date"),
    ({"occurred_at": f"{dt.date.today().year + 1}-01-01T10:00"}, "occurred_at", "future"),
    ({"occurred_at": "2999-01-01T10:00"}, "occurred_at", "Give a date between"),
])
def test_bad_input_gets_a_field_message_and_nothing_is_recorded(
        client: Client, overrides: dict[str, Any], field: str, expected: str) -> None:
    m = make_member()
    response = signed_in(client, m).post(reverse("actors:liaison-new"), form_data(m, **overrides))
    assert response.status_code == 422
    messages = field_errors(response, field)
    assert any(expected.lower() in message.lower() for message in messages), messages
    assert not LiaisonLogEntry.objects.exists()
    assert b'class="field-errors"' in response.content


def test_every_field_s_error_shows_on_the_first_submit(client: Client) -> None:
    """A form with several mistakes names them all at once, not one round at a time."""
    m = make_member()
    bad = {"summary": "   ", "channel": "pigeon", "occurred_at": f"{dt.date.today().year + 1}-01-01T10:00",
           "geometry": '{"type": "LineString", "coordinates": [[30, 4], [31, 5]]}', "organisations": []}
    response = signed_in(client, m).post(reverse("actors:liaison-new"), form_data(m, **bad))
    assert response.status_code == 422
    assert {name for name in bad if field_errors(response, name)} == set(bad)
    # The rules only the service knows come in the same round as the form's own.
    response = client.post(reverse("actors:liaison-new"), form_data(
        m, summary="", occurred_at=f"{dt.date.today().year + 1}-01-01T10:00"))
    assert field_errors(response, "summary") and any("future" in e for e in field_errors(response, "occurred_at"))
    assert not LiaisonLogEntry.objects.exists()


def test_writes_are_post_only_and_csrf_protected(client: Client) -> None:
    m = make_member()
    entry = make_entry(m)
    signed_in(client, m)
    assert client.get(reverse("actors:liaison-releases", args=[entry.pk])).status_code == 405
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(m.user)
    response = strict.post(reverse("actors:liaison-new"), form_data(m))
    assert response.status_code == 403
    assert not LiaisonLogEntry.objects.exclude(pk=entry.pk).exists()


def test_without_a_membership_one_cannot_record(client: Client) -> None:
    m = make_member()
    core_services.end_membership(None, m.membership, on=timezone.localdate() - dt.timedelta(days=1))
    response = signed_in(client, m).post(reverse("actors:liaison-new"), form_data(m))
    assert response.status_code == 403
    assert not LiaisonLogEntry.objects.exists()


# ---------------------------------------------------------------------------------------------
# Editing


def test_edit_saves_a_new_version(client: Client) -> None:
    m = make_member()
    entry = make_entry(m)
    signed_in(client, m)
    form = client.get(reverse("actors:liaison-edit", args=[entry.pk]))
    assert form.status_code == 200
    assert b'name="version" value="1"' in form.content
    response = client.post(reverse("actors:liaison-edit", args=[entry.pk]),
                           form_data(m, summary="Corrected summary", version="1"))
    assert response.status_code == 302
    entry.refresh_from_db()
    assert (entry.summary, entry.version) == ("Corrected summary", 2)


def test_stale_edit_is_refused_with_the_new_version_and_nothing_is_overwritten(client: Client) -> None:
    m = make_member()
    colleague = make_member(org=m.org)
    entry = make_entry(m, summary="Original", occurred_at=dt.datetime(2025, 1, 10, 9, 30, tzinfo=dt.UTC))
    # The colleague saves first, from version 1.
    services.edit_liaison_contact(colleague.actor, entry.pk, 1, services.LiaisonContact(
        occurred_at=entry.occurred_at, channel="meeting", summary="Colleague's update", level=Level.MISSION,
        organisation_ids=[m.org.pk]))
    # Then the first editor submits what they loaded at version 1.
    response = signed_in(client, m).post(reverse("actors:liaison-edit", args=[entry.pk]),
                                         form_data(m, summary="My stale update", version="1"))
    assert response.status_code == 409
    text = response.content.decode()
    assert "Nothing was saved" in text
    assert "version 2" in text and "version 1" in text
    entry.refresh_from_db()
    assert (entry.summary, entry.version) == ("Colleague's update", 2)
    # Both changed the summary: the form keeps the editor's text, over version 2, with theirs beside it.
    assert response.context["form"]["summary"].value() == "My stale update"
    assert response.context["form"]["version"].value() == "2"
    assert "Colleague&#x27;s update" in text or "Colleague's update" in text
    assert response.context["merge"]["conflicts"] == ["Summary"]
    assert 'name="merge_summary" value="theirs"' in text and 'name="merge_summary" value="mine"' in text


# -- the three-way merge of a stale edit --------------------------------------------------------


def edit_page_data(m: Member, entry: LiaisonLogEntry, client: Client) -> dict[str, Any]:
    """What the edit form holds when ``m`` opens it: every field as the page renders it."""
    page = signed_in(client, m).get(reverse("actors:liaison-edit", args=[entry.pk]))
    assert page.status_code == 200
    form = page.context["form"]
    data: dict[str, Any] = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if name in ("organisations", "people"):
            data[name] = [str(v) for v in value or []]
        else:
            data[name] = "" if value is None else field.widget.format_value(value) \
                if name in ("occurred_at", "geometry") else str(value)
    return data


def resubmission(response: Any, **choices: str) -> dict[str, Any]:
    """The merged form as the browser would send it back, with the editor's choices."""
    data = response.context["form"].data
    out: dict[str, Any] = {k: data.getlist(k) for k in data if k != "csrfmiddlewaretoken"}
    out.update({f"merge_{unit}": choice for unit, choice in choices.items()})
    return out


def save(m: Member, entry: LiaisonLogEntry, data: dict[str, Any]) -> Any:
    client = Client()
    return signed_in(client, m).post(reverse("actors:liaison-edit", args=[entry.pk]), data)


def test_a_stale_edit_keeps_their_change_and_mine(client: Client) -> None:
    """A and B open the form; A changes the follow-ups and saves; B changes the place and saves: B
    gets a merge holding both, and saving it keeps A's change (the old form silently reverted it)."""
    a = make_member()
    b = make_member(org=a.org)
    entry = make_entry(a, summary="Original", follow_ups="", place_name="Kaya")
    seen_by_a, seen_by_b = edit_page_data(a, entry, Client()), edit_page_data(b, entry, Client())
    assert save(a, entry, {**seen_by_a, "follow_ups": "A: call the district office"}).status_code == 302

    merged = save(b, entry, {**seen_by_b, "place_name": "Kaya market"})

    assert merged.status_code == 409
    form = merged.context["form"]
    assert form["follow_ups"].value() == "A: call the district office"
    assert form["place_name"].value() == "Kaya market"
    assert form["version"].value() == "2"
    assert merged.context["merge"]["taken"] == ["Follow-ups"]
    assert merged.context["merge"]["kept"] == ["Place"]
    assert merged.context["merge"]["conflicts"] == []
    entry.refresh_from_db()
    assert (entry.follow_ups, entry.place_name, entry.version) == ("A: call the district office", "Kaya", 2)

    assert save(b, entry, resubmission(merged)).status_code == 302
    entry.refresh_from_db()
    assert (entry.follow_ups, entry.place_name, entry.version) == ("A: call the district office", "Kaya market", 3)


def test_a_field_both_changed_waits_for_a_choice(client: Client) -> None:
    a = make_member()
    b = make_member(org=a.org)
    entry = make_entry(a, summary="Original")
    seen_by_a, seen_by_b = edit_page_data(a, entry, Client()), edit_page_data(b, entry, Client())
    assert save(a, entry, {**seen_by_a, "summary": "A's summary", "place_name": "Kaya"}).status_code == 302
    merged = save(b, entry, {**seen_by_b, "summary": "B's summary", "follow_ups": "B's follow-up"})
    assert merged.status_code == 409
    assert merged.context["merge"]["conflicts"] == ["Summary"]
    panel = merged.context["merge"]["panels"]["summary"]
    assert (panel["theirs"], panel["mine"], panel["version"]) == ("A's summary", "B's summary", 2)

    # Saved without choosing: refused beside the field, nothing written, the panel still there.
    unchosen = save(b, entry, resubmission(merged))
    assert unchosen.status_code == 422
    assert field_errors(unchosen, "summary")
    assert unchosen.context["merge"]["panels"]["summary"]["theirs"] == "A's summary"
    entry.refresh_from_db()
    assert (entry.summary, entry.version) == ("A's summary", 2)

    # Choosing theirs keeps A's summary and applies B's other change.
    assert save(b, entry, resubmission(merged, summary="theirs")).status_code == 302
    entry.refresh_from_db()
    assert (entry.summary, entry.follow_ups, entry.place_name) == ("A's summary", "B's follow-up", "Kaya")


def test_choosing_mine_in_the_merge_saves_my_value(client: Client) -> None:
    a = make_member()
    b = make_member(org=a.org)
    entry = make_entry(a, summary="Original")
    seen_by_a, seen_by_b = edit_page_data(a, entry, Client()), edit_page_data(b, entry, Client())
    save(a, entry, {**seen_by_a, "summary": "A's summary"})
    merged = save(b, entry, {**seen_by_b, "summary": "B's summary"})
    assert save(b, entry, resubmission(merged, summary="mine")).status_code == 302
    entry.refresh_from_db()
    assert (entry.summary, entry.version) == ("B's summary", 3)


def test_organisations_people_and_location_merge_too(client: Client) -> None:
    a = make_member()
    b = make_member(org=a.org)
    other, third = make_org(Component.HUMANITARIAN), make_org(Component.MILITARY)
    entry = make_entry(a, summary="Original", latitude=4.85, longitude=31.6)
    seen_by_a, seen_by_b = edit_page_data(a, entry, Client()), edit_page_data(b, entry, Client())
    # A adds an organisation and moves the point; B names a person and sets the place.
    assert save(a, entry, {**seen_by_a, "organisations": [str(a.org.pk), str(other.pk)],
                           "geometry_location": "4.9, 31.7"}).status_code == 302
    merged = save(b, entry, {**seen_by_b, "people": [str(b.person.pk)], "place_name": "Kaya"})
    assert merged.status_code == 409
    assert sorted(merged.context["merge"]["taken"]) == ["Location", "Organisations"]
    assert merged.context["merge"]["kept"] == ["People", "Place"]
    assert save(b, entry, resubmission(merged)).status_code == 302
    entry.refresh_from_db()
    assert {o.pk for o in entry.organisations.all()} == {a.org.pk, other.pk}
    assert [p.pk for p in entry.people.all()] == [b.person.pk]
    assert (entry.point, entry.place_name) == ((4.9, 31.7), "Kaya")

    # Both change the organisations and the location: both are theirs-or-mine choices.
    seen_by_a, seen_by_b = edit_page_data(a, entry, Client()), edit_page_data(b, entry, Client())
    save(a, entry, {**seen_by_a, "organisations": [str(a.org.pk)], "geometry_location": "4.5, 31.5"})
    merged = save(b, entry, {**seen_by_b, "organisations": [str(a.org.pk), str(third.pk)],
                             "geometry": '{"type": "Point", "coordinates": [32.0, 5.0]}'})
    assert merged.status_code == 409
    assert merged.context["merge"]["conflicts"] == ["Organisations", "Location"]
    panels = merged.context["merge"]["panels"]
    assert panels["organisations"]["theirs"] == a.org.label
    assert panels["geometry"]["theirs"] == "4.50000, 31.50000"
    assert panels["geometry"]["mine"] == "5.00000, 32.00000"
    assert save(b, entry, resubmission(merged, organisations="mine", geometry="theirs")).status_code == 302
    entry.refresh_from_db()
    assert {o.pk for o in entry.organisations.all()} == {a.org.pk, third.pk}
    assert entry.point == (4.5, 31.5)


def test_a_merge_never_names_a_person_the_editor_may_not_see(client: Client) -> None:
    # Host-nation users see only the people of their own organisation (and what is released to it).
    a = make_member(Component.HOST_NATION)
    b = make_member(org=a.org)
    hidden, seen = make_member(org=a.org).person, make_member(org=a.org).person
    entry = make_entry(a, level=Level.RESTRICTED, summary="Original")
    seen_by_a, seen_by_b = edit_page_data(a, entry, Client()), edit_page_data(b, entry, Client())
    assert save(a, entry, {**seen_by_a, "people": [str(hidden.pk), str(seen.pk)]}).status_code == 302
    hidden.owner = make_org(Component.HOST_NATION)  # from now on hidden from a and b
    core_services.save_person(None, hidden)

    merged = save(b, entry, {**seen_by_b, "place_name": "Kaya"})

    assert merged.status_code == 409
    assert merged.context["form"]["people"].value() == [str(seen.pk)]
    assert str(hidden.pk) not in merged.content.decode()
    assert hidden.full_name not in merged.content.decode()


def test_a_merge_that_goes_stale_again_merges_again(client: Client) -> None:
    a = make_member()
    b = make_member(org=a.org)
    c = make_member(org=a.org)
    entry = make_entry(a, summary="Original")
    seen_by_a, seen_by_b = edit_page_data(a, entry, Client()), edit_page_data(b, entry, Client())
    save(a, entry, {**seen_by_a, "summary": "A's summary"})
    merged = save(b, entry, {**seen_by_b, "summary": "B's summary", "place_name": "Kaya"})
    # B chooses theirs, but C saves a new summary and follow-ups before B's save arrives.
    save(c, entry, {**edit_page_data(c, entry, Client()), "summary": "C's summary", "follow_ups": "C"})
    again = save(b, entry, resubmission(merged, summary="theirs"))
    assert again.status_code == 409
    assert again.context["form"]["version"].value() == "3"
    assert again.context["form"]["summary"].value() == "C's summary"  # B took "theirs": C's is newer
    assert again.context["merge"]["conflicts"] == []
    assert save(b, entry, resubmission(again)).status_code == 302
    entry.refresh_from_db()
    assert (entry.summary, entry.follow_ups, entry.place_name, entry.version) == ("C's summary", "C", "Kaya", 4)


def test_seconds_nobody_touched_are_not_reverted(client: Client) -> None:
    a = make_member()
    b = make_member(org=a.org)
    when = dt.datetime(2025, 1, 10, 9, 30, 42, tzinfo=dt.UTC)
    entry = make_entry(a, summary="Original", occurred_at=when)
    seen_by_b = edit_page_data(b, entry, Client())
    services.edit_liaison_contact(a.actor, entry.pk, 1, services.LiaisonContact(
        occurred_at=when, channel="meeting", summary="A's summary", level=Level.MISSION,
        organisation_ids=[a.org.pk]))
    merged = save(b, entry, {**seen_by_b, "place_name": "Kaya"})
    assert merged.context["merge"]["kept"] == ["Place"]
    assert save(b, entry, resubmission(merged)).status_code == 302
    entry.refresh_from_db()
    assert (entry.occurred_at, entry.summary, entry.place_name) == (when, "A's summary", "Kaya")


# -- the accepted date window (civmil.core.dates): the same on every channel ----------------------

TEN_YEARS_AHEAD = dt.date.today().replace(year=dt.date.today().year + 10, day=1)
BEYOND = dt.date(dt.date.today().year + 11, 1, 1)
WINDOW = f"Give a date between 1 January 1990 and 31 December {dt.date.today().year + 10}."


@pytest.mark.parametrize(("when", "refusal"), [
    ("0001-01-01T00:30", WINDOW),   # east of UTC, year 1 cannot even be converted (was a 500)
    ("0001-06-01T10:00", WINDOW),   # was saved
    ("1900-01-01T10:00", WINDOW),   # was saved
    ("1989-12-31T23:59", WINDOW),
    ("1990-01-01T00:00", None),
    (f"{TEN_YEARS_AHEAD.isoformat()}T10:00", "future"),  # in the window, but a contact is never ahead
    (f"{BEYOND.isoformat()}T10:00", WINDOW),
    ("9999-12-31T23:59", WINDOW),
])
def test_the_liaison_form_takes_dates_in_the_window_only(client: Client, when: str, refusal: str | None) -> None:
    core_services.update_mission_settings(None, Space.live(), {"time_zone": "Africa/Juba"})
    m = make_member()
    client.raise_request_exception = False
    response = signed_in(client, m).post(reverse("actors:liaison-new"), form_data(m, occurred_at=when))
    if refusal is None:
        assert response.status_code == 302
        assert LiaisonLogEntry.objects.get().occurred_at == dt.datetime(1989, 12, 31, 22, 0, tzinfo=dt.UTC)
        return
    assert response.status_code == 422
    assert any(refusal in message for message in field_errors(response, "occurred_at"))
    assert not LiaisonLogEntry.objects.exists()


def test_the_window_is_a_mission_setting(client: Client) -> None:
    core_services.update_mission_settings(None, Space.live(), {"earliest_year": 1950, "years_ahead": 2})
    m = make_member()
    signed_in(client, m)
    assert client.post(reverse("actors:liaison-new"), form_data(m, occurred_at="1960-05-01T10:00")).status_code == 302
    refused = client.post(reverse("actors:liaison-new"), form_data(m, occurred_at="1949-12-31T10:00"))
    assert field_errors(refused, "occurred_at") == [
        f"Give a date between 1 January 1950 and 31 December {dt.date.today().year + 2}."]


def test_editing_checks_the_window_too(client: Client) -> None:
    m = make_member()
    entry = make_entry(m, summary="Original")
    response = signed_in(client, m).post(reverse("actors:liaison-edit", args=[entry.pk]),
                                         form_data(m, occurred_at="0001-01-01T00:00", version="1"))
    assert response.status_code == 422
    assert field_errors(response, "occurred_at") == [WINDOW]
    entry.refresh_from_db()
    assert entry.version == 1


@pytest.mark.parametrize(("day", "accepted"), [
    ("0001-01-01", False), ("1900-01-01", False), ("1989-12-31", False), ("1990-01-01", True),
    (TEN_YEARS_AHEAD.isoformat(), True), (BEYOND.isoformat(), False),
])
def test_the_log_filters_take_dates_in_the_window_only(client: Client, day: str, accepted: bool) -> None:
    core_services.update_mission_settings(None, Space.live(), {"time_zone": "Africa/Juba"})
    m = make_member()
    client.raise_request_exception = False
    for name in ("since", "until"):
        response = signed_in(client, m).get(reverse("actors:liaison-log"), {name: day})
        assert response.status_code == (200 if accepted else 422), (name, day)
        if not accepted:
            assert response.context["form"].errors[name] == [WINDOW]
        export = client.get(reverse("actors:liaison-export"), {name: day})
        assert export.status_code == (200 if accepted else 422)


def test_a_reader_who_is_not_the_owner_may_not_edit(client: Client) -> None:
    owner = make_member(Component.CIVILIAN)
    entry = make_entry(owner, summary="Original")
    reader = make_member(Component.HUMANITARIAN)
    response = signed_in(client, reader).post(reverse("actors:liaison-edit", args=[entry.pk]),
                                              form_data(reader, summary="Hijack", version="1"))
    assert response.status_code == 403
    entry.refresh_from_db()
    assert entry.summary == "Original"


def test_edit_without_version_is_refused(client: Client) -> None:
    m = make_member()
    entry = make_entry(m, summary="Original")
    response = signed_in(client, m).post(reverse("actors:liaison-edit", args=[entry.pk]),
                                         form_data(m, summary="No version"))
    assert response.status_code == 422
    assert "which version" in response.content.decode()
    entry.refresh_from_db()
    assert entry.summary == "Original"


# ---------------------------------------------------------------------------------------------
# The log, its filters and its export


def test_log_lists_filters_and_paginates(client: Client) -> None:
    m = make_member()
    base = timezone.now() - dt.timedelta(days=2)
    for i in range(51):
        make_entry(m, summary=f"Routine contact {i}", occurred_at=base - dt.timedelta(minutes=i))
    radio_entry = make_entry(m, summary="Radio check with the sector HQ", channel="radio", occurred_at=timezone.now())
    signed_in(client, m)
    first = client.get(reverse("actors:liaison-log"))
    assert first.status_code == 200
    assert len(first.context["rows"]) == 50
    second = client.get(reverse("actors:liaison-log"), {"page": 2})
    assert len(second.context["rows"]) == 2
    radio = client.get(reverse("actors:liaison-log"), {"channel": "radio"})
    assert [r["cells"]["summary"].text for r in radio.context["rows"]] == ["Radio check with the sector HQ"]
    text = client.get(reverse("actors:liaison-log"), {"q": "contact 7"})
    assert [r["cells"]["summary"].text for r in text.context["rows"]] == ["Routine contact 7"]
    day = radio_entry.occurred_at.astimezone(dt.UTC).date().isoformat()  # the mission zone is UTC here
    recent = client.get(reverse("actors:liaison-log"), {"since": day, "until": day})
    assert [r["cells"]["summary"].text for r in recent.context["rows"]] == ["Radio check with the sector HQ"]


def test_log_filter_by_organisation(client: Client) -> None:
    m = make_member()
    partner = make_org(Component.HUMANITARIAN)
    make_entry(m, summary="With the partner", organisation_ids=[m.org.pk, partner.pk])
    make_entry(m, summary="Internal")
    response = signed_in(client, m).get(reverse("actors:liaison-log"), {"organisation": str(partner.pk)})
    assert [r["cells"]["summary"].text for r in response.context["rows"]] == ["With the partner"]


def test_bad_filters_get_field_messages(client: Client) -> None:
    m = make_member()
    response = signed_in(client, m).get(reverse("actors:liaison-log"),
                                         {"since": "2025-02-01", "until": "2025-01-01", "organisation": "nope"})
    assert response.status_code == 422
    assert field_errors(response, "until") and field_errors(response, "organisation")
    export = client.get(reverse("actors:liaison-export"), {"since": "not a date"})
    assert export.status_code == 422
    assert field_errors(export, "since")


def _csv(response: Any) -> list[dict[str, str]]:
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(body)))


def test_export_streams_the_filtered_log_and_defuses_formulas(client: Client) -> None:
    m = make_member()
    make_entry(m, summary="=HYPERLINK(\"http://evil.example\",\"click\")", follow_ups="-2+3",
               place_name="@SUM(A1)", channel="phone")
    make_entry(m, summary="+Benign plus", channel="meeting", latitude=-1.5, longitude=-29.25)
    make_entry(m, summary="Filtered out", channel="radio")
    response = signed_in(client, m).get(reverse("actors:liaison-export"), {"channel": "phone"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    stamp = timezone.localdate().isoformat()
    assert response["Content-Disposition"] == f'attachment; filename="liaison-log-{stamp}.csv"'
    rows = _csv(response)
    assert len(rows) == 1
    assert rows[0]["summary"] == "'=HYPERLINK(\"http://evil.example\",\"click\")"
    assert rows[0]["follow-ups"] == "'-2+3"
    assert rows[0]["place"] == "'@SUM(A1)"
    assert rows[0]["channel"] == "Phone"
    both = _csv(client.get(reverse("actors:liaison-export"), {"q": "Benign"}))
    assert both[0]["summary"] == "'+Benign plus"
    # Coordinates are numbers civmil writes itself: not prefixed.
    assert (both[0]["latitude"], both[0]["longitude"]) == ("-1.500000", "-29.250000")
    assert both[0]["MGRS"]


# ---------------------------------------------------------------------------------------------
# Releasability across list, detail, export and history


@pytest.fixture
def humanitarian_entry() -> tuple[Member, LiaisonLogEntry]:
    owner = make_member(Component.HUMANITARIAN)
    return owner, make_entry(owner, level=Level.HUMANITARIAN, summary="MARKER-protection-referral-41")


def test_humanitarian_entry_never_reaches_a_military_reader(
        client: Client, humanitarian_entry: tuple[Member, LiaisonLogEntry]) -> None:
    _owner, entry = humanitarian_entry
    soldier = make_member(Component.MILITARY)
    signed_in(client, soldier)
    listing = client.get(reverse("actors:liaison-log"))
    assert b"MARKER-protection" not in listing.content and listing.context["page_obj"].paginator.count == 0
    searched = client.get(reverse("actors:liaison-log"), {"q": "MARKER"})
    assert searched.context["page_obj"].paginator.count == 0
    export = b"".join(client.get(reverse("actors:liaison-export")).streaming_content)
    assert b"MARKER-protection" not in export and str(entry.pk).encode() not in export
    for name in ("actors:liaison-entry", "actors:liaison-history", "actors:liaison-edit"):
        missing_pk = uuid.uuid4()
        hidden = client.get(reverse(name, args=[entry.pk]))
        missing = client.get(reverse(name, args=[missing_pk]))
        assert hidden.status_code == missing.status_code == 404, name
        assert normalised(hidden.content, entry.pk) == normalised(missing.content, missing_pk), name
        assert b"MARKER" not in hidden.content


def test_humanitarian_entry_reaches_a_civilian_section_reader(
        client: Client, humanitarian_entry: tuple[Member, LiaisonLogEntry]) -> None:
    _owner, entry = humanitarian_entry
    signed_in(client, make_member(Component.CIVILIAN))
    assert b"MARKER-protection-referral-41" in client.get(reverse("actors:liaison-log")).content
    assert b"MARKER-protection-referral-41" in client.get(reverse("actors:liaison-entry", args=[entry.pk])).content
    export = _csv(client.get(reverse("actors:liaison-export")))
    assert [row["summary"] for row in export] == ["MARKER-protection-referral-41"]
    history = client.get(reverse("actors:liaison-history", args=[entry.pk]))
    assert history.status_code == 200 and b"MARKER-protection-referral-41" in history.content


def _release_form(**fields: Any) -> dict[str, Any]:
    data = {"release-target_organisation": "", "release-target_component": "", "release-target_person": "",
            "release-scope": "full"}
    data.update({f"release-{k}": v for k, v in fields.items()})
    return data


def test_field_release_shows_only_those_fields_to_the_released_organisation(client: Client) -> None:
    owner = make_member(Component.CIVILIAN)
    entry = make_entry(owner, level=Level.RESTRICTED, summary="MARKER-summary-released",
                       follow_ups="MARKER-followups-kept", place_name="MARKER-place-kept",
                       latitude=4.85, longitude=31.6)
    partner = make_member(Component.HUMANITARIAN)
    outsider = make_member(Component.HUMANITARIAN)

    response = signed_in(client, owner).post(reverse("actors:liaison-releases", args=[entry.pk]), _release_form(
        target_organisation=str(partner.org.pk), scope="fields", released_fields=["summary", "channel"]))
    assert response.status_code == 302
    release = Release.objects.get(object_id=entry.pk)
    assert release.fields == ["channel", "summary"] and release.target_organisation == partner.org

    signed_in(client, partner)
    page = client.get(reverse("actors:liaison-entry", args=[entry.pk]))
    assert page.status_code == 200
    assert b"MARKER-summary-released" in page.content
    assert b"MARKER-followups-kept" not in page.content and b"MARKER-place-kept" not in page.content
    assert b"withheld" in page.content
    assert b"entry-geojson" not in page.content  # the location is not released either
    assert b"release-target_organisation" not in page.content  # no release form for a reader
    listing = client.get(reverse("actors:liaison-log"))
    row = listing.context["rows"][0]
    assert row["cells"]["summary"].text == "MARKER-summary-released"
    assert row["cells"]["occurred_at"].withheld and row["cells"]["organisations"].withheld
    export = _csv(client.get(reverse("actors:liaison-export")))
    assert export[0]["summary"] == "MARKER-summary-released"
    assert export[0]["follow-ups"] == "" and export[0]["place"] == "" and export[0]["latitude"] == ""
    assert export[0]["when"] == "" and export[0]["organisations"] == ""
    history = client.get(reverse("actors:liaison-history", args=[entry.pk]))
    assert b"MARKER-summary-released" in history.content and b"MARKER-followups-kept" not in history.content
    # A filter on a withheld field does not match (it would reveal the value).
    assert client.get(reverse("actors:liaison-log"), {"since": "2000-01-01"}).context["rows"] == []
    assert client.get(reverse("actors:liaison-log"),
                      {"organisation": str(owner.org.pk)}).context["rows"]  # the owner is on every face

    signed_in(client, outsider)
    assert client.get(reverse("actors:liaison-entry", args=[entry.pk])).status_code == 404


def test_owner_revokes_a_release(client: Client) -> None:
    owner = make_member(Component.CIVILIAN)
    entry = make_entry(owner, level=Level.RESTRICTED)
    partner = make_member(Component.HUMANITARIAN)
    signed_in(client, owner).post(reverse("actors:liaison-releases", args=[entry.pk]),
                                  _release_form(target_organisation=str(partner.org.pk)))
    release = Release.objects.get(object_id=entry.pk, content_type=ContentType.objects.get_for_model(entry))
    assert release.fields is None
    page = client.get(reverse("actors:liaison-entry", args=[entry.pk]))
    assert str(partner.org).encode() in page.content and b'name="revoke"' in page.content
    response = client.post(reverse("actors:liaison-releases", args=[entry.pk]), {"revoke": str(release.pk)})
    assert response.status_code == 302
    release.refresh_from_db()
    assert release.revoked_at is not None
    signed_in(client, partner)
    assert client.get(reverse("actors:liaison-entry", args=[entry.pk])).status_code == 404


@pytest.mark.parametrize(("fields", "error_field"), [
    ({}, None),  # no target
    ({"target_component": "humanitarian", "target_organisation": "ORG"}, None),  # two targets
    ({"target_component": "humanitarian", "scope": "fields"}, "released_fields"),  # no field ticked
    ({"target_component": "martians"}, "target_component"),
])
def test_bad_release_input_gets_a_message(client: Client, fields: dict[str, Any], error_field: str | None) -> None:
    owner = make_member(Component.CIVILIAN)
    entry = make_entry(owner, level=Level.RESTRICTED)
    fields = {k: (str(owner.org.pk) if v == "ORG" else v) for k, v in fields.items()}
    response = signed_in(client, owner).post(reverse("actors:liaison-releases", args=[entry.pk]),
                                             _release_form(**fields))
    assert response.status_code == 422
    form = response.context["release_form"]
    assert form.errors.get(error_field or "__all__")
    assert not Release.objects.exists()


def test_a_reader_may_not_release(client: Client) -> None:
    owner = make_member(Component.CIVILIAN)
    entry = make_entry(owner)
    reader = make_member(Component.CIVILIAN)
    response = signed_in(client, reader).post(reverse("actors:liaison-releases", args=[entry.pk]),
                                              _release_form(target_component="host_nation"))
    assert response.status_code == 403
    assert not Release.objects.exists()
    assert b"release-target_organisation" not in client.get(reverse("actors:liaison-entry", args=[entry.pk])).content


def test_history_lists_versions_who_and_when(client: Client) -> None:
    m = make_member()
    entry = make_entry(m, summary="First words")
    services.edit_liaison_contact(m.actor, entry.pk, 1, services.LiaisonContact(
        occurred_at=entry.occurred_at, channel="visit", summary="Second words", level=Level.MISSION,
        organisation_ids=[m.org.pk]))
    response = signed_in(client, m).get(reverse("actors:liaison-history", args=[entry.pk]))
    assert response.status_code == 200
    versions = response.context["versions"]
    assert [v["version"] for v in versions] == [1, 2]
    assert [v["action"] for v in versions] == ["Recorded", "Edited"]
    assert all(v["actor"] == m.person.full_name for v in versions)
    # The first version shows what it was recorded with; the second only what it changed.
    first = {c["label"]: (c["before"], c["after"]) for c in versions[0]["changes"]}
    assert first["Organisations"] == (None, m.org.label) and first["Summary"] == (None, "First words")
    changes = {c["label"]: (c["before"], c["after"]) for c in versions[1]["changes"]}
    assert set(changes) == {"Summary", "Channel"}
    assert changes["Channel"] == ("Meeting", "Visit")
    assert changes["Summary"] == ("<del>First</del> words", "<ins>Second</ins> words")
    body = response.content.decode()
    assert "<del>First</del> words" in body and "<ins>Second</ins> words" in body
    # Any two versions side by side.
    compared = client.get(reverse("actors:liaison-history", args=[entry.pk]), {"from": 1, "to": 2}).context["compare"]
    assert {c["label"] for c in compared["changes"]} == {"Summary", "Channel"}
    for bad in ({"from": "x", "to": 2}, {"from": 1, "to": 99}, {"from": "1e9"}):
        answer = client.get(reverse("actors:liaison-history", args=[entry.pk]), bad)
        assert answer.status_code == 200 and answer.context["compare"] is None


# ---------------------------------------------------------------------------------------------
# Liaison assignments and "who is my liaison to X"


def test_assign_a_liaison_officer(client: Client) -> None:
    m = make_member(Component.MILITARY)
    target = make_org(Component.HUMANITARIAN)
    response = signed_in(client, m).post(reverse("actors:assignment-new"), {
        "officer": str(m.person.pk), "to_organisation": str(target.pk), "community": "", "area": "",
        "location": "4.85, 31.6", "starts_on": "2025-01-01", "ends_on": "", "level": Level.MISSION, "notes": "",
    })
    assignment = LiaisonAssignment.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("actors:assignment", args=[assignment.pk])
    assert (assignment.from_organisation, assignment.to_organisation) == (m.org, target)
    assert assignment.latitude == 4.85
    page = client.get(response["Location"])
    assert m.person.full_name.encode() in page.content and target.label.encode() in page.content


@pytest.mark.parametrize(("overrides", "field"), [
    ({"to_organisation": "", "community": ""}, "to_organisation"),
    ({"ends_on": "2024-12-01"}, "ends_on"),
    ({"area": "XX999"}, "area"),
    ({"location": "36N ZZ 1"}, "location"),
    ({"officer": str(uuid.UUID(int=1))}, "officer"),
])
def test_bad_assignment_input_gets_a_field_message(client: Client, overrides: dict[str, str], field: str) -> None:
    m = make_member(Component.MILITARY)
    target = make_org(Component.HUMANITARIAN)
    data = {"officer": str(m.person.pk), "to_organisation": str(target.pk), "community": "", "area": "",
            "location": "", "starts_on": "2025-01-01", "ends_on": "", "level": Level.MISSION, "notes": ""}
    data.update(overrides)
    response = signed_in(client, m).post(reverse("actors:assignment-new"), data)
    assert response.status_code == 422
    assert field_errors(response, field)
    assert not LiaisonAssignment.objects.exists()


@pytest.mark.parametrize(("day", "accepted"), [
    ("0001-01-01", False), ("1900-01-01", False), ("1989-12-31", False), ("1990-01-01", True),
    (TEN_YEARS_AHEAD.isoformat(), True), (BEYOND.isoformat(), False),
])
def test_assignment_dates_are_in_the_window(client: Client, day: str, accepted: bool) -> None:
    m = make_member(Component.MILITARY)
    target = make_org(Component.HUMANITARIAN)
    data = {"officer": str(m.person.pk), "to_organisation": str(target.pk), "community": "", "area": "",
            "location": "", "starts_on": "1990-01-01", "ends_on": "", "level": Level.MISSION, "notes": ""}
    signed_in(client, m)
    for name in ("starts_on", "ends_on"):
        response = client.post(reverse("actors:assignment-new"), {**data, name: day})
        if accepted:
            assert response.status_code == 302, (name, day)
        else:
            assert response.status_code == 422, (name, day)
            assert field_errors(response, name) == [WINDOW]
    assert LiaisonAssignment.objects.count() == (2 if accepted else 0)


def test_assignment_list_filters(client: Client) -> None:
    m = make_member(Component.MILITARY)
    a_org, b_org = make_org(Component.HUMANITARIAN), make_org(Component.CIVILIAN)
    make_assignment(m, a_org)
    make_assignment(m, b_org, starts_on=timezone.localdate() - dt.timedelta(days=30),
                    ends_on=timezone.localdate() - dt.timedelta(days=1))
    signed_in(client, m)
    rows = client.get(reverse("actors:assignments")).context["rows"]
    assert len(rows) == 2
    current = client.get(reverse("actors:assignments"), {"current": "on"}).context["rows"]
    assert [r["cells"]["to_organisation"].text for r in current] == [a_org.label]
    to_b = client.get(reverse("actors:assignments"), {"organisation": str(b_org.pk)}).context["rows"]
    assert [r["cells"]["to_organisation"].text for r in to_b] == [b_org.label]


def test_who_is_my_liaison_in_both_directions(client: Client) -> None:
    me = make_member(Component.MILITARY)
    agency = make_member(Component.HUMANITARIAN)
    unrelated = make_member(Component.CIVILIAN)
    outgoing = make_assignment(me, agency.org)
    incoming = make_assignment(agency, me.org)
    make_assignment(unrelated, agency.org)
    signed_in(client, me)
    page = client.get(reverse("actors:my-liaison"), {"to": str(agency.org.pk)})
    assert page.status_code == 200
    assert {r["pk"] for r in page.context["rows"]} == {outgoing.pk, incoming.pk}
    assert client.get(reverse("actors:my-liaison")).status_code == 200
    assert client.get(reverse("actors:my-liaison"), {"to": "nonsense"}).status_code == 422


def test_people_a_reader_may_not_see_make_one_withheld_marker_whatever_their_number(client: Client) -> None:
    """A host-nation reader of a released entry naming two mission people and one host-nation person
    sees the one, and a single "withheld" for the others: not even their count shows."""
    owner = make_member(Component.CIVILIAN)
    host = make_member(Component.HOST_NATION)
    hidden = [make_member(Component.CIVILIAN, org=owner.org) for _ in range(2)]
    entry = make_entry(owner, person_ids=[*(m.person.pk for m in hidden), host.person.pk])
    core_services.release_record(owner.actor, entry, organisation=host.org)
    client.force_login(host.user)
    for url in (reverse("actors:liaison-entry", args=[entry.pk]), reverse("actors:liaison-card", args=[entry.pk])):
        page = client.get(url).content.decode()
        people = page.split(">People<", 1)[1].split("</dd>", 1)[0]
        assert host.person.full_name in people
        assert all(m.person.full_name not in page for m in hidden)
        assert people.count(">withheld<") == 1, people
    client.force_login(owner.user)
    people = client.get(reverse("actors:liaison-entry", args=[entry.pk])).content.decode().split(">People<", 1)[1]
    assert all(m.person.full_name in people.split("</dd>", 1)[0] for m in hidden)

"""The kernel's list page as people work with it: sortable columns (order, aria-sort, links that
keep the filters), refused sort values, the collapsible filter panel, cards on narrow screens and
rows that expand in place. Assignments stand for every kernel type."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from civmil.actors import services
from civmil.actors.models import LiaisonAssignment
from civmil.core.choices import Component, Level
from tests.factories import Member, make_member, make_org

pytestmark = pytest.mark.django_db

LIST = "actors:assignments"


@pytest.fixture
def soldier() -> Member:
    return make_member(Component.MILITARY)


def signed_in(m: Member) -> Client:
    client = Client()
    client.force_login(m.user)
    return client


def assign(m: Member, starts: dt.date, community: str) -> LiaisonAssignment:
    return services.assign_liaison(m.actor, services.Assignment(
        officer_id=m.person.pk, starts_on=starts, level=Level.MILITARY, community=community,
        to_organisation_id=make_org(Component.CIVILIAN).pk))


def header(html: str, label: str) -> str:
    """The ``<th>`` of the column headed ``label``."""
    match = re.search(r"<th [^>]*>(?:(?!</th>).)*" + re.escape(label) + r"(?:(?!</th>).)*</th>", html, re.S)
    assert match, f"no heading {label!r}"
    return match.group(0)


def test_a_sortable_column_sorts_both_ways_and_says_so(soldier: Member) -> None:
    middle = assign(soldier, dt.date(2025, 3, 1), "Middle")
    early = assign(soldier, dt.date(2025, 1, 1), "Early")
    late = assign(soldier, dt.date(2025, 6, 1), "Late")
    client = signed_in(soldier)

    def order(sort: str) -> tuple[list[Any], str]:
        page = client.get(reverse(LIST), {"sort": sort, "level": Level.MILITARY})
        assert page.status_code == 200
        return [row["pk"] for row in page.context["rows"]], header(page.content.decode(), "Starts on")

    ascending, th = order("starts_on")
    assert ascending == [early.pk, middle.pk, late.pk]
    assert 'aria-sort="ascending"' in th
    # The heading's link toggles the order and keeps the filters; it starts again at page one.
    link = re.search(r'href="([^"]+)"', th).group(1).replace("&amp;", "&")  # type: ignore[union-attr]
    assert "sort=-starts_on" in link and f"level={Level.MILITARY.value}" in link and "page=" not in link

    descending, th = order("-starts_on")
    assert descending == [late.pk, middle.pk, early.pk]
    assert 'aria-sort="descending"' in th
    assert "sort=starts_on" in th and "sort=-starts_on" not in th

    unsorted = client.get(reverse(LIST)).content.decode()
    assert 'aria-sort="none"' in header(unsorted, "Starts on")
    # A column the list cannot sort by is plain text, with no aria-sort.
    assert "aria-sort" not in header(unsorted, "Community") and "href" not in header(unsorted, "Community")


@pytest.mark.parametrize("sort", ["notes", "-community", "starts_on__year", "'; drop table x"])
def test_a_sort_the_list_does_not_know_is_refused_naming_the_field(soldier: Member, sort: str) -> None:
    client = signed_in(soldier)
    for url in (reverse(LIST), reverse("actors:assignment-export")):
        response = client.get(url, {"sort": sort})
        assert response.status_code == 400
        assert sort.removeprefix("-") in response.content.decode().replace("&#x27;", "'")
        assert "starts_on" in response.content.decode()


def test_the_filter_panel_folds_away_and_opens_while_a_filter_is_set(soldier: Member) -> None:
    assign(soldier, dt.date(2025, 1, 1), "Hilltop")
    client = signed_in(soldier)
    panel = re.compile(r"<details class=\"filter-panel\"( open)?>")

    def is_open(**params: str) -> bool:
        match = panel.search(client.get(reverse(LIST), params).content.decode())
        assert match, "no filter panel"
        return bool(match.group(1))

    assert not is_open()
    assert not is_open(sort="starts_on", page="1")  # order and page are not filters
    assert is_open(q="Hilltop")
    assert is_open(level=Level.MILITARY.value)
    assert is_open(starts_on_from="not a day")  # an error to fix stays in sight


def test_cells_carry_their_column_label_for_the_cards_of_a_phone(soldier: Member) -> None:
    """On a narrow screen each row is a card whose cells show their labels (CSS from data-label);
    the live row the page fetches has them too."""
    record = assign(soldier, dt.date(2025, 1, 1), "Hilltop")
    client = signed_in(soldier)
    page = client.get(reverse(LIST)).content.decode()
    assert '<td data-label="Community">' in page and '<td data-label="Releasability">' in page
    row = client.get(reverse("actors:assignment-row", args=[record.pk])).content.decode()
    assert '<td data-label="Community">' in row


def test_each_row_has_a_button_that_opens_its_card_in_place(soldier: Member) -> None:
    """The row's button (aria-expanded) names the card the page loads below it; the live row keeps it."""
    record = assign(soldier, dt.date(2025, 1, 1), "Hilltop")
    client = signed_in(soldier)
    for html in (client.get(reverse(LIST)).content.decode(),
                 client.get(reverse("actors:assignment-row", args=[record.pk])).content.decode()):
        button = re.search(r'<button type="button" class="[^"]*row-expand"[^>]*>', html)
        assert button, "no expand button"
        assert 'aria-expanded="false"' in button.group(0)
        card_url = re.search(r'data-card-url="([^"]+)"', button.group(0)).group(1)  # type: ignore[union-attr]
        assert card_url == reverse("actors:assignment-card", args=[record.pk])
        assert "Hilltop" in client.get(card_url).content.decode()


def test_the_liaison_log_sorts_by_time_and_folds_its_filters(soldier: Member) -> None:
    from civmil.actors.services import LiaisonContact, record_liaison_contact

    def entry(day: int) -> Any:
        return record_liaison_contact(soldier.actor, LiaisonContact(
            occurred_at=dt.datetime(2025, 3, day, 9, tzinfo=dt.UTC), channel="meeting",
            organisation_ids=[soldier.org.pk], summary=f"Day {day}", level=Level.MILITARY))

    first, third, second = entry(1), entry(3), entry(2)
    client = signed_in(soldier)
    log = reverse("actors:liaison-log")
    page = client.get(log, {"sort": "occurred_at"})
    assert [r["pk"] for r in page.context["rows"]] == [first.pk, second.pk, third.pk]
    assert 'aria-sort="ascending"' in header(page.content.decode(), "When")
    page = client.get(log, {"sort": "-occurred_at", "channel": "meeting"})
    assert [r["pk"] for r in page.context["rows"]] == [third.pk, second.pk, first.pk]
    assert '<details class="filter-panel" open>' in page.content.decode()
    assert '<td data-label="Summary">' in page.content.decode()
    assert client.get(log, {"sort": "summary"}).status_code == 400


# -- the area filter ---------------------------------------------------------------------------


@pytest.fixture
def province() -> Any:
    """A province (TL01) and a district below it (TL0101) whose boundary reaches past the
    province's (boundaries drawn apart), so only the hierarchy brings the district in."""
    from civmil.actors.models import Area
    from civmil.actors.services import save_area

    province = save_area(None, Area(name="Northern Province", pcode="TL01", admin_level=1),
                         {"type": "Polygon", "coordinates": [[[30, 2], [34, 2], [34, 4], [30, 4], [30, 2]]]})
    save_area(None, Area(name="Lake District", pcode="TL0101", admin_level=2, parent=province),
              {"type": "Polygon", "coordinates": [[[34, 2], [36, 2], [36, 3], [34, 3], [34, 2]]]})
    return province


def placed_assignment(m: Member, community: str, lat: float, lon: float) -> LiaisonAssignment:
    return services.assign_liaison(m.actor, services.Assignment(
        officer_id=m.person.pk, starts_on=dt.date(2025, 1, 1), level=Level.MILITARY, community=community,
        latitude=lat, longitude=lon, to_organisation_id=make_org(Component.CIVILIAN).pk))


def test_the_area_filter_keeps_records_in_the_area_and_the_areas_below_it(soldier: Member, province: Any) -> None:
    in_province = placed_assignment(soldier, "Market", 3.0, 31.0)
    in_district = placed_assignment(soldier, "Lakeside", 2.5, 35.5)
    in_box_not_area = placed_assignment(soldier, "Corner", 3.5, 35.5)  # in the district's box row, not in it
    placed_assignment(soldier, "Far away", 10.0, 10.0)
    client = signed_in(soldier)

    def found(area: str) -> set[Any]:
        page = client.get(reverse(LIST), {"in_area": area})
        assert page.status_code == 200, page.content.decode()[:500]
        return {row["pk"] for row in page.context["rows"]}

    assert found("TL01") == {in_province.pk, in_district.pk}
    assert found("northern province") == {in_province.pk, in_district.pk}
    assert found("tl0101") == {in_district.pk}
    assert in_box_not_area.pk not in found("Lake District")
    exported = client.get(reverse("actors:assignment-export"), {"in_area": "TL0101"})
    text = b"".join(exported.streaming_content).decode("utf-8-sig")  # type: ignore[attr-defined]
    assert str(in_district.pk) in text and str(in_province.pk) not in text


def test_an_area_no_one_knows_is_refused_saying_what_to_give(soldier: Member, province: Any) -> None:
    page = signed_in(soldier).get(reverse(LIST), {"in_area": "Atlantis"})
    assert page.status_code == 422
    assert "No area is called “Atlantis”" in page.content.decode()


def test_the_area_filter_never_tells_where_a_withheld_place_lies(soldier: Member, province: Any) -> None:
    """A reader who sees an assignment only through a release of its community (not its place)
    finds it in the list, but not under any area: matching would reveal where it is."""
    from civmil.core import services as core_services

    aid_worker = make_member(Component.HUMANITARIAN)
    record = placed_assignment(soldier, "Market", 3.0, 31.0)
    core_services.release_record(soldier.actor, record, organisation=aid_worker.org, fields=["community"])
    reader = signed_in(aid_worker)
    assert [r["pk"] for r in reader.get(reverse(LIST)).context["rows"]] == [record.pk]
    assert reader.get(reverse(LIST), {"in_area": "TL01"}).context["rows"] == []
    assert [r["pk"] for r in signed_in(soldier).get(reverse(LIST), {"in_area": "TL01"}).context["rows"]] == [record.pk]


def test_the_liaison_log_filters_by_area(soldier: Member, province: Any) -> None:
    from civmil.actors.services import LiaisonContact, record_liaison_contact

    def entry(location: str) -> Any:
        return record_liaison_contact(soldier.actor, LiaisonContact(
            occurred_at=dt.datetime(2025, 3, 1, 9, tzinfo=dt.UTC), channel="meeting", location=location,
            organisation_ids=[soldier.org.pk], summary=f"At {location}", level=Level.MILITARY))

    lakeside, outside = entry("2.5, 35.5"), entry("10, 10")
    client = signed_in(soldier)
    page = client.get(reverse("actors:liaison-log"), {"in_area": "TL01"})
    assert [r["pk"] for r in page.context["rows"]] == [lakeside.pk]
    assert outside.pk in {r["pk"] for r in client.get(reverse("actors:liaison-log")).context["rows"]}
    assert client.get(reverse("actors:liaison-log"), {"in_area": "nowhere"}).status_code == 422


# -- saved filters -----------------------------------------------------------------------------


def save(client: Client, name: str, query: str, key: str = "actors.liaisonassignment") -> Any:
    return client.post(reverse("core:saved-filter-save"), {"record_type": key, "name": name, "query": query})


def test_saved_filters_are_saved_applied_and_deleted_by_their_owner_alone(soldier: Member) -> None:
    from civmil.core.models import LedgerEntry, SavedFilter

    hilltop = assign(soldier, dt.date(2025, 1, 1), "Hilltop")
    assign(soldier, dt.date(2025, 2, 1), "Riverside")
    client = signed_in(soldier)
    page = client.get(reverse(LIST), {"q": "Hilltop"}).content.decode()
    assert 'action="/saved-filters/"' in page or reverse("core:saved-filter-save") in page

    response = save(client, "  My   hilltop  ", "q=Hilltop&sort=-starts_on&page=3")
    assert response.status_code == 302
    assert response["Location"] == reverse(LIST) + "?q=Hilltop&sort=-starts_on"
    listed = client.get(reverse(LIST)).context["saved_filters"]
    assert [(f["name"], f["url"]) for f in listed] == [("My hilltop", reverse(LIST) + "?q=Hilltop&sort=-starts_on")]
    assert [r["pk"] for r in client.get(listed[0]["url"]).context["rows"]] == [hilltop.pk]
    save(client, "My hilltop", "q=Hill")  # the same name replaces
    assert SavedFilter.objects.get().query == "q=Hill"
    assert LedgerEntry.objects.filter(action="saved_filter.saved", object_id=str(soldier.person.pk)).count() == 2

    # Another person neither sees nor deletes it.
    other = signed_in(make_member(Component.MILITARY, org=soldier.org))
    assert other.get(reverse(LIST)).context["saved_filters"] == []
    pk = SavedFilter.objects.get().pk
    assert other.post(reverse("core:saved-filter-delete", args=[pk])).status_code == 404
    assert SavedFilter.objects.filter(pk=pk).exists()

    response = client.post(reverse("core:saved-filter-delete", args=[pk]))
    assert response.status_code == 302 and response["Location"] == reverse(LIST)
    assert not SavedFilter.objects.exists()
    assert LedgerEntry.objects.filter(action="saved_filter.deleted").count() == 1


def test_saving_filters_refuses_what_it_cannot_keep(soldier: Member) -> None:
    from civmil.core.models import SavedFilter

    client = signed_in(soldier)
    assert save(client, "x", "q=a", key="no.such").status_code == 404
    response = save(client, "   ", "q=a")
    assert response.status_code == 302  # back to the list, saying what was wrong
    assert "Give the filters a name." in client.get(response["Location"]).content.decode()
    assert save(client, "long", "q=" + "a" * 2100).status_code == 422
    assert client.get(reverse("core:saved-filter-save")).status_code == 405
    assert not SavedFilter.objects.exists()


def test_the_api_lists_filter_by_area_too(soldier: Member, province: Any) -> None:
    inside = placed_assignment(soldier, "Lakeside", 2.5, 35.5)
    placed_assignment(soldier, "Far away", 10.0, 10.0)
    client = signed_in(soldier)
    response = client.get("/api/v1/liaison-assignments", {"in_area": "TL01"})
    assert response.status_code == 200
    assert [item["id"] for item in response.json()["items"]] == [str(inside.pk)]
    refused = client.get("/api/v1/liaison-assignments", {"in_area": "Atlantis"})
    assert refused.status_code == 422 and "in_area" in refused.json().get("errors", {})


def test_the_map_layer_filters_by_area_through_the_policy(soldier: Member, province: Any) -> None:
    from civmil.core import services as core_services

    inside = placed_assignment(soldier, "Lakeside", 2.5, 35.5)
    placed_assignment(soldier, "Far away", 10.0, 10.0)
    layer = "/api/v1/map/layers/actors.liaisonassignment"
    features = signed_in(soldier).get(layer, {"in_area": "TL01"}).json()["features"]
    assert [f["id"] for f in features] == [str(inside.pk)]
    aid_worker = make_member(Component.HUMANITARIAN)
    core_services.release_record(soldier.actor, inside, organisation=aid_worker.org, fields=["community"])
    assert signed_in(aid_worker).get(layer, {"in_area": "TL01"}).json()["features"] == []

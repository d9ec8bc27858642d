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

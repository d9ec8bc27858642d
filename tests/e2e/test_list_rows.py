"""The kernel's list in a browser: on a laptop each row is one line that expands in place into the
record's card, from the keyboard; on a phone each row is a card with its labels."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from civmil.core import registry
from civmil.core.choices import Component, Level
from civmil.core.kernel import planting
from tests.e2e.conftest import describe
from tests.factories import make_member

LONG = "Water point at the northern market, beside the old school, shared by three villages " * 3


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_row_is_one_line_and_opens_its_card_in_place_from_the_keyboard(signed_in_page: Any, axe: Any) -> None:
    from civmil.actors.models import LiaisonLogEntry

    member = make_member(Component.CIVILIAN)
    record_type = registry.get(LiaisonLogEntry)
    planting.plant(record_type, member.actor, Level.MISSION, dict.fromkeys(record_type.marked_fields(), LONG))
    page = signed_in_page(member)
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(reverse("actors:liaison-log"))

    summary = page.locator("tbody td[data-label='Summary'] .cell-line")
    line = page.evaluate("() => parseFloat(getComputedStyle(document.body).lineHeight) || 24")
    assert summary.bounding_box()["height"] < line * 1.5  # one line, cut with an ellipsis

    button = page.locator("button.row-expand")
    assert button.get_attribute("aria-expanded") == "false"
    button.focus()
    page.keyboard.press("Enter")
    card = page.locator("tr.row-expansion dl.props")
    card.wait_for()
    assert button.get_attribute("aria-expanded") == "true"
    assert LONG.strip()[:60] in card.inner_text()
    assert page.locator("tr.row-expansion td").get_attribute("id") == button.get_attribute("aria-controls")
    assert not axe(page), describe(axe(page))

    page.keyboard.press("Escape")
    assert page.locator("tr.row-expansion").count() == 0
    assert button.get_attribute("aria-expanded") == "false"
    assert page.evaluate("() => document.activeElement.classList.contains('row-expand')")
    page.keyboard.press(" ")
    card.wait_for()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_on_a_phone_each_row_is_a_card_with_its_labels(signed_in_page: Any) -> None:
    from civmil.actors.models import LiaisonAssignment

    member = make_member(Component.CIVILIAN)
    record_type = registry.get(LiaisonAssignment)
    planting.plant(record_type, member.actor, Level.MISSION,
                   dict.fromkeys(record_type.marked_fields(), "Water point at the northern market"))
    page = signed_in_page(member)
    page.set_viewport_size({"width": 390, "height": 900})
    page.goto(reverse(record_type.list_url))
    assert page.locator("details.filter-panel").get_attribute("open") is None
    row = page.locator("tbody tr").first
    assert row.evaluate("r => getComputedStyle(r).display") == "block"
    label = page.locator("tbody td[data-label='Community']").evaluate(
        "td => getComputedStyle(td, '::before').content")
    assert label == '"Community"'
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390

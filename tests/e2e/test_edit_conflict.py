"""Two people edit the same liaison entry in two browsers, exactly as the lost update happened:
both open the form, A saves first, B saves from the older version. B gets a three-way merge;
nothing A saved is undone unless B saw it and chose."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import timezone

from civmil.actors import services
from civmil.actors.models import LiaisonLogEntry
from civmil.core.choices import Component, Level
from tests.factories import PASSWORD, Member, make_member, make_org

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def two_editors(browser: Any, asgi_server: str) -> Iterator[tuple[Member, Member, Any, Any, LiaisonLogEntry]]:
    """Amina and Bertrand of one civil affairs section, each signed in in their own browser, and an entry."""
    section = make_org(Component.CIVILIAN, name="Civil Affairs Section")
    amina = make_member(org=section, username="amina")
    bertrand = make_member(org=section, username="bertrand")
    entry = services.record_liaison_contact(amina.actor, services.LiaisonContact(
        occurred_at=timezone.now().replace(second=0, microsecond=0) - dt.timedelta(hours=3), channel="meeting",
        summary="Met the water committee", level=Level.MISSION, organisation_ids=[section.pk],
        place_name="Kaya"))
    pages = [_signed_in(browser, asgi_server, m) for m in (amina, bertrand)]
    yield amina, bertrand, pages[0], pages[1], entry
    for page in pages:
        assert not page.problems, page.problems
        page.wait_for_load_state("networkidle")
        page.context.close()


def test_changes_to_different_fields_are_both_kept(two_editors: Any, axe: Any) -> None:
    _amina, _bertrand, a, b, entry = two_editors
    edit = f"/directory/liaison/{entry.pk}/edit/"
    a.goto(edit)
    b.goto(edit)

    a.locator("#id_follow_ups").fill("Amina: call the district water office")
    _save(a)
    a.wait_for_url(f"**/directory/liaison/{entry.pk}/")

    b.locator("#id_place_name").fill("Kaya market")
    response = _save(b)

    assert response.status == 409
    assert "Nothing was saved" in b.content()
    # The merged form: Amina's follow-ups (Bertrand did not touch them), Bertrand's place, version 2.
    assert b.locator("#id_follow_ups").input_value() == "Amina: call the district water office"
    assert b.locator("#id_place_name").input_value() == "Kaya market"
    assert b.locator("input[name=version]").input_value() == "2"
    summary = b.locator(".merge-summary")
    assert "Follow-ups" in summary.locator(".merge-taken").inner_text()
    assert "Place" in summary.locator(".merge-kept").inner_text()
    assert b.locator(".merge-choice").count() == 0
    assert axe(b) == []

    _save(b)
    b.wait_for_url(f"**/directory/liaison/{entry.pk}/")
    entry.refresh_from_db()
    assert (entry.follow_ups, entry.place_name, entry.version) == (
        "Amina: call the district water office", "Kaya market", 3)
    assert "Amina: call the district water office" in b.content() and "Kaya market" in b.content()


def test_a_field_both_changed_is_shown_side_by_side_and_waits_for_a_choice(two_editors: Any, axe: Any) -> None:
    _amina, _bertrand, a, b, entry = two_editors
    edit = f"/directory/liaison/{entry.pk}/edit/"
    a.goto(edit)
    b.goto(edit)

    a.locator("#id_summary").fill("Met the water committee: two wells dry")
    _save(a)
    a.wait_for_url(f"**/directory/liaison/{entry.pk}/")

    b.locator("#id_summary").fill("Met the water committee and the chief")
    b.locator("#id_follow_ups").fill("Bertrand: send the pump list")
    assert _save(b).status == 409

    # Beside the summary: their value and Bertrand's, each with a radio; Bertrand's stays in the box.
    panel = b.locator("#merge-summary")
    theirs = panel.get_by_role("radio", name=re.compile(r"Keep theirs \(version 2\)"))
    mine = panel.get_by_role("radio", name=re.compile("Keep yours"))
    assert "two wells dry" in panel.locator(".merge-theirs").inner_text()
    assert "and the chief" in panel.locator(".merge-mine").inner_text()
    assert not theirs.is_checked() and not mine.is_checked()
    assert b.locator("#id_summary").input_value() == "Met the water committee and the chief"
    assert b.locator("#id_follow_ups").input_value() == "Bertrand: send the pump list"
    assert axe(b) == []

    # Saving without choosing is refused beside the field; nothing is written.
    assert _save(b).status == 422
    summary_field = b.locator(".field.has-error", has=b.locator("#id_summary"))
    assert "choose which value to keep" in summary_field.locator(".field-errors").inner_text()
    entry.refresh_from_db()
    assert (entry.summary, entry.version) == ("Met the water committee: two wells dry", 2)

    # Bertrand's choice wins only once made.
    b.locator("#merge-summary").get_by_role("radio", name=re.compile("Keep yours")).check()
    _save(b)
    b.wait_for_url(f"**/directory/liaison/{entry.pk}/")
    entry.refresh_from_db()
    assert (entry.summary, entry.follow_ups, entry.version) == (
        "Met the water committee and the chief", "Bertrand: send the pump list", 3)


def _save(page: Any) -> Any:
    with page.expect_response(lambda r: r.request.method == "POST" and "/edit/" in r.url) as answer:
        page.get_by_role("button", name="Save changes").click()
    page.wait_for_load_state("load")
    return answer.value


def _signed_in(browser: Any, base_url: str, member: Any) -> Any:
    context = browser.new_context(base_url=base_url, locale="en-GB")
    context.set_default_timeout(15_000)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}")
            if msg.type == "error" and "409" not in msg.text and "422" not in msg.text else None)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.problems = problems
    page.goto("/accounts/login/")
    page.get_by_role("textbox", name="Login", exact=True).fill(member.user.username)
    page.get_by_role("textbox", name="Password", exact=True).fill(PASSWORD)
    page.locator("main form").get_by_role("button", name="Sign In").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
    return page

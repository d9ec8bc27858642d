"""The searchable pickers in a real browser: an officer records a contact on the liaison log,
choosing an organisation by typing part of its name and picking it with the keyboard, whether the
list is in the page or loaded as they type; axe finds no serious or critical violation on the form."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from playwright.sync_api import expect

from civmil.core import pickers
from civmil.core.choices import Component, Level
from tests.e2e.conftest import describe
from tests.factories import make_member, make_org


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("loaded", [False, True], ids=["in-the-page", "loaded-as-typed"])
def test_an_organisation_is_picked_by_typing_and_the_keyboard(signed_in_page: Any, axe: Any, loaded: bool,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    if loaded:
        monkeypatch.setattr(pickers, "INLINE_MAX", 1)  # the server (same process) ships only the chosen values
    officer = make_member(Component.CIVILIAN)
    target = make_org(Component.HUMANITARIAN, name="Water for All Foundation")
    make_org(Component.HUMANITARIAN, name="Wells Without Borders")
    page = signed_in_page(officer)
    page.goto("/directory/liaison/new/")
    page.locator("#id_occurred_at").fill((dt.datetime.now() - dt.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"))
    page.locator("#id_channel").select_option("meeting")

    box = page.get_by_role("combobox", name="Organisations")
    box.focus()
    page.keyboard.type("for all")
    listbox = page.get_by_role("listbox", name="Organisations")
    option = listbox.get_by_role("option", name="Water for All Foundation")
    # The list narrows to what was typed (after the picker's short pause).
    expect(listbox.get_by_role("option", name="Wells Without Borders")).to_have_count(0)
    expect(option).to_be_visible()
    # The first match is the active one, as a screen reader hears it; Enter picks it.
    assert box.get_attribute("aria-activedescendant") == option.get_attribute("id")
    violations = axe(page)  # the list open
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    assert str(target.pk) in page.locator("#id_organisations").evaluate(
        "select => Array.from(select.selectedOptions, o => o.value)")
    violations += axe(page)
    # Nothing matches: the list says so, in words a screen reader reads.
    page.keyboard.type("zzqx")
    expect(listbox.get_by_role("option", name="No results found")).to_be_visible()
    violations += axe(page)
    for _ in range(4):
        page.keyboard.press("Backspace")
    page.keyboard.press("Escape")
    assert not violations, describe(violations)

    page.locator("#id_summary").fill("Agreed the water point rota")
    page.locator("#id_level").select_option(Level.MISSION)
    page.get_by_role("button", name="Record").click()
    page.wait_for_url("**/directory/liaison/*/")
    # The entry names the organisation (by its short label), linked to its page.
    named = page.locator(f'main a[href$="/directory/organisations/{target.pk}/"]')
    assert named.count() >= 1 and target.label in named.first.inner_text()
    assert not page.problems, page.problems


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_person_is_mentioned_by_typing_part_of_their_name(signed_in_page: Any) -> None:
    from django.utils import timezone

    from civmil.actors import services as actor_services
    from civmil.core.models import Person

    author = make_member(Component.CIVILIAN)
    named = make_member(Component.CIVILIAN)
    Person.objects.filter(pk=named.person.pk).update(full_name="Amara Okonjo")
    entry = actor_services.record_liaison_contact(author.actor, actor_services.LiaisonContact(
        occurred_at=timezone.now(), channel="meeting", summary="water point repairs",
        level=Level.MISSION, organisation_ids=[author.org.pk]))
    page = signed_in_page(author)
    page.goto(f"/directory/liaison/{entry.pk}/")
    page.locator("#id_body").fill("Can you check the pump?")
    box = page.get_by_role("combobox", name="Mention")
    box.focus()
    page.keyboard.type("okon")
    listbox = page.get_by_role("listbox", name="Mention")
    expect(listbox.get_by_role("option", name="Amara Okonjo")).to_be_visible()
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    # A click on Post right after picking (the box loses focus on the press) posts the message.
    with page.expect_navigation():
        page.get_by_role("button", name="Post").click()
    expect(page.locator(".thread-message").last).to_contain_text("mentioned: Amara Okonjo")
    assert not page.problems, page.problems

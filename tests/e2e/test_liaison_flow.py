"""The acceptance path in a real browser: a civilian-section officer records a HUMANITARIAN
contact; a military user finds it on no page, API call, export or live update; another
civilian-section user does, live, while watching the log."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from civmil.core.choices import Component
from tests.factories import make_member, make_org

MIL_CHECKS = ("/directory/liaison/", "/api/v1/liaison-log?limit=200", "/directory/liaison/export.csv")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_humanitarian_entry_never_reaches_a_military_user(browser: Any, asgi_server: str) -> None:
    section = make_org(Component.CIVILIAN, name="Civil Affairs Section")
    author = make_member(Component.CIVILIAN, org=section)
    colleague = make_member(Component.CIVILIAN)
    soldier = make_member(Component.MILITARY)
    marker = f"water-point-{uuid.uuid4().hex[:12]}"

    # Two readers already watch the liaison log when the entry is recorded.
    watching_colleague = _signed_in(browser, asgi_server, colleague)
    watching_soldier = _signed_in(browser, asgi_server, soldier)
    for watcher in (watching_colleague, watching_soldier):
        watcher.goto("/directory/liaison/")
        watcher.wait_for_function("() => document.querySelector('[data-live-status]')?.dataset.liveState === 'online'")

    page = _signed_in(browser, asgi_server, author)
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.get_by_role("link", name="Directory").first.click()
    page.wait_for_url("**/directory/**")
    assert "Civil Affairs Section" in page.content()
    page.goto("/directory/liaison/new/")
    page.locator("#id_occurred_at").fill((dt.datetime.now() - dt.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"))
    page.locator("#id_channel").select_option("meeting")
    page.locator("#id_organisations").select_option(str(section.pk))
    page.locator("#id_summary").fill(f"Agreed access to the {marker}")
    page.locator("#id_level").select_option("humanitarian")
    page.locator("#id_geometry_location").fill("4.3612, 18.5550")
    page.get_by_role("button", name="Record").click()
    page.wait_for_url("**/directory/liaison/*/")
    assert marker in page.content()
    entry_url = page.url
    # The colleague's open list shows it live; the soldier's never does.
    watching_colleague.locator(f"text={marker}").first.wait_for(timeout=3_000)
    watching_soldier.wait_for_timeout(1_500)
    assert marker not in watching_soldier.content()
    assert not problems, problems

    def look_as(member: Any) -> dict[str, tuple[int, bool]]:
        other = _signed_in(browser, asgi_server, member)
        seen = {}
        for url in (*MIL_CHECKS, entry_url):
            response = other.request.get(url)
            seen[url] = (response.status, marker in response.text())
        other.context.close()
        return seen

    soldier_view = look_as(soldier)
    assert all(not found for _status, found in soldier_view.values()), soldier_view
    assert soldier_view[entry_url][0] == 404
    colleague_view = look_as(colleague)
    assert all(found for _status, found in colleague_view.values()), colleague_view


def _signed_in(browser: Any, base_url: str, member: Any) -> Any:
    from tests.factories import PASSWORD

    page = browser.new_context(base_url=base_url).new_page()
    page.set_default_timeout(15_000)
    page.goto("/accounts/login/")
    page.get_by_role("textbox", name="Login", exact=True).fill(member.user.username)
    page.get_by_role("textbox", name="Password", exact=True).fill(PASSWORD)
    page.locator("main form").get_by_role("button", name="Sign In").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
    return page

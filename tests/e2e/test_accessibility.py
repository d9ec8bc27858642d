"""axe-core on the main pages of the directory and the liaison log, signed in, in a real browser."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from civmil.actors import services as actor_services
from civmil.core.choices import Component, Level
from tests.e2e.conftest import describe
from tests.factories import make_member


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_main_pages_have_no_serious_accessibility_violation(signed_in_page: Any, axe: Any) -> None:
    reader = make_member(Component.CIVILIAN)
    entry = actor_services.record_liaison_contact(reader.actor, actor_services.LiaisonContact(
        occurred_at=timezone.now(), channel="meeting", summary="Water point access", level=Level.MISSION,
        organisation_ids=[reader.org.pk], latitude=4.36, longitude=18.55, place_name="Riverside"))
    page = signed_in_page(reader)
    pages = ["/directory/", f"/directory/organisations/{reader.org.pk}/", f"/directory/people/{reader.person.pk}/",
             "/directory/liaison/", f"/directory/liaison/{entry.pk}/", "/directory/liaison/new/",
             f"/directory/liaison/{entry.pk}/history/", "/directory/areas/", "/comms/search/?q=water",
             "/comms/notifications/", "/core/tokens/"]
    found = {}
    for url in pages:
        page.goto(url)
        page.wait_for_load_state("networkidle")
        violations = axe(page)
        if violations:
            found[url] = violations
    assert not found, describe([{"page": url, "violations": v} for url, v in found.items()])

"""A mention reaches the person it names while they look at any page: the header badge and the
notification list change without a reload."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from civmil.core.choices import Component, Level
from tests.e2e.test_liaison_flow import _signed_in
from tests.factories import make_member


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_mention_shows_in_the_badge_and_the_list_at_once(browser: Any, asgi_server: str) -> None:
    from civmil.actors import services as actor_services
    from civmil.comms.services import threads

    author, named = make_member(Component.CIVILIAN), make_member(Component.CIVILIAN)
    entry = actor_services.record_liaison_contact(author.actor, actor_services.LiaisonContact(
        occurred_at=timezone.now(), channel="meeting", summary="water point repairs",
        level=Level.MISSION, organisation_ids=[author.org.pk]))

    page = _signed_in(browser, asgi_server, named)
    page.goto("/comms/notifications/")
    page.wait_for_function("() => document.querySelector('[data-live-status]')?.dataset.liveState === 'online'")
    assert page.locator("li.notification").count() == 0
    assert page.locator(".notification-badge .badge").count() == 0

    threads.post_message(author.actor, "actors.liaisonlogentry", entry.pk, "Can you check the pump?",
                         [named.person.pk])

    page.locator("li.notification.unread").first.wait_for(timeout=5_000)  # the list, without a reload
    page.locator(".notification-badge .badge", has_text="1").wait_for(timeout=5_000)  # and the header
    assert page.locator("li.notification").count() == 1

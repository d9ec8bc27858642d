"""The home page says what needs doing: panels registered by the apps, through the access policy,
each refreshed on its own."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from civmil.actors import services as actor_services
from civmil.actors.choices import AreaKind
from civmil.actors.models import Area
from civmil.comms.services import threads as thread_services
from civmil.core import home
from civmil.core.choices import Component, Level, Role
from tests.factories import Member, make_member, make_org

pytestmark = pytest.mark.django_db

SQUARE = {"type": "Polygon", "coordinates": [[[32, 1], [34, 1], [34, 3], [32, 3], [32, 1]]]}


def _client(m: Member) -> Client:
    client = Client()
    client.force_login(m.user)
    return client


def _entry(m: Member, summary: str, level: str = Level.MISSION, **extra: object) -> object:
    return actor_services.record_liaison_contact(m.actor, actor_services.LiaisonContact(
        occurred_at=extra.pop("occurred_at", timezone.now() - dt.timedelta(hours=2)), channel="meeting",
        summary=summary, level=level, organisation_ids=[m.org.pk], **extra))  # type: ignore[arg-type]


def test_the_home_page_lists_the_reader_s_recent_contacts_and_what_waits() -> None:
    me = make_member(Component.CIVILIAN)
    colleague = make_member(Component.CIVILIAN, org=me.org)
    mine = _entry(me, "Borehole repairs agreed")
    _entry(colleague, "Someone else's meeting")
    thread_services.post_message(colleague.actor, "actors.liaisonlogentry", mine.pk, "See this",  # type: ignore[attr-defined]
                                 [me.person.pk])
    page = _client(me).get("/").content.decode()
    assert "Your recent contacts" in page and "Borehole repairs agreed" in page
    assert "Someone else&#x27;s meeting" not in page and "Someone else's meeting" not in page
    assert "What waits for you" in page and "1 unread notification" in page
    # Each panel refreshes on its own, live: its stream and notices are on the page.
    assert 'data-live-stream="actors.liaisonlogentry"' in page and 'data-live-notice="notifications"' in page


def test_nothing_waits_for_a_new_member_and_approvals_wait_only_for_administrators() -> None:
    newcomer = make_member(Component.HUMANITARIAN)
    page = _client(newcomer).get("/").content.decode()
    assert "Nothing waits for you." in page and "second administrator" not in page
    admin = make_member(Component.CIVILIAN, Role.ADMINISTRATOR)
    other_admin = make_member(Component.CIVILIAN, Role.ADMINISTRATOR)
    from civmil.core import services as core_services

    person = make_member(Component.CIVILIAN).person
    core_services.add_membership(other_admin.actor, person=person, organisation=make_org(Component.CIVILIAN),
                                 role=Role.ADMINISTRATOR)
    assert "1 change waits for a second administrator" in _client(admin).get("/").content.decode()
    assert "second administrator" not in _client(newcomer).get("/").content.decode()


def test_new_records_in_the_organisation_s_areas_of_responsibility_through_the_policy() -> None:
    battalion = make_org(Component.MILITARY, name="Eastern Battalion")
    actor_services.save_area(None, Area(name="Sector East", kind=AreaKind.RESPONSIBILITY, responsible=battalion),
                             SQUARE)
    officer = make_member(Component.MILITARY, org=battalion)
    ngo = make_member(Component.HUMANITARIAN)
    _entry(ngo, "Clinic reopened inside", location="2.0, 33.0")
    _entry(ngo, "Market visit outside", location="2.0, 36.0")
    _entry(ngo, "Old visit inside", location="2.0, 33.0", occurred_at=timezone.now() - dt.timedelta(days=30))
    _entry(ngo, "Humanitarian-only inside", level=Level.HUMANITARIAN, location="2.5, 33.5")
    page = _client(officer).get("/").content.decode()
    assert "New in your areas of responsibility" in page and "Sector East" in page
    assert "Clinic reopened inside" in page
    for absent in ("Market visit outside", "Old visit inside", "Humanitarian-only inside"):
        assert absent not in page
    assert "1 record of the last 7 days in your areas" in page
    assert 'id="home-aor-features"' in page and 'data-map="view"' in page
    # An organisation without an area of responsibility is told so.
    assert "has no area of responsibility" in _client(ngo).get("/").content.decode()


def test_a_panel_answers_on_its_own_for_its_refresh() -> None:
    me = make_member(Component.CIVILIAN)
    _entry(me, "Convoy timings")
    client = _client(me)
    response = client.get(reverse("home-panel", args=["actors.recent_entries"]))
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<section class="card home-panel"') and "Convoy timings" in body
    assert client.get(reverse("home-panel", args=["no.such"])).status_code == 404
    assert client.post(reverse("home-panel", args=["actors.recent_entries"])).status_code == 405
    anonymous = Client().get(reverse("home-panel", args=["actors.recent_entries"]))
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]


def test_a_later_capability_adds_what_waits_without_touching_the_home_page() -> None:
    me = make_member(Component.CIVILIAN)
    provider = lambda actor: [home.WaitingItem(text="2 actions overdue", url="/actions/?overdue=1", count=2)]  # noqa: E731
    home.register_waiting(provider, streams=("kernel_proof.observation",))
    try:
        page = _client(me).get("/").content.decode()
    finally:
        home._WAITING.remove((provider, ("kernel_proof.observation",), ()))
    assert '<a href="/actions/?overdue=1">2 actions overdue</a>' in page
    assert 'data-live-stream="kernel_proof.observation"' in page


def test_the_browser_s_default_icon_address_leads_to_the_icon() -> None:
    response = Client().get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith(".svg")
    assert "favicon" in response["Location"]

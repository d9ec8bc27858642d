"""Signed-in sessions end after an idle time and after an absolute lifetime (mission settings), and
nothing signed in is kept by a cache."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse

from civmil.core import middleware
from civmil.core.accounts import services as accounts_services
from civmil.core.choices import Component
from civmil.core.models import MissionSettings, TokenScope
from civmil.core.models.spaces import LIVE_SPACE_ID
from tests.factories import Member, make_member

pytestmark = pytest.mark.django_db

START = 1_800_000_000
LIST = "/directory/liaison/"
API = "/api/v1/liaison-log"


class Clock:
    def __init__(self) -> None:
        self.now = START

    def advance(self, *, minutes: float = 0, hours: float = 0) -> None:
        self.now += int(minutes * 60 + hours * 3600)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(middleware, "_now", lambda: c.now)
    return c


@pytest.fixture
def member() -> Member:
    return make_member(Component.CIVILIAN)


def signed_in(m: Member) -> Client:
    client = Client()
    client.force_login(m.user)
    return client


def mission(**values: Any) -> None:
    MissionSettings.objects.get_or_create(space_id=LIVE_SPACE_ID)
    MissionSettings.objects.filter(space_id=LIVE_SPACE_ID).update(**values)


def assert_signed_out_page(client: Client, response: Any, path: str, reason: str) -> None:
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login")) and f"next={path}" in response["Location"]
    login = client.get(response["Location"])
    assert reason in login.content.decode()
    again = client.get(path)  # the session is gone, not just this answer
    assert again.status_code == 302 and again["Location"].startswith(reverse("account_login"))


def test_a_session_without_a_request_for_the_idle_time_is_signed_out(clock: Clock, member: Member) -> None:
    client = signed_in(member)
    assert client.get(LIST).status_code == 200
    for _ in range(5):  # active: every 50 minutes, four hours in all
        clock.advance(minutes=50)
        assert client.get(LIST).status_code == 200
    clock.advance(minutes=60)
    assert_signed_out_page(client, client.get(LIST), LIST, "signed out after 60 minutes without activity")


def test_an_open_page_polling_by_itself_does_not_keep_the_session_alive(clock: Clock, member: Member) -> None:
    """The notification badge polls every minute and live events refresh parts of the page; such
    requests carry the background header and do not count as activity (an unattended tab used to
    stay signed in until the session's lifetime ran out)."""
    client = signed_in(member)
    page = client.get(LIST)
    assert page.status_code == 200
    assert 'hx-headers=\'{"X-Civmil-Background": "1"}\'' in page.content.decode()  # on the badge's poll
    badge = reverse("comms:notifications-unread")
    for _ in range(59):
        clock.advance(minutes=1)
        assert client.get(badge, HTTP_HX_REQUEST="true", HTTP_X_CIVMIL_BACKGROUND="1").status_code == 200
    clock.advance(minutes=1)
    ended = client.get(badge, HTTP_HX_REQUEST="true", HTTP_X_CIVMIL_BACKGROUND="1")
    assert ended.status_code == 401 and ended["HX-Redirect"].startswith(reverse("account_login"))


def test_a_session_ends_after_its_lifetime_however_active(clock: Clock, member: Member) -> None:
    client = signed_in(member)
    assert client.get(LIST).status_code == 200
    for _ in range(23):  # every half hour for eleven and a half hours
        clock.advance(minutes=30)
        assert client.get(LIST).status_code == 200
    clock.advance(minutes=30)  # twelve hours after sign-in
    assert_signed_out_page(client, client.get(LIST), LIST, "longest allowed duration (12 hours)")


def test_both_limits_are_mission_settings(clock: Clock, member: Member) -> None:
    mission(session_idle_minutes=5, session_max_hours=1)
    client = signed_in(member)
    assert client.get(LIST).status_code == 200
    clock.advance(minutes=6)
    assert_signed_out_page(client, client.get(LIST), LIST, "signed out after 5 minutes without activity")
    client = signed_in(member)
    assert client.get(LIST).status_code == 200
    for _ in range(14):
        clock.advance(minutes=4)
        assert client.get(LIST).status_code == 200
    clock.advance(minutes=4)
    assert_signed_out_page(client, client.get(LIST), LIST, "longest allowed duration (1 hours)")


def test_signing_in_through_the_form_starts_the_lifetime(clock: Clock, member: Member) -> None:
    from tests.factories import PASSWORD

    client = Client()
    response = client.post(reverse("account_login"), {"login": member.user.username, "password": PASSWORD})
    assert response.status_code == 302
    session = client.session
    assert session[middleware.SESSION_STARTED_KEY] == START
    assert session.get_expiry_age() == 3600
    clock.advance(hours=12)
    assert client.get(LIST).status_code == 302


def test_the_api_answers_401_json_and_htmx_is_sent_to_the_sign_in_page(clock: Clock, member: Member) -> None:
    client = signed_in(member)
    assert client.get(API).status_code == 200
    clock.advance(minutes=61)
    response = client.get(API)
    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/json")
    assert "without activity" in response.json()["detail"]
    assert client.get(API).status_code == 401  # signed out: the API asks for credentials

    client = signed_in(member)
    assert client.get(LIST).status_code == 200
    clock.advance(minutes=61)
    response = client.get(LIST, headers={"HX-Request": "true"})
    assert response.status_code == 401 and response["HX-Redirect"].startswith(reverse("account_login"))


def test_a_bearer_token_is_judged_by_the_token_alone(clock: Clock, member: Member) -> None:
    _token, secret = accounts_services.create_token(member.actor, name="script", membership=member.membership,
                                                    scope=TokenScope.READ)
    client = signed_in(member)
    assert client.get(LIST).status_code == 200
    key = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    clock.advance(hours=30)  # the session cookie it also carries has long ended
    response = client.get(API, headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200, response.content
    assert "no-store" in response["Cache-Control"]
    bare = Client().get(API, headers={"Authorization": f"Bearer {secret}"})
    assert bare.status_code == 200 and "no-store" in bare["Cache-Control"]
    assert Session.objects.filter(session_key=key).exists()  # neither signed out nor kept alive by it


def test_the_stored_session_expires_with_the_idle_limit_not_after_fourteen_days(member: Member) -> None:
    age = django_settings.SESSION_COOKIE_AGE
    assert age <= 24 * 3600  # the longest idle time a mission may set
    for field in ("session_idle_minutes", "session_max_hours"):
        ceiling = max(v.limit_value for v in MissionSettings._meta.get_field(field).validators
                      if type(v).__name__ == "MaxValueValidator")
        longest = ceiling * (60 if field == "session_idle_minutes" else 3600)
        assert age <= longest
    client = signed_in(member)
    response = client.get(LIST)
    assert response.status_code == 200
    stored = Session.objects.get(session_key=client.cookies[django_settings.SESSION_COOKIE_NAME].value)
    from django.utils import timezone

    assert stored.expire_date <= timezone.now() + dt.timedelta(minutes=61)
    assert response.cookies[django_settings.SESSION_COOKIE_NAME]["max-age"] == 3600


def test_signed_in_pages_and_api_answers_are_never_cached(member: Member) -> None:
    client = signed_in(member)
    for path in (LIST, "/", API, "/directory/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "no-store" in response["Cache-Control"], path
    anonymous = Client().get(API)
    assert anonymous.status_code == 401 and "no-store" in anonymous["Cache-Control"]

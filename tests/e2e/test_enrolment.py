"""A first administrator enrols their authenticator app in the browser, from scratch.

With JavaScript on, the notification badge's poll used to be redirected to the enrolment page,
which htmx swapped into itself again and again (each copy with a new secret), so every code was
"incorrect". Now the enrolment page polls nothing and fragments get an empty answer."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from allauth.mfa import app_settings as totp_settings
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

from civmil.core.choices import Component, Role
from tests.factories import PASSWORD, make_member

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _code(secret: str) -> str:
    return format_hotp_value(hotp_value(secret, int(time.time()) // totp_settings.TOTP_PERIOD))


def test_a_first_administrator_enrols_totp_in_the_browser(page: Any, signed_in_page: Callable[[Any], Any],
                                                          settings: Any) -> None:
    settings.CIVMIL_MFA_REQUIRED = True
    admin = make_member(Component.CIVILIAN, role=Role.ADMINISTRATOR)
    fragments: list[str] = []
    page.on("request", lambda r: fragments.append(r.url) if r.headers.get("hx-request") else None)
    signed_in_page(admin)
    page.wait_for_url(lambda url: "/accounts/" in url)
    if "reauthenticate" in page.url:  # allauth asks for the password once more before a new factor
        page.get_by_role("textbox", name="Password", exact=True).fill(PASSWORD)
        page.locator("main form button[type=submit]").first.click()
        page.wait_for_url(lambda url: "/2fa/totp/activate" in url)
    secret = page.locator("#authenticator_secret").input_value()
    page.wait_for_timeout(1500)  # time for any poll to fire (it used to, at once)
    assert page.locator("#authenticator_secret").count() == 1  # not nested
    assert page.locator("#authenticator_secret").input_value() == secret
    assert fragments == []
    page.get_by_role("textbox", name="Authenticator code").fill(_code(secret))
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_url(lambda url: "/2fa/totp/activate" not in url)
    assert Authenticator.objects.filter(user=admin.user, type=Authenticator.Type.TOTP).exists()
    page.goto("/")
    assert page.locator("header").get_by_text("Notifications").count() == 1  # the site is open now
    assert [p for p in page.problems if "HTTP 4" not in p] == []

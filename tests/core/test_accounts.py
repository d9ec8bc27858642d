"""Real accounts: a second factor for privileged roles, rate-limited sign-in, deactivation."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value
from allauth.mfa.totp.internal.auth import app_settings as totp_settings
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from civmil.config.asgi import application
from civmil.core import events
from civmil.core.accounts import services as accounts_services
from civmil.core.acting import Actor
from civmil.core.choices import Component, Role
from civmil.core.errors import Forbidden, Invalid, NotFound
from civmil.core.models import ApiToken, LedgerEntry, TokenScope, User
from tests.factories import PASSWORD, Member, make_member

LOGIN = "/accounts/login/"
HOME = "/"




@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    """Rate limits and used TOTP codes live in the cache: every test starts without them."""
    cache.clear()


def current_code(secret: str) -> str:
    return format_hotp_value(hotp_value(secret, int(time.time()) // totp_settings.TOTP_PERIOD))


def with_totp(user: User) -> str:
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    return secret


def sign_in(client: Client, user: User, password: str = PASSWORD) -> Any:
    return client.post(LOGIN, {"login": user.get_username(), "password": password})


def signed_in(client: Client) -> bool:
    return client.get(reverse("core:tokens")).status_code == 200


# ---------------------------------------------------------------------------------------------
# A second factor for privileged roles


@pytest.mark.parametrize("role", [Role.ADMINISTRATOR, Role.LEADERSHIP, Role.OVERSIGHT])
def test_privileged_roles_are_sent_to_set_up_an_authenticator(mfa_on: None, member: Any, client: Client,
                                                              role: str) -> None:
    m = member(Component.CIVILIAN, role=role)
    client.force_login(m.user)
    for path in (HOME, reverse("core:tokens"), "/directory/"):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"] == reverse("mfa_activate_totp")
    api = client.get("/api/v1/me")
    assert api.status_code == 403
    assert "second factor" in api.json()["detail"]
    # The way out stays open: the account pages and signing out.
    setup = client.get(reverse("mfa_activate_totp"), follow=True)
    assert setup.status_code == 200  # the set-up page (or confirming the password first)
    assert setup.request["PATH_INFO"].startswith("/accounts/")
    assert client.post(reverse("account_logout")).status_code == 302
    assert client.get(HOME).status_code == 302 and client.get(HOME)["Location"].startswith(LOGIN)


def test_enrolment_is_never_nested_in_a_fragment_and_its_secret_stays(mfa_on: None, member: Any,
                                                                     client: Client) -> None:
    """The badge's poll on the enrolment page was redirected to the enrolment page, which htmx
    swapped into itself again and again, each copy with a new secret: every code was 'incorrect'."""
    m = member(Component.CIVILIAN, role=Role.ADMINISTRATOR)
    assert sign_in(client, m.user).status_code == 302
    confirm = client.get(reverse("mfa_activate_totp"))
    client.post(confirm["Location"], {"password": PASSWORD})
    page = client.get(reverse("mfa_activate_totp"))
    secret = page.context["form"].secret
    html = page.content.decode()
    assert "notification-badge-slot" not in html  # no fragment polls from the enrolment page
    for path in (reverse("comms:notifications-unread"), HOME, "/directory/liaison/"):
        for headers in ({"HTTP_HX_REQUEST": "true"}, {"HTTP_X_CIVMIL_BACKGROUND": "1"}):
            fragment = client.get(path, **headers)
            assert fragment.status_code == 204 and "Location" not in fragment, (path, headers)
            assert fragment.content == b""
    # The fragments made no new secret: the code from the app scanned on the page still works.
    assert client.post(reverse("mfa_activate_totp"), {"code": current_code(secret)}).status_code == 302


def test_other_roles_need_no_second_factor(mfa_on: None, member: Any, client: Client) -> None:
    m = member(Component.HUMANITARIAN, role=Role.CMCOORD)
    client.force_login(m.user)
    assert client.get(HOME).status_code == 200
    assert client.get("/api/v1/me").status_code == 200


def test_a_privileged_person_with_an_authenticator_goes_through(mfa_on: None, member: Any, client: Client) -> None:
    m = member(Component.CIVILIAN, role=Role.ADMINISTRATOR)
    with_totp(m.user)
    client.force_login(m.user)
    assert client.get(HOME).status_code == 200
    assert client.get("/api/v1/me").status_code == 200


def test_activating_totp_opens_the_platform_and_creates_recovery_codes(mfa_on: None, member: Any,
                                                                       client: Client) -> None:
    m = member(Component.CIVILIAN, role=Role.LEADERSHIP)
    assert sign_in(client, m.user).status_code == 302
    assert client.get(HOME)["Location"] == reverse("mfa_activate_totp")
    # Setting up a factor asks for the password again first.
    confirm = client.get(reverse("mfa_activate_totp"))
    assert confirm.status_code == 302 and confirm["Location"].startswith(reverse("account_reauthenticate"))
    client.post(confirm["Location"], {"password": PASSWORD})
    page = client.get(reverse("mfa_activate_totp"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "requires a second factor" in html and "<svg" in html
    secret = page.context["form"].secret
    wrong_code = "000000" if current_code(secret) != "000000" else "111111"
    wrong = client.post(reverse("mfa_activate_totp"), {"code": wrong_code})
    assert wrong.status_code == 200 and not Authenticator.objects.filter(user=m.user).exists()
    done = client.post(reverse("mfa_activate_totp"), {"code": current_code(secret)})
    assert done.status_code == 302
    assert Authenticator.objects.filter(user=m.user, type=Authenticator.Type.TOTP).exists()
    assert Authenticator.objects.filter(user=m.user, type=Authenticator.Type.RECOVERY_CODES).exists()
    assert client.get(HOME).status_code == 200


def test_sign_in_asks_for_the_code_after_the_password(member: Any, client: Client) -> None:
    m = member(Component.CIVILIAN, role=Role.ADMINISTRATOR)
    secret = with_totp(m.user)
    response = sign_in(client, m.user)
    assert response.status_code == 302 and response["Location"] == reverse("mfa_authenticate")
    assert not signed_in(client)  # the password alone does not sign in
    refused = client.post(reverse("mfa_authenticate"), {"code": "12345x"})
    assert refused.status_code == 200 and not signed_in(client)
    accepted = client.post(reverse("mfa_authenticate"), {"code": current_code(secret)})
    assert accepted.status_code == 302
    assert signed_in(client)


def test_a_recovery_code_works_once(member: Any) -> None:
    m = member(Component.CIVILIAN, role=Role.OVERSIGHT)
    with_totp(m.user)
    code = RecoveryCodes.activate(m.user).get_unused_codes()[0]
    first = Client()
    sign_in(first, m.user)
    assert first.post(reverse("mfa_authenticate"), {"code": code}).status_code == 302
    assert signed_in(first)
    second = Client()
    sign_in(second, m.user)
    again = second.post(reverse("mfa_authenticate"), {"code": code})
    assert again.status_code == 200
    assert not signed_in(second)


def test_repeated_failed_sign_ins_are_refused_even_with_the_right_password(member: Any, client: Client) -> None:
    m = member()
    for _ in range(5):
        assert sign_in(client, m.user, "wrong-password").status_code == 200
    response = sign_in(client, m.user)
    assert response.status_code == 200
    assert "Too many failed login attempts" in response.content.decode()
    assert not signed_in(client)
    cache.clear()  # the window has passed
    assert sign_in(client, m.user).status_code == 302 and signed_in(client)


def test_a_shift_signs_in_together_from_one_address_while_guessing_stays_slow(member: Any) -> None:
    """Forty people behind one NAT sign in within the minute, some mistyping once; meanwhile
    someone guessing one account's password from that address is stopped after five tries."""
    shift = [member(Component.MILITARY) for _ in range(40)]
    target = member(Component.CIVILIAN)
    for n, person in enumerate(shift):
        browser = Client(REMOTE_ADDR="10.20.30.40")
        if n % 4 == 0:
            assert sign_in(browser, person.user, "mistyped").status_code == 200
        assert sign_in(browser, person.user).status_code == 302, person.user.username
        assert signed_in(browser)
    guesser = Client(REMOTE_ADDR="10.20.30.40")
    for n in range(5):
        assert sign_in(guesser, target.user, f"guess-{n}").status_code == 200
    response = sign_in(guesser, target.user)
    assert "Too many failed login attempts" in response.content.decode()
    assert not signed_in(guesser)


# ---------------------------------------------------------------------------------------------
# Deactivation


def admin_client(admin: Member) -> Client:
    with_totp(admin.user)
    client = Client()
    client.force_login(admin.user)
    return client


def test_deactivation_ends_sessions_tokens_and_tells_live_connections(member: Any, monkeypatch: Any) -> None:
    admin = member(Component.CIVILIAN, role=Role.ADMINISTRATOR)
    target = member(Component.MILITARY)
    bystander = member(Component.MILITARY)
    target_browser, bystander_browser = Client(), Client()
    target_browser.force_login(target.user)
    bystander_browser.force_login(bystander.user)
    assert signed_in(target_browser)
    token, secret = accounts_services.create_token(target.actor, name="x", membership=target.membership,
                                                   scope=TokenScope.READ)
    told: list[int] = []
    monkeypatch.setattr(events, "actor_changed", told.append)

    page = admin_client(admin).post(reverse("core:account-deactivate", args=[target.user.pk]),
                                    {"reason": "Left the mission"})
    assert page.status_code == 302

    target.user.refresh_from_db()
    assert not target.user.is_active
    assert told == [target.user.pk]
    assert not signed_in(target_browser)  # signed out on the next request
    assert signed_in(bystander_browser)  # nobody else is
    assert len(accounts_services.sessions_of(target.user.pk)) == 0
    assert Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 401
    token.refresh_from_db()
    assert token.revoked_at is not None
    retry = Client()
    refused = sign_in(retry, target.user)
    assert refused.status_code == 302 and refused["Location"] == reverse("account_inactive")
    assert retry.get(refused["Location"]).status_code == 200
    assert not signed_in(retry)  # cannot sign in again
    entry = LedgerEntry.objects.get(action="account.deactivated")
    assert entry.object_id == str(target.user.pk) and entry.actor_user_id == admin.user.pk


def test_only_administrators_deactivate_and_never_themselves(member: Any, client: Client) -> None:
    admin = member(Component.CIVILIAN, role=Role.ADMINISTRATOR)
    plain = member(Component.CIVILIAN)
    with pytest.raises(Forbidden):
        accounts_services.deactivate_account(plain.actor, admin.user, "coup")
    with pytest.raises(Forbidden):
        accounts_services.deactivate_account(admin.actor, admin.user, "tired")
    with pytest.raises(Invalid):
        accounts_services.deactivate_account(admin.actor, plain.user, "  ")
    client.force_login(plain.user)
    assert client.get(reverse("core:account-deactivate", args=[admin.user.pk])).status_code == 403
    assert client.post(reverse("core:account-deactivate", args=[admin.user.pk]), {"reason": "x"}).status_code == 403
    admin.user.refresh_from_db()
    assert admin.user.is_active
    assert not LedgerEntry.objects.filter(action="account.deactivated").exists()


def test_the_page_asks_for_a_reason(member: Any) -> None:
    admin = member(Component.CIVILIAN, role=Role.ADMINISTRATOR)
    target = member()
    browser = admin_client(admin)
    assert browser.get(reverse("core:account-deactivate", args=[target.user.pk])).status_code == 200
    response = browser.post(reverse("core:account-deactivate", args=[target.user.pk]), {"reason": ""})
    assert response.status_code == 422
    target.user.refresh_from_db()
    assert target.user.is_active
    assert browser.get(reverse("core:account-deactivate", args=[987654])).status_code == 404


def _answer(response: Any, path: str) -> tuple[int, bytes]:
    """Status and body, without the per-response CSRF token and with the requested path replaced."""
    body = re.sub(rb'(name="csrfmiddlewaretoken" value=|name="csrf-token" content=)"[^"]*"', rb'\1""',
                  response.content)
    return response.status_code, body.replace(path.encode(), b"PATH")


def test_account_pages_answer_for_a_hidden_person_as_for_a_missing_account(member: Any) -> None:
    """A host-nation administrator may not see people of other organisations at contact level
    MISSION: their accounts are missing to them, on every account page and for every method."""
    admin = member(Component.HOST_NATION, role=Role.ADMINISTRATOR)
    hidden = member(Component.CIVILIAN)
    hidden.person.full_name = "Quintus Hidden"
    hidden.person.save(update_fields=["full_name"])
    browser = admin_client(admin)
    missing = User.objects.order_by("-pk").values_list("pk", flat=True).first() + 1000  # type: ignore[operator]
    for name in ("core:account-deactivate", "core:account-reactivate"):
        for method, data in (("get", {}), ("post", {"reason": "Left the mission"})):
            answers = []
            for pk in (hidden.user.pk, missing):
                path = reverse(name, args=[pk])
                answers.append(_answer(getattr(browser, method)(path, data), path))
            assert answers[0] == answers[1] and answers[0][0] == 404, (name, method)
            assert b"Quintus" not in answers[0][1]
    hidden.user.refresh_from_db()
    assert hidden.user.is_active
    assert not LedgerEntry.objects.filter(action="account.deactivated").exists()
    with pytest.raises(NotFound):
        accounts_services.account_for(admin.actor, hidden.user.pk)
    # A person of their own organisation is shown, by name.
    colleague = member(Component.HOST_NATION, org=admin.membership.organisation)
    page = browser.get(reverse("core:account-deactivate", args=[colleague.user.pk]))
    assert page.status_code == 200 and colleague.person.full_name in page.content.decode()


def test_reactivation_lets_the_account_sign_in_but_keeps_tokens_revoked(member: Any) -> None:
    admin = member(Component.CIVILIAN, role=Role.ADMINISTRATOR)
    target = member()
    token, _secret = accounts_services.create_token(target.actor, name="x", membership=target.membership,
                                                    scope=TokenScope.READ)
    accounts_services.deactivate_account(admin.actor, target.user, "suspended")
    with pytest.raises(Invalid):
        accounts_services.deactivate_account(admin.actor, target.user, "again")
    page = admin_client(admin).post(reverse("core:account-reactivate", args=[target.user.pk]),
                                    {"reason": "back"})
    assert page.status_code == 302
    target.user.refresh_from_db()
    assert target.user.is_active
    assert sign_in(Client(), target.user).status_code == 302
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
    assert LedgerEntry.objects.filter(action="account.reactivated", object_id=str(target.user.pk)).exists()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_deactivation_closes_the_live_connection(settings: Any) -> None:
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

    @database_sync_to_async
    def setup() -> tuple[Actor, User, str]:
        admin = make_member(Component.CIVILIAN, role=Role.ADMINISTRATOR)
        target = make_member(Component.MILITARY)
        browser = Client()
        browser.force_login(target.user)
        return admin.actor, target.user, browser.cookies[django_settings.SESSION_COOKIE_NAME].value

    admin, target, session_key = await setup()
    headers = [(b"host", b"testserver"), (b"origin", b"http://testserver"),
               (b"cookie", f"{django_settings.SESSION_COOKIE_NAME}={session_key}".encode())]
    ws = WebsocketCommunicator(application, "/ws/events/", headers=headers)
    try:
        connected, _ = await ws.connect(timeout=5)
        assert connected
        await database_sync_to_async(accounts_services.deactivate_account)(admin, target, "left")
        assert await ws.receive_output(timeout=5) == {"type": "websocket.close", "code": events.CLOSE_UNAUTHENTICATED}
    finally:
        await ws.disconnect()
    assert not await database_sync_to_async(Session.objects.filter(session_key=session_key).exists)()

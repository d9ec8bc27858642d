"""Personal API tokens: issued in the UI, stored hashed, bound to one membership, revocable."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from civmil.core import services
from civmil.core.accounts import services as accounts_services
from civmil.core.choices import Component, Role
from civmil.core.errors import Invalid, NotFound
from civmil.core.models import ApiToken, LedgerEntry, TokenScope
from tests.factories import Member, make_org

ME = "/api/v1/me"
LIAISON = "/api/v1/liaison-log"


def bearer(secret: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def issue(m: Member, scope: str = TokenScope.READ, **extra: Any) -> tuple[ApiToken, str]:
    return accounts_services.create_token(m.actor, name="script", membership=m.membership, scope=scope, **extra)


# ---------------------------------------------------------------------------------------------
# The pages


def test_a_token_is_created_in_the_ui_shown_once_listed_and_revoked(member: Any, client: Client) -> None:
    m = member(Component.HUMANITARIAN)
    client.force_login(m.user)
    page = client.get(reverse("core:token-new"))
    assert page.status_code == 200
    response = client.post(reverse("core:token-new"), {
        "name": "weekly report", "membership": str(m.membership.pk), "scope": TokenScope.READ_WRITE})
    assert response.status_code == 200
    html = response.content.decode()
    secret = re.search(r'value="(civmil_[A-Za-z0-9_-]+)"', html)
    assert secret is not None
    assert response["Cache-Control"].startswith("max-age=0") or "no-store" in response["Cache-Control"]

    token = ApiToken.objects.get(user=m.user)
    assert token.name == "weekly report" and token.scope == TokenScope.READ_WRITE
    listing = client.get(reverse("core:tokens")).content.decode()
    assert "weekly report" in listing and token.prefix in listing
    assert secret.group(1) not in listing  # shown once: never again
    script = Client()  # a script: no session cookie, only the token
    assert script.get(ME, **bearer(secret.group(1))).status_code == 200

    confirm = client.get(reverse("core:token-revoke", args=[token.pk]))
    assert confirm.status_code == 200
    done = client.post(reverse("core:token-revoke", args=[token.pk]))
    assert done.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert script.get(ME, **bearer(secret.group(1))).status_code == 401
    actions = list(LedgerEntry.objects.filter(object_id=str(token.pk)).values_list("action", flat=True))
    assert actions == ["api_token.created", "api_token.revoked"]


def test_the_form_offers_only_ones_own_current_memberships(member: Any, client: Client) -> None:
    m = member(Component.CIVILIAN)
    other = member(Component.MILITARY)
    client.force_login(m.user)
    response = client.post(reverse("core:token-new"), {
        "name": "x", "membership": str(other.membership.pk), "scope": TokenScope.READ})
    assert response.status_code == 422
    assert not ApiToken.objects.exists()
    assert "Select a valid choice" in response.content.decode()


def test_a_past_expiry_is_refused_with_a_message(member: Any, client: Client) -> None:
    m = member()
    client.force_login(m.user)
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    response = client.post(reverse("core:token-new"), {
        "name": "x", "membership": str(m.membership.pk), "scope": TokenScope.READ, "expires_on": yesterday})
    assert response.status_code == 422
    assert "later day" in response.content.decode()


@pytest.mark.parametrize("far", ["9999-12-31", "2100-01-01"])
def test_an_expiry_beyond_five_years_is_refused_with_a_message(member: Any, client: Client, far: str) -> None:
    m = member()
    client.force_login(m.user)
    response = client.post(reverse("core:token-new"), {
        "name": "x", "membership": str(m.membership.pk), "scope": TokenScope.READ, "expires_on": far})
    assert response.status_code == 422
    assert "at most 5 years ahead" in response.content.decode()
    assert not ApiToken.objects.exists()
    in_four_years = timezone.localdate() + dt.timedelta(days=4 * 365)
    response = client.post(reverse("core:token-new"), {
        "name": "x", "membership": str(m.membership.pk), "scope": TokenScope.READ, "expires_on": in_four_years})
    assert response.status_code == 200 and ApiToken.objects.count() == 1


def test_someone_elses_token_cannot_be_revoked_from_the_pages(member: Any, client: Client) -> None:
    owner, intruder = member(), member()
    token, _secret = issue(owner)
    client.force_login(intruder.user)
    assert client.post(reverse("core:token-revoke", args=[token.pk])).status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None
    with pytest.raises(NotFound):
        accounts_services.revoke_token(intruder.actor, token)


# ---------------------------------------------------------------------------------------------
# Storage


def test_only_a_digest_is_stored_never_the_secret(member: Any) -> None:
    m = member()
    token, secret = issue(m)
    assert secret.startswith("civmil_") and len(secret) > 40
    assert token.prefix == secret[:len(token.prefix)] and len(token.prefix) < 20
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM core_apitoken")
        rows = cursor.fetchall()
        cursor.execute("SELECT data FROM core_ledgerchange")
        ledger_rows = cursor.fetchall()
    assert rows and all(secret not in str(value) for row in rows for value in row)
    assert all(secret not in str(row) for row in ledger_rows)
    assert token.digest == accounts_services.token_digest(secret)


# ---------------------------------------------------------------------------------------------
# The API


def test_a_bearer_token_reads_the_api_as_its_membership(member: Any, client: Client) -> None:
    m = member(Component.POLICE)
    token, secret = issue(m)
    response = client.get(ME, **bearer(secret))
    assert response.status_code == 200
    assert response.json()["acting_membership"]["id"] == str(m.membership.pk)
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_last_used_is_written_at_most_every_few_minutes(member: Any, client: Client) -> None:
    m = member()
    token, secret = issue(m)
    client.get(ME, **bearer(secret))
    token.refresh_from_db()
    first = token.last_used_at
    client.get(ME, **bearer(secret))
    token.refresh_from_db()
    assert token.last_used_at == first
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now() - dt.timedelta(minutes=10))
    client.get(ME, **bearer(secret))
    token.refresh_from_db()
    assert token.last_used_at is not None and token.last_used_at > timezone.now() - dt.timedelta(minutes=1)


def test_a_read_token_may_not_write(member: Any, client: Client) -> None:
    m = member(Component.CIVILIAN)
    _token, secret = issue(m, TokenScope.READ)
    response = client.post(LIAISON, data={}, content_type="application/json", **bearer(secret))
    assert response.status_code == 403
    assert "only read" in response.json()["detail"]


def test_a_read_write_token_passes_authentication_for_writes_without_csrf(member: Any, client: Client) -> None:
    m = member(Component.CIVILIAN)
    _token, secret = issue(m, TokenScope.READ_WRITE)
    response = client.post(LIAISON, data={}, content_type="application/json", **bearer(secret))
    # Past authentication and CSRF: the body is what is wrong now.
    assert response.status_code == 422


@pytest.mark.parametrize("secret", ["", "civmil_nope", "not-even-ours", "civmil_" + "x" * 300])
def test_unknown_tokens_answer_401(member: Any, client: Client, secret: str) -> None:
    member()
    response = client.get(ME, HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 401
    assert response.json()["detail"]


def test_revoked_expired_and_ended_membership_tokens_answer_401(member: Any, client: Client) -> None:
    m = member()
    revoked, revoked_secret = issue(m)
    accounts_services.revoke_token(m.actor, revoked)
    expired, expired_secret = issue(m, expires_at=timezone.now() + dt.timedelta(hours=1))
    ApiToken.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    _live, live_secret = issue(m)
    assert client.get(ME, **bearer(live_secret)).status_code == 200
    for secret in (revoked_secret, expired_secret):
        assert client.get(ME, **bearer(secret)).status_code == 401
    services.end_membership(None, m.membership, on=timezone.localdate() - dt.timedelta(days=1))
    response = client.get(ME, **bearer(live_secret))
    assert response.status_code == 401
    assert "membership" in response.json()["detail"]


def test_a_token_acts_as_its_membership_not_the_persons_other_one(member: Any, client: Client) -> None:
    m = member(Component.MILITARY, role=Role.MILITARY_STAFF)
    ngo = make_org(Component.HUMANITARIAN)
    second = services.add_membership(None, person=m.person, organisation=ngo, role=Role.NGO_STAFF)
    _token, secret = accounts_services.create_token(m.actor, name="ngo", membership=second, scope=TokenScope.READ)
    body = Client().get(ME, **bearer(secret)).json()
    assert body["component"] == Component.HUMANITARIAN
    assert body["acting_membership"]["id"] == str(second.pk)
    # The same person's session acts as the first membership: the token is not affected by it.
    client.force_login(m.user)
    assert client.get(ME).json()["component"] == Component.MILITARY


def test_a_token_cannot_be_issued_for_someone_elses_membership(member: Any) -> None:
    m, other = member(), member()
    with pytest.raises(Invalid) as caught:
        accounts_services.create_token(m.actor, name="x", membership=other.membership, scope=TokenScope.READ)
    assert "membership" in caught.value.errors


def test_bad_scope_and_empty_name_are_refused_field_by_field(member: Any) -> None:
    m = member()
    with pytest.raises(Invalid) as caught:
        accounts_services.create_token(m.actor, name=" ", membership=m.membership, scope="admin")
    assert set(caught.value.errors) == {"name", "scope"}


# ---------------------------------------------------------------------------------------------
# A second factor, as the pages require it




def _with_totp(user: Any) -> None:
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    TOTP.activate(user, generate_totp_secret())


def _without_totp(user: Any) -> None:
    from allauth.mfa.models import Authenticator

    Authenticator.objects.filter(user=user).delete()


@pytest.mark.parametrize("role", [Role.ADMINISTRATOR, Role.LEADERSHIP, Role.OVERSIGHT])
def test_a_privileged_accounts_token_stops_working_while_its_second_factor_is_missing(
        mfa_on: None, member: Any, role: str) -> None:
    m = member(Component.CIVILIAN, role=role)
    _with_totp(m.user)
    _read, read_secret = issue(m, TokenScope.READ)
    _rw, rw_secret = issue(m, TokenScope.READ_WRITE)
    script = Client()
    assert script.get(ME, **bearer(read_secret)).status_code == 200
    _without_totp(m.user)  # the factor is removed: the tokens stop, as the pages do
    for secret in (read_secret, rw_secret):
        for method, url in (("get", ME), ("get", LIAISON), ("post", LIAISON)):
            response = getattr(script, method)(url, data={}, content_type="application/json", **bearer(secret))
            assert response.status_code == 403, (method, url, response.content)
            assert "second factor" in response.json()["detail"]
            assert reverse("mfa_activate_totp") in response.json()["detail"]
    _with_totp(m.user)  # set up again: the same tokens work again
    assert script.get(ME, **bearer(read_secret)).status_code == 200


def test_an_unprivileged_accounts_token_needs_no_second_factor(mfa_on: None, member: Any) -> None:
    m = member(Component.HUMANITARIAN, role=Role.NGO_STAFF)
    _token, secret = issue(m)
    assert Client().get(ME, **bearer(secret)).status_code == 200


# ---------------------------------------------------------------------------------------------
# A bearer token is judged by the token alone, whatever cookies ride along


def test_a_bearer_write_with_a_session_cookie_is_not_refused_for_csrf(member: Any) -> None:
    m = member(Component.CIVILIAN)
    _token, secret = issue(m, TokenScope.READ_WRITE)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(member(Component.MILITARY).user)  # any session, here someone else's
    response = browser.post(LIAISON, data={}, content_type="application/json", **bearer(secret))
    assert response.status_code == 422  # past authentication and CSRF: the body is what is wrong
    stale = Client(enforce_csrf_checks=True)
    stale.cookies[django_settings.SESSION_COOKIE_NAME] = "no-such-session"
    assert stale.post(LIAISON, data={}, content_type="application/json", **bearer(secret)).status_code == 422
    # Without a token, the session alone is still held to CSRF.
    assert browser.post(LIAISON, data={}, content_type="application/json").status_code == 403


def test_the_session_adds_nothing_to_a_token(member: Any) -> None:
    m = member(Component.MILITARY, role=Role.MILITARY_STAFF)
    _token, read_secret = issue(m, TokenScope.READ)
    ngo = make_org(Component.HUMANITARIAN)
    second = services.add_membership(None, person=m.person, organisation=ngo, role=Role.NGO_STAFF)
    _ngo, ngo_secret = accounts_services.create_token(m.actor, name="ngo", membership=second, scope=TokenScope.READ)
    browser = Client()
    browser.force_login(m.user)  # the same account's session, acting as the military membership
    assert browser.get(ME).json()["component"] == Component.MILITARY
    # A token that does not authenticate is refused, although the session would be accepted.
    for secret in ("civmil_unknown", ""):
        response = browser.get(ME, HTTP_AUTHORIZATION=f"Bearer {secret}".strip())
        assert response.status_code == 401, secret
    # A read token stays a read token beside a session that may write.
    refused = browser.post(LIAISON, data={}, content_type="application/json", **bearer(read_secret))
    assert refused.status_code == 403 and "only read" in refused.json()["detail"]
    # The token acts as its own membership, not as the session's.
    body = browser.get(ME, **bearer(ngo_secret)).json()
    assert body["component"] == Component.HUMANITARIAN
    assert body["acting_membership"]["id"] == str(second.pk)


def test_a_token_is_not_refused_for_the_second_factor_its_sessions_account_owes(mfa_on: None,
                                                                                member: Any) -> None:
    owing = member(Component.CIVILIAN, role=Role.ADMINISTRATOR)  # signed in, no authenticator app
    m = member(Component.HUMANITARIAN)
    _token, secret = issue(m)
    browser = Client()
    browser.force_login(owing.user)
    assert browser.get(ME).status_code == 403  # the session alone owes its second factor
    response = browser.get(ME, **bearer(secret))
    assert response.status_code == 200
    assert response.json()["acting_membership"]["id"] == str(m.membership.pk)

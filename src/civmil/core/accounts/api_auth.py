"""API authentication by personal token: ``Authorization: Bearer <secret>``.

A token acts as the one membership it was issued for, never as the person's other memberships:
the request's actor (``request.actor``, read by :func:`civmil.core.acting.actor_of`) is built from
the token. A token whose membership is no longer current, whose account is deactivated, or that
is revoked or expired answers 401; a read-only token used for a write answers 403, and so does
any token of an account whose role requires a second factor while that factor is missing (as its
pages do: :mod:`civmil.core.mfa`).

A request with a bearer token is judged by the token alone: session cookies it also carries are
ignored (the session authenticator steps aside, see :func:`civmil.core.mfa.bearer_sent`), so they
neither refuse it for CSRF nor lend it the session's rights when the token does not authenticate.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja.errors import HttpError
from ninja.security import HttpBearer

from civmil.core import mfa
from civmil.core.accounts import services as accounts_services
from civmil.core.acting import Actor
from civmil.core.models import ApiToken, Membership, TokenScope

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class TokenRefused(HttpError):
    """A bearer token was sent but does not authenticate (401) or may not do this (403)."""


def resolve_token(secret: str) -> ApiToken | None:
    """The usable token with this secret (live, account active, membership current), or ``None``."""
    secret = secret.strip()
    if not secret.startswith(accounts_services.TOKEN_PREFIX) or len(secret) > 200:
        return None
    token = (ApiToken.objects.select_related("user", "membership__organisation", "membership__person")
             .filter(digest=accounts_services.token_digest(secret)).first())
    if token is None or not token.is_usable() or not token.user.is_active:
        return None
    if not Membership.objects.current().filter(pk=token.membership_id).exists():
        return None
    if token.membership.person.user_id != token.user_id:
        return None
    return token


class TokenAuth(HttpBearer):
    """Personal API tokens (``Authorization: Bearer civmil_...``)."""

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        found = resolve_token(token)
        if found is None:
            raise TokenRefused(401, _(
                "This API token is not valid: it is unknown, revoked or expired, its account is deactivated, "
                "or the membership it acts as has ended. Create a new token at /core/tokens/."))
        if mfa.owes_second_factor(found.user_id):
            raise TokenRefused(403, mfa.api_refusal())
        if found.scope != TokenScope.READ_WRITE and request.method not in READ_METHODS:
            raise TokenRefused(403, _("This token may only read. Create a read-and-write token to make changes."))
        accounts_services.note_token_used(found)
        membership = found.membership
        request.actor = Actor(  # type: ignore[attr-defined]
            user_id=found.user_id, person=membership.person, membership=membership)
        request.user = found.user
        request.api_token = found  # type: ignore[attr-defined]
        return found.user

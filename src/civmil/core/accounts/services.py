"""Account services: deactivating and reactivating accounts, personal API tokens.

Like every service module, each write runs in a transaction and appends to the ledger. A
token's secret is returned once by :func:`create_token` and never stored (only its SHA-256).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from typing import TYPE_CHECKING, Any

from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from civmil.core import access, events, ledger
from civmil.core.access import Shown
from civmil.core.choices import Role
from civmil.core.errors import Forbidden, Invalid, NotFound, required_reason
from civmil.core.models import ApiToken, Membership, Person, TokenScope, User

if TYPE_CHECKING:
    from civmil.core.acting import Actor

logger = logging.getLogger(__name__)

#: Every token secret starts with this, so leaked secrets are easy to recognise (and to scan for).
TOKEN_PREFIX = "civmil_"  # noqa: S105 - a public marker, not a secret
#: Characters of the secret kept in clear for display ("civmil_" and 8 more).
DISPLAY_CHARS = len(TOKEN_PREFIX) + 8
#: At most this many live (unrevoked, unexpired) tokens per account.
MAX_LIVE_TOKENS = 20
#: ``last_used_at`` is written at most this often per token (not every request).
LAST_USED_RESOLUTION = dt.timedelta(minutes=5)


def _is_administrator(actor: Actor | None) -> bool:
    return actor is None or actor.role == Role.ADMINISTRATOR  # None: the operator at the console


def token_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------------------------
# Reads


def account_for(actor: Actor, pk: Any) -> tuple[User, Shown[Person] | None]:
    """An account and its person as ``actor`` sees them (``None``: an account without a person).

    An account whose person the reader may not see raises the same :class:`NotFound` as a
    missing account: the administrators' account pages show people only through the policy.
    """
    try:
        account = User.objects.filter(pk=pk).first()
    except (TypeError, ValueError):
        account = None
    if account is None:
        raise NotFound(_("No such account."))
    person = Person.objects.filter(user_id=account.pk).first()
    if person is None:
        return account, None
    if not access.visible(actor, Person.objects.filter(pk=person.pk)).exists():
        raise NotFound(_("No such account."))
    return account, access.show(actor, person)


# ---------------------------------------------------------------------------------------------
# Deactivation


def sessions_of(user_id: int) -> list[Session]:
    """The stored (unexpired) sessions signed in as ``user_id``.

    Sessions live in the database backend, which has no index by user; an account has few, and
    a deactivation is rare, so reading every live session once is simple and cannot miss one
    (an index kept beside the sessions could drift from them). Sessions that cannot be decoded
    are skipped: they sign nobody in.
    """
    wanted = str(user_id)
    found = []
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        try:
            data = session.get_decoded()
        except Exception:  # a corrupt session signs nobody in
            logger.info("session %s could not be decoded", session.pk[:8])
            continue
        if str(data.get(SESSION_KEY, "")) == wanted:
            found.append(session)
    return found


def deactivate_account(actor: Actor | None, user: User, reason: str) -> User:
    """Stop an account: it can no longer sign in, its sessions end, its tokens are revoked and its
    live connections close. The person record and everything they wrote stay."""
    if not _is_administrator(actor):
        raise Forbidden(_("Only administrators may deactivate accounts."))
    if actor is not None and actor.user_id == user.pk:
        raise Forbidden(_("You cannot deactivate your own account; ask another administrator."))
    reason = required_reason(reason, _("Give the reason for the deactivation."))
    with transaction.atomic():
        locked = User.objects.select_for_update().filter(pk=user.pk).first()
        if locked is None:
            raise NotFound(_("No such account."))
        if not locked.is_active:
            raise Invalid(_("This account is already deactivated."))
        now = timezone.now()
        locked.is_active = False
        locked.save(update_fields=["is_active"])
        revoked = list(ApiToken.objects.filter(user=locked, revoked_at__isnull=True).values_list("pk", flat=True))
        ApiToken.objects.filter(pk__in=revoked).update(revoked_at=now)
        ended = sessions_of(locked.pk)
        Session.objects.filter(session_key__in=[s.session_key for s in ended]).delete()
        ledger.append(actor, "account.deactivated", "core.user", locked.pk, {
            "username": locked.get_username(), "reason": reason, "sessions_ended": len(ended),
            "tokens_revoked": [str(pk) for pk in revoked],
        })
        # After commit: the connections re-read their (now deleted) session and close with 4401.
        events.actor_changed(locked.pk)
    user.is_active = False
    return user


def reactivate_account(actor: Actor | None, user: User, reason: str) -> User:
    """Let a deactivated account sign in again (its revoked tokens stay revoked)."""
    if not _is_administrator(actor):
        raise Forbidden(_("Only administrators may reactivate accounts."))
    reason = required_reason(reason, _("Give the reason for the reactivation."))
    with transaction.atomic():
        locked = User.objects.select_for_update().filter(pk=user.pk).first()
        if locked is None:
            raise NotFound(_("No such account."))
        if locked.is_active:
            raise Invalid(_("This account is active."))
        locked.is_active = True
        locked.save(update_fields=["is_active"])
        ledger.append(actor, "account.reactivated", "core.user", locked.pk,
                      {"username": locked.get_username(), "reason": reason})
    user.is_active = True
    return user


# ---------------------------------------------------------------------------------------------
# Personal API tokens


def create_token(actor: Actor, *, name: str, membership: Membership | None, scope: str,
                 expires_at: dt.datetime | None = None) -> tuple[ApiToken, str]:
    """Issue a token acting as one of the actor's own current memberships.

    Returns the token and its secret. The secret is shown to the person once; only its digest
    is kept, so it cannot be shown again.
    """
    if actor.user_id is None or actor.person_id is None:
        raise Forbidden(_("Sign in with an account linked to a person to create API tokens."))
    errors: dict[str, list[str]] = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = [_("This field is required.")]
    elif len(name) > 100:
        errors["name"] = [_("Ensure this value has at most %(max_length)s characters.") % {"max_length": 100}]
    if scope not in TokenScope.values:
        errors["scope"] = [_("Choose one of: %(expected)s.") % {"expected": ", ".join(TokenScope.values)}]
    if membership is None or membership.person_id != actor.person_id or not membership.is_current():
        errors["membership"] = [_("Choose one of your current memberships.")]
    if expires_at is not None and expires_at <= timezone.now():
        errors["expires_at"] = [_("Choose a moment in the future, or leave empty for no expiry.")]
    if errors:
        raise Invalid(_("Some fields are not valid."), errors=errors)
    assert membership is not None
    with transaction.atomic():
        live = ApiToken.objects.filter(user_id=actor.user_id, revoked_at__isnull=True).exclude(
            expires_at__lte=timezone.now()).count()
        if live >= MAX_LIVE_TOKENS:
            raise Invalid(_("You have %(n)s active tokens, the most allowed; revoke one first.")
                          % {"n": MAX_LIVE_TOKENS})
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = ApiToken.objects.create(
            user_id=actor.user_id, membership=membership, name=name, scope=scope,
            prefix=secret[:DISPLAY_CHARS], digest=token_digest(secret), expires_at=expires_at,
        )
        ledger.append(actor, "api_token.created", "core.apitoken", token.pk, {
            "name": name, "scope": scope, "membership": membership.pk, "prefix": token.prefix,
            "expires_at": expires_at,
        })
    return token, secret


def revoke_token(actor: Actor | None, token: ApiToken) -> ApiToken:
    """Revoke a token at once. Its owner or an administrator may; revoking twice changes nothing."""
    if actor is not None and actor.user_id != token.user_id and actor.role != Role.ADMINISTRATOR:
        raise NotFound(_("No such token."))
    with transaction.atomic():
        locked = ApiToken.objects.select_for_update().filter(pk=token.pk).first()
        if locked is None:
            raise NotFound(_("No such token."))
        if locked.revoked_at is None:
            locked.revoked_at = timezone.now()
            locked.save(update_fields=["revoked_at"])
            ledger.append(actor, "api_token.revoked", "core.apitoken", locked.pk,
                          {"name": locked.name, "prefix": locked.prefix})
    token.revoked_at = locked.revoked_at
    return token


def note_token_used(token: ApiToken) -> None:
    """Record when a token was last used, at most every few minutes (not ledgered: a usage
    timestamp is not a change to the mission's records)."""
    now = timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < LAST_USED_RESOLUTION:
        return
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    token.last_used_at = now

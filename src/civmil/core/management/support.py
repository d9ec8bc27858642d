"""What the console commands share."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Collection

from django.core.management.base import CommandError
from django.utils.translation import gettext as _

from civmil.core.acting import Actor, actor_for_user
from civmil.core.models import Membership, User


def ask(prompt: str) -> str:
    """Read one answer without echo at a terminal, or one line from standard input otherwise."""
    if sys.stdin.isatty():
        return getpass.getpass(prompt)
    sys.stderr.write(prompt)
    return sys.stdin.readline().rstrip("\r\n")


def approver(username: str, roles: Collection[str]) -> Actor:
    """The second person who approves a console action, present at the console.

    An active account acting in one of ``roles``, whose holder types the account's password and,
    when the account has an authenticator app, a code from it (or one of its recovery codes): the
    operator alone cannot approve in someone else's name.
    """
    from allauth.mfa.models import Authenticator
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
    from allauth.mfa.totp.internal.auth import TOTP

    user = User.objects.filter(username=username, is_active=True).first()
    membership = (Membership.objects.current().filter(person__user=user, role__in=list(roles)).first()
                  if user is not None else None)
    if user is None or membership is None:
        raise CommandError(_("%(name)s is not an active account holding one of these roles: %(roles)s.")
                           % {"name": username, "roles": ", ".join(sorted(roles))})
    refused = CommandError(_("The approval of %(name)s was not confirmed: wrong password or code.")
                           % {"name": username})
    if not user.check_password(ask(_("Password of %(name)s (the approver types it): ") % {"name": username})):
        raise refused
    authenticators = {a.type: a for a in Authenticator.objects.filter(user=user)}
    if Authenticator.Type.TOTP in authenticators:
        code = ask(_("Code from the authenticator app of %(name)s (or a recovery code): ") % {"name": username})
        totp_ok = TOTP(authenticators[Authenticator.Type.TOTP]).validate_code(code.strip())
        recovery = authenticators.get(Authenticator.Type.RECOVERY_CODES)
        if not totp_ok and not (recovery is not None and RecoveryCodes(recovery).validate_code(code.strip())):
            raise refused
    return actor_for_user(user, membership.pk)

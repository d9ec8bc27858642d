"""What the console commands share."""

from __future__ import annotations

from collections.abc import Collection

from django.core.management.base import CommandError
from django.utils.translation import gettext as _

from civmil.core.actors import Actor, actor_for_user
from civmil.core.models import Membership, User


def approver(username: str, roles: Collection[str]) -> Actor:
    """The second person who approves a console action: an active account acting in one of ``roles``."""
    user = User.objects.filter(username=username, is_active=True).first()
    membership = (Membership.objects.current().filter(person__user=user, role__in=list(roles)).first()
                  if user is not None else None)
    if user is None or membership is None:
        raise CommandError(_("%(name)s is not an active account holding one of these roles: %(roles)s.")
                           % {"name": username, "roles": ", ".join(sorted(roles))})
    return actor_for_user(user, membership.pk)

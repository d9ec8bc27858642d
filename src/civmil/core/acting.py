"""Who is acting: the account, the person and the one membership used for a request."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from civmil.core.models.spaces import LIVE_SPACE_ID

if TYPE_CHECKING:
    from django.http import HttpRequest

    from civmil.core.models import Membership, Organisation, Person


#: The session key of the membership the signed-in person chose to act as.
ACTING_SESSION_KEY = "civmil.acting_membership"


@dataclass(frozen=True)
class Actor:
    """The subject of every access decision. Built once per request (or per token or socket)."""

    user_id: int | None
    person: Person | None
    membership: Membership | None
    space_id: uuid.UUID = LIVE_SPACE_ID
    #: All the person's current memberships (the ones they may switch to), when resolved from an
    #: account; empty otherwise.
    memberships: tuple[Membership, ...] = field(default=(), compare=False, repr=False)

    @property
    def is_authenticated(self) -> bool:
        return self.user_id is not None

    @property
    def organisation(self) -> Organisation | None:
        return self.membership.organisation if self.membership else None

    @property
    def organisation_id(self) -> uuid.UUID | None:
        return self.membership.organisation_id if self.membership else None

    @property
    def component(self) -> str | None:
        return str(self.membership.organisation.component) if self.membership else None

    @property
    def role(self) -> str | None:
        return str(self.membership.role) if self.membership else None

    @property
    def person_id(self) -> uuid.UUID | None:
        return self.person.pk if self.person else None

    @property
    def membership_id(self) -> uuid.UUID | None:
        return self.membership.pk if self.membership else None


ANONYMOUS = Actor(user_id=None, person=None, membership=None)


def current_memberships(user: object) -> list[Membership]:
    """The user's person's current memberships (with organisation and person), oldest first: one
    query that serves the actor, the second-factor rule and the header's switch."""
    from civmil.core.models import Membership

    if user is None or not getattr(user, "is_authenticated", False):
        return []
    return list(Membership.objects.current().filter(person__user_id=int(getattr(user, "pk")))  # noqa: B009
                .select_related("organisation", "person").order_by("created_at", "id"))


def memberships_of_request(request: Any) -> list[Membership]:
    """:func:`current_memberships` of the request's user, read once per request."""
    found: list[Membership] | None = getattr(request, "_civmil_memberships", None)
    if found is None:
        found = current_memberships(getattr(request, "user", None))
        request._civmil_memberships = found
    return found


def actor_for_user(user: object, membership_id: str | uuid.UUID | None = None,
                   space_id: uuid.UUID = LIVE_SPACE_ID, *,
                   memberships: list[Membership] | None = None) -> Actor:
    """Resolve a user (and the membership they chose to act as) into an :class:`Actor`.

    A membership that is not current, or not the user's, is ignored and the person's first
    current membership is used instead. ``memberships``: :func:`current_memberships` of the user,
    when the caller has them already.
    """
    from civmil.core.models import Person

    if user is None or not getattr(user, "is_authenticated", False):
        return Actor(user_id=None, person=None, membership=None, space_id=space_id)
    user_pk = int(getattr(user, "pk"))  # noqa: B009
    current = current_memberships(user) if memberships is None else memberships
    membership = None
    if membership_id:
        membership = next((m for m in current if str(m.pk) == str(membership_id)), None)
    if membership is None and current:
        membership = current[0]
    person = membership.person if membership is not None else Person.objects.filter(user_id=user_pk).first()
    return Actor(user_id=user_pk, person=person, membership=membership, space_id=space_id,
                 memberships=tuple(current))


def actor_of(request: HttpRequest) -> Actor:
    """The actor of a request, for pages, the API and the admin alike.

    Session requests get theirs from :class:`civmil.core.middleware.ActorMiddleware`; an
    authenticator that is not session-based (tokens) sets ``request.actor`` itself, bound to the
    one membership the token was issued for. A request neither reached is resolved from its
    session here.
    """
    actor = getattr(request, "actor", None)
    if actor is None:
        session = getattr(request, "session", None)
        actor = actor_for_user(request.user, session.get(ACTING_SESSION_KEY) if session is not None else None)
    return cast(Actor, actor)

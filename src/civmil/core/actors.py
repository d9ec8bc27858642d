"""Who is acting: the account, the person and the one membership used for a request."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from civmil.core.models.spaces import LIVE_SPACE_ID

if TYPE_CHECKING:
    from civmil.core.models import Membership, Organisation, Person


@dataclass(frozen=True)
class Actor:
    """The subject of every access decision. Built once per request (or per token or socket)."""

    user_id: int | None
    person: Person | None
    membership: Membership | None
    space_id: uuid.UUID = LIVE_SPACE_ID

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


def actor_for_user(user: object, membership_id: str | uuid.UUID | None = None,
                   space_id: uuid.UUID = LIVE_SPACE_ID) -> Actor:
    """Resolve a user (and the membership they chose to act as) into an :class:`Actor`.

    A membership that is not current, or not the user's, is ignored and the person's first
    current membership is used instead.
    """
    from civmil.core.models import Membership, Person

    if user is None or not getattr(user, "is_authenticated", False):
        return Actor(user_id=None, person=None, membership=None, space_id=space_id)
    user_pk = int(getattr(user, "pk"))  # noqa: B009
    person = Person.objects.filter(user_id=user_pk).first()
    membership = None
    if person is not None:
        current = Membership.objects.current().filter(person=person).select_related("organisation")
        if membership_id:
            try:
                membership = current.filter(pk=membership_id).first()
            except (ValueError, TypeError):
                membership = None
        if membership is None:
            membership = current.order_by("created_at", "id").first()
    return Actor(user_id=user_pk, person=person, membership=membership, space_id=space_id)

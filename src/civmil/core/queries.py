"""Reads of the kernel's own records: people and their memberships and accounts.

Like every app's ``queries`` module, this is where views, the API, the admin, consumers,
template tags, forms and commands read protected records: every read passes the access policy
(:func:`civmil.core.access.visible` for sets, :func:`civmil.core.access.fetch` for one record).
``tests/test_architecture.py`` fails when one of them reads a protected model's manager itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.db import models
from django.db.models import Q

from civmil.core import access
from civmil.core.models import Membership, Person, SavedFilter, User

if TYPE_CHECKING:
    from civmil.core.acting import Actor



def visible_records(actor: Actor, model: type[models.Model], **lookups: Any) -> models.QuerySet[Any]:
    """The records of a registered protected ``model`` that ``actor`` may know exist, filtered by
    ``lookups`` (for generic code: the admin, exports, cross-cutting features)."""
    return access.visible(actor, model._default_manager.filter(**lookups))


def person(actor: Actor, pk: Any) -> access.Shown[Person]:
    """One person as ``actor`` sees them; hidden and missing people both raise NotFound."""
    return access.fetch(actor, Person, pk, derived=True)


def people(actor: Actor, q: str = "", organisation: Any = None, role: str = "",
           *, with_account: bool | None = None) -> models.QuerySet[Person]:
    """The people ``actor`` may know exist. ``q`` matches only what every view of a person shows
    (name and title), never contact details."""
    qs = access.visible(actor, Person.objects.select_related("owner"))  # every view shows the owner
    if q:
        qs = qs.filter(Q(full_name__icontains=q) | Q(title__icontains=q))
    if organisation:
        qs = qs.filter(memberships__organisation=organisation).distinct()
    if role:
        qs = qs.filter(memberships__role=role).distinct()
    if with_account is not None:
        qs = qs.filter(user__isnull=not with_account)
    return qs.order_by("full_name")


def person_of_account(actor: Actor, user: User | int) -> access.Shown[Person] | None:
    """The person behind an account as ``actor`` sees them, or None when the account has no
    person or the reader may not know the person exists."""
    user_id = user if isinstance(user, int) else user.pk
    found = access.visible(actor, Person.objects.filter(user_id=user_id)).first()
    if found is None:
        return None
    shown = access.show(actor, found)
    return shown if shown.view else None


def visible_accounts(actor: Actor) -> models.QuerySet[User]:
    """Accounts of people the reader may know exist, and accounts with no person at all."""
    people_ids = access.visible(actor, Person.objects.filter(user__isnull=False)).values("user_id")
    return User.objects.filter(Q(pk__in=people_ids) | Q(person__isnull=True))


def memberships(actor: Actor, *, person_ids: Iterable[Any] | None = None,
                organisation: Any = None) -> models.QuerySet[Membership]:
    """Memberships of people ``actor`` may know exist."""
    visible_people = access.visible(actor, Person.objects.all()).values("pk")
    qs = Membership.objects.filter(person__in=visible_people).select_related("person", "organisation")
    if person_ids is not None:
        qs = qs.filter(person_id__in=list(person_ids))
    if organisation is not None:
        qs = qs.filter(organisation=organisation)
    return qs


def saved_filters(actor: Actor, record_type_key: str) -> models.QuerySet[SavedFilter]:
    """The actor's own saved filters of a type's list, by name (no one else's, ever)."""
    if actor.person_id is None:
        return SavedFilter.objects.none()
    return SavedFilter.objects.filter(person_id=actor.person_id, record_type=record_type_key).order_by("name")

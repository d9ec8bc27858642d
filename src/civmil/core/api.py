"""Kernel part of the REST API: who is signed in (``/me``), and helpers every app's ``api.py`` uses.

The directory endpoints (organisations, people, memberships) live in ``civmil.actors.api``
because their queries live in ``civmil.actors.queries`` and the kernel imports no domain app.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from django.http import HttpRequest
from ninja import Router

from civmil.core import access
from civmil.core.acting import actor_of as actor_of
from civmil.core.models import Membership
from civmil.core.schemas import ERROR_RESPONSES, MeOut, PageQuery, membership_out, organisation_ref, person_out

if TYPE_CHECKING:
    from django.db.models import QuerySet

T = TypeVar("T")

router = Router(tags=["me"])



def page_of(qs: QuerySet[Any] | Sequence[T], page: PageQuery) -> tuple[list[Any], int]:
    """One page of a query result and the total count (of what the reader may see: the query filtered)."""
    if isinstance(qs, Sequence):
        return list(qs[page.offset:page.offset + page.limit]), len(qs)
    return list(qs[page.offset:page.offset + page.limit]), qs.count()


@router.get("/me", response={200: MeOut, **ERROR_RESPONSES}, url_name="me", exclude_unset=True,
            summary="The signed-in actor")
def me(request: HttpRequest) -> dict[str, Any]:
    """Your account, your person record, and the membership you act as (which decides what you see)."""
    actor = actor_of(request)
    person = actor.person
    memberships = (
        list(Membership.objects.current().filter(person=person).select_related("person", "organisation")
             .order_by("created_at", "id"))
        if person is not None else []
    )
    acting = actor.membership
    # Your own record too is shown as the membership you act as sees it: acting for a community
    # group, a person whose record is at MISSION level does not see it (``person`` is then null).
    shown = access.show(actor, person) if person is not None else None
    return {
        "username": request.user.get_username(),
        "person": person_out(shown, memberships) if shown is not None and shown.view else None,
        "acting_membership": membership_out(acting) if acting is not None else None,
        "organisation": organisation_ref(acting.organisation) if acting is not None else None,
        "component": actor.component,
        "role": actor.role,
        "memberships": [membership_out(m) for m in memberships],
        "levels": access.levels_for(actor),
    }

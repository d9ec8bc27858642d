from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from civmil.core.models import Membership


def civmil(request: HttpRequest) -> dict[str, Any]:
    """Acting membership and the memberships a person may switch to, for the header."""
    actor = getattr(request, "actor", None)
    if actor is None or not actor.is_authenticated:
        return {"actor": actor, "switchable_memberships": []}
    memberships = (
        list(Membership.objects.current().filter(person_id=actor.person_id).select_related("organisation"))
        if actor.person_id
        else []
    )
    return {"actor": actor, "switchable_memberships": memberships}

from __future__ import annotations

from typing import Any

from django.http import HttpRequest


def civmil(request: HttpRequest) -> dict[str, Any]:
    """Acting membership and the memberships a person may switch to, for the header."""
    actor = getattr(request, "actor", None)
    if actor is None or not actor.is_authenticated:
        return {"actor": actor, "switchable_memberships": []}
    # The person's current memberships, as the actor was resolved with them (one query per request).
    memberships = sorted(actor.memberships, key=lambda m: (m.organisation.name, str(m.pk)))
    return {"actor": actor, "switchable_memberships": memberships}

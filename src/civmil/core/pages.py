"""What the HTML views of every app share: the acting actor, the one 404, the status of a form
with errors, and pages rendered in the mission's time zone."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import TYPE_CHECKING, Any, NoReturn

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

if TYPE_CHECKING:
    from civmil.core.actors import Actor

#: Status of a form re-rendered with validation errors.
FORM_ERROR_STATUS = 422


def actor_of(request: HttpRequest) -> Actor:
    return request.actor  # type: ignore[attr-defined,no-any-return]


def not_found() -> NoReturn:
    """A hidden record and a missing one answer the same: the one 404 page, with no detail."""
    raise Http404()


def mission_tz(actor: Actor) -> dt.tzinfo:
    """The mission's time zone, in which forms read and pages show times."""
    from civmil.core.services import mission_settings

    try:
        return zoneinfo.ZoneInfo(mission_settings(actor.space_id).time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def render_page(request: HttpRequest, template: str, context: dict[str, Any], *, status: int = 200) -> HttpResponse:
    """Render with times shown in the mission's time zone."""
    tz = mission_tz(actor_of(request))
    with timezone.override(tz):
        return render(request, template, {"mission_tz": tz, **context}, status=status)

"""HTML views of the comms app (threads and notifications; search and attachments beside them)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NoReturn

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from civmil.core.services import mission_settings

if TYPE_CHECKING:
    from civmil.core.actors import Actor

#: Status of a form re-rendered with validation errors.
FORM_ERROR_STATUS = 422


def actor_of(request: HttpRequest) -> Actor:
    return request.actor  # type: ignore[attr-defined,no-any-return]


def not_found() -> NoReturn:
    """A hidden record and a missing one answer the same: the one 404 page, with no detail."""
    raise Http404()


def render_page(request: HttpRequest, template: str, context: dict[str, Any], *, status: int = 200) -> HttpResponse:
    """Render with times shown in the mission's time zone."""
    import zoneinfo

    try:
        tz = zoneinfo.ZoneInfo(mission_settings(actor_of(request).space_id).time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        tz = zoneinfo.ZoneInfo("UTC")
    with timezone.override(tz):
        return render(request, template, {"mission_tz": tz, **context}, status=status)

"""What the HTML views of every app share: the acting actor, the one 404, the status of a form
with errors, and pages rendered in the mission's time zone."""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import get_script_prefix, reverse
from django.utils import timezone

from civmil.core.acting import actor_of as actor_of
from civmil.core.zones import mission_zone

if TYPE_CHECKING:
    from civmil.core.acting import Actor

#: Status of a form re-rendered with validation errors.
FORM_ERROR_STATUS = 422



def is_uuid(value: object) -> bool:
    """Is ``value`` (a form value, a URL part, a ledger entry's object id...) a UUID's text?"""
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True

_PLACEHOLDER = "00000000-0000-4000-8000-00000000c1f1"


@functools.lru_cache(maxsize=512)
def _around_pk(name: str, prefix: str) -> tuple[str, str]:
    head, found, tail = reverse(name, args=[_PLACEHOLDER]).partition(_PLACEHOLDER)
    if not found:
        raise ValueError(f"the URL {name!r} does not end its path with the record's id")
    return head, tail


def record_url(name: str, pk: uuid.UUID | str) -> str:
    """``reverse(name, args=[pk])`` for a URL whose one argument is a record's UUID, without
    resolving the pattern again for every row of a list (a page of 50 entries named 300 URLs)."""
    head, tail = _around_pk(name, get_script_prefix())
    return f"{head}{uuid.UUID(str(pk))}{tail}"


def record_urls(name: str) -> Callable[[Any], str]:
    """:func:`record_url` of URL ``name`` for many records: resolved once, then each record's URL
    is its id put in place (a map layer names two URLs for each of a thousand features)."""
    head, tail = _around_pk(name, get_script_prefix())
    return lambda pk: f"{head}{pk}{tail}"


def not_found() -> NoReturn:
    """A hidden record and a missing one answer the same: the one 404 page, with no detail."""
    raise Http404()


def mission_tz(actor: Actor) -> dt.tzinfo:
    """The mission's time zone, in which forms read and pages show times."""
    from civmil.core.services import mission_settings

    settings = mission_settings(actor.space_id)
    return mission_zone(settings.time_zone, settings.time_zone_label)


def render_page(request: HttpRequest, template: str, context: dict[str, Any], *, status: int = 200) -> HttpResponse:
    """Render with times shown in the mission's time zone."""
    tz = mission_tz(actor_of(request))
    with timezone.override(tz):
        return render(request, template, {"mission_tz": tz, **context}, status=status)

"""The accepted date window: the one rule every form, API call and import applies to dates.

A mission setting says how far back and how far ahead a date may be (``MissionSettings.earliest_year``
and ``years_ahead``): from 1 January of the earliest year to 31 December of the year that many
years after this one (in the mission's time zone). Anything outside is refused beside its field
with one message that names the window, e.g. "Give a date between 1 January 1990 and 31 December
2036." A date-time is judged by its date in the mission's time zone. A value Python cannot even
convert to that zone (year 1 with a positive offset, year 9999 with a negative one) is outside
the window, never an error page.

- :func:`accepted_window` -> ``(earliest, latest)`` dates of a space.
- :func:`out_of_window` -> the message when a value is outside, else ``None``.
- :func:`check_in_window` raises :class:`~civmil.core.errors.Invalid` naming the field.
- :func:`window_errors` checks several fields at once: ``{field: [message]}``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.utils import formats, timezone
from django.utils.translation import gettext as _

from civmil.core.errors import Invalid
from civmil.core.zones import mission_zone

#: The window of a mission that has not set its own (``MissionSettings``' defaults).
DEFAULT_EARLIEST_YEAR = 1990
DEFAULT_YEARS_AHEAD = 10


def _window_in_zone(space_id: Any) -> tuple[tuple[dt.date, dt.date], dt.tzinfo]:
    from civmil.core.services import mission_settings

    settings = mission_settings(space_id)
    zone = mission_zone(settings.time_zone)
    this_year = timezone.now().astimezone(zone).year
    last_year = min(this_year + settings.years_ahead, dt.MAXYEAR)
    return (dt.date(settings.earliest_year, 1, 1), dt.date(last_year, 12, 31)), zone


def accepted_window(space_id: Any) -> tuple[dt.date, dt.date]:
    """The first and the last date a space accepts (both included)."""
    return _window_in_zone(space_id)[0]


def window_message(window: tuple[dt.date, dt.date]) -> str:
    """"Give a date between 1 January 1990 and 31 December 2036." in the reader's language."""
    earliest, latest = window
    return _("Give a date between %(earliest)s and %(latest)s.") % {
        "earliest": formats.date_format(earliest, "DATE_FORMAT"),
        "latest": formats.date_format(latest, "DATE_FORMAT"),
    }


def local_date(value: dt.date | dt.datetime, zone: dt.tzinfo) -> dt.date | None:
    """The date of ``value`` in ``zone`` (a plain date is itself); ``None`` when it cannot be converted."""
    if not isinstance(value, dt.datetime):
        return value
    if timezone.is_naive(value):
        return value.date()
    try:
        return value.astimezone(zone).date()
    except (OverflowError, ValueError):
        return None


def _outside(value: dt.date | dt.datetime, window: tuple[dt.date, dt.date], zone: dt.tzinfo) -> bool:
    day = local_date(value, zone)
    return day is None or not window[0] <= day <= window[1]


def out_of_window(value: dt.date | dt.datetime | None, space_id: Any) -> str | None:
    """The message naming the window when ``value`` is outside it; ``None`` when inside (or empty)."""
    if value is None:
        return None
    window, zone = _window_in_zone(space_id)
    return window_message(window) if _outside(value, window, zone) else None


def window_errors(values: Mapping[str, dt.date | dt.datetime | None], space_id: Any) -> dict[str, list[str]]:
    """``{field: [message]}`` for each of ``values`` outside the window (``{}`` when all are inside)."""
    given = {name: value for name, value in values.items() if value is not None}
    if not given:
        return {}
    window, zone = _window_in_zone(space_id)
    message = window_message(window)
    return {name: [message] for name, value in given.items() if _outside(value, window, zone)}


def check_in_window(value: dt.date | dt.datetime | None, space_id: Any, field: str) -> None:
    """Raise :class:`Invalid` (422) with the window's message on ``field`` when ``value`` is outside."""
    errors = window_errors({field: value}, space_id)
    if errors:
        raise Invalid(errors[field][0], errors=errors)

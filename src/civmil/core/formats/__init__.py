"""Dates, times and numbers as the reader's language writes them.

The per-language tables are ``civmil/core/formats/<language>/formats.py`` (``FORMAT_MODULE_PATH``); what
they leave out is Django's format for that language. The functions here use the active language:
pages run in the reader's language, e-mails activate the recipient's.

- :func:`mission_datetime` — a stored (UTC) time in the mission's zone, with the zone shown:
  ``1 May 2024, 14:05 EAT`` in English, ``1 mai 2024 14:05 EAT`` in French.
- :func:`decimal_number` and :func:`megabytes` — ``11.0`` / ``11,0``; :func:`grouped` — ``20,000`` / ``20 000``.

Machine-readable values (``<time datetime>``, CSV exports, the API) stay ISO 8601 and are not made here.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import dateformat
from django.utils.formats import get_format, number_format

UTC = dt.UTC

#: Which format of the language each ``part`` uses, and whether the zone follows it.
_PARTS: dict[str, tuple[str, bool]] = {
    "datetime": ("DATETIME_FORMAT", True),
    "date": ("DATE_FORMAT", False),
    "time": ("TIME_FORMAT", True),
}


def mission_datetime(value: Any, zone: dt.tzinfo, part: str = "datetime") -> str:
    """``value`` as the reader's language writes it, in ``zone`` and followed by the zone's abbreviation.

    ``part`` is ``"datetime"`` (default), ``"date"`` or ``"time"``. Naive date-times are taken as UTC
    (storage is UTC); a plain date is written as a date; ``None`` or '' gives ''.
    """
    if value is None or value == "":
        return ""
    name, with_zone = _PARTS.get(str(part), _PARTS["datetime"])
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        fmt = str(get_format(name))
        return dateformat.format(value.astimezone(zone), f"{fmt} T" if with_zone else fmt)
    if isinstance(value, dt.date):
        return dateformat.format(value, str(get_format("DATE_FORMAT")))
    return str(value)


def decimal_number(value: float, places: int = 1) -> str:
    """A number with ``places`` decimals and the language's decimal mark: ``2.5`` / ``2,5``."""
    return str(number_format(value, places))


def megabytes(size_in_bytes: int) -> str:
    """A size in megabytes with one decimal, as the language writes it: ``11.0`` / ``11,0``."""
    return decimal_number(size_in_bytes / (1024 * 1024), 1)


def grouped(value: int) -> str:
    """A whole number with the language's thousands separator: ``20,000`` / ``20 000``."""
    return str(number_format(value, 0, force_grouping=True))

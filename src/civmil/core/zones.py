"""The mission's time zone as pages name it.

Times are stored in UTC and shown in the mission's zone, followed by the zone's name. The IANA
abbreviations do not always help: ``Etc/GMT-2`` is abbreviated ``+02`` and its own name reads as
UTC-2 to anyone, though it means UTC+2. So a time is followed by the label the mission settings
choose (``MissionSettings.time_zone_label``, e.g. "EAT" or "Juba time"), else by the zone's
abbreviation when it is a word people use ("CAT", "EAT", "UTC"), else by its offset ("UTC+2",
"UTC+5:30").

:class:`MissionZone` is a :class:`datetime.tzinfo` that keeps the zone's rules and gives that
label as its name, so every way of writing a time (``mission_time``, the record kernel's cells,
e-mails) shows it without knowing about it.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any


def offset_label(offset: dt.timedelta | None) -> str:
    """``UTC``, ``UTC+2``, ``UTC-3``, ``UTC+5:30`` for an offset from UTC."""
    if not offset:
        return "UTC"
    minutes = round(offset.total_seconds() / 60)
    sign = "+" if minutes > 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


class MissionZone(dt.tzinfo):
    """An IANA zone whose name (``tzname``, the ``T`` of a date format) is the mission's label."""

    def __init__(self, key: str, label: str = "") -> None:
        self.zone = zoneinfo.ZoneInfo(key)
        self.key = key
        self.label = label.strip()

    def utcoffset(self, moment: dt.datetime | None) -> dt.timedelta | None:
        return self.zone.utcoffset(moment.replace(tzinfo=self.zone) if moment is not None else None)

    def dst(self, moment: dt.datetime | None) -> dt.timedelta | None:
        return self.zone.dst(moment.replace(tzinfo=self.zone) if moment is not None else None)

    def tzname(self, moment: dt.datetime | None) -> str:
        if self.label:
            return self.label
        local = moment.replace(tzinfo=self.zone) if moment is not None else dt.datetime.now(self.zone)
        abbreviation = self.zone.tzname(local) or ""
        return abbreviation if abbreviation.isalpha() else offset_label(self.zone.utcoffset(local))

    def fromutc(self, moment: dt.datetime) -> dt.datetime:
        return self.zone.fromutc(moment.replace(tzinfo=self.zone)).replace(tzinfo=self)

    def describe(self, moment: dt.datetime | None = None) -> str:
        """The zone for a "times are shown in …" note: its label and offset now, and its IANA name
        when that is a place (``CAT, UTC+2, Africa/Juba``), never an ``Etc/`` name."""
        moment = moment or dt.datetime.now(dt.UTC)
        local = moment.astimezone(self.zone)
        parts = [self.tzname(local), offset_label(self.zone.utcoffset(local))]
        if "/" in self.key and not self.key.startswith("Etc/"):
            parts.append(self.key)
        return ", ".join(dict.fromkeys(parts))

    def __str__(self) -> str:
        return self.describe()

    def __repr__(self) -> str:
        return f"MissionZone({self.key!r}, {self.label!r})"

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, MissionZone) and (self.key, self.label) == (other.key, other.label)

    def __hash__(self) -> int:
        return hash((self.key, self.label))


def mission_zone(time_zone: str, label: str = "") -> dt.tzinfo:
    """The zone of mission settings (UTC when the name is unknown)."""
    try:
        return MissionZone(time_zone or "UTC", label)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return MissionZone("UTC", label)

"""Spaces (the live mission or one exercise) and the mission-settings record."""

from __future__ import annotations

import uuid
import zoneinfo

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from civmil.core.choices import SpaceKind
from civmil.core.dates import DEFAULT_EARLIEST_YEAR, DEFAULT_YEARS_AHEAD

LIVE_SPACE_ID = uuid.UUID("00000000-0000-4000-8000-000000000001")


class Space(models.Model):
    """Every protected record, ledger entry and event belongs to exactly one space."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(_("kind"), max_length=16, choices=SpaceKind.choices)
    name = models.CharField(_("name"), max_length=200)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("space")
        verbose_name_plural = _("spaces")

    def __str__(self) -> str:
        return self.name

    @classmethod
    def live(cls) -> Space:
        """The live mission space (created by the first migration)."""
        space, _created = cls.objects.get_or_create(
            id=LIVE_SPACE_ID, defaults={"kind": SpaceKind.LIVE, "name": "Live mission"}
        )
        return space


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("Unknown time zone: %(tz)s"), params={"tz": value})


def validate_projection(value: str) -> None:
    if value == "auto":
        return
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        crs = CRS.from_user_input(value)
    except CRSError as exc:
        raise ValidationError(_("Not a projection pyproj understands: %(p)s"), params={"p": value}) from exc
    if not crs.is_projected:
        raise ValidationError(_("The projection must be metric (projected), not geographic."))


class MissionSettings(models.Model):
    """One record per space, edited by administrators; every change is ledgered."""

    space = models.OneToOneField(Space, on_delete=models.PROTECT, primary_key=True, related_name="settings")
    mission_name = models.CharField(_("mission name"), max_length=200, default="Mission")
    mission_acronym = models.CharField(_("mission acronym"), max_length=32, blank=True)
    time_zone = models.CharField(_("time zone"), max_length=64, default="UTC", validators=[validate_time_zone])
    time_zone_label = models.CharField(
        _("time zone label"), max_length=24, blank=True,
        help_text=_("How pages name the zone after a time, e.g. EAT or Juba time. Empty: the zone's usual "
                    "abbreviation, or its offset such as UTC+2."),
    )
    projection = models.CharField(
        _("metric projection"),
        max_length=64,
        default="auto",
        validators=[validate_projection],
        help_text=_("'auto' picks the UTM zone of the mission area; or an EPSG code such as EPSG:32634."),
    )
    map_center_lat = models.FloatField(_("map centre latitude"), default=0.0)
    map_center_lon = models.FloatField(_("map centre longitude"), default=0.0)
    map_zoom = models.PositiveSmallIntegerField(_("map zoom"), default=6)
    earliest_year = models.PositiveSmallIntegerField(
        _("earliest year accepted in dates"), default=DEFAULT_EARLIEST_YEAR,
        validators=[MinValueValidator(1900), MaxValueValidator(2100)],
        help_text=_("Dates before 1 January of this year are refused in every form, API call and import."),
    )
    years_ahead = models.PositiveSmallIntegerField(
        _("years ahead accepted in dates"), default=DEFAULT_YEARS_AHEAD,
        validators=[MinValueValidator(1), MaxValueValidator(50)],
        help_text=_("Dates more than this many years after today are refused in every form, API call and import."),
    )
    session_idle_minutes = models.PositiveIntegerField(
        _("idle sign-out (minutes)"), default=60, validators=[MinValueValidator(5), MaxValueValidator(24 * 60)],
        help_text=_("A session with no request for this long is signed out."),
    )
    session_max_hours = models.PositiveIntegerField(
        _("longest session (hours)"), default=12, validators=[MinValueValidator(1), MaxValueValidator(14 * 24)],
        help_text=_("A session ends this long after sign-in, however active."),
    )
    version = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = _("mission settings")
        verbose_name_plural = _("mission settings")

    def __str__(self) -> str:
        return str(self.mission_name)

"""Bases of records with a place and records with a period (abstract: no tables of their own).

:class:`Placed` keeps a GeoJSON geometry in WGS84 and its bounding box in four float columns,
which :meth:`Placed.save` and :meth:`Placed.clean` recompute from the geometry, so a box never
disagrees with its geometry. :class:`Period` keeps a start and an end (an instant has both
equal), indexed, the end never before the start.

A concrete model that declares its own ``Meta`` keeps these bases' constraints by naming them:
``constraints = [*Placed.Meta.constraints, *Period.Meta.constraints, ...]``. Finding records by
box and time window, and their spatial index, are in :mod:`civmil.core.spatial`.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any, ClassVar

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from civmil.core.errors import Invalid
from civmil.core.geometry import GEOMETRY_TYPES, Geometry, parse

BOX_FIELDS = ("west", "south", "east", "north")


class Placed(models.Model):
    """A record with a place: a GeoJSON geometry (WGS84) and its bounding box.

    ``GEOMETRY_TYPES`` limits the types a model accepts (every type by default), and
    ``MAX_VERTICES`` the vertices of one geometry (``CIVMIL_MAX_VERTICES`` when None). The geometry
    is optional; without one the box columns are null.
    """

    GEOMETRY_TYPES: ClassVar[tuple[str, ...]] = GEOMETRY_TYPES
    MAX_VERTICES: ClassVar[int | None] = None

    geometry = models.JSONField(_("place (GeoJSON, WGS84)"), null=True, blank=True)
    west = models.FloatField(_("west"), null=True, blank=True, editable=False)
    south = models.FloatField(_("south"), null=True, blank=True, editable=False)
    east = models.FloatField(_("east"), null=True, blank=True, editable=False)
    north = models.FloatField(_("north"), null=True, blank=True, editable=False)

    class Meta:
        abstract = True
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(west__isnull=True, south__isnull=True, east__isnull=True, north__isnull=True)
                           | models.Q(west__gte=-180, east__lte=180, south__gte=-90, north__lte=90,
                                      west__lte=models.F("east"), south__lte=models.F("north"))),
                name="%(app_label)s_%(class)s_box_in_range",
            ),
        ]

    def save(self, *args: Any, **kwargs: Any) -> None:
        checked = getattr(self, "_checked_geometry", None)
        if checked is None or self.geometry != checked:  # not what set_geometry checked (and boxed) last
            self.set_geometry(self.geometry)
        update_fields: Iterable[str] | None = kwargs.get("update_fields")
        if update_fields is not None and "geometry" in update_fields:
            kwargs["update_fields"] = {*update_fields, *BOX_FIELDS}
        super().save(*args, **kwargs)

    def set_geometry(self, value: Any) -> Geometry | None:
        """Validate ``value`` (GeoJSON dict or text, a parsed :class:`~civmil.core.geometry.Geometry`,
        or None to clear) and store it with its box."""
        if value is None or value == "":
            self.geometry = None
            self.west = self.south = self.east = self.north = None
            return None
        parsed = value if isinstance(value, Geometry) else parse(value, allowed=self.GEOMETRY_TYPES,
                                                                 limit=self.MAX_VERTICES)
        if parsed.type not in self.GEOMETRY_TYPES:
            raise Invalid(gettext("Geometry type %(t)s is not accepted here (accepted: %(ok)s).")
                          % {"t": parsed.type, "ok": ", ".join(self.GEOMETRY_TYPES)})
        self.geometry = parsed.geojson
        self._checked_geometry = copy.deepcopy(parsed.geojson)
        box = parsed.bounds
        self.west, self.south, self.east, self.north = box.west, box.south, box.east, box.north
        return parsed

    def clean(self) -> None:
        super().clean()
        try:
            self.set_geometry(self.geometry)
        except Invalid as exc:
            raise ValidationError({"geometry": [exc.message]}) from exc


class Period(models.Model):
    """A record with a period: when it starts and ends (an instant starts and ends at once)."""

    starts_at = models.DateTimeField(_("starts"), db_index=True)
    ends_at = models.DateTimeField(_("ends"), db_index=True)

    class Meta:
        abstract = True
        constraints = [
            models.CheckConstraint(condition=models.Q(ends_at__gte=models.F("starts_at")),
                                   name="%(app_label)s_%(class)s_period_ordered"),
        ]

    def save(self, *args: Any, **kwargs: Any) -> None:
        self._check_period()
        super().save(*args, **kwargs)

    def _check_period(self) -> None:
        if self.starts_at is not None and self.ends_at is None:
            self.ends_at = self.starts_at
        if self.starts_at is not None and self.ends_at is not None and self.ends_at < self.starts_at:
            message = gettext("The end is before the start.")
            raise Invalid(message, errors={"ends_at": [message]})

    def clean(self) -> None:
        super().clean()
        try:
            self._check_period()
        except Invalid as exc:
            raise ValidationError({"ends_at": [exc.message]}) from exc

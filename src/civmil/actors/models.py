"""Directory models beyond the kernel: areas, liaison assignments, the liaison log."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _

from civmil.actors.choices import AreaKind, AssignmentStatus, ContactChannel
from civmil.core import geo
from civmil.core.models import Organisation, Person, Placed, ProtectedRecord


class Area(Placed):
    """An administrative area (with its P-code) or an area of responsibility. Reference data.

    Its boundary is core's place (:class:`~civmil.core.models.Placed`): a Polygon or MultiPolygon,
    always given, with its box in ``west``/``south``/``east``/``north`` and the spatial index.
    """

    GEOMETRY_TYPES = ("Polygon", "MultiPolygon")
    #: Administrative boundaries are detailed (a record's place has ``CIVMIL_MAX_VERTICES``).
    MAX_VERTICES = geo.MAX_VERTICES
    #: Found by box and by point through the spatial index (civmil.core.spatial).
    spatial_index = True

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(_("kind"), max_length=8, choices=AreaKind.choices, default=AreaKind.ADMINISTRATIVE)
    name = models.CharField(_("name"), max_length=200)
    name_alt = models.CharField(_("alternative name"), max_length=200, blank=True)
    pcode = models.CharField(_("P-code"), max_length=32, unique=True, null=True, blank=True)
    admin_level = models.PositiveSmallIntegerField(_("admin level"), null=True, blank=True)
    parent = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="children",
                               verbose_name=_("parent area"))
    responsible = models.ForeignKey(Organisation, on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="areas_of_responsibility",
                                    verbose_name=_("responsible organisation"))
    geometry = models.JSONField(_("geometry (GeoJSON, WGS84)"))
    source = models.CharField(_("source"), max_length=200, blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["admin_level", "name"]
        verbose_name = _("area")
        verbose_name_plural = _("areas")
        constraints = [*Placed.Meta.constraints]

    def __str__(self) -> str:
        return f"{self.name} ({self.pcode})" if self.pcode else str(self.name)


class LiaisonAssignment(ProtectedRecord):
    """A liaison officer from organisation A to organisation B, or embedded in a community.

    The officer's own organisation (one of their current memberships) assigns them: an
    assignment recorded by another organisation is ``PENDING`` until a member of the officer's
    organisation confirms or refuses it (``decided_by``, ``decided_at``, ``decision_reason``),
    and only a ``CONFIRMED`` one says who liaises with whom.
    """

    officer = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="liaison_assignments",
                                verbose_name=_("liaison officer"))
    from_organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="liaisons_sent",
                                          verbose_name=_("from organisation"))
    to_organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, null=True, blank=True,
                                        related_name="liaisons_received", verbose_name=_("to organisation"))
    community = models.CharField(_("community"), max_length=200, blank=True)
    area = models.ForeignKey(Area, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                             verbose_name=_("area"))
    latitude = models.FloatField(_("latitude"), null=True, blank=True)
    longitude = models.FloatField(_("longitude"), null=True, blank=True)
    starts_on = models.DateField(_("starts on"))
    ends_on = models.DateField(_("ends on"), null=True, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    status = models.CharField(_("status"), max_length=16, choices=AssignmentStatus.choices,
                              default=AssignmentStatus.CONFIRMED, db_index=True)
    decided_by = models.ForeignKey(Person, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                   verbose_name=_("confirmed or refused by"))
    decided_at = models.DateTimeField(_("confirmed or refused at"), null=True, blank=True)
    decision_reason = models.TextField(_("reason given"), blank=True, max_length=2000)

    class Meta:
        ordering = ["-starts_on"]
        verbose_name = _("liaison assignment")
        verbose_name_plural = _("liaison assignments")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(to_organisation__isnull=False) | ~models.Q(community=""),
                name="liaison_assignment_has_counterpart",
            ),
            models.CheckConstraint(
                condition=models.Q(ends_on__isnull=True) | models.Q(ends_on__gte=models.F("starts_on")),
                name="liaison_assignment_period_ordered",
            ),
        ]

    @property
    def counts(self) -> bool:
        """Whether the assignment says who liaises with whom (its officer's organisation agreed)."""
        return bool(self.status == AssignmentStatus.CONFIRMED)

    def __str__(self) -> str:
        target = self.to_organisation.label if self.to_organisation else self.community
        return f"{self.officer.full_name}: {self.from_organisation.label} → {target}"


class LiaisonLogEntry(ProtectedRecord, Placed):
    """One contact between organisations, recorded by a CIMIC or CMCoord officer.

    Its place (:class:`~civmil.core.models.Placed`) is a point: a contact happens somewhere, and a
    point keeps the log's MGRS column, its CSV's latitude and longitude, and its map exact. Routes
    and areas belong to the record types that are about them (movements, activities, areas).
    """

    GEOMETRY_TYPES = ("Point",)
    #: Found by place and time through the spatial index (civmil.core.spatial): an entry is of an
    #: instant, when the contact occurred.
    spatial_index = True
    spatial_time = ("occurred_at",)

    occurred_at = models.DateTimeField(_("when"), db_index=True)
    channel = models.CharField(_("channel"), max_length=16, choices=ContactChannel.choices)
    organisations = models.ManyToManyField(Organisation, related_name="liaison_log_entries",
                                           verbose_name=_("organisations"))
    people = models.ManyToManyField(Person, related_name="liaison_log_entries", blank=True,
                                    verbose_name=_("people"))
    summary = models.TextField(_("summary"), max_length=10_000)
    follow_ups = models.TextField(_("follow-ups"), blank=True, max_length=10_000)
    geometry = models.JSONField(_("location"), null=True, blank=True)
    place_name = models.CharField(_("place"), max_length=200, blank=True)

    class Meta:
        ordering = ["-occurred_at"]
        verbose_name = _("liaison log entry")
        verbose_name_plural = _("liaison log entries")
        constraints = [*Placed.Meta.constraints]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.occurred_at:%Y-%m-%d %H:%M}"

    @property
    def point(self) -> tuple[float, float] | None:
        """``(latitude, longitude)`` of the entry's place, or None."""
        return point_of(self.geometry)


def point_of(geometry: object) -> tuple[float, float] | None:
    """``(latitude, longitude)`` of a stored GeoJSON Point, or None for anything else."""
    if not isinstance(geometry, dict) or geometry.get("type") != "Point":
        return None
    coordinates = geometry.get("coordinates")
    if not isinstance(coordinates, list) or len(coordinates) < 2:
        return None
    return float(coordinates[1]), float(coordinates[0])

"""The base of every protected record, and the kernel's releases and grants."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils.translation import gettext_lazy as _

from civmil.core.choices import Component, Level


class ProtectedRecord(models.Model):
    """Abstract base: a record with a space, an owning organisation and a releasability level.

    Never read these models directly outside ``queries.py``: go through
    :mod:`civmil.core.access`, which returns the view the reader may have.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    space = models.ForeignKey("core.Space", on_delete=models.PROTECT, related_name="+",
                              verbose_name=_("space"))
    owner = models.ForeignKey("core.Organisation", on_delete=models.PROTECT, related_name="+",
                              verbose_name=_("owning organisation"))
    level = models.CharField(_("releasability"), max_length=16, choices=Level.choices, db_index=True)
    created_by = models.ForeignKey("core.Person", on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+", verbose_name=_("submitted by"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    version = models.PositiveIntegerField(_("version"), default=1)

    class Meta:
        abstract = True

    #: The fields a record's audience follows (:func:`civmil.core.access.audience_keys`).
    AUDIENCE_FIELDS = ("space_id", "level", "owner_id", "created_by_id")

    @classmethod
    def from_db(cls, db: str | None, field_names: Any, values: Any) -> Any:
        obj: Any = super().from_db(db, field_names, values)
        if all(name in obj.__dict__ for name in cls.AUDIENCE_FIELDS):
            # What the stored audience was written from: a save that changes none of it keeps it.
            obj._audience_basis = obj.audience_basis()
        return obj

    def audience_basis(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.AUDIENCE_FIELDS)


class Release(models.Model):
    """An owner's act of releasing one record to an organisation, a component or a person.

    ``fields`` is ``None`` for the full view, or the list of declared field names released.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    object_id = models.UUIDField(db_index=True)
    target_organisation = models.ForeignKey("core.Organisation", on_delete=models.PROTECT, null=True,
                                            blank=True, related_name="+",
                                            verbose_name=_("released to organisation"))
    target_component = models.CharField(_("released to component"), max_length=16,
                                        choices=Component.choices, blank=True)
    target_person = models.ForeignKey("core.Person", on_delete=models.PROTECT, null=True, blank=True,
                                      related_name="+", verbose_name=_("released to person"))
    fields = models.JSONField(_("released fields"), null=True, blank=True)
    released_by = models.ForeignKey("core.Person", on_delete=models.PROTECT, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("release")
        verbose_name_plural = _("releases")
        indexes = [models.Index(fields=["content_type", "object_id"])]
        constraints = [
            models.CheckConstraint(
                name="release_has_one_target",
                condition=(
                    models.Q(target_organisation__isnull=False, target_component="", target_person__isnull=True)
                    | models.Q(target_organisation__isnull=True, target_person__isnull=True)
                    & ~models.Q(target_component="")
                    | models.Q(target_organisation__isnull=True, target_component="",
                               target_person__isnull=False)
                ),
            )
        ]

    def __str__(self) -> str:
        return str(self.target_label)

    @property
    def target_label(self) -> str:
        if self.target_organisation_id:
            return str(self.target_organisation)
        if self.target_person_id:
            return str(self.target_person)
        return str(Component(self.target_component).label)


class Grant(models.Model):
    """Access to one record for one person, for a purpose. Revocable; the holder may recuse."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    object_id = models.UUIDField(db_index=True)
    person = models.ForeignKey("core.Person", on_delete=models.PROTECT, related_name="grants")
    purpose = models.CharField(_("purpose"), max_length=300)
    granted_by = models.ForeignKey("core.Person", on_delete=models.PROTECT, null=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    recused_at = models.DateTimeField(null=True, blank=True)
    recusal_reason = models.CharField(_("recusal reason"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("grant")
        verbose_name_plural = _("grants")
        indexes = [models.Index(fields=["content_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.person} — {self.purpose}"

    @property
    def active(self) -> bool:
        return self.revoked_at is None and self.recused_at is None


class Audience(models.Model):
    """One audience key of one protected record: who may know the record exists.

    Each record has one row per key that opens it (:func:`civmil.core.access.audience_keys`):
    its level, and, below OVERSIGHT, its owner, its submitter, each active release target and
    each active grantee; an OVERSIGHT record only its grantees (opened to them in the oversight
    role alone). The services write these rows in the same transaction as the record, its
    releases and its grants. :func:`civmil.core.access.visible` is then an indexed semi-join on
    the reader's few keys (:func:`civmil.core.access.reader_keys`), and a count is a sum of
    index ranges, whatever the size of the table.

    ``space`` and ``level`` repeat the record's, so that counts never read the record table.
    """

    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+", db_index=False)
    object_id = models.UUIDField()
    space = models.ForeignKey("core.Space", on_delete=models.PROTECT, related_name="+", db_index=False,
                              db_constraint=False)
    key = models.CharField(max_length=48)
    level = models.CharField(max_length=16, choices=Level.choices)

    class Meta:
        verbose_name = _("audience key")
        verbose_name_plural = _("audience keys")
        constraints = [
            # Also the index of the per-row probe (a record, the reader's keys, the reader's space) and
            # of rewrites. The space comes last: it only confirms what the record's id decides.
            models.UniqueConstraint(fields=["content_type", "object_id", "key", "space"], name="audience_one_key"),
        ]
        indexes = [
            # Covering index for counts and for lists driven by the reader's keys.
            models.Index(fields=["content_type", "space", "key", "level", "object_id"], name="audience_by_key"),
        ]

    def __str__(self) -> str:
        return f"{self.key} → {self.object_id}"


class AudienceCount(models.Model):
    """How many records of one type, in one space, are at one level: the level part of a count
    (:meth:`civmil.core.access.VisibleQuerySet.count`) without reading a row per record. Kept
    with the audience rows, in the same transaction."""

    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+", db_index=False)
    space = models.ForeignKey("core.Space", on_delete=models.PROTECT, related_name="+", db_index=False,
                              db_constraint=False)
    level = models.CharField(max_length=16, choices=Level.choices)
    records = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("audience count")
        verbose_name_plural = _("audience counts")
        constraints = [
            models.UniqueConstraint(fields=["content_type", "space", "level"], name="audience_count_one_level"),
        ]

    def __str__(self) -> str:
        return f"{self.level}: {self.records}"

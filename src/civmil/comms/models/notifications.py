"""The notification centre: notifications, per-person preferences, and the daily-digest log.

A notification stores ids only (who, what kind, which record, who acted). Its text is rendered
when it is read, through the access policy, so a recipient who can no longer see the record
reads "a record you can no longer see" and gets no link.
"""

from __future__ import annotations

import uuid

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils.translation import gettext_lazy as _


class NotificationKind(models.TextChoices):
    """What happened. Later issues add kinds here (and a default in ``DEFAULT_PREFERENCES``)."""

    MENTION = "mention", _("You were mentioned in a discussion")


class NotificationChannel(models.TextChoices):
    IN_APP = "in_app", _("In the application")
    EMAIL = "email", _("E-mail at once")
    DIGEST = "digest", _("Daily digest e-mail")


#: (kind, channel) -> enabled, when the person has not chosen.
DEFAULT_PREFERENCES: dict[tuple[str, str], bool] = {
    (NotificationKind.MENTION, NotificationChannel.IN_APP): True,
    (NotificationKind.MENTION, NotificationChannel.EMAIL): True,
    (NotificationKind.MENTION, NotificationChannel.DIGEST): False,
}


class Notification(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    space = models.ForeignKey("core.Space", on_delete=models.PROTECT, related_name="+", verbose_name=_("space"))
    recipient = models.ForeignKey("core.Person", on_delete=models.PROTECT, related_name="notifications",
                                  verbose_name=_("recipient"))
    kind = models.CharField(_("kind"), max_length=32, choices=NotificationKind.choices)
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    object_id = models.UUIDField(db_index=True)
    actor = models.ForeignKey("core.Person", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                              verbose_name=_("by"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    digested_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["recipient", "read_at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.pk}"


class NotificationPreference(models.Model):
    """A person's choice for one kind on one channel (absent: :data:`DEFAULT_PREFERENCES`)."""

    person = models.ForeignKey("core.Person", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(_("kind"), max_length=32, choices=NotificationKind.choices)
    channel = models.CharField(_("channel"), max_length=16, choices=NotificationChannel.choices)
    enabled = models.BooleanField(_("enabled"), default=True)

    class Meta:
        verbose_name = _("notification preference")
        verbose_name_plural = _("notification preferences")
        constraints = [
            models.UniqueConstraint(fields=["person", "kind", "channel"], name="comms_one_preference"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}/{self.channel}={self.enabled}"


class DigestSent(models.Model):
    """One row per person and day a digest went out: what makes the digest idempotent per day."""

    person = models.ForeignKey("core.Person", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    sent_at = models.DateTimeField(auto_now_add=True)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["person", "day"], name="comms_one_digest_per_day")]

    def __str__(self) -> str:
        return f"{self.person_id} {self.day}"

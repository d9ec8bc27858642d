"""The outbox of live events (DESIGN.md, "Live events").

A service stores an event here in its own transaction; after commit it is pushed to the
space's channel-layer group. Event ids follow commit order (see :mod:`civmil.core.events`), so a
client that resumes "after id N" misses nothing. An event holds ids and its kind only, never
protected content: what a subscriber sees is rendered from the record, through the access
policy, when the event is delivered.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class OutboxEvent(models.Model):
    """One domain event (``liaison.recorded``, ``report.created``...) about one protected record."""

    #: The id clients resume from ("after id N"). Assigned under the ledger's lock: commit order.
    id = models.BigAutoField(primary_key=True)
    space_id = models.UUIDField(_("space"))
    kind = models.CharField(_("kind"), max_length=64)
    #: The record type's registry key (``actors.liaisonlogentry``): the stream it belongs to.
    object_type = models.CharField(_("object type"), max_length=100)
    object_id = models.CharField(_("object id"), max_length=64)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    #: Ids and flags for server-side use only; never delivered to browsers, never content.
    payload = models.JSONField(_("payload"), default=dict, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("live event")
        verbose_name_plural = _("live events")
        indexes = [
            models.Index(fields=["space_id", "object_type", "id"], name="core_outbox_stream_idx"),
            models.Index(fields=["created_at"], name="core_outbox_created_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.id} {self.kind} {self.object_type}:{self.object_id}"


class OutboxHorizon(models.Model):
    """How far pruning has removed old events (one row): a resume point below it gets ``reload``."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    #: Every event with an id up to this one was pruned (0: none ever was).
    pruned_through = models.BigIntegerField(_("pruned through event"), default=0)
    pruned_at = models.DateTimeField(_("pruned"), null=True, blank=True)

    class Meta:
        verbose_name = _("live events horizon")
        verbose_name_plural = _("live events horizon")

    def __str__(self) -> str:
        return f"events pruned through #{self.pruned_through}"


class LiveRelay(models.Model):
    """A channel-layer message on its way from one server process to the others (no Redis).

    Kept about a minute (civmil.core.events.relay); it says only which group or connection to
    wake, never content.
    """

    id = models.BigAutoField(primary_key=True)
    #: The process that wrote it (it does not read its own).
    origin = models.CharField(_("origin"), max_length=40)
    group = models.CharField(_("group"), max_length=100, blank=True)
    channel = models.CharField(_("channel"), max_length=120, blank=True)
    message = models.JSONField(_("message"), default=dict)
    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("live relay message")
        verbose_name_plural = _("live relay messages")

    def __str__(self) -> str:
        return f"#{self.id} {self.group or self.channel}"

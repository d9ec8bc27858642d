"""Discussion threads on any registered record (``RecordType.threads``).

A thread has no access rules of its own: it has the record's. Every read and write first asks
:mod:`civmil.core.access` for the reader's view of the record (see ``comms/queries/threads.py``).
"""

from __future__ import annotations

import uuid

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils.translation import gettext_lazy as _

#: Longest message body accepted, in characters.
MESSAGE_MAX_LENGTH = 10_000


class Thread(models.Model):
    """The one discussion of one record."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    space = models.ForeignKey("core.Space", on_delete=models.PROTECT, related_name="+", verbose_name=_("space"))
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    object_id = models.UUIDField(db_index=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("thread")
        verbose_name_plural = _("threads")
        constraints = [
            models.UniqueConstraint(fields=["content_type", "object_id"], name="comms_one_thread_per_record"),
        ]

    def __str__(self) -> str:
        return f"{self.content_type.app_label}.{self.content_type.model} {self.object_id}"


class Message(models.Model):
    """One message of a thread. ``body`` is the author's Markdown, stored as written and sanitised
    when rendered; ``mentioned`` are the people it notified."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    thread = models.ForeignKey(Thread, on_delete=models.PROTECT, related_name="messages")
    author = models.ForeignKey("core.Person", on_delete=models.PROTECT, related_name="+", verbose_name=_("author"))
    body = models.TextField(_("message"), max_length=MESSAGE_MAX_LENGTH)
    mentioned = models.ManyToManyField("core.Person", related_name="+", blank=True, verbose_name=_("mentioned"))
    created_at = models.DateTimeField(_("posted"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return str(self.pk)

"""Files attached to protected records (types registered with ``attachments=True``)."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _


class Attachment(models.Model):
    """One uploaded file. The bytes live in the default storage as ``attachments/<random name>`` and
    are only ever sent by the access-checked download view, never from a media URL.

    When the ledger change that recorded the upload is erased, the file is deleted and the row
    stays as the trace of the erasure: ``erased_at`` is set and the name, type, size and hash are
    blanked (see :func:`civmil.comms.services.attachments.purge_erased`).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    space = models.ForeignKey("core.Space", on_delete=models.PROTECT, related_name="+", verbose_name=_("space"))
    #: Registry key of the record's type (``app_label.model_name``) and its id.
    object_type = models.CharField(_("object type"), max_length=64)
    object_id = models.UUIDField(_("object id"))
    filename = models.CharField(_("file name"), max_length=200)
    media_type = models.CharField(_("media type"), max_length=64)
    size = models.PositiveBigIntegerField(_("size in bytes"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    #: Random name of the stored file inside the attachments directory (no extension, no user text).
    storage_name = models.CharField(max_length=64, unique=True, editable=False)
    uploaded_by = models.ForeignKey("core.Person", on_delete=models.PROTECT, related_name="+",
                                    verbose_name=_("uploaded by"))
    created_at = models.DateTimeField(_("uploaded"), auto_now_add=True)
    #: When the file was erased with the ledger change that recorded its upload (``None``: not erased).
    erased_at = models.DateTimeField(_("erased"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["object_type", "object_id"], name="attachment_object")]

    def __str__(self) -> str:
        return str(_("Erased file")) if self.erased_at is not None else self.filename

    @property
    def is_erased(self) -> bool:
        return self.erased_at is not None

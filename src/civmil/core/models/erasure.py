"""Requests to erase a person's personal data (DESIGN.md, "Ledger": erasure with a second approver)."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _


class ErasureRequest(models.Model):
    """One administrator's request to erase a person's personal data, waiting for a second approver.

    ``person`` stays linked after the erasure: the record remains, with its personal fields blanked.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    person = models.ForeignKey("core.Person", on_delete=models.PROTECT, related_name="erasure_requests",
                               verbose_name=_("person"))
    reason = models.TextField(_("reason"), max_length=500)
    requested_by = models.ForeignKey("core.User", on_delete=models.PROTECT, null=True, blank=True,
                                     related_name="+", verbose_name=_("requested by"))
    requested_at = models.DateTimeField(_("requested at"))
    approved_by = models.ForeignKey("core.User", on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="+", verbose_name=_("approved by"))
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    refused_at = models.DateTimeField(_("refused at"), null=True, blank=True)
    carried_out_at = models.DateTimeField(_("carried out at"), null=True, blank=True)

    class Meta:
        ordering = ["-requested_at"]
        verbose_name = _("erasure request")
        verbose_name_plural = _("erasure requests")

    def __str__(self) -> str:
        return f"erasure request {self.pk}"

    @property
    def is_pending(self) -> bool:
        return self.approved_at is None and self.refused_at is None

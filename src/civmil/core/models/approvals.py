"""Changes one administrator asks for and a second one decides (DESIGN.md: no single administrator
widens a view). Memberships wait as a status of their own record; a change of an account's
e-mail address waits here, because the address is where invitations and password resets go."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _


class EmailChangeRequest(models.Model):
    """A new e-mail address for an account, applied only once a second administrator approves it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey("core.User", on_delete=models.PROTECT, related_name="email_change_requests",
                             verbose_name=_("account"))
    new_email = models.EmailField(_("new e-mail"))
    requested_by = models.ForeignKey("core.User", on_delete=models.PROTECT, related_name="+",
                                     verbose_name=_("requested by"))
    requested_at = models.DateTimeField(_("requested at"))
    decided_by = models.ForeignKey("core.User", on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+", verbose_name=_("decided by"))
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    approved = models.BooleanField(_("approved"), null=True, blank=True)

    class Meta:
        ordering = ["-requested_at"]
        verbose_name = _("e-mail change request")
        verbose_name_plural = _("e-mail change requests")

    def __str__(self) -> str:
        return f"e-mail change request {self.pk}"

    @property
    def is_pending(self) -> bool:
        return self.decided_at is None

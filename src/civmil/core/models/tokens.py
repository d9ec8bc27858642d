"""Personal API tokens: a secret that acts as one membership of one person, for scripts and tools.

Only a SHA-256 digest of the secret is stored. The secret is 32 random bytes (256 bits) from the
operating system's generator, so a slow password hash (Argon2, PBKDF2) would add nothing: slow
hashes protect *guessable* secrets from brute force, and 2**256 candidates cannot be searched
however fast each try is. A fast digest also lets every API request look its token up by index.
"""

from __future__ import annotations

import datetime as dt
import uuid

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from civmil.core.models.identity import Membership, User


class TokenScope(models.TextChoices):
    READ = "read", _("Read only")
    READ_WRITE = "read_write", _("Read and write")


class ApiToken(models.Model):
    """A personal API token, bound to ONE membership: it sees and does what that membership may."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens", verbose_name=_("account"))
    membership = models.ForeignKey(Membership, on_delete=models.PROTECT, related_name="api_tokens",
                                   verbose_name=_("acts as"))
    name = models.CharField(_("name"), max_length=100)
    scope = models.CharField(_("scope"), max_length=16, choices=TokenScope.choices, default=TokenScope.READ)
    prefix = models.CharField(_("token prefix"), max_length=16, editable=False)
    digest = models.CharField(_("SHA-256 of the secret"), max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def is_usable(self, now: dt.datetime | None = None) -> bool:
        moment = now or timezone.now()
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > moment)

    @property
    def status(self) -> str:
        if self.revoked_at is not None:
            return str(_("revoked"))
        if self.expires_at is not None and self.expires_at <= timezone.now():
            return str(_("expired"))
        return str(_("active"))

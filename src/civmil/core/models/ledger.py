"""Ledger tables. Append-only: database triggers refuse UPDATE and DELETE (see migrations)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class LedgerEntry(models.Model):
    """One write done by a service. Holds hashes only, never the content itself."""

    seq = models.BigIntegerField(primary_key=True)
    recorded_at = models.DateTimeField()
    space_id = models.UUIDField(null=True)
    actor_user_id = models.BigIntegerField(null=True)
    actor_membership_id = models.UUIDField(null=True)
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=100)
    object_id = models.CharField(max_length=64)
    change_hash = models.CharField(max_length=64)
    prev_hash = models.CharField(max_length=64)
    entry_hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["seq"]
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.object_type}:{self.object_id}"


class LedgerChange(models.Model):
    """The change an entry hashes, stored beside it. Only erasure (nulling ``data``) may alter it."""

    entry = models.OneToOneField(LedgerEntry, on_delete=models.PROTECT, primary_key=True,
                                 related_name="change", db_column="seq")
    data = models.JSONField(null=True)
    erased_by_seq = models.BigIntegerField(null=True)

    class Meta:
        verbose_name = _("ledger change")

    def __str__(self) -> str:
        return f"change of entry #{self.entry_id}"


class Checkpoint(models.Model):
    """A signed statement of the ledger's Merkle tree size and root."""

    id = models.BigAutoField(primary_key=True)
    tree_size = models.BigIntegerField()
    root = models.CharField(max_length=64)
    signed_at = models.DateTimeField()
    public_key = models.CharField(max_length=64)
    signature = models.CharField(max_length=128)

    class Meta:
        ordering = ["tree_size", "id"]
        verbose_name = _("ledger checkpoint")
        verbose_name_plural = _("ledger checkpoints")

    def __str__(self) -> str:
        return f"checkpoint {self.tree_size} {self.root[:12]}"

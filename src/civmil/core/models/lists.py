"""What a person keeps of the record lists: their saved filters."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class SavedFilter(models.Model):
    """A person's named set of filters of one type's list (the list's query string, order
    included, page left out), applied by opening the list with it. Private to the person."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    person = models.ForeignKey("core.Person", on_delete=models.CASCADE, related_name="+", verbose_name=_("person"))
    #: The record type's key (``actors.liaisonlogentry``).
    record_type = models.CharField(_("record type"), max_length=100)
    name = models.CharField(_("name"), max_length=100)
    query = models.CharField(_("filters"), max_length=2000, blank=True)
    created_at = models.DateTimeField(_("saved"), default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = _("saved filter")
        verbose_name_plural = _("saved filters")
        constraints = [
            models.UniqueConstraint(fields=["person", "record_type", "name"], name="core_one_saved_filter_name"),
        ]

    def __str__(self) -> str:
        return str(self.name)

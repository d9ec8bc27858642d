"""The full-text search index: one row per (object type, object id, field).

Rows are keyed per field so that a result can be shown only through the fields the reader's view
shows: a snippet is cut from one field's text and is dropped when that field is withheld. The
full-text structure on top of this table depends on the database (see :mod:`civmil.comms.search`):
an FTS5 external-content table on SQLite, a GIN index over ``to_tsvector('simple', terms)`` on
PostgreSQL. Both are created by migration ``0002_search_attachments``.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class SearchDocument(models.Model):
    """The indexed text of one field of one record (or of one piece of reference data)."""

    id = models.BigAutoField(primary_key=True)
    #: ``app_label.model_name`` (the registry key for protected types).
    object_type = models.CharField(_("object type"), max_length=64)
    object_id = models.CharField(_("object id"), max_length=64)
    field = models.CharField(_("field"), max_length=64)
    #: The record's space; ``None`` for reference data shared by every space (organisations, areas).
    #: Not indexed: matching reaches rows through the words, then keeps those of the space.
    space_id = models.UUIDField(_("space"), null=True, blank=True, default=None)
    body = models.TextField(_("text"))
    #: ``body`` folded for matching (lower case, no diacritics, punctuation as spaces); PostgreSQL
    #: matches on it so that e-mail addresses and hyphenated names split into words as on SQLite.
    terms = models.TextField(_("search terms"), default="")
    indexed_at = models.DateTimeField(_("indexed"), auto_now=True)

    class Meta:
        verbose_name = _("search document")
        verbose_name_plural = _("search documents")
        constraints = [
            # Also the index by which an object's rows are found (object type and id lead it).
            models.UniqueConstraint(fields=["object_type", "object_id", "field"], name="search_document_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.object_type}:{self.object_id}:{self.field}"

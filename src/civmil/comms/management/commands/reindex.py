"""``civmil reindex``: rebuild the full-text search index from every searched record."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from civmil.comms.services.search import rebuild_index


class Command(BaseCommand):
    help = "Rebuild the full-text search index (records, people, organisations and areas)."

    def handle(self, *args: Any, **options: Any) -> None:
        count = rebuild_index()
        self.stdout.write(_("Indexed %(n)d records.") % {"n": count})

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CommsConfig(AppConfig):
    name = "civmil.comms"
    label = "comms"
    verbose_name = _("Communications")

    def ready(self) -> None:
        from civmil.comms import search

        search.connect()  # keep the search index in step with saves; purge it on ledger erasure

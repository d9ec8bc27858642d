from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CommsConfig(AppConfig):
    name = "civmil.comms"
    label = "comms"
    verbose_name = _("Communications")

    def ready(self) -> None:
        from civmil.comms import jobs, live, search
        from civmil.comms.services.attachments import purge_erased as purge_erased_attachment
        from civmil.core.ledger import register_erasure_hook

        jobs.register()  # hourly: each person's digest goes out once a day whenever the hour comes
        search.connect()  # keep the search index in step with saves; purge it on ledger erasure
        register_erasure_hook(purge_erased_attachment)  # an erased upload leaves no file behind
        live.connect()  # a new or read notification refreshes its recipient's badge and list live
        from civmil.comms.queries.notifications import waiting_for_home
        from civmil.core import home

        home.register_waiting(waiting_for_home, notices=("notifications",))  # unread, on the home page

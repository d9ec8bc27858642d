from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "civmil.core"
    label = "core"
    verbose_name = _("Mission kernel")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from civmil.core import checks, pickers, registry, signals
        from civmil.core.accounts.erasure import purge_outbox
        from civmil.core.ledger import register_erasure_hook

        checks.register()  # the deployment checks (civmil check --deploy)
        registry.register_kernel_types()
        pickers.register_core_pickers()  # organisations and people: searchable on every form
        register_erasure_hook(purge_outbox)  # an erased change leaves no copy in the outbox
        signals.connect()  # signing out or a new password closes live connections at once
        from civmil.core import approvals, home

        home.register_waiting(approvals.waiting_for_home)  # acts waiting for a second administrator

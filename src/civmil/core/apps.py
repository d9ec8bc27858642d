from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "civmil.core"
    label = "core"
    verbose_name = _("Mission kernel")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from civmil.core import registry

        registry.register_kernel_types()

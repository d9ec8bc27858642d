from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DemoConfig(AppConfig):
    name = "civmil.demo"
    label = "demo"
    verbose_name = _("Demo mission")

    def ready(self) -> None:
        from civmil.demo import checks  # noqa: F401 - registers the deployment check

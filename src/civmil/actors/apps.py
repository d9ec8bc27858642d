from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ActorsConfig(AppConfig):
    name = "civmil.actors"
    label = "actors"
    verbose_name = _("Actors and liaison")

    def ready(self) -> None:
        from civmil.actors import records

        records.register()
        records.register_pickers()

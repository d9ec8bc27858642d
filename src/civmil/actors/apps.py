from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ActorsConfig(AppConfig):
    name = "civmil.actors"
    label = "actors"
    verbose_name = _("Actors and liaison")

    def ready(self) -> None:
        from civmil.actors import home, records

        records.register()
        records.register_pickers()  # areas: searchable by name or P-code on every form
        home.register()  # the home page's panels: recent contacts, new in the areas of responsibility
        from civmil.actors import queries
        from civmil.core.kernel import areas

        areas.set_lookup(queries.area_for_filter)  # every list of a type with a place filters by area

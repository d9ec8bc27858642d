"""A deployment check: production never runs with the demo mission or its well-known logins."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks
from django.db import DatabaseError
from django.utils.translation import gettext as _

DEMO_PRESENT = "civmil.demo.E001"


def production() -> bool:
    return str(getattr(settings, "CIVMIL_ENV", "development")) == "production"


@checks.register(checks.Tags.security, deploy=True)
def demo_absent_in_production(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """In production, the demo mission and its logins (one published password) must not exist."""
    if not production():
        return []
    from civmil.demo import loader

    try:
        found = loader.presence()
    except DatabaseError:
        # No tables yet (before the first migrate): then there is no demo either.
        return []
    if not found:
        return []
    return [checks.Error(
        _("The demo mission is in this database (%(found)s); its logins share a published password.")
        % {"found": "; ".join(found)},
        hint=_("Production must start on a database without the demo: create a new database, run "
               "`civmil migrate` and `civmil createadmin`, and point DATABASE_URL at it."),
        id=DEMO_PRESENT,
    )]

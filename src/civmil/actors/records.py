"""Registration of the actors app's protected record types."""

from __future__ import annotations

from civmil.core import registry
from civmil.core.choices import Level

LIAISON_LEVELS = (Level.MISSION, Level.HUMANITARIAN, Level.MILITARY, Level.RESTRICTED)


def register() -> None:
    from civmil.actors.models import LiaisonAssignment, LiaisonLogEntry

    registry.register(
        registry.RecordType(
            model=LiaisonLogEntry,
            levels=LIAISON_LEVELS,
            release_fields=("occurred_at", "channel", "organisations", "people", "summary", "follow_ups",
                            "latitude", "longitude", "place_name"),
            search_fields=("summary", "follow_ups", "place_name"),
            threads=True,
            attachments=True,
            detail_url_name="actors:liaison-entry",
        )
    )
    registry.register(
        registry.RecordType(
            model=LiaisonAssignment,
            levels=LIAISON_LEVELS,
            release_fields=("officer", "from_organisation", "to_organisation", "community", "area",
                            "starts_on", "ends_on"),
            # Whether the officer's organisation confirmed it shows with every view of it.
            face_fields=("status",),
            search_fields=("community", "notes"),
            detail_url_name="actors:assignment",
        )
    )

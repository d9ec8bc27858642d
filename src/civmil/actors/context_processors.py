"""What every page's maps draw, for base.html (civmil/js/map.js reads it)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from civmil.actors.choices import AreaKind


def maps(request: HttpRequest) -> dict[str, Any]:
    """The basemap's URL (when the file exists) and the areas drawn over it, for signed-in readers."""
    from civmil.actors.views.basemap import basemap_path

    actor = getattr(request, "actor", None)
    if actor is None or not actor.is_authenticated:
        return {"map_sources": None}
    return {"map_sources": {
        "basemap": reverse("actors:basemap") if basemap_path() else "",
        # The top level only: deeper levels come with the basemap, drawn tile by tile.
        "areas": reverse("actors:areas-geojson") + f"?level=1&kind={AreaKind.ADMINISTRATIVE}",
    }}

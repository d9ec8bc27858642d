"""A form field for a record's place: drawn on a map, or typed as a point.

:class:`GeometryField` takes what :class:`GeometryWidget` sends: the GeoJSON drawn on a Leaflet
map with leaflet-geoman (a hidden input, filled by ``static/civmil/js/geometry.js``), and a text
input for a point typed as decimal degrees or MGRS. Typed text wins over a drawing (the script
empties it when something is drawn), so the field also works without JavaScript. The cleaned
value is the stored GeoJSON (:func:`civmil.core.geometry.parse`), or None; every refusal comes
back on the form with its reason.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.templatetags.static import static
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from civmil.core import geometry
from civmil.core.errors import Invalid

#: What leaflet-geoman calls the drawing tool of each GeoJSON type (Multi forms draw several).
_DRAW_TOOLS = {"Point": "Marker", "MultiPoint": "Marker", "LineString": "Line", "MultiLineString": "Line",
               "Polygon": "Polygon", "MultiPolygon": "Polygon"}


class GeometryWidget(forms.Widget):
    """A map to draw on (hidden GeoJSON input) and a text input for a point."""

    template_name = "core/widgets/geometry.html"
    LOCATION_SUFFIX = "_location"

    def __init__(self, attrs: dict[str, Any] | None = None, *, geometry_types: Sequence[str] = geometry.GEOMETRY_TYPES,
                 areas_url: str = "") -> None:
        super().__init__(attrs)
        self.geometry_types = tuple(geometry_types)
        self.areas_url = areas_url

    def format_value(self, value: Any) -> str:
        if value is None or value == "":
            return ""
        if isinstance(value, dict):
            return json.dumps(value, separators=(",", ":"))
        return str(value)

    def value_from_datadict(self, data: Any, files: Any, name: str) -> dict[str, str]:
        return {"geojson": str(data.get(name) or ""), "location": str(data.get(name + self.LOCATION_SUFFIX) or "")}

    def value_omitted_from_data(self, data: Any, files: Any, name: str) -> bool:
        return name not in data and name + self.LOCATION_SUFFIX not in data

    def id_for_label(self, id_: str) -> str:
        return f"{id_}{self.LOCATION_SUFFIX}" if id_ and "Point" in self.geometry_types else id_

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        widget = context["widget"]
        typed = ""
        if isinstance(value, dict) and "geojson" in value:  # a bound form shown again: keep what was sent
            typed = value.get("location", "")
            widget["value"] = value.get("geojson", "")
        base_id = widget["attrs"].get("id") or f"id_{name}"
        tools = sorted({_DRAW_TOOLS[t] for t in self.geometry_types if t in _DRAW_TOOLS})
        widget.update({
            "geojson_id": base_id,
            "location_name": name + self.LOCATION_SUFFIX,
            "location_id": base_id + self.LOCATION_SUFFIX,
            "location_value": typed,
            "point_allowed": "Point" in self.geometry_types,
            "multi": ",".join(t for t in self.geometry_types if t.startswith("Multi")),
            "tools": ",".join(tools),
            "areas_url": self.areas_url,
            "geoman_js": static("vendor/@geoman-io/leaflet-geoman-free/dist/leaflet-geoman.min.js"),
            "geoman_css": static("vendor/@geoman-io/leaflet-geoman-free/dist/leaflet-geoman.css"),
            "css": static("civmil/css/geometry.css"),
        })
        # The describing attributes Django adds (aria-describedby, aria-invalid) belong on the input
        # people type in; the hidden input keeps only its id. Not "required": drawing is the other way.
        widget["location_attrs"] = {k: v for k, v in widget["attrs"].items() if k not in ("id", "required")}
        return context


class GeometryField(forms.Field):
    """A GeoJSON geometry in WGS84: cleaned to the stored form, or None when empty and not required."""

    widget = GeometryWidget
    default_error_messages = {
        "required": gettext_lazy("Draw the place on the map, or type a point."),
    }

    def __init__(self, *, geometry_types: Sequence[str] = geometry.GEOMETRY_TYPES, limit: int | None = None,
                 areas_url: str = "", **kwargs: Any) -> None:
        self.geometry_types = tuple(geometry_types)
        self.limit = limit
        kwargs.setdefault("widget", GeometryWidget(geometry_types=self.geometry_types, areas_url=areas_url))
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> dict[str, Any] | None:
        if isinstance(value, dict) and ("geojson" in value or "location" in value):
            typed = str(value.get("location") or "").strip()
            drawn = str(value.get("geojson") or "").strip()
        else:  # a GeoJSON dict or text given directly (initial data, tests, the API)
            typed, drawn = "", value
        try:
            if typed:
                if "Point" not in self.geometry_types:
                    raise Invalid(_("A typed point is not accepted here: draw the place on the map."))
                lat, lon = geometry.parse_point(typed)
                return geometry.parse(geometry.point(lat, lon), allowed=self.geometry_types, limit=self.limit).geojson
            if drawn in (None, "", {}):
                return None
            return geometry.parse(drawn, allowed=self.geometry_types, limit=self.limit).geojson
        except Invalid as exc:
            raise ValidationError(exc.message, code="invalid") from exc

    def prepare_value(self, value: Any) -> Any:
        return value

    def has_changed(self, initial: Any, data: Any) -> bool:
        try:
            return self.to_python(data) != (self.to_python(initial) if initial not in (None, "") else None)
        except ValidationError:
            return True

"""The liaison log: the record kernel's pages of the type (list, record, create and edit with the
three-way merge of a stale edit, history, releases, live rows and cards; civmil.core.kernel) with
its own filters, templates and CSV columns. Its writes are its services' (the declaration in
civmil.actors.records). "Who is my liaison to X" and assignments are in
civmil.actors.views.assignments."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from civmil.actors.forms import LiaisonFilterForm
from civmil.actors.models import LiaisonLogEntry
from civmil.actors.views import location_cells, point_features
from civmil.core import access, registry
from civmil.core.kernel.views import KernelViews

if TYPE_CHECKING:
    from civmil.core.acting import Actor

#: Columns of the CSV export, in order: (key, header). The place keeps its latitude and longitude
#: columns (spreadsheets rely on them), from the entry's point.
EXPORT_COLUMNS = (
    ("id", gettext_lazy("id")), ("occurred_at", gettext_lazy("when")), ("channel", gettext_lazy("channel")),
    ("organisations", gettext_lazy("organisations")), ("people", gettext_lazy("people")),
    ("summary", gettext_lazy("summary")), ("follow_ups", gettext_lazy("follow-ups")),
    ("latitude", gettext_lazy("latitude")), ("longitude", gettext_lazy("longitude")),
    ("mgrs", gettext_lazy("MGRS")), ("place_name", gettext_lazy("place")),
    ("level", gettext_lazy("releasability")), ("owner", gettext_lazy("owner")),
)


def _detail_context(request: HttpRequest, actor: Actor, shown: access.Shown[Any]) -> dict[str, Any]:
    cells = views.rows(actor, [shown.record])[0]["cells"]
    return {"geojson": point_features(shown, cells["place_name"].text or cells["mgrs"].text)}


views = KernelViews(
    registry.get(LiaisonLogEntry),
    templates={"list": "actors/liaison/list.html", "detail": "actors/liaison/detail.html",
               "form": "actors/liaison/form.html",
               "row": "actors/liaison/row.html", "card": "actors/liaison/card.html"},
    names={"list": "actors:liaison-log", "new": "actors:liaison-new", "export": "actors:liaison-export",
           "edit": "actors:liaison-edit", "history": "actors:liaison-history",
           "releases": "actors:liaison-releases", "row": "actors:liaison-row", "card": "actors:liaison-card"},
    filter_form=LiaisonFilterForm,
    more_cells=location_cells,
    csv_columns=EXPORT_COLUMNS,
    csv_name="liaison-log",
    detail_context=_detail_context,
    created_message=lambda entry: (messages.SUCCESS, _("The contact was recorded.")),
    updated_message=lambda entry: (messages.SUCCESS, _("The entry was saved (version %(v)s).") % {"v": entry.version}),
)

"""Pages of the actors app: the directory, liaison assignments, the liaison log and areas.

Shared helpers live here. Every page renders what :mod:`civmil.actors.queries` returns (the
reader's view of each record); a record the reader may not see answers exactly like a missing
one (:class:`~django.http.Http404`, rendered by the one 404 handler).

Status codes of pages with forms: a form re-rendered with validation errors answers 422; a
service error answers its own status (422 invalid, 403 refused, 409 stale edit).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from django.core.paginator import Page, Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from civmil.actors import queries
from civmil.actors.models import point_of
from civmil.core import access, geo
from civmil.core.errors import NotFound, ServiceError
from civmil.core.formats import mission_datetime
from civmil.core.kernel import fields as kf
from civmil.core.kernel.fields import WITHHELD_CELL as WITHHELD_CELL
from civmil.core.kernel.fields import Cell as Cell
from civmil.core.models import Placed
from civmil.core.pages import FORM_ERROR_STATUS as FORM_ERROR_STATUS
from civmil.core.pages import actor_of as actor_of
from civmil.core.pages import mission_tz as mission_tz
from civmil.core.pages import not_found as not_found
from civmil.core.pages import record_url as record_url
from civmil.core.pages import render_page as render_page

if TYPE_CHECKING:
    from civmil.actors.models import LiaisonAssignment
    from civmil.core.acting import Actor
    from civmil.core.models import Organisation

PER_PAGE = 50
def refuse(request: HttpRequest, exc: ServiceError) -> HttpResponse:
    """A service error outside a form: 404 stays the one 404 page, others say why."""
    if isinstance(exc, NotFound):
        not_found()
    return render(request, "error.html", {"title": _("Not allowed"), "message": exc.message}, status=exc.status)


def paginate(request: HttpRequest, items: Sequence[Any] | Any, per_page: int = PER_PAGE) -> Page[Any]:
    """The page of ``items`` asked for by ``?page=``; a bad page number gives the nearest page."""
    return Paginator(items, per_page).get_page(request.GET.get("page"))


def format_datetime(value: dt.datetime | None, tz: dt.tzinfo) -> str:
    """A time as pages show it: in the mission's zone, in the reader's language (``1 March 2025, 14:05 EAT``)."""
    return mission_datetime(value, tz)


def format_date(value: dt.date | None) -> str:
    """A date as pages show it, in the reader's language (``1 March 2025``, ``1 mars 2025``)."""
    return mission_datetime(value, dt.UTC, "date")


# ---------------------------------------------------------------------------------------------
# Cells: one field of a record as the reader sees it. A withheld field is a cell marked withheld,
# which templates show as a muted "withheld" marker and exports leave empty.




def cell(shown: access.Shown[Any], name: str, render_value: Callable[[Any], Cell | str]) -> Cell:
    """The cell of field ``name``: withheld unless the reader's view shows it."""
    if not shown.view.shows(name):
        return WITHHELD_CELL
    value = render_value(getattr(shown.record, name))
    return value if isinstance(value, Cell) else Cell(text=value)


def organisation_cell(org: Organisation | None) -> Cell:
    if org is None:
        return Cell()
    return Cell(text=org.label, url=record_url("actors:organisation", org.pk))


def person_cell(person: Any, visible_people: set[Any]) -> Cell:
    """A person named beside a record: withheld when the reader may not know the person exists."""
    if person is None:
        return Cell()
    if person.pk not in visible_people:
        return WITHHELD_CELL
    return Cell(text=str(person), url=record_url("actors:person", person.pk))


def _placed(record: Any) -> bool:
    """Whether the record keeps its place as a geometry (civmil.core.models.Placed), not two floats."""
    return isinstance(record, Placed)


def _place_fields(record: Any) -> tuple[str, ...]:
    return ("geometry",) if _placed(record) else ("latitude", "longitude")


def _point(shown: access.Shown[Any]) -> tuple[Any, Any]:
    """The record's coordinates as the reader's view gives them (coarsened in a reduced view, as
    its declaration says)."""
    record = shown.record
    if _placed(record):
        return point_of(kf.coarsened(shown, "geometry", record.geometry)) or (None, None)
    return kf.coarsened(shown, "latitude", record.latitude), kf.coarsened(shown, "longitude", record.longitude)


def location_cells(shown: access.Shown[Any]) -> dict[str, Cell]:
    """Decimal and MGRS cells of a record's point (withheld unless the view shows the whole point)."""
    if not all(shown.view.shows(name) for name in _place_fields(shown.record)):
        return {"latitude": WITHHELD_CELL, "longitude": WITHHELD_CELL, "location": WITHHELD_CELL,
                "mgrs": WITHHELD_CELL}
    lat, lon = _point(shown)
    if lat is None or lon is None:
        return {"latitude": Cell(), "longitude": Cell(), "location": Cell(), "mgrs": Cell()}
    return {"latitude": Cell(text=f"{lat:.6f}", number=True), "longitude": Cell(text=f"{lon:.6f}", number=True),
            "location": Cell(text=f"{lat:.5f}, {lon:.5f}"), "mgrs": Cell(text=geo.to_mgrs(lat, lon))}


def point_features(shown: access.Shown[Any], name: str) -> dict[str, Any] | None:
    """A GeoJSON FeatureCollection of the record's point, when the reader sees it; else ``None``."""
    if not all(shown.view.shows(field) for field in _place_fields(shown.record)):
        return None
    lat, lon = _point(shown)
    if lat is None or lon is None:
        return None
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
         "properties": {"name": name}},
    ]}


def assignment_rows(actor: Actor, assignments: Iterable[access.Shown[LiaisonAssignment]]) -> list[dict[str, Any]]:
    """Table rows of liaison assignments as the reader sees them."""
    assignments = list(assignments)
    visible_people = queries.visible_person_ids(
        actor, [pk for a in assignments for pk in (a.record.officer_id, a.record.decided_by_id) if pk])
    tz = mission_tz(actor)
    rows = []
    for a in assignments:
        rows.append({
            "pk": a.record.pk,
            "url": record_url("actors:assignment", a.record.pk),
            "level": a.record.level,
            "owner": organisation_cell(a.record.owner),
            # Confirmed by the officer's organisation, waiting for it, or refused by it (every view shows it).
            "status": a.record.status,
            "status_label": a.record.get_status_display(),
            "cells": {
                "officer": cell(a, "officer", lambda p: person_cell(p, visible_people)),
                "from_organisation": cell(a, "from_organisation", organisation_cell),
                "to_organisation": cell(a, "to_organisation", organisation_cell),
                "community": cell(a, "community", str),
                "area": cell(a, "area", lambda ar: Cell(text=str(ar), url=record_url("actors:area", ar.pk))
                             if ar is not None else Cell()),
                "starts_on": cell(a, "starts_on", format_date),
                "ends_on": cell(a, "ends_on", format_date),
                "notes": cell(a, "notes", str),
                "decided_by": cell(a, "decided_by", lambda p: person_cell(p, visible_people)),
                "decided_at": cell(a, "decided_at", lambda when: format_datetime(when, tz) if when else ""),
                "decision_reason": cell(a, "decision_reason", str),
                **location_cells(a),
            },
        })
    return rows

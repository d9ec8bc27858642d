"""The liaison log: the record kernel's pages of the type (list, record, history, releases, live
rows and cards; civmil.core.kernel) with its own filters, contact form, three-way merge of a stale
edit and CSV columns. "Who is my liaison to X" and assignments are in
civmil.actors.views.assignments."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from civmil.actors import queries, services
from civmil.actors.forms import (
    LIAISON_MERGE_FIELDS,
    LIAISON_MERGE_UNITS,
    LiaisonEntryForm,
    LiaisonFilterForm,
    pack_units,
)
from civmil.actors.models import LiaisonLogEntry
from civmil.actors.views import (
    FORM_ERROR_STATUS,
    actor_of,
    location_cells,
    not_found,
    point_features,
    refuse,
    render_page,
)
from civmil.core import access, registry
from civmil.core import merge as core_merge
from civmil.core import services as core_services
from civmil.core.choices import Level
from civmil.core.errors import Forbidden, NotFound, ServiceError, StaleEdit
from civmil.core.kernel.views import KernelViews

if TYPE_CHECKING:
    from civmil.core.acting import Actor

#: Columns of the CSV export, in order: (key, header).
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
)


def _entry_or_404(actor: Actor, pk: Any) -> access.Shown[LiaisonLogEntry]:
    try:
        return queries.liaison_entry(actor, pk)
    except NotFound:
        not_found()


# ---------------------------------------------------------------------------------------------
# Recording a contact


def _form_page(request: HttpRequest, form: LiaisonEntryForm, *, status: int = 200,
               entry: access.Shown[LiaisonLogEntry] | None = None,
               merge: dict[str, Any] | None = None) -> HttpResponse:
    actor = actor_of(request)
    settings = core_services.mission_settings(actor.space_id)
    return render_page(request, "actors/liaison/form.html", {
        "form": form, "record": entry, "merge": merge,
        "map_center": f"{settings.map_center_lat},{settings.map_center_lon}", "map_zoom": settings.map_zoom,
    }, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def liaison_new(request: HttpRequest) -> HttpResponse:
    """Record a contact, owned by the reader's organisation."""
    actor = actor_of(request)
    if actor.organisation is None:
        return refuse(request, Forbidden(_("You need a current membership of an organisation to record contacts.")))
    if request.method != "POST":
        form = LiaisonEntryForm(actor, initial={
            "occurred_at": timezone.now().replace(second=0, microsecond=0),
            "organisations": [actor.organisation_id],
            "level": Level.MISSION,
        })
        return _form_page(request, form)
    form = LiaisonEntryForm(actor, request.POST)
    if not form.is_valid():
        return _form_page(request, form, status=FORM_ERROR_STATUS)
    try:
        entry = services.record_liaison_contact(actor, form.to_contact())
    except ServiceError as exc:
        if isinstance(exc, NotFound):
            not_found()
        form.add_service_error(exc)
        return _form_page(request, form, status=exc.status)
    messages.success(request, _("The contact was recorded."))
    return HttpResponseRedirect(reverse("actors:liaison-entry", args=[entry.pk]))


# ---------------------------------------------------------------------------------------------
# Editing, and the three-way merge of a stale edit (civmil.core.merge)


def _unit_label(form: LiaisonEntryForm, unit: str) -> str:
    return str(form.fields[unit].label)


def _merge_texts(actor: Actor, values: dict[str, Any], tz: dt.tzinfo) -> dict[str, str]:
    """Each merge unit's value (the ledger's JSON form) as the reader reads it; the location is
    one unit of the log's form (its two coordinates)."""
    out = views.merge_texts(actor, {unit: value for unit, value in values.items() if unit != "location"})
    if "location" in values:
        lat, lon = values["location"] if isinstance(values["location"], tuple | list) else (None, None)
        out["location"] = "—" if lat is None or lon is None else f"{float(lat):.5f}, {float(lon):.5f}"
    return out


def _merge_context(actor: Actor, form: LiaisonEntryForm, *, version: int, theirs: dict[str, Any],
                   mine: dict[str, Any], conflicts: list[str], taken: Sequence[str] = (),
                   kept: Sequence[str] = ()) -> dict[str, Any]:
    """What the form page shows of a merge: the fields taken from version ``version``, the editor's
    kept, and a panel beside each field both changed (their value, the editor's, a choice)."""
    tz = form.tz
    their_texts = _merge_texts(actor, {u: theirs.get(u) for u in conflicts}, tz)
    my_texts = _merge_texts(actor, {u: mine.get(u) for u in conflicts}, tz)
    panels = {unit: {
        "unit": unit, "label": _unit_label(form, unit), "version": version,
        "theirs": their_texts[unit], "mine": my_texts[unit],
        "choice": form.data.get(f"merge_{unit}", ""),
    } for unit in conflicts}
    return {
        "version": version, "panels": panels,
        "conflicts": [panels[u]["label"] for u in conflicts],
        "taken": [_unit_label(form, u) for u in taken], "kept": [_unit_label(form, u) for u in kept],
    }


def _carried_version(form: LiaisonEntryForm) -> int | None:
    try:
        return int(form.cleaned_data.get("version") or form.data.get("version") or 0) or None
    except (TypeError, ValueError):
        return None


def _pending_merge(actor: Actor, form: LiaisonEntryForm, current: LiaisonLogEntry) -> dict[str, Any] | None:
    """The panels of a merged form sent back with errors (a choice missing, say), rebuilt from the
    version it carries and what it holds now."""
    units = form.cleaned_data.get("merge_conflicts") if hasattr(form, "cleaned_data") else None
    version = _carried_version(form)
    if not units or version is None:
        return None
    theirs = pack_units(core_merge.version_values(current, version, LIAISON_MERGE_FIELDS))
    mine = {unit: form.submitted(unit) for unit in units}
    return _merge_context(actor, form, version=version, theirs=theirs, mine=mine, conflicts=units)


@login_required
@require_http_methods(["GET", "POST"])
def liaison_edit(request: HttpRequest, pk: Any) -> HttpResponse:
    """Edit an entry. A stale edit is never saved: it comes back merged with the newer version."""
    actor = actor_of(request)
    shown = _entry_or_404(actor, pk)
    if not access.may(actor, access.Action.EDIT, shown.record, shown.view):
        return refuse(request, Forbidden(_("You may read this entry but not edit it: only its owning "
                                           "organisation and the person who recorded it may.")))
    if request.method != "POST":
        return _form_page(request, LiaisonEntryForm(actor, editing=shown.record), entry=shown)
    form = LiaisonEntryForm(actor, request.POST, editing=shown.record)
    valid = form.is_valid()
    if valid and any(choice == "theirs" for choice in form.merge_choices.values()):
        # "Theirs" is the value of the version the merged form carries, read back from the ledger.
        carried = core_merge.version_values(shown.record, form.cleaned_data["version"], LIAISON_MERGE_FIELDS)
        valid = form.apply_theirs(carried)
    if not valid:
        return _form_page(request, form, status=FORM_ERROR_STATUS, entry=shown,
                          merge=_pending_merge(actor, form, shown.record))
    try:
        entry = services.edit_liaison_contact(actor, shown.record.pk, form.cleaned_data["version"], form.to_contact())
    except StaleEdit as exc:
        return _stale(request, form, exc)
    except ServiceError as exc:
        if isinstance(exc, NotFound):
            not_found()
        form.add_service_error(exc)
        return _form_page(request, form, status=exc.status, entry=shown,
                          merge=_pending_merge(actor, form, shown.record))
    messages.success(request, _("The entry was saved (version %(v)s).") % {"v": entry.version})
    return HttpResponseRedirect(reverse("actors:liaison-entry", args=[entry.pk]))


def _stale(request: HttpRequest, form: LiaisonEntryForm, exc: StaleEdit) -> HttpResponse:
    """Nothing was saved. The form comes back as a three-way merge over the current version: their
    values where only they changed a field, the editor's where only the editor did, and both side
    by side where both did, for the editor to choose. Saving it applies on top of that version."""
    actor = actor_of(request)
    current = _entry_or_404(actor, form.editing.pk if form.editing is not None else None)
    yours = form.cleaned_data["version"]
    stale = exc.merge if isinstance(exc.merge, core_merge.Merge) else core_merge.Merge(
        base_version=yours, current_version=current.record.version)
    merged = form.merge_of(stale)
    if not merged.fields:  # no merge from the service: every unit differing is the editor's to choose
        theirs = pack_units(core_merge.version_values(current.record, current.record.version, LIAISON_MERGE_FIELDS))
        mine = {unit: form.submitted(unit) for unit in LIAISON_MERGE_UNITS}
        merged = core_merge.three_way(None, mine, theirs, base_version=yours,
                                      current_version=current.record.version, same=form.same)
    now = merged.current_version
    again = LiaisonEntryForm(actor, form.merged_data(merged), editing=current.record)
    again.is_valid()
    again.add_error(None, _(
        "Nothing was saved: someone else changed this entry while you were editing it. It is now at "
        "version %(now)s; you edited version %(yours)s. The form now holds their changes in the fields "
        "you did not touch, and yours in the fields you changed. Where you both changed a field, both "
        "values are shown beside it: choose one. Then save to apply your changes on top of version %(now)s."
    ) % {"now": now, "yours": yours})
    theirs_now = {unit: f.theirs for unit, f in merged.fields.items()}
    mine_now = {unit: f.mine for unit, f in merged.fields.items()}
    context = _merge_context(
        actor, again, version=now, theirs=theirs_now, mine=mine_now, conflicts=merged.conflicts,
        taken=[u for u, f in merged.fields.items() if f.outcome == "theirs"],
        kept=[u for u, f in merged.fields.items() if f.outcome == "mine"],
    )
    return _form_page(request, again, status=exc.status, entry=current, merge=context)



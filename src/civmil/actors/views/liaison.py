"""Liaison pages: the liaison log (list, entry, create, edit, history, releases, CSV export),
"who is my liaison to X" and assignments are in civmil.actors.views.assignments."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import FieldDoesNotExist
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from civmil.actors import queries, services
from civmil.actors.forms import (
    LIAISON_MERGE_FIELDS,
    LIAISON_MERGE_UNITS,
    LiaisonEntryForm,
    LiaisonFilterForm,
    ReleaseForm,
    field_label,
    pack_units,
)
from civmil.actors.models import LiaisonLogEntry
from civmil.actors.views import (
    FORM_ERROR_STATUS,
    WITHHELD_CELL,
    Cell,
    actor_of,
    cell,
    format_datetime,
    location_cells,
    mission_tz,
    not_found,
    organisation_cell,
    paginate,
    point_features,
    record_url,
    refuse,
    render_page,
)
from civmil.core import access, events
from civmil.core import merge as core_merge
from civmil.core import services as core_services
from civmil.core.choices import Component, Level
from civmil.core.errors import Forbidden, NotFound, ServiceError, StaleEdit
from civmil.core.models import Release

if TYPE_CHECKING:
    from civmil.core.actors import Actor

EXPORT_BATCH = 500
#: Columns of the CSV export, in order: (key, header).
EXPORT_COLUMNS = [
    ("id", gettext_lazy("id")), ("occurred_at", gettext_lazy("when")), ("channel", gettext_lazy("channel")),
    ("organisations", gettext_lazy("organisations")), ("people", gettext_lazy("people")),
    ("summary", gettext_lazy("summary")), ("follow_ups", gettext_lazy("follow-ups")),
    ("latitude", gettext_lazy("latitude")), ("longitude", gettext_lazy("longitude")),
    ("mgrs", gettext_lazy("MGRS")), ("place_name", gettext_lazy("place")),
    ("level", gettext_lazy("releasability")), ("owner", gettext_lazy("owner")),
]
#: Columns whose values civmil formats itself as numbers (never user text).
NUMERIC_COLUMNS = frozenset({"latitude", "longitude"})
#: A spreadsheet reads a cell starting with one of these as a formula.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

ACTION_LABELS = {
    "liaison.recorded": gettext_lazy("Recorded"),
    "liaison.edited": gettext_lazy("Edited"),
    "release.added": gettext_lazy("Released"),
    "release.revoked": gettext_lazy("Release revoked"),
}
CHANGE_LABELS = {
    "target_organisation": gettext_lazy("released to organisation"),
    "target_component": gettext_lazy("released to component"),
    "target_person": gettext_lazy("released to person"),
    "fields": gettext_lazy("released fields"),
}


# ---------------------------------------------------------------------------------------------
# Rendering one entry


def _entry_or_404(actor: Actor, pk: Any) -> access.Shown[LiaisonLogEntry]:
    try:
        return queries.liaison_entry(actor, pk)
    except NotFound:
        not_found()


def entry_cells(actor: Actor, shown: access.Shown[LiaisonLogEntry], tz: dt.tzinfo,
                people_names: dict[str, str], *, iso_times: bool = False) -> dict[str, Cell]:
    """Every field of an entry as the reader sees it (times in ISO 8601 for exports)."""
    record = shown.record

    def when(value: dt.datetime) -> str:
        return timezone.localtime(value, tz).isoformat(timespec="minutes") if iso_times else format_datetime(value, tz)

    def people_cell(_manager: Any) -> Cell:
        items = tuple(Cell(text=people_names[str(p.pk)], url=record_url("actors:person", p.pk))
                      for p in record.people.all() if str(p.pk) in people_names)
        return Cell(items=items)

    return {
        "occurred_at": cell(shown, "occurred_at", when),
        "channel": WITHHELD_CELL if not shown.view.shows("channel") else Cell(text=str(record.get_channel_display())),
        "organisations": cell(shown, "organisations",
                              lambda m: Cell(items=tuple(organisation_cell(o) for o in record.organisations.all()))),
        "people": cell(shown, "people", people_cell),
        "summary": cell(shown, "summary", str),
        "follow_ups": cell(shown, "follow_ups", str),
        "place_name": cell(shown, "place_name", str),
        **location_cells(shown),
        "level": Cell(text=str(Level(record.level).label)),
        "owner": organisation_cell(record.owner),
        "id": Cell(text=str(record.pk)),
    }


def _people_names(actor: Actor, shown_entries: list[access.Shown[LiaisonLogEntry]]) -> dict[str, str]:
    ids = {p.pk for s in shown_entries if s.view.shows("people") for p in s.record.people.all()}
    return queries.people_names(actor, ids)


def entry_rows(actor: Actor, entries: list[LiaisonLogEntry], tz: dt.tzinfo, *,
               iso_times: bool = False) -> list[dict[str, Any]]:
    shown = queries.shown_entries(actor, entries)
    names = _people_names(actor, shown)
    return [{"pk": s.record.pk, "url": record_url("actors:liaison-entry", s.record.pk), "level": s.record.level,
             "cells": entry_cells(actor, s, tz, names, iso_times=iso_times)} for s in shown]


# ---------------------------------------------------------------------------------------------
# The log and its export


def _log_page(request: HttpRequest, form: LiaisonFilterForm, *, status: int = 200) -> HttpResponse:
    actor = actor_of(request)
    page_obj = None
    rows: list[dict[str, Any]] = []
    if form.is_valid():
        page_obj = paginate(request, queries.liaison_log(actor, form.to_filter()))
        rows = entry_rows(actor, list(page_obj.object_list), form.tz)
    query = request.GET.copy()
    query.pop("page", None)
    return render_page(request, "actors/liaison/list.html", {
        "form": form, "page_obj": page_obj, "rows": rows, "export_query": query.urlencode(),
        "may_record": actor.organisation is not None, **_live_context(actor, page_obj.object_list if page_obj else []),
    }, status=status)


def _live_context(actor: Actor, records: Any) -> dict[str, Any]:
    """What a page needs to follow its records live (static/civmil/js/live.js)."""
    return {"live_after": events.last_id(), "live_seen": events.seen_token(actor, list(records))}


@login_required
@require_GET
def liaison_row(request: HttpRequest, pk: Any) -> HttpResponse:
    """One row of the log, for live updates; 404 when the reader may not see the entry.

    The list page passes its filters: an entry they do not match answers 204 (no row), so a
    filtered page neither gains rows outside its filters nor keeps one that left them.
    """
    actor = actor_of(request)
    entry = _entry_or_404(actor, pk).record
    if request.GET:
        form = LiaisonFilterForm(actor, request.GET)
        if not form.is_valid() or not queries.liaison_log(actor, form.to_filter()).filter(pk=entry.pk).exists():
            return HttpResponse(status=204)
    row = entry_rows(actor, [entry], mission_tz(actor))[0]
    return render(request, "actors/liaison/row.html", {"row": row})


@login_required
@require_GET
def liaison_card(request: HttpRequest, pk: Any) -> HttpResponse:
    """The details card of one entry, for live updates of its page; 404 when hidden."""
    actor = actor_of(request)
    shown = _entry_or_404(actor, pk)
    cells = entry_cells(actor, shown, mission_tz(actor), _people_names(actor, [shown]))
    return render(request, "actors/liaison/card.html", {"entry": shown, "cells": cells})


@login_required
@require_GET
def liaison_log(request: HttpRequest) -> HttpResponse:
    """The liaison log: filters, 50 entries a page, each row rendered from the reader's view."""
    form = LiaisonFilterForm(actor_of(request), request.GET)
    return _log_page(request, form, status=200 if form.is_valid() else FORM_ERROR_STATUS)


class _Echo:
    """A file-like object whose ``write`` hands back the line (for a streaming CSV writer)."""

    def write(self, value: str) -> str:
        return value


def csv_safe(value: str) -> str:
    """Keep a spreadsheet from running a cell as a formula: prefix such cells with a quote."""
    return "'" + value if value.startswith(FORMULA_PREFIXES) else value


def export_row(cells: dict[str, Cell]) -> list[str]:
    return [cells[key].plain() if key in NUMERIC_COLUMNS else csv_safe(cells[key].plain())
            for key, _header in EXPORT_COLUMNS]


@login_required
@require_GET
def liaison_export(request: HttpRequest) -> HttpResponseBase:
    """CSV of the log with the list's filters; columns from each reader's view, withheld cells empty."""
    actor = actor_of(request)
    form = LiaisonFilterForm(actor, request.GET)
    if not form.is_valid():
        return _log_page(request, form, status=FORM_ERROR_STATUS)
    entries = queries.liaison_log(actor, form.to_filter())
    tz = form.tz
    writer = csv.writer(_Echo())

    # Built in the view, in batches: under ASGI a streamed body is consumed outside the
    # request's thread, where the database may not be read.
    lines = ["\ufeff" + writer.writerow([str(header) for _key, header in EXPORT_COLUMNS])]
    start = 0
    while batch := list(entries[start:start + EXPORT_BATCH]):
        lines.extend(writer.writerow(export_row(row["cells"])) for row in entry_rows(actor, batch, tz, iso_times=True))
        start += EXPORT_BATCH

    filename = f"liaison-log-{timezone.localtime(timezone.now(), tz).date().isoformat()}.csv"
    response = HttpResponse("".join(lines), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


# ---------------------------------------------------------------------------------------------
# One entry


def _release_rows(releases: list[Release], tz: dt.tzinfo) -> list[dict[str, Any]]:
    labels = dict(ReleaseForm.field_labels(LiaisonLogEntry))
    return [{
        "pk": r.pk, "target": r.target_label,
        "fields": _("the whole record") if r.fields is None else ", ".join(labels.get(f, f) for f in r.fields),
        "created_at": format_datetime(r.created_at, tz), "revoked_at": format_datetime(r.revoked_at, tz),
        "active": r.revoked_at is None,
    } for r in releases]


def _entry_page(request: HttpRequest, shown: access.Shown[LiaisonLogEntry], *,
                release_form: ReleaseForm | None = None, status: int = 200) -> HttpResponse:
    actor = actor_of(request)
    tz = mission_tz(actor)
    may_release = access.may(actor, access.Action.RELEASE, shown.record, shown.view)
    if may_release and release_form is None:
        release_form = ReleaseForm(actor, LiaisonLogEntry)
    cells = entry_cells(actor, shown, tz, _people_names(actor, [shown]))
    place = cells["place_name"].text or cells["mgrs"].text
    return render_page(request, "actors/liaison/detail.html", {
        "entry": shown, "cells": cells,
        "geojson": point_features(shown, place),
        "may_edit": access.may(actor, access.Action.EDIT, shown.record, shown.view),
        "may_release": may_release,
        "may_history": access.may(actor, access.Action.HISTORY, shown.record, shown.view),
        "releases": _release_rows(queries.releases(actor, shown), tz),
        "release_form": release_form if may_release else None,
        "reduced": shown.reduced,
        **_live_context(actor, [shown.record]),
    }, status=status)


@login_required
@require_GET
def liaison_entry(request: HttpRequest, pk: Any) -> HttpResponse:
    """One entry: every field the reader's view shows; releases for those who may release."""
    return _entry_page(request, _entry_or_404(actor_of(request), pk))


def _form_page(request: HttpRequest, form: LiaisonEntryForm, *, status: int = 200,
               entry: access.Shown[LiaisonLogEntry] | None = None,
               merge: dict[str, Any] | None = None) -> HttpResponse:
    actor = actor_of(request)
    settings = core_services.mission_settings(actor.space_id)
    return render_page(request, "actors/liaison/form.html", {
        "form": form, "entry": entry, "merge": merge,
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
    """Each merge unit's value (the ledger's JSON form) as the reader reads it."""
    org_ids = {str(v) for v in values.get("organisations") or []}
    person_ids = {str(v) for v in values.get("people") or []}
    orgs = queries.organisations_by_id(actor, org_ids)
    people = queries.people_names(actor, person_ids)
    out = {}
    for unit, value in values.items():
        if unit == "location":
            lat, lon = value if isinstance(value, tuple | list) else (None, None)
            out[unit] = "—" if lat is None or lon is None else f"{float(lat):.5f}, {float(lon):.5f}"
        else:
            out[unit] = _readable_change(actor, unit, value, tz, orgs, people)
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


# ---------------------------------------------------------------------------------------------
# History and releases


def _readable_change(actor: Actor, name: str, value: Any, tz: dt.tzinfo,
                     orgs: dict[str, Any], people: dict[str, str]) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if name in ("organisations",):
        return ", ".join(orgs[v].label for v in value if v in orgs)
    if name in ("owner", "target_organisation"):
        return orgs[value].label if value in orgs else "—"
    if name in ("people",):
        return ", ".join(people[v] for v in value if v in people) or "—"
    if name == "target_person":
        return people.get(value, "—")
    if name == "occurred_at":
        try:
            return format_datetime(dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")), tz)
        except ValueError:
            return str(value)
    if name == "channel":
        return str(dict(LiaisonLogEntry._meta.get_field("channel").choices or []).get(value, value))
    if name == "level":
        return str(Level(value).label) if value in Level.values else str(value)
    if name == "target_component":
        return str(Component(value).label) if value in Component.values else str(value)
    if name == "fields":
        labels = dict(ReleaseForm.field_labels(LiaisonLogEntry))
        return ", ".join(labels.get(f, f) for f in value)
    return str(value)


def _change_label(name: str) -> str:
    if name in CHANGE_LABELS:
        return str(CHANGE_LABELS[name]).capitalize()
    try:
        return field_label(LiaisonLogEntry, name)
    except FieldDoesNotExist:
        return name


@login_required
@require_GET
def liaison_history(request: HttpRequest, pk: Any) -> HttpResponse:
    """Versions of an entry: who, when, and the changes cut to the reader's view."""
    actor = actor_of(request)
    shown = _entry_or_404(actor, pk)
    try:
        versions = queries.history(actor, shown)
    except NotFound:
        not_found()
    tz = mission_tz(actor)
    org_ids: set[str] = set()
    person_ids: set[str] = set()
    for v in versions:
        org_ids.update(v.changes.get("organisations") or [])
        org_ids.update(str(v.changes[k]) for k in ("owner", "target_organisation") if v.changes.get(k))
        person_ids.update(v.changes.get("people") or [])
        if v.changes.get("target_person"):
            person_ids.add(str(v.changes["target_person"]))
    orgs = queries.organisations_by_id(actor, org_ids)
    people = queries.people_names(actor, person_ids - {queries.WITHHELD_PERSON})
    people[queries.WITHHELD_PERSON] = _("withheld")  # a person the reader may not see (queries.history)
    rows = [{
        "version": v.version, "action": str(ACTION_LABELS.get(v.action, v.action)),
        "when": format_datetime(v.recorded_at, tz), "actor": v.actor,
        "changes": [{"label": _change_label(k), "value": _readable_change(actor, k, val, tz, orgs, people)}
                    for k, val in v.changes.items() if k != "release"],
    } for v in versions]
    return render_page(request, "actors/liaison/history.html", {"entry": shown, "versions": rows})


@login_required
@require_POST
def liaison_releases(request: HttpRequest, pk: Any) -> HttpResponse:
    """Add a release (``release-*`` fields) or revoke one (``revoke=<release id>``)."""
    actor = actor_of(request)
    shown = _entry_or_404(actor, pk)
    detail = reverse("actors:liaison-entry", args=[shown.record.pk])
    if not access.may(actor, access.Action.RELEASE, shown.record, shown.view):
        return refuse(request, Forbidden(_("Only members of the organisation that owns this entry may "
                                           "release it or revoke its releases.")))
    if "revoke" in request.POST:
        try:
            release = queries.release(actor, shown, request.POST["revoke"])
            core_services.revoke_release(actor, release)
        except ServiceError as exc:
            return refuse(request, exc)
        messages.success(request, _("The release to %(target)s was revoked.") % {"target": release.target_label})
        return HttpResponseRedirect(detail)
    form = ReleaseForm(actor, LiaisonLogEntry, request.POST)
    if not form.is_valid():
        return _entry_page(request, shown, release_form=form, status=FORM_ERROR_STATUS)
    try:
        release = core_services.release_record(actor, shown.record, **form.release_kwargs())
    except ServiceError as exc:
        if isinstance(exc, NotFound):
            not_found()
        form.add_service_error(exc)
        return _entry_page(request, shown, release_form=form, status=exc.status)
    messages.success(request, _("The entry was released to %(target)s.") % {"target": release.target_label})
    return HttpResponseRedirect(detail)

"""Pages of a kernel record type, from its declaration: the list (filters in the URL, 50 a page,
live rows), its CSV export, the record page (card, discussion, attachments, releases), its
history, live rows and cards, and the create and edit forms (version check, three-way merge of a
stale edit).

An app mounts them with :func:`civmil.core.kernel.urls.patterns` and overrides what is special to
it: a template extending the kernel's (blocks), a create form, extra context.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from asgiref.sync import sync_to_async
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.core.handlers.asgi import ASGIRequest
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.template.defaultfilters import linebreaksbr
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from civmil.core import access, events, registry
from civmil.core import merge as merging
from civmil.core import services as core_services
from civmil.core.errors import Forbidden, NotFound, ServiceError, StaleEdit
from civmil.core.kernel import fields as kf
from civmil.core.kernel import queries as kq
from civmil.core.kernel.forms import RecordForm, ReleaseForm, filter_form, form_field, release_labels
from civmil.core.kernel.queries import history_of
from civmil.core.pages import FORM_ERROR_STATUS, actor_of, mission_tz, not_found, record_url, render_page

if TYPE_CHECKING:
    from civmil.core.acting import Actor

PER_PAGE = 50
EXPORT_BATCH = 500
ACTION_LABELS = {
    "release.added": gettext_lazy("Released"),
    "release.revoked": gettext_lazy("Release revoked"),
}
CHANGE_LABELS = {
    "target_organisation": gettext_lazy("released to organisation"),
    "target_component": gettext_lazy("released to component"),
    "target_person": gettext_lazy("released to person"),
    "fields": gettext_lazy("released fields"),
    "level": gettext_lazy("releasability"),
    "owner": gettext_lazy("owner"),
}


def generic_create(record_type: registry.RecordType) -> Callable[[Actor, dict[str, Any]], Any]:
    """``core.services.create_record`` of a record owned by the actor's organisation."""

    def create(actor: Actor, values: dict[str, Any]) -> Any:
        if actor.organisation is None:
            raise Forbidden(_("You need a current membership of an organisation to create records."))
        many = {k: v for k, v in values.items() if _is_many(record_type, k)}
        plain = {k: v for k, v in values.items() if k not in many}
        record = record_type.model(owner=actor.organisation, **plain)
        action = record_type.created_action or f"{record_type.key}.created"
        return core_services.create_record(actor, record, action=action, fields=[*plain, "owner"], m2m=many)

    return create


def generic_update(record_type: registry.RecordType) -> Callable[[Actor, Any, int, dict[str, Any]], Any]:
    """``core.services.update_record`` with the version the editor loaded."""

    def update(actor: Actor, pk: Any, version: int, values: dict[str, Any]) -> Any:
        many = {k: v for k, v in values.items() if _is_many(record_type, k)}
        plain = {k: v for k, v in values.items() if k not in many}
        current = access.fetch(actor, record_type.model, pk).record if many else None
        for name in many if current is not None else ():
            # Protected records (people) on it whom the editor may not see stay on it: an editor
            # cannot remove what they cannot see (and never learns it is there).
            related = getattr(current, name).all()
            if _is_protected(related.model):
                seen = access.visible(actor, related).values("pk")
                many[name] = [*many[name], *related.exclude(pk__in=seen)]
        return core_services.update_record(actor, record_type.model, pk, version, plain,
                                           action=record_type.updated_action or f"{record_type.key}.edited",
                                           m2m=many)

    return update


def _is_protected(model: Any) -> bool:
    """Whether records of ``model`` pass the access policy (a declared type: people) rather than
    being reference data every member may pick."""
    try:
        registry.get(model)
    except LookupError:
        return False
    return True


def _is_many(record_type: registry.RecordType, name: str) -> bool:
    try:
        return bool(record_type.model._meta.get_field(name).many_to_many)
    except FieldDoesNotExist:  # "level" is a field; other form names are not
        return False


@dataclass
class KernelViews:
    """The pages of one record type. ``templates`` overrides the kernel's templates by page
    (``list``, ``detail``, ``form``, ``history``, ``row``, ``card``); ``create_form`` replaces the
    generated create form (it needs ``values()`` and ``add_service_error``); ``*_context`` add to
    the list and detail pages. ``names`` renames pages (``{"list": "actors:liaison-log"}``) where
    a type kept URL names older than the kernel; ``filter_form`` replaces the declared filters by a
    form of the type's own (``filter_form(actor, data)``, valid or not, with ``filtered(sort)``
    giving the reader's records it keeps); ``more_cells`` adds cells that are no one field's (a
    record's location as MGRS); ``csv_columns`` (cell name, header) and ``csv_name`` (the file's
    name before its date) replace the export's defaults. ``created_message`` and
    ``updated_message`` (``(record) -> (messages level, text)``) replace the message shown after
    a save."""

    record_type: registry.RecordType
    templates: dict[str, str] = field(default_factory=dict)
    create_form: Any = None
    list_context: Callable[[HttpRequest, Actor], dict[str, Any]] | None = None
    detail_context: Callable[[HttpRequest, Actor, access.Shown[Any]], dict[str, Any]] | None = None
    created_message: Callable[[Any], tuple[int, str]] | None = None
    updated_message: Callable[[Any], tuple[int, str]] | None = None
    names: dict[str, str] = field(default_factory=dict)
    filter_form: Any = None
    more_cells: Callable[[access.Shown[Any]], dict[str, kf.Cell]] | None = None
    csv_columns: tuple[tuple[str, Any], ...] = ()
    csv_name: str = ""

    def __post_init__(self) -> None:
        _VIEWS[self.record_type.key] = self

    # -- helpers -------------------------------------------------------------------------------

    @property
    def rt(self) -> registry.RecordType:
        return self.record_type

    def url(self, page: str) -> str:
        if page in self.names:
            return self.names[page]
        return self.rt.url_base if not page else f"{self.rt.url_base}-{page}"

    def template(self, page: str) -> str:
        return self.templates.get(page, f"core/kernel/{page}.html")

    def fields(self) -> list[kf.Field]:
        return kf.resolve(self.rt)

    def _shown_or_404(self, actor: Actor, pk: Any) -> access.Shown[Any]:
        try:
            return access.fetch(actor, self.rt.model, pk)
        except NotFound:
            not_found()

    def rows(self, actor: Actor, records: list[Any], *, iso_times: bool = False) -> list[dict[str, Any]]:
        """Table rows of ``records`` as the reader sees them: ``cells`` by field, and the face
        fields (every view shows them) by name, with ``<name>_label`` for choices."""
        fields = self.fields()
        many = [f.name for f in fields if f.kind == kf.MANY]
        if many:
            kf.prefetch_many(records, many)
        shown = access.show_all(actor, records)
        page = kf.Page.of(actor, fields, shown, iso_times=iso_times)
        # Labels are translated once per page, not once per row (a list has fifty).
        card_fields = [(f.name, f.label, f.kind == kf.LONG_TEXT) for f in fields if f.spec.on_card]
        column_names = [f.name for f in fields if f.spec.in_list]
        column_labels = [(f.name, f.label) for f in fields if f.spec.in_list]
        out = []
        for s in shown:
            row: dict[str, Any] = {"pk": s.record.pk, "url": record_url(self.rt.detail_url_name, s.record.pk),
                                   "level": s.record.level, "shown": s,
                                   "cells": kf.cells(fields, s, page)}
            if self.more_cells is not None:
                row["cells"].update(self.more_cells(s))
            row["owner"] = row["cells"]["owner"]
            row["columns"] = [row["cells"][name] for name in column_names]
            row["labelled"] = [{"label": label, "cell": row["cells"][name]} for name, label in column_labels]
            row["card"] = [{"name": name, "label": label, "cell": row["cells"][name], "long": long}
                           for name, label, long in card_fields]
            for f in fields:
                if f.spec.face:
                    row[f.name] = getattr(s.record, f.name)
                    if f.kind == kf.CHOICE:
                        row[f"{f.name}_label"] = row["cells"][f.name].text
            out.append(row)
        return out

    def columns(self) -> list[kf.Field]:
        return [f for f in self.fields() if f.spec.in_list]

    # -- the list and its export ---------------------------------------------------------------

    def _filter_values(self, form: Any) -> dict[str, Any]:
        return {k: v for k, v in form.cleaned_data.items()}

    def _filters(self, actor: Actor, data: Any) -> Any:
        if self.filter_form is not None:
            return self.filter_form(actor, data)
        return filter_form(actor, self.rt, data)

    def _filtered(self, actor: Actor, form: Any, sort: str = "") -> Any:
        """The reader's records a valid filter form keeps."""
        if self.filter_form is not None:
            return form.filtered(sort)
        return kq.filtered(actor, self.rt, self._filter_values(form), sort=sort)

    def sortable(self) -> list[str]:
        """Names of the fields the list sorts by (declared ``sort``)."""
        return [f.name for f in self.fields() if f.spec.sort]

    def _unknown_sort(self, request: HttpRequest) -> HttpResponse | None:
        """A 400 page naming a ``sort`` the list does not know (a hand-made or stale link), else None."""
        sort = request.GET.get("sort", "")
        if not sort or sort.removeprefix("-") in self.sortable():
            return None
        sortable = ", ".join(self.sortable()) or _("none")
        return render(request, "error.html", {"title": _("Cannot sort this list"), "message": _(
            "The list cannot be sorted by “%(field)s”. Fields it sorts by: %(sortable)s.")
            % {"field": sort.removeprefix("-"), "sortable": sortable}}, status=400)

    def sorting(self, request: HttpRequest) -> dict[str, dict[str, str]]:
        """Each sortable column's header link and state, by field name: ``url`` (the current
        filters, sorted by that field, ascending first and then toggling; back to the first page)
        and ``aria`` (the ``aria-sort`` value: ascending, descending or none)."""
        current = request.GET.get("sort", "")
        out = {}
        for name in self.sortable():
            query = request.GET.copy()
            query.pop("page", None)
            query["sort"] = f"-{name}" if current == name else name
            aria = "ascending" if current == name else "descending" if current == f"-{name}" else "none"
            out[name] = {"url": f"?{query.urlencode()}", "aria": aria}
        return out

    def list_page(self, request: HttpRequest) -> HttpResponse:
        actor = actor_of(request)
        if (refused := self._unknown_sort(request)) is not None:
            return refused
        form = self._filters(actor, request.GET)
        page_obj = None
        rows: list[dict[str, Any]] = []
        if form.is_valid():
            qs = self._filtered(actor, form, request.GET.get("sort", ""))
            page_obj = Paginator(qs, PER_PAGE).get_page(request.GET.get("page"))
            rows = self.rows(actor, list(page_obj.object_list))
        query = request.GET.copy()
        query.pop("page", None)
        context = {
            "record_type": self.rt, "form": form, "page_obj": page_obj, "rows": rows, "columns": self.columns(),
            "sorting": (sorting := self.sorting(request)),
            "headers": [{"name": f.name, "label": f.label, "sort": sorting.get(f.name)} for f in self.columns()],
            "export_query": query.urlencode(), "may_create": actor.organisation is not None,
            "filters_open": _filters_set(request) or not form.is_valid(), "row_template": self.template("row"),
            "urls": self.url_names(), **_live_context(actor, [r["shown"].record for r in rows]),
        }
        context.update(self._saved_filters(actor))
        if self.list_context is not None:
            context.update(self.list_context(request, actor))
        return render_page(request, self.template("list"), context,
                           status=200 if form.is_valid() else FORM_ERROR_STATUS)

    def _saved_filters(self, actor: Actor) -> dict[str, Any]:
        """The reader's own saved filters of this list (name, the list's URL with them), and
        whether they may save some (a person of their own)."""
        from django.urls import reverse

        from civmil.core import queries as core_queries

        if not actor.is_authenticated or actor.person_id is None:
            return {"saved_filters": [], "may_save_filters": False}
        base = reverse(self.url_names()["list"])
        return {"may_save_filters": True, "saved_filters": [
            {"pk": f.pk, "name": f.name, "url": f"{base}?{f.query}" if f.query else base}
            for f in core_queries.saved_filters(actor, self.rt.key)]}

    def url_names(self) -> dict[str, str]:
        return {"list": self.names.get("list", self.rt.list_url), "new": self.url("new"), "export": self.url("export"),
                "detail": self.rt.detail_url_name, "edit": self.url("edit"), "history": self.url("history"),
                "releases": self.url("releases"), "row": self.url("row"), "card": self.url("card")}

    def csv_lines(self, actor: Actor, qs: Any) -> tuple[list[str], Callable[[int], list[str]]]:
        """The header line, and a function giving the lines of the batch starting at an offset."""
        writer = csv.writer(_Echo())
        by_name = {f.name: f for f in self.fields()}
        columns = list(self.csv_columns) or [
            ("id", "id"), *((f.name, f.label) for f in self.fields() if f.spec.in_csv),
            ("level", _("Releasability")), ("owner", _("Owner"))]
        header = [str(title) for _key, title in columns]

        def batch(start: int) -> list[str]:
            records = list(qs[start:start + EXPORT_BATCH])
            lines = []
            for row in self.rows(actor, records, iso_times=True):
                c = row["cells"]
                values = [c["id"].plain() if key == "id" else kf.csv_cell(by_name.get(key), c[key])
                          for key, _title in columns]
                lines.append(writer.writerow(values))
            return lines

        return ["\ufeff" + writer.writerow(header)], batch

    def export(self, request: HttpRequest) -> HttpResponseBase:
        """CSV with the list's filters, streamed in batches; cells from each reader's view, withheld
        cells empty, user text made formula-safe."""
        actor = actor_of(request)
        if (refused := self._unknown_sort(request)) is not None:
            return refused
        form = self._filters(actor, request.GET)
        if not form.is_valid():
            return self.list_page(request)
        qs = self._filtered(actor, form, request.GET.get("sort", ""))
        header, batch = self.csv_lines(actor, qs)
        if isinstance(request, ASGIRequest):
            content: Any = _async_lines(header, batch)
        else:
            content = _sync_lines(header, batch)
        response = StreamingHttpResponse(content, content_type="text/csv; charset=utf-8")
        stem = self.csv_name or str(self.rt.model._meta.verbose_name_plural).replace(" ", "-")
        day = timezone.localtime(timezone.now(), mission_tz(actor)).date().isoformat()
        response["Content-Disposition"] = f'attachment; filename="{stem}-{day}.csv"'
        response["Cache-Control"] = "no-store"
        return response

    # -- one record ----------------------------------------------------------------------------

    def _release_rows(self, releases: list[Any], actor: Actor) -> list[dict[str, Any]]:
        from civmil.core.formats import mission_datetime

        tz = mission_tz(actor)
        labels = dict(release_labels(self.rt))
        return [{
            "pk": r.pk, "target": r.target_label,
            "fields": _("the whole record") if r.fields is None else ", ".join(labels.get(f, f) for f in r.fields),
            "created_at": mission_datetime(r.created_at, tz), "revoked_at": mission_datetime(r.revoked_at, tz),
            "active": r.revoked_at is None,
        } for r in releases]

    def _releases(self, actor: Actor, shown: access.Shown[Any]) -> list[Any]:
        from django.contrib.contenttypes.models import ContentType

        from civmil.core.models import Release

        if not access.may(actor, access.Action.RELEASE, shown.record, shown.view):
            return []
        return list(Release.objects.filter(
            content_type=ContentType.objects.get_for_model(shown.record), object_id=shown.record.pk,
        ).select_related("target_organisation", "target_person").order_by("created_at"))

    def detail_page(self, request: HttpRequest, shown: access.Shown[Any], *, release_form: ReleaseForm | None = None,
                    status: int = 200, extra: dict[str, Any] | None = None) -> HttpResponse:
        actor = actor_of(request)
        may_release = access.may(actor, access.Action.RELEASE, shown.record, shown.view)
        if may_release and release_form is None:
            release_form = ReleaseForm(actor, self.rt)
        row = self.rows(actor, [shown.record])[0]
        context = {
            "record_type": self.rt, "record": shown, "row": row, "cells": row["cells"],
            "card_fields": [f for f in self.fields() if f.spec.on_card], "urls": self.url_names(),
            "may_edit": access.may(actor, access.Action.EDIT, shown.record, shown.view),
            "may_release": may_release,
            "may_history": access.may(actor, access.Action.HISTORY, shown.record, shown.view),
            "releases": self._release_rows(self._releases(actor, shown), actor),
            "release_form": release_form if may_release else None, "reduced": shown.reduced,
            **_live_context(actor, [shown.record]),
        }
        if self.detail_context is not None:
            context.update(self.detail_context(request, actor, shown))
        context.update(extra or {})
        return render_page(request, self.template("detail"), context, status=status)

    def detail(self, request: HttpRequest, pk: Any) -> HttpResponse:
        return self.detail_page(request, self._shown_or_404(actor_of(request), pk))

    def card(self, request: HttpRequest, pk: Any) -> HttpResponse:
        """The card of one record, for live updates of its page; 404 when hidden."""
        actor = actor_of(request)
        shown = self._shown_or_404(actor, pk)
        row = self.rows(actor, [shown.record])[0]
        return render(request, self.template("card"), {
            "record": shown, "row": row, "cells": row["cells"],
            "card_fields": [f for f in self.fields() if f.spec.on_card]})

    def row(self, request: HttpRequest, pk: Any) -> HttpResponse:
        """One row of the list, for live updates; a record the list's filters (passed along) do not
        match answers 204, so a filtered page neither gains nor keeps rows outside its filters."""
        actor = actor_of(request)
        record = self._shown_or_404(actor, pk).record
        if request.GET:
            form = self._filters(actor, request.GET)
            if not form.is_valid() or not self._filtered(actor, form).filter(pk=record.pk).exists():
                return HttpResponse(status=204)
        row = self.rows(actor, [record])[0]
        return render(request, self.template("row"), {"row": row, "columns": self.columns(), "urls": self.url_names()})

    def history(self, request: HttpRequest, pk: Any) -> HttpResponse:
        """Versions of a record: who, when, and what each changed (old beside new, text differences
        marked), cut to the reader's view; ``?from=A&to=B`` compares any two versions."""
        from civmil.core.formats import mission_datetime

        actor = actor_of(request)
        shown = self._shown_or_404(actor, pk)
        if not access.may(actor, access.Action.HISTORY, shown.record, shown.view):
            not_found()
        versions = history_of(actor, shown)
        fields = {f.name: f for f in self.fields()}
        page = kf.Page.of(actor, [], [])
        names = kf.related_names(actor, list(fields.values()), (v["changes"] for v in versions))
        names.update(kf.related_names(actor, _release_fields(), (v["changes"] for v in versions)))
        names["withheld"] = _("withheld")
        labels = {**ACTION_LABELS, **self.rt.action_labels}
        # The record's own fields are stored whole at each version: a version shows those that
        # differ from the version before. Other entries (releases, files) show what they carry.
        tracked = {*fields, "level", "owner"}
        state: dict[str, Any] = {}
        states: dict[int, dict[str, Any]] = {}
        rows = []
        for v in versions:
            changes = []
            for key, value in v["changes"].items():
                if key == "release":
                    continue
                if key not in tracked:
                    changes.append(self.change_row(key, _NOT_YET, value, page, names))
                    continue
                before = state.get(key, _NOT_YET)
                if before == value:
                    continue
                changes.append(self.change_row(key, before, value, page, names))
                state[key] = value
            if v["version"]:
                states[v["version"]] = dict(state)
            rows.append({"version": v["version"], "action": str(labels.get(v["action"], v["action"])),
                         "when": mission_datetime(v["recorded_at"], page.tz), "actor": v["actor"],
                         "changes": changes})
        compare = self._comparison(request, states, page, names)
        return render_page(request, self.template("history"), {
            "record_type": self.rt, "record": shown, "versions": rows, "urls": self.url_names(),
            "version_numbers": sorted(states), "compare": compare})

    def _comparison(self, request: HttpRequest, states: dict[int, dict[str, Any]], page: kf.Page,
                    names: dict[str, str]) -> dict[str, Any] | None:
        """The fields that differ between two versions the reader chose (``from`` and ``to``)."""
        try:
            first, second = int(request.GET.get("from", "")), int(request.GET.get("to", ""))
        except ValueError:
            return None
        if first not in states or second not in states:
            return None
        a, b = states[first], states[second]
        changes = [self.change_row(key, a.get(key, _NOT_YET), b.get(key, _NOT_YET), page, names)
                   for key in dict.fromkeys([*a, *b]) if a.get(key, _NOT_YET) != b.get(key, _NOT_YET)]
        return {"from": first, "to": second, "changes": changes}

    def change_row(self, name: str, before: Any, after: Any, page: kf.Page, names: dict[str, str]) -> dict[str, Any]:
        """One changed field: its label, and its value before (``None`` when it had none yet) and
        after as the reader reads them; texts with the words taken out and put in marked."""
        new = self.change_text(name, after, page, names) if after is not _NOT_YET else "—"
        if before is _NOT_YET:
            return {"label": self.change_label(name), "before": None, "after": _plain(new)}
        old = self.change_text(name, before, page, names)
        f = next((x for x in self.fields() if x.name == name), None)
        if f is not None and f.kind in (kf.TEXT, kf.LONG_TEXT) and old != "—" and new != "—":
            marked_old, marked_new = text_difference(old, new)
            return {"label": self.change_label(name), "before": marked_old, "after": marked_new}
        return {"label": self.change_label(name), "before": _plain(old), "after": _plain(new)}

    def change_label(self, name: str) -> str:
        f = self.rt.field_spec(name)
        if f is not None:
            return next(x.label for x in self.fields() if x.name == name)
        return str(CHANGE_LABELS.get(name, name)).capitalize()

    def change_text(self, name: str, value: Any, page: kf.Page, names: dict[str, str]) -> str:
        from civmil.core.choices import Component, Level

        f = next((x for x in self.fields() if x.name == name), None)
        if f is not None:
            return kf.change_text(f, value, page, names)
        if value in (None, "", []):
            return "—"
        if name == "level":
            return str(Level(value).label) if value in Level.values else str(value)
        if name == "target_component":
            return str(Component(value).label) if value in Component.values else str(value)
        if name in ("owner", "target_organisation", "target_person"):
            return names.get(str(value), "—")
        if name == "fields":
            labels = dict(release_labels(self.rt))
            return ", ".join(labels.get(x, x) for x in value)
        return str(value)

    def releases(self, request: HttpRequest, pk: Any) -> HttpResponse:
        """Add a release (``release-*`` fields) or revoke one (``revoke=<release id>``)."""
        actor = actor_of(request)
        shown = self._shown_or_404(actor, pk)
        detail = record_url(self.rt.detail_url_name, shown.record.pk)
        if not access.may(actor, access.Action.RELEASE, shown.record, shown.view):
            return refuse(request, Forbidden(_("Only members of the organisation that owns this record may "
                                               "release it or revoke its releases.")))
        if "revoke" in request.POST:
            found = [r for r in self._releases(actor, shown) if str(r.pk) == request.POST["revoke"]]
            if not found:
                not_found()
            try:
                core_services.revoke_release(actor, found[0])
            except ServiceError as exc:
                return refuse(request, exc)
            messages.success(request, _("The release to %(target)s was revoked.") % {"target": found[0].target_label})
            return HttpResponseRedirect(detail)
        form = ReleaseForm(actor, self.rt, request.POST)
        if not form.is_valid():
            return self.detail_page(request, shown, release_form=form, status=FORM_ERROR_STATUS)
        try:
            release = core_services.release_record(actor, shown.record, **form.release_kwargs())
        except ServiceError as exc:
            if isinstance(exc, NotFound):
                not_found()
            form.add_service_error(exc)
            return self.detail_page(request, shown, release_form=form, status=exc.status)
        messages.success(request, _("The record was released to %(target)s.") % {"target": release.target_label})
        return HttpResponseRedirect(detail)

    # -- create and edit -----------------------------------------------------------------------

    def form_page(self, request: HttpRequest, form: Any, *, status: int = 200, record: Any = None,
                  merge: dict[str, Any] | None = None) -> HttpResponse:
        return render_page(request, self.template("form"), {
            "record_type": self.rt, "form": form, "record": record, "merge": merge, "urls": self.url_names(),
            "merge_panels": _panels_by_field(form, merge),
        }, status=status)

    def new(self, request: HttpRequest) -> HttpResponse:
        actor = actor_of(request)
        if actor.organisation is None:
            return refuse(request, Forbidden(_("You need a current membership of an organisation to create records.")))
        form_class = self.create_form
        make = (lambda data=None, **kw: form_class(actor, data, **kw)) if form_class is not None else (
            lambda data=None, **kw: RecordForm(actor, self.rt, data, **kw))
        if request.method != "POST":
            return self.form_page(request, make(initial=self._initial(request)))
        form = make(request.POST)
        if not form.is_valid():
            return self.form_page(request, form, status=FORM_ERROR_STATUS)
        create = self.rt.create or generic_create(self.rt)
        try:
            record = create(actor, form.values())
        except ServiceError as exc:
            if isinstance(exc, NotFound):
                not_found()
            form.add_service_error(exc)
            return self.form_page(request, form, status=exc.status)
        level, text = self.created_message(record) if self.created_message else (
            messages.SUCCESS, _("The record was saved."))
        messages.add_message(request, level, text)
        return HttpResponseRedirect(record_url(self.rt.detail_url_name, record.pk))

    def _initial(self, request: HttpRequest) -> dict[str, Any]:
        from civmil.core.choices import Level

        actor = actor_of(request)
        initial: dict[str, Any] = {"level": Level.MISSION if Level.MISSION in self.rt.levels else self.rt.levels[0]}
        for f in self.fields():
            if f.kind in (kf.DATE,) and f.required:
                initial[f.name] = timezone.localdate()
            if f.spec.initial is not None:
                initial[f.name] = f.spec.initial(actor)
            if f.kind in (kf.RELATED, kf.MANY) and f.name in request.GET:
                initial[f.name] = _pickable_initial(actor, f, request.GET.getlist(f.name))
            elif f.name in request.GET:
                initial[f.name] = request.GET[f.name]
        return initial

    def edit(self, request: HttpRequest, pk: Any) -> HttpResponse:
        """Edit a record. A stale edit is never saved: it comes back merged with the newer version."""
        actor = actor_of(request)
        shown = self._shown_or_404(actor, pk)
        if not access.may(actor, access.Action.EDIT, shown.record, shown.view):
            return refuse(request, Forbidden(_("You may read this record but not edit it: only its owning "
                                               "organisation and the person who recorded it may.")))
        if request.method != "POST":
            return self.form_page(request, RecordForm(actor, self.rt, editing=shown.record), record=shown)
        form = RecordForm(actor, self.rt, request.POST, editing=shown.record)
        valid = form.is_valid()
        if valid and any(choice == "theirs" for choice in form.merge_choices.values()):
            carried = merging.version_values(shown.record, form.cleaned_data["version"], form.units)
            valid = form.apply_theirs(carried)
        if not valid:
            return self.form_page(request, form, status=FORM_ERROR_STATUS, record=shown,
                                  merge=self._pending_merge(actor, form, shown.record))
        update = self.rt.update or generic_update(self.rt)
        try:
            record = update(actor, shown.record.pk, form.cleaned_data["version"], form.values())
        except StaleEdit as exc:
            return self._stale(request, form, exc)
        except ServiceError as exc:
            if isinstance(exc, NotFound):
                not_found()
            form.add_service_error(exc)
            return self.form_page(request, form, status=exc.status, record=shown,
                                  merge=self._pending_merge(actor, form, shown.record))
        level, text = self.updated_message(record) if self.updated_message else (
            messages.SUCCESS, _("The record was saved (version %(v)s).") % {"v": record.version})
        messages.add_message(request, level, text)
        return HttpResponseRedirect(record_url(self.rt.detail_url_name, record.pk))

    def _stale(self, request: HttpRequest, form: RecordForm, exc: StaleEdit) -> HttpResponse:
        """Nothing was saved: the form comes back as a three-way merge over the current version."""
        actor = actor_of(request)
        current = self._shown_or_404(actor, form.editing.pk)
        yours = form.cleaned_data["version"]
        stale = exc.merge if isinstance(exc.merge, merging.Merge) else merging.Merge(
            base_version=yours, current_version=current.record.version)
        merged = form.merge_of(stale)
        if not merged.fields:
            theirs = merging.version_values(current.record, current.record.version, form.units)
            mine = {unit: form.submitted(unit) for unit in form.units}
            merged = merging.three_way(None, mine, theirs, base_version=yours,
                                       current_version=current.record.version, same=form.same)
        now = merged.current_version
        again = RecordForm(actor, self.rt, form.merged_data(merged), editing=current.record)
        again.is_valid()
        again.add_error(None, _(
            "Nothing was saved: someone else changed this record while you were editing it. It is now at "
            "version %(now)s; you edited version %(yours)s. The form now holds their changes in the fields "
            "you did not touch, and yours in the fields you changed. Where you both changed a field, both "
            "values are shown beside it: choose one. Then save to apply your changes on top of version %(now)s."
        ) % {"now": now, "yours": yours})
        order = {unit: i for i, unit in enumerate(again.units)}

        def in_form_order(units: list[str]) -> list[str]:
            return sorted(units, key=lambda u: order.get(u, len(order)))

        context = self._merge_context(
            actor, again, version=now, theirs={u: f.theirs for u, f in merged.fields.items()},
            mine={u: f.mine for u, f in merged.fields.items()}, conflicts=in_form_order(list(merged.conflicts)),
            taken=in_form_order([u for u, f in merged.fields.items() if f.outcome == "theirs"]),
            kept=in_form_order([u for u, f in merged.fields.items() if f.outcome == "mine"]))
        return self.form_page(request, again, status=exc.status, record=current, merge=context)

    def merge_texts(self, actor: Actor, values: dict[str, Any]) -> dict[str, str]:
        """Each field's value (the ledger's JSON form) as the reader reads it."""
        fields = self.fields()
        page = kf.Page.of(actor, [], [])
        names = kf.related_names(actor, fields, [values])
        return {unit: self.change_text(unit, value, page, names) for unit, value in values.items()}

    def _merge_context(self, actor: Actor, form: RecordForm, *, version: int, theirs: dict[str, Any],
                       mine: dict[str, Any], conflicts: list[str], taken: list[str] = [],  # noqa: B006
                       kept: list[str] = []) -> dict[str, Any]:  # noqa: B006
        their_texts = self.merge_texts(actor, {u: theirs.get(u) for u in conflicts})
        my_texts = self.merge_texts(actor, {u: mine.get(u) for u in conflicts})

        def label(unit: str) -> str:
            return str(form.fields[unit].label) if unit in form.fields else unit

        panels = {unit: {"unit": unit, "label": label(unit), "version": version, "theirs": their_texts[unit],
                         "mine": my_texts[unit], "choice": form.data.get(f"merge_{unit}", "")}
                  for unit in conflicts}
        return {"version": version, "panels": panels, "conflicts": [panels[u]["label"] for u in conflicts],
                "taken": [label(u) for u in taken], "kept": [label(u) for u in kept]}

    def _pending_merge(self, actor: Actor, form: RecordForm, current: Any) -> dict[str, Any] | None:
        units = form.cleaned_data.get("merge_conflicts") if hasattr(form, "cleaned_data") else None
        try:
            version = int(form.cleaned_data.get("version") or form.data.get("version") or 0) or None
        except (TypeError, ValueError):
            version = None
        if not units or version is None:
            return None
        theirs = merging.version_values(current, version, form.units)
        mine = {unit: form.submitted(unit) for unit in units}
        return self._merge_context(actor, form, version=version, theirs=theirs, mine=mine, conflicts=units)


def _pickable_initial(actor: Actor, f: kf.Field, values: list[str]) -> Any:
    """A related field's values named in the query string (``?organisations=<id>``, "Record a
    contact with…"), kept only where the field's own choices hold them: a person the reader may
    not see, or anything that is no id, is dropped and never echoed into the page."""
    field = form_field(actor, f)
    queryset, key = getattr(field, "queryset", None), getattr(field, "to_field_name", None) or "pk"
    wanted = [v for v in values if v][:50]
    if queryset is None or not wanted:
        return [] if f.kind == kf.MANY else None
    found: set[str] = set()
    for value in wanted:  # one by one: an id of the wrong form is dropped alone
        try:
            if queryset.filter(**{key: value}).exists():
                found.add(value)
        except (ValidationError, ValueError, TypeError):
            continue
    kept = [v for v in dict.fromkeys(wanted) if v in found]
    if f.kind == kf.MANY:
        return kept
    return kept[0] if kept else None


def _panels_by_field(form: Any, merge: dict[str, Any] | None) -> list[tuple[Any, Any]]:
    """The form's visible fields, each with its merge panel (or ``None``), in order."""
    panels = (merge or {}).get("panels", {})
    return [(bound, panels.get(bound.name)) for bound in form.visible_fields()]


def _release_fields() -> list[kf.Field]:
    """The organisation and person of release changes, as related fields (for their names)."""
    from civmil.core.models import Release

    out = []
    for name in ("target_organisation", "target_person"):
        spec = registry.FieldSpec(name)
        out.append(kf.Field(spec=spec, model_field=Release._meta.get_field(name), kind=kf.RELATED))
    return out


def refuse(request: HttpRequest, exc: ServiceError) -> HttpResponse:
    """A service error outside a form: 404 stays the one 404 page, others say why."""
    if isinstance(exc, NotFound):
        not_found()
    return render(request, "error.html", {"title": _("Not allowed"), "message": exc.message}, status=exc.status)


def _list_of(key: str) -> str:
    """The list page's URL of a record type's key (404 for a type that has none)."""
    from django.urls import NoReverseMatch, reverse

    try:
        return reverse(views_of(registry.by_key(key)).url_names()["list"])
    except (LookupError, NoReverseMatch):
        not_found()


def save_filter(request: HttpRequest) -> HttpResponse:
    """POST ``record_type``, ``name`` and ``query`` (the list's query string): the reader's
    filters of that list saved under the name; back to the list with them, or with what was wrong."""
    actor = actor_of(request)
    key, query = request.POST.get("record_type", ""), request.POST.get("query", "")
    target = _list_of(key)
    try:
        saved = core_services.save_filter(actor, key, request.POST.get("name", ""), query)
    except ServiceError as exc:
        if isinstance(exc, NotFound) or not exc.errors:
            return refuse(request, exc)
        messages.error(request, exc.message)
        kept = core_services.list_query(query)
        return HttpResponseRedirect(f"{target}?{kept}" if kept else target)
    messages.success(request, _("The filters are saved as “%(name)s”.") % {"name": saved.name})
    return HttpResponseRedirect(f"{target}?{saved.query}" if saved.query else target)


def delete_saved_filter(request: HttpRequest, pk: Any) -> HttpResponse:
    """POST: one of the reader's saved filters deleted; back to its list (404 for anyone else's)."""
    try:
        saved = core_services.delete_saved_filter(actor_of(request), pk)
    except ServiceError as exc:
        return refuse(request, exc)
    messages.success(request, _("The saved filters “%(name)s” are deleted.") % {"name": saved.name})
    return HttpResponseRedirect(_list_of(saved.record_type))


def _filters_set(request: HttpRequest) -> bool:
    """Whether the list's URL sets a filter (beyond its page and order): the filter panel opens."""
    return any(value.strip() for key, values in request.GET.lists() if key not in ("page", "sort")
               for value in values)


def _live_context(actor: Actor, records: list[Any]) -> dict[str, Any]:
    return {"live_after": events.last_id(), "live_seen": events.seen_token(actor, records)}


class _Echo:
    """A file-like object whose ``write`` hands back the line (for a streaming CSV writer)."""

    def write(self, value: str) -> str:
        return value


def _sync_lines(header: list[str], batch: Callable[[int], list[str]]) -> Iterator[str]:
    yield from header
    start = 0
    while lines := batch(start):
        yield "".join(lines)
        start += EXPORT_BATCH


async def _async_lines(header: list[str], batch: Callable[[int], list[str]]) -> Any:
    # Under ASGI the body is consumed on the event loop: each batch is read in the request's
    # synchronous thread, where the database may be used.
    for line in header:
        yield line
    start = 0
    while lines := await sync_to_async(batch, thread_sensitive=True)(start):
        yield "".join(lines)
        start += EXPORT_BATCH


_VIEWS: dict[str, KernelViews] = {}


def views_of(record_type: registry.RecordType) -> KernelViews:
    """The pages of ``record_type`` as mounted (its app's :class:`KernelViews`, or the kernel's own)."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018  (the URLconf builds every type's views)
    return _VIEWS.get(record_type.key) or KernelViews(record_type)


def decorate(view: Callable[..., HttpResponseBase], methods: tuple[str, ...], *,
             public: bool = False) -> Callable[..., HttpResponseBase]:
    """A kernel page as Django sees it: the page's HTTP methods, for signed-in readers only unless
    ``public`` (the reading pages of a type with PUBLIC records: anonymous visitors read those)."""
    if methods == ("GET",):
        view = require_GET(view)
    elif methods == ("POST",):
        view = require_POST(view)
    else:
        view = require_http_methods(list(methods))(view)
    return view if public else login_required(view)



#: A field with no value yet at a version (it first appears in a later one).
_NOT_YET = object()


def _plain(text: str) -> SafeString:
    return linebreaksbr(text, autoescape=True)


def text_difference(old: str, new: str) -> tuple[SafeString, SafeString]:
    """``old`` and ``new`` as HTML, the words taken out marked ``<del>`` in the one and the words
    put in marked ``<ins>`` in the other (a word diff: a change reads at a glance, whatever its size)."""
    import difflib
    import re

    def words(text: str) -> list[str]:
        return re.findall(r"\s+|[^\s]+", text)

    a, b = words(old), words(new)
    before: list[str] = []
    after: list[str] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        taken, put = escape("".join(a[i1:i2])), escape("".join(b[j1:j2]))
        if op == "equal":
            before.append(taken)
            after.append(put)
            continue
        if taken:
            before.append(f"<del>{taken}</del>")
        if put:
            after.append(f"<ins>{put}</ins>")
    return (mark_safe("".join(before).replace("\n", "<br>")),  # noqa: S308  (escaped above)
            mark_safe("".join(after).replace("\n", "<br>")))  # noqa: S308

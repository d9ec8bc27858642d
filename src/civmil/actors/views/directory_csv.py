"""Directory CSV pages: import of organisations or people (administrators) and the two exports.

The import is a staged import (:mod:`civmil.core.staging`), like the boundary import: the
upload step keeps the file server-side (``var/tmp/directory-imports/directory-<staging id>.csv``,
mode 0600, swept after a day) under a staging id bound to the uploader and the membership they
act as, keeps the id, the file's SHA-256, its kind and the plan's fingerprint in the uploader's
session, and shows the dry run: counts of creates and updates and every rejected row with its
reasons. The confirm step reads the file back, plans again against the directory as stored
now, and imports only if the plan is still the one the user saw.

Exports: organisations are reference data (any signed-in reader); people are those the
reader may know exist (``access.visible``), with each cell as the reader's view shows it
(withheld cells empty).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET

from civmil.actors import directory_csv
from civmil.actors import services as actor_services
from civmil.actors.views import actor_of, render_page
from civmil.core import access, queries, staging
from civmil.core.models import Organisation

if TYPE_CHECKING:
    from civmil.core.acting import Actor

#: Planned rows listed in a report (rejected rows are always all listed).
MAX_REPORT_ROWS = 500
#: Where uploaded CSV files wait between the dry run and the confirmation.
STAGING = staging.StagingArea("directory-imports", prefix="directory-", suffix=".csv")
SESSION_KEY = "civmil.directory_import"


class DirectoryImportForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("What the file holds"), choices=directory_csv.KIND_CHOICES,
                             widget=forms.RadioSelect, initial=directory_csv.ORGANISATIONS)
    file = forms.FileField(
        label=gettext_lazy("CSV file"),
        help_text=gettext_lazy("UTF-8, comma or semicolon separated, with a header line. At most 5 MB and "
                               "20,000 rows."),
    )


class DirectoryImport(staging.StagedImport[directory_csv.DirectoryPlan]):
    """Administrators upload a CSV of organisations or people, read the dry run, then confirm.

    A body larger than the limit is refused from its Content-Length before anything parses it.
    """

    staging_area = STAGING
    session_key = SESSION_KEY
    url_name = "actors:directory-import"
    form_class = DirectoryImportForm
    form_template = "actors/directory_csv/import.html"
    report_template = "actors/directory_csv/report.html"
    back_url_name = "actors:index"
    back_label = gettext_lazy("Back to the directory")
    refused_message = gettext_lazy("Only administrators import the directory. Ask one of them, or switch to your "
                                   "administrator membership if you have one.")
    changed_notice = gettext_lazy("The directory changed since this report was made. Here is the report again; "
                                  "check it and confirm once more.")
    max_report_rows = MAX_REPORT_ROWS

    def max_bytes(self) -> int:
        return directory_csv.MAX_FILE_BYTES

    def too_large_message(self, size: int) -> str:
        return directory_csv.too_large_message(size)

    def params(self, form: forms.Form) -> dict[str, Any]:
        return {"kind": form.cleaned_data["kind"]}

    def plan(self, actor: Actor, data: bytes, params: Mapping[str, Any]) -> directory_csv.DirectoryPlan:
        kind = params.get("kind")
        if not isinstance(kind, str) or kind not in directory_csv.COLUMNS:
            raise staging.Expired()
        return directory_csv.plan_file(actor, kind, data)

    def describe(self, plan: directory_csv.DirectoryPlan) -> staging.ImportReport:
        n_rejected, n_valid = len(plan.rejected), len(plan.rows)
        n_create, n_update, n_unchanged = len(plan.to_create), len(plan.to_update), len(plan.unchanged)
        summary = " ".join([
            ngettext("%(n)s record would be created", "%(n)s records would be created", n_create)
            % {"n": n_create} + ",",
            ngettext("%(n)s would be updated", "%(n)s would be updated", n_update) % {"n": n_update} + ",",
            ngettext("%(n)s is unchanged.", "%(n)s are unchanged.", n_unchanged) % {"n": n_unchanged},
        ])
        confirm = (ngettext("Import the %(n)s valid row, without the rejected rows",
                            "Import the %(n)s valid rows, without the rejected rows", n_valid) if n_rejected
                   else ngettext("Import %(n)s row", "Import %(n)s rows", n_valid)) % {"n": n_valid}
        return staging.ImportReport(
            summary=summary, importable=n_valid, confirm_label=confirm,
            rejected=[staging.RejectedItem(r.number, r.label, r.reasons) for r in plan.rejected],
            rejected_summary=ngettext("%(n)s row is rejected.", "%(n)s rows are rejected.", n_rejected)
            % {"n": n_rejected},
            rejected_heading=_("Rejected rows"),
            rejected_intro=_("With rejected rows, nothing is imported unless you confirm importing the valid ones "
                             "without them. The header is row 1."),
            position_header=_("Row"), label_header=_("Name"),
        )

    def planned_rows(self, plan: directory_csv.DirectoryPlan) -> Sequence[Any]:
        return [r for r in plan.rows if r.action != directory_csv.UNCHANGED]

    def form_context(self) -> dict[str, Any]:
        return {"max_rows": directory_csv.MAX_ROWS, "organisation_columns": directory_csv.ORGANISATION_COLUMNS,
                "person_columns": directory_csv.PERSON_COLUMNS}

    def report_context(self, plan: directory_csv.DirectoryPlan) -> dict[str, Any]:
        return {"kind_label": dict(directory_csv.KIND_CHOICES)[plan.kind]}

    def execute(self, actor: Actor, plan: directory_csv.DirectoryPlan, *, confirm_rejected: bool) -> Any:
        return actor_services.import_directory(actor, plan, confirm=confirm_rejected)

    def done(self, request: HttpRequest, plan: directory_csv.DirectoryPlan, result: Any,
             params: Mapping[str, Any]) -> HttpResponse:
        summary = _("Directory imported: %(created)s created, %(updated)s updated, %(unchanged)s unchanged.") % {
            "created": result.created, "updated": result.updated, "unchanged": result.unchanged}
        if result.skipped:
            summary += " " + ngettext("%(n)s rejected row was left out.", "%(n)s rejected rows were left out.",
                                      len(result.skipped)) % {"n": len(result.skipped)}
        messages.success(request, summary)
        return HttpResponseRedirect(reverse("actors:organisations" if plan.kind == directory_csv.ORGANISATIONS
                                            else "actors:people"))

    def render(self, request: HttpRequest, template: str, context: dict[str, Any], *,
               status: int = 200) -> HttpResponse:
        return render_page(request, template, context, status=status)


directory_import = DirectoryImport.as_view()


# ---------------------------------------------------------------------------------------------
# Exports


def _csv_response(rows: Any, stem: str) -> HttpResponse:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    body = "\ufeff" + buffer.getvalue()
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{stem}-{timezone.localdate().isoformat()}.csv"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_GET
def organisations_export(request: HttpRequest) -> HttpResponse:
    """Every organisation (reference data), in the import's columns."""
    orgs = Organisation.objects.select_related("parent").order_by("name")
    return _csv_response(directory_csv.organisation_rows(orgs), "organisations")


@login_required
@require_GET
def people_export(request: HttpRequest) -> HttpResponse:
    """The people the reader may know exist, each cell as the reader's view shows it."""
    actor = actor_of(request)
    people = queries.people(actor).select_related("owner").prefetch_related(
        "memberships__organisation").order_by("full_name", "pk")
    return _csv_response(directory_csv.person_rows(access.show_all(actor, people)), "people")

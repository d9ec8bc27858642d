"""Directory CSV pages: import of organisations or people (administrators) and the two exports.

The import runs in two steps, like the boundary import. The upload step stores the file
server-side under a random token (``var/tmp/directory-imports/directory-<token>.csv``, mode
0600, swept after a day), keeps the token, the file's SHA-256, its kind and the plan's
fingerprint in the uploader's session, and shows the dry run: counts of creates and updates
and every rejected row with its reasons. The confirm step reads the file back by the session's
token (a token from anywhere else is refused), plans again against the directory as stored
now, and imports only if the plan is still the one the user saw.

Exports: organisations are reference data (any signed-in reader); people are those the
reader may know exist (``access.visible``), with each cell as the reader's view shows it
(withheld cells empty).
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
import secrets
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods

from civmil.actors import directory_csv
from civmil.actors import services as actor_services
from civmil.actors.views import FORM_ERROR_STATUS, actor_of, render_page
from civmil.core import access, services
from civmil.core.errors import Invalid, ServiceError
from civmil.core.models import Organisation, Person

if TYPE_CHECKING:
    from civmil.core.actors import Actor

#: Uploaded files left behind (an abandoned dry run) are removed after this many seconds.
UPLOAD_TTL_SECONDS = 24 * 3600
#: Planned rows listed in a report (rejected rows are always all listed).
MAX_REPORT_ROWS = 500
SESSION_KEY = "civmil.directory_import"
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")
_PREFIX = "directory-"


class DirectoryImportForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("What the file holds"), choices=directory_csv.KIND_CHOICES,
                             widget=forms.RadioSelect, initial=directory_csv.ORGANISATIONS)
    file = forms.FileField(
        label=gettext_lazy("CSV file"),
        help_text=gettext_lazy("UTF-8, comma or semicolon separated, with a header line. At most 5 MB and "
                               "20,000 rows."),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        upload = cleaned.get("file")
        if isinstance(upload, UploadedFile) and upload.size is not None \
                and upload.size > directory_csv.MAX_FILE_BYTES:
            self.add_error("file", directory_csv.too_large_message(upload.size))
        return cleaned


# ---------------------------------------------------------------------------------------------
# Stored uploads


def _import_dir() -> Path:
    return Path(settings.CIVMIL_VAR_DIR) / "tmp" / "directory-imports"


def _upload_path(token: str) -> Path | None:
    if not _TOKEN.match(token or ""):
        return None
    return _import_dir() / f"{_PREFIX}{token}.csv"


def _store_upload(upload: UploadedFile) -> tuple[str, bytes]:
    """Write the upload under a fresh random token (sweeping abandoned ones); returns token and bytes."""
    directory = _import_dir()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    cutoff = time.time() - UPLOAD_TTL_SECONDS
    for old in directory.glob(f"{_PREFIX}*.csv"):
        try:
            if old.stat().st_mtime < cutoff:
                old.unlink()
        except OSError:
            continue
    chunks: list[bytes] = []
    size = 0
    for chunk in upload.chunks():
        size += len(chunk)
        if size > directory_csv.MAX_FILE_BYTES:
            raise Invalid(directory_csv.too_large_message(size))
        chunks.append(chunk)
    data = b"".join(chunks)
    token = secrets.token_urlsafe(32)
    fd = os.open(directory / f"{_PREFIX}{token}.csv", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return token, data


def _discard(request: HttpRequest) -> None:
    pending = request.session.pop(SESSION_KEY, None)
    if isinstance(pending, dict):
        path = _upload_path(str(pending.get("token", "")))
        if path is not None:
            path.unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------
# Pages


def _form_page(request: HttpRequest, form: DirectoryImportForm, status: int = 200, error: str = "") -> HttpResponse:
    return render_page(request, "actors/directory_csv/import.html", {
        "form": form, "error": error, "max_mb": directory_csv.MAX_FILE_BYTES // 1024 // 1024,
        "max_rows": directory_csv.MAX_ROWS, "organisation_columns": directory_csv.ORGANISATION_COLUMNS,
        "person_columns": directory_csv.PERSON_COLUMNS,
    }, status=status)


def _report(request: HttpRequest, plan: directory_csv.DirectoryPlan, *, token: str, filename: str,
            error: str = "", notice: str = "", status: int = 200) -> HttpResponse:
    changing = [r for r in plan.rows if r.action != directory_csv.UNCHANGED]
    return render_page(request, "actors/directory_csv/report.html", {
        "plan": plan, "token": token, "filename": filename, "error": error, "notice": notice,
        "kind_label": dict(directory_csv.KIND_CHOICES)[plan.kind],
        "to_create": len(plan.to_create), "to_update": len(plan.to_update), "unchanged": len(plan.unchanged),
        "rows": changing[:MAX_REPORT_ROWS], "rows_truncated": len(changing) > MAX_REPORT_ROWS,
        "max_rows": MAX_REPORT_ROWS,
    }, status=status)


def _dry_run(request: HttpRequest, actor: Actor) -> HttpResponse:
    form = DirectoryImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return _form_page(request, form, status=FORM_ERROR_STATUS)
    upload = form.cleaned_data["file"]
    kind = form.cleaned_data["kind"]
    _discard(request)
    try:
        token, data = _store_upload(upload)
    except Invalid as exc:
        form.add_error("file", exc.message)
        return _form_page(request, form, status=413)
    plan = directory_csv.plan_file(actor, kind, data)
    filename = os.path.basename(str(upload.name or ""))[:200]
    if plan.error or not plan.rows:
        path = _upload_path(token)
        if path is not None:
            path.unlink(missing_ok=True)
        return _report(request, plan, token="", filename=filename, error=plan.error, status=FORM_ERROR_STATUS)
    request.session[SESSION_KEY] = {
        "token": token, "sha256": plan.sha256, "filename": filename, "kind": kind, "fingerprint": plan.fingerprint(),
    }
    return _report(request, plan, token=token, filename=filename)


def _confirm(request: HttpRequest, actor: Actor) -> HttpResponse:
    pending = request.session.get(SESSION_KEY)
    token = request.POST.get("token", "")
    expired = _("This upload has expired or was imported already; upload the file again.")
    if not isinstance(pending, dict) or not token or token != pending.get("token") \
            or pending.get("kind") not in directory_csv.COLUMNS:
        return _form_page(request, DirectoryImportForm(), status=400, error=expired)
    path = _upload_path(token)
    try:
        data = path.read_bytes() if path is not None else b""
    except OSError:
        data = b""
    if not data or hashlib.sha256(data).hexdigest() != pending.get("sha256"):
        _discard(request)
        return _form_page(request, DirectoryImportForm(), status=400, error=expired)
    kind = str(pending["kind"])
    plan = directory_csv.plan_file(actor, kind, data)
    filename = str(pending.get("filename", ""))
    if plan.fingerprint() != pending.get("fingerprint"):
        pending["fingerprint"] = plan.fingerprint()
        request.session[SESSION_KEY] = pending
        return _report(request, plan, token=token, filename=filename, status=409,
                       notice=_("The directory changed since this report was made. Here is the report again; "
                                "check it and confirm once more."))
    try:
        result = actor_services.import_directory(actor, plan, confirm=request.POST.get("confirm_rejected") == "1")
    except ServiceError as exc:
        return _report(request, plan, token=token, filename=filename, error=exc.message, status=exc.status)
    _discard(request)
    summary = _("Directory imported: %(created)s created, %(updated)s updated, %(unchanged)s unchanged.") % {
        "created": result.created, "updated": result.updated, "unchanged": result.unchanged}
    if result.skipped:
        summary += " " + ngettext("%(n)s rejected row was left out.", "%(n)s rejected rows were left out.",
                                  len(result.skipped)) % {"n": len(result.skipped)}
    messages.success(request, summary)
    return HttpResponseRedirect(reverse("actors:organisations" if kind == directory_csv.ORGANISATIONS
                                        else "actors:people"))


@csrf_protect
@require_http_methods(["GET", "POST"])
def _directory_import(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    if request.method == "GET":
        return _form_page(request, DirectoryImportForm())
    step = request.POST.get("step", "upload")
    if step == "confirm":
        return _confirm(request, actor)
    if step == "cancel":
        _discard(request)
        messages.info(request, _("The import was cancelled; nothing was imported."))
        return HttpResponseRedirect(reverse("actors:directory-import"))
    return _dry_run(request, actor)


@csrf_exempt  # CSRF is checked by _directory_import, after the size check below
@login_required
def directory_import(request: HttpRequest) -> HttpResponse:
    """Administrators upload a CSV of organisations or people, read the dry run, then confirm.

    A body larger than the limit is refused from its Content-Length before anything parses it.
    """
    if not services.is_administrator(actor_of(request)):
        return render_page(request, "error.html", {
            "title": _("Not allowed"),
            "message": _("Only administrators import the directory. Ask one of them, or switch to your "
                         "administrator membership if you have one.")}, status=403)
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if request.method == "POST" and length > directory_csv.MAX_FILE_BYTES + 1024 * 1024:
        return _form_page(request, DirectoryImportForm(), status=413, error=directory_csv.too_large_message(length))
    return _directory_import(request)


# ---------------------------------------------------------------------------------------------
# Exports


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_response(rows: Any, stem: str) -> HttpResponse:
    writer = csv.writer(_Echo())
    body = "\ufeff" + "".join(writer.writerow(row) for row in rows)
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
    people = access.visible(actor, Person.objects.select_related("owner").prefetch_related(
        "memberships__organisation")).order_by("full_name", "pk")
    return _csv_response(directory_csv.person_rows(access.show_all(actor, people)), "people")

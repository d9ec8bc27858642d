"""Area pages: the list and map of areas, one area, point lookup, GeoJSON, and the boundary import.

Areas are reference data: every signed-in reader sees them (through
:mod:`civmil.actors.queries`); only administrators import boundaries.

The import runs in two steps. The upload step stores the file server-side under a random
token (``var/tmp/boundary-imports/boundaries-<token>.json``, mode 0600, swept after a day),
keeps the token, the file's SHA-256 and the chosen options in the uploader's session, and
shows the dry run. The confirm step reads the file back by the session's token (a token
from anywhere else is refused), checks its hash, plans again against the areas stored now,
and imports only if the plan is still the one the user saw. Keeping the file saves
re-sending up to 50 MB over a mission's slow link.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
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
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods
from shapely.geometry import shape

from civmil.actors import boundaries, queries
from civmil.actors import services as actor_services
from civmil.actors.choices import AreaKind
from civmil.actors.models import Area
from civmil.actors.views import FORM_ERROR_STATUS, actor_of, not_found, paginate, render_page
from civmil.core import geo, services
from civmil.core.errors import Invalid, NotFound, ServiceError

if TYPE_CHECKING:
    from civmil.core.actors import Actor

#: Most areas in one GeoJSON answer (the answer says ``"truncated": true`` beyond it).
MAX_GEOJSON_FEATURES = 5000
#: Children listed on an area's page.
MAX_CHILDREN = 200
#: Planned areas listed in a dry-run report (all rejected features are always listed).
MAX_REPORT_ROWS = 500
#: Uploaded files left behind (an abandoned dry run) are removed after this many seconds.
UPLOAD_TTL_SECONDS = 24 * 3600
SESSION_KEY = "civmil.boundary_import"
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")

LEVEL_CHOICES = [("", gettext_lazy("Any level"))] + [
    (str(n), str(n)) for n in range(boundaries.MAX_LEVEL + 1)
]


# ---------------------------------------------------------------------------------------------
# Forms


class AreaFilterForm(forms.Form):
    q = forms.CharField(label=gettext_lazy("Name or P-code"), required=False, max_length=200)
    level = forms.TypedChoiceField(label=gettext_lazy("Admin level"), required=False, choices=LEVEL_CHOICES,
                                   coerce=int, empty_value=None)
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), required=False,
                             choices=[("", gettext_lazy("Any kind")), *AreaKind.choices])


class LookupForm(forms.Form):
    location = forms.CharField(
        label=gettext_lazy("Location"), max_length=100,
        help_text=gettext_lazy("Latitude and longitude in decimal degrees (for example 4.85, 31.58) or an MGRS "
                               "reference (for example 36N YF 12345 67890)."),
    )


class BoundaryImportForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("Boundary file (GeoJSON)"),
        help_text=gettext_lazy("A GeoJSON FeatureCollection of polygons, one admin level per file, as OCHA's "
                               "COD-AB publishes them. At most 50 MB."),
    )
    level = forms.IntegerField(label=gettext_lazy("Admin level of the file"), min_value=0,
                               max_value=boundaries.MAX_LEVEL, initial=1,
                               help_text=gettext_lazy("0 is the country, 1 the first subdivision, and so on."))
    pcode_field = forms.CharField(label=gettext_lazy("P-code property"), required=False, max_length=100,
                                  help_text=gettext_lazy("Leave empty for the COD-AB name, ADM<level>_PCODE "
                                                         "(ADM1_PCODE for level 1)."))
    name_field = forms.CharField(label=gettext_lazy("Name property"), required=False, max_length=100,
                                 help_text=gettext_lazy("Leave empty for ADM<level>_EN."))
    alt_name_field = forms.CharField(label=gettext_lazy("Alternative name property (optional)"), required=False,
                                     max_length=100,
                                     help_text=gettext_lazy("For example ADM1_FR or ADM1_AR."))
    parent_field = forms.CharField(label=gettext_lazy("Parent P-code property (optional)"), required=False,
                                   max_length=100,
                                   help_text=gettext_lazy("For example ADM1_PCODE when the file is level 2. The "
                                                          "parent must be imported already or be in this file."))
    source = forms.CharField(label=gettext_lazy("Source (optional)"), required=False,
                             max_length=boundaries.SOURCE_MAX_LENGTH,
                             help_text=gettext_lazy("Where the boundaries come from, e.g. 'OCHA COD-AB 2024'."))

    def options(self) -> boundaries.ImportOptions:
        data = self.cleaned_data
        return boundaries.ImportOptions.cod(
            data["level"], pcode_field=data.get("pcode_field", ""), name_field=data.get("name_field", ""),
            alt_name_field=data.get("alt_name_field", ""), parent_field=data.get("parent_field", ""),
            source=data.get("source", ""),
        )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if "level" in cleaned and cleaned["level"] is not None:
            for name, messages_ in self.options().problems().items():
                if name in self.fields and name not in self.errors:
                    for message in messages_:
                        self.add_error(name, message)
        upload = cleaned.get("file")
        if isinstance(upload, UploadedFile) and upload.size is not None and upload.size > boundaries.MAX_FILE_BYTES:
            self.add_error("file", _too_large_message(upload.size))
        return cleaned


def _too_large_message(size: int) -> str:
    return _("The file is %(size)s MB; the limit is %(max)s MB. Import one admin level per file, or simplify "
             "the boundaries to make the file smaller.") % {
        "size": f"{size / 1024 / 1024:.1f}", "max": boundaries.MAX_FILE_BYTES // 1024 // 1024}


# ---------------------------------------------------------------------------------------------
# Helpers


def _area_search(actor: Actor, q: str = "", level: int | None = None, kind: str = "") -> QuerySet[Area]:
    """Areas by name, alternative name or P-code (a P-code prefix finds an area's subdivisions)."""
    qs = queries.areas(actor, admin_level=level)
    q = q.strip()
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(name_alt__icontains=q) | Q(pcode__istartswith=q))
    if kind:
        qs = qs.filter(kind=kind)
    return qs.select_related("parent", "responsible").order_by("admin_level", "name", "pcode")


def _feature(area: Area, *, with_url: bool = True) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "id": str(area.pk), "name": area.name, "pcode": area.pcode or "", "admin_level": area.admin_level,
        "kind": area.kind,
    }
    if with_url:
        properties["url"] = reverse("actors:area", args=[area.pk])
    return {"type": "Feature", "id": str(area.pk), "geometry": area.geometry, "properties": properties}


def _collection(features: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": features}


def _point_feature(lat: float, lon: float, name: str) -> dict[str, Any]:
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]}, "properties": {"name": name}}


def _bad_request_json(message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"detail": message}, status=status)


def _parse_bbox(text: str) -> tuple[float, float, float, float]:
    parts = text.split(",")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise Invalid(_("bbox must be four numbers: min longitude, min latitude, max longitude, max latitude."))
    min_lon, min_lat, max_lon, max_lat = values
    if not (-180 <= min_lon <= 180 and -180 <= max_lon <= 180 and -90 <= min_lat <= 90 and -90 <= max_lat <= 90):
        raise Invalid(_("bbox is out of range (longitude -180..180, latitude -90..90)."))
    if min_lon > max_lon or min_lat > max_lat:
        raise Invalid(_("bbox must give the south-west corner first, then the north-east corner."))
    return min_lon, min_lat, max_lon, max_lat


def _parse_level(text: str) -> int:
    value = text.strip()
    if not value.isdigit() or int(value) > boundaries.MAX_LEVEL:
        raise Invalid(_("level must be a whole number from 0 to %(max)s.") % {"max": boundaries.MAX_LEVEL})
    return int(value)


# ---------------------------------------------------------------------------------------------
# Pages


@login_required
@require_GET
def area_list(request: HttpRequest) -> HttpResponse:
    """Areas by name or P-code, level and kind, with a map of what the filter finds."""
    actor = actor_of(request)
    form = AreaFilterForm(request.GET)
    query: dict[str, str] = {}
    if form.is_valid():
        f = form.cleaned_data
        qs = _area_search(actor, q=f.get("q") or "", level=f.get("level"), kind=f.get("kind") or "")
        query = {k: str(v) for k, v in (("q", f.get("q")), ("level", f.get("level")), ("kind", f.get("kind")))
                 if v not in (None, "")}
    else:
        qs = queries.areas(actor).none()
    page_obj = paginate(request, qs)
    geojson_url = reverse("actors:areas-geojson") + ("?" + urlencode(query) if query else "")
    return render_page(request, "actors/areas/list.html", {
        "form": form, "page_obj": page_obj, "geojson_url": geojson_url,
        "can_import": services.is_administrator(actor),
    }, status=200 if form.is_valid() else FORM_ERROR_STATUS)


@login_required
@require_GET
def area_detail(request: HttpRequest, pk: Any) -> HttpResponse:
    """One area: its properties, parent chain, subdivisions and, for an AOR, who is responsible."""
    actor = actor_of(request)
    try:
        area = queries.area(actor, pk)
    except NotFound:
        not_found()
    ancestors = queries.area_ancestors(area)
    children_qs = area.children.order_by("name", "pcode")
    children_count = children_qs.count()
    children = list(children_qs[:MAX_CHILDREN])
    try:
        point = shape(area.geometry).representative_point()
        inside = {"lat": round(point.y, 5), "lon": round(point.x, 5), "mgrs": geo.to_mgrs(point.y, point.x)}
    except (ValueError, TypeError, AttributeError):
        inside = None
    return render_page(request, "actors/areas/detail.html", {
        "area": area, "ancestors": list(reversed(ancestors)), "children": children,
        "children_count": children_count, "children_truncated": children_count > len(children),
        "inside": inside, "features": _collection([_feature(area, with_url=False)]),
        "is_aor": area.kind == AreaKind.RESPONSIBILITY,
    })


@require_GET
def areas_geojson(request: HttpRequest) -> HttpResponse:
    """Areas as a GeoJSON FeatureCollection; ``?level=N``, ``?bbox=minlon,minlat,maxlon,maxlat``, ``?q=``,
    ``?kind=``. Signed-in readers only (401 otherwise); bad parameters answer 400 with the reason."""
    actor = actor_of(request)
    if not actor.is_authenticated:
        return _bad_request_json(_("Sign in to see areas."), status=401)
    level: int | None = None
    try:
        if request.GET.get("level", "").strip():
            level = _parse_level(request.GET["level"])
        kind = request.GET.get("kind", "").strip()
        if kind and kind not in AreaKind.values:
            raise Invalid(_("kind must be one of: %(kinds)s.") % {"kinds": ", ".join(AreaKind.values)})
        qs = _area_search(actor, q=request.GET.get("q", "")[:200], level=level, kind=kind)
        if request.GET.get("bbox", "").strip():
            qs = queries.areas_in_bbox(qs, *_parse_bbox(request.GET["bbox"]))
    except Invalid as exc:
        return _bad_request_json(exc.message)
    areas = list(qs[:MAX_GEOJSON_FEATURES + 1])
    body = _collection([_feature(a) for a in areas[:MAX_GEOJSON_FEATURES]])
    if len(areas) > MAX_GEOJSON_FEATURES:
        body["truncated"] = True
    return JsonResponse(body, content_type="application/geo+json")


@login_required
@require_GET
def area_lookup(request: HttpRequest) -> HttpResponse:
    """Which areas contain a point given as 'lat, lon' or MGRS. Bad input: the reason, 400."""
    actor = actor_of(request)
    context: dict[str, Any] = {"searched": False}
    if "location" not in request.GET:
        return render_page(request, "actors/areas/lookup.html", {**context, "form": LookupForm()})
    form = LookupForm(request.GET)
    context["form"] = form
    if not form.is_valid():
        return render_page(request, "actors/areas/lookup.html", context, status=400)
    try:
        lat, lon = geo.parse_point(form.cleaned_data["location"])
        found = queries.areas_at(actor, lat, lon)
    except Invalid as exc:
        form.add_error("location", exc.message)
        return render_page(request, "actors/areas/lookup.html", context, status=400)
    label = f"{lat:.5f}, {lon:.5f}"
    features = [_feature(a) for a in found] + [_point_feature(lat, lon, label)]
    return render_page(request, "actors/areas/lookup.html", {
        **context, "searched": True, "found": found, "lat": lat, "lon": lon, "label": label,
        "mgrs": geo.to_mgrs(lat, lon), "features": _collection(features),
    })


# ---------------------------------------------------------------------------------------------
# Boundary import (administrators)


def _import_dir() -> Path:
    return Path(settings.CIVMIL_VAR_DIR) / "tmp" / "boundary-imports"


def _upload_path(token: str) -> Path | None:
    if not _TOKEN.match(token or ""):
        return None
    return _import_dir() / f"boundaries-{token}.json"


def _sweep(directory: Path) -> None:
    """Remove uploads of dry runs abandoned more than a day ago."""
    cutoff = time.time() - UPLOAD_TTL_SECONDS
    for path in directory.glob("boundaries-*.json"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
        except OSError:
            continue


def _store_upload(upload: UploadedFile) -> tuple[str, bytes]:
    """Write the upload under a fresh random token; returns the token and the file's bytes."""
    directory = _import_dir()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    _sweep(directory)
    token = secrets.token_urlsafe(32)
    path = directory / f"boundaries-{token}.json"
    chunks: list[bytes] = []
    size = 0
    for chunk in upload.chunks():
        size += len(chunk)
        if size > boundaries.MAX_FILE_BYTES:
            raise Invalid(_too_large_message(size))
        chunks.append(chunk)
    data = b"".join(chunks)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return token, data


def _discard(request: HttpRequest) -> None:
    pending = request.session.pop(SESSION_KEY, None)
    if isinstance(pending, dict):
        path = _upload_path(str(pending.get("token", "")))
        if path is not None:
            path.unlink(missing_ok=True)


def _report(request: HttpRequest, plan: boundaries.BoundaryPlan, *, token: str, filename: str,
            error: str = "", notice: str = "", status: int = 200) -> HttpResponse:
    return render_page(request, "actors/areas/import_report.html", {
        "plan": plan, "token": token, "filename": filename, "error": error, "notice": notice,
        "to_create": len(plan.to_create), "to_update": len(plan.to_update),
        "rows": plan.areas[:MAX_REPORT_ROWS], "rows_truncated": len(plan.areas) > MAX_REPORT_ROWS,
        "max_rows": MAX_REPORT_ROWS,
    }, status=status)


def _form_page(request: HttpRequest, form: BoundaryImportForm, status: int = 200, error: str = "") -> HttpResponse:
    return render_page(request, "actors/areas/import.html", {
        "form": form, "error": error, "max_mb": boundaries.MAX_FILE_BYTES // 1024 // 1024}, status=status)


def _dry_run(request: HttpRequest, actor: Actor) -> HttpResponse:
    form = BoundaryImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return _form_page(request, form, status=FORM_ERROR_STATUS)
    upload = form.cleaned_data["file"]
    options = form.options()
    _discard(request)
    try:
        token, data = _store_upload(upload)
    except Invalid as exc:
        form.add_error("file", exc.message)
        return _form_page(request, form, status=413)
    plan = queries.boundary_plan(actor, data, options)
    filename = os.path.basename(str(upload.name or ""))[:200]
    if plan.error or not plan.areas:
        (_import_dir() / f"boundaries-{token}.json").unlink(missing_ok=True)
        return _report(request, plan, token="", filename=filename, error=plan.error, status=FORM_ERROR_STATUS)
    request.session[SESSION_KEY] = {
        "token": token, "sha256": plan.sha256, "filename": filename,
        "options": dataclasses.asdict(options), "fingerprint": plan.fingerprint(),
    }
    return _report(request, plan, token=token, filename=filename)


def _confirm(request: HttpRequest, actor: Actor) -> HttpResponse:
    pending = request.session.get(SESSION_KEY)
    token = request.POST.get("token", "")
    expired = _("This upload has expired or was imported already; upload the file again.")
    if not isinstance(pending, dict) or not token or token != pending.get("token"):
        return _form_page_with_error(request, expired)
    path = _upload_path(token)
    try:
        data = path.read_bytes() if path is not None else b""
    except OSError:
        data = b""
    if not data or hashlib.sha256(data).hexdigest() != pending.get("sha256"):
        _discard(request)
        return _form_page_with_error(request, expired)
    try:
        options = boundaries.ImportOptions(**pending["options"])
    except (TypeError, KeyError):
        _discard(request)
        return _form_page_with_error(request, expired)
    plan = queries.boundary_plan(actor, data, options)
    filename = str(pending.get("filename", ""))
    if plan.fingerprint() != pending.get("fingerprint"):
        pending["fingerprint"] = plan.fingerprint()
        request.session[SESSION_KEY] = pending
        return _report(request, plan, token=token, filename=filename, status=409,
                       notice=_("The stored areas changed since this report was made. Here is the report "
                                "again; check it and confirm once more."))
    try:
        result = actor_services.import_boundaries(actor, plan, confirm=request.POST.get("confirm_rejected") == "1")
    except ServiceError as exc:
        return _report(request, plan, token=token, filename=filename, error=exc.message, status=exc.status)
    _discard(request)
    summary = _("Boundaries imported: %(created)s created, %(updated)s updated, %(unchanged)s unchanged.") % {
        "created": result.created, "updated": result.updated, "unchanged": result.unchanged}
    if result.skipped:
        summary += " " + ngettext("%(n)s rejected feature was left out.", "%(n)s rejected features were left out.",
                                  len(result.skipped)) % {"n": len(result.skipped)}
    messages.success(request, summary)
    return HttpResponseRedirect(reverse("actors:areas") + "?" + urlencode({"level": options.level}))


def _form_page_with_error(request: HttpRequest, message: str) -> HttpResponse:
    return _form_page(request, BoundaryImportForm(), status=400, error=message)


@csrf_protect
@require_http_methods(["GET", "POST"])
def _areas_import(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    if request.method == "GET":
        return _form_page(request, BoundaryImportForm())
    step = request.POST.get("step", "upload")
    if step == "confirm":
        return _confirm(request, actor)
    if step == "cancel":
        _discard(request)
        messages.info(request, _("The import was cancelled; nothing was imported."))
        return HttpResponseRedirect(reverse("actors:areas-import"))
    return _dry_run(request, actor)


@csrf_exempt  # CSRF is checked by _areas_import, after the size check below
@login_required
def areas_import(request: HttpRequest) -> HttpResponse:
    """Administrators upload a boundary file, read the dry run, then confirm (see the module doc).

    A body larger than the limit is refused from its Content-Length before anything parses it.
    """
    if not services.is_administrator(actor_of(request)):
        return render_page(request, "error.html", {
            "title": _("Not allowed"),
            "message": _("Only administrators import boundaries. Ask one of them, or switch to your administrator "
                         "membership if you have one.")}, status=403)
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if request.method == "POST" and length > boundaries.MAX_FILE_BYTES + 1024 * 1024:
        return _form_page(request, BoundaryImportForm(), status=413, error=_too_large_message(length))
    return _areas_import(request)

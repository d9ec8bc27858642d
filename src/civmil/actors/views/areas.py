"""Area pages: the list and map of areas, one area, point lookup, GeoJSON, and the boundary import.

Areas are reference data: every signed-in reader sees them (through
:mod:`civmil.actors.queries`); only administrators import boundaries.

The import is a staged import (:mod:`civmil.core.staging`): the upload step keeps the file
server-side (``var/tmp/boundary-imports/boundaries-<staging id>.json``, mode 0600, swept after a
day) under a staging id bound to the uploader and the membership they act as, keeps the id, the
file's SHA-256 and the chosen options in the uploader's session, and shows the dry run. The
confirm step reads the file back, checks its hash, plans again against the areas stored now,
and imports only if the plan is still the one the user saw. Keeping the file saves re-sending
up to 50 MB over a mission's slow link.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_GET
from shapely.geometry import shape

from civmil.actors import boundaries, queries
from civmil.actors import services as actor_services
from civmil.actors.choices import AreaKind
from civmil.actors.models import Area
from civmil.actors.views import FORM_ERROR_STATUS, actor_of, not_found, paginate, render_page
from civmil.core import geo, services, staging
from civmil.core.errors import Invalid, NotFound
from civmil.core.formats import megabytes
from civmil.interop import codab

if TYPE_CHECKING:
    from civmil.core.acting import Actor

#: Most areas in one GeoJSON answer (the answer says ``"truncated": true`` beyond it).
MAX_GEOJSON_FEATURES = 5000
#: Children listed on an area's page.
MAX_CHILDREN = 200
#: Planned areas listed in a dry-run report (all rejected features are always listed).
MAX_REPORT_ROWS = 500
#: Where uploaded boundary files wait between the dry run and the confirmation.
STAGING = staging.StagingArea("boundary-imports", prefix="boundaries-", suffix=".json")
SESSION_KEY = "civmil.boundary_import"

LEVEL_CHOICES = [("", gettext_lazy("Any level"))] + [
    (str(n), str(n)) for n in range(codab.MAX_LEVEL + 1)
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
                               max_value=codab.MAX_LEVEL, initial=1,
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
                             max_length=codab.SOURCE_MAX_LENGTH,
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
        return cleaned


def _too_large_message(size: int) -> str:
    return _("The file is %(size)s MB; the limit is %(max)s MB. Import one admin level per file, or simplify "
             "the boundaries to make the file smaller.") % {
        "size": megabytes(size), "max": codab.MAX_FILE_BYTES // 1024 // 1024}


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
    if not (value.isascii() and value.isdigit()) or int(value) > codab.MAX_LEVEL:
        raise Invalid(_("level must be a whole number from 0 to %(max)s.") % {"max": codab.MAX_LEVEL})
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


class BoundaryImport(staging.StagedImport[boundaries.BoundaryPlan]):
    """Administrators upload a boundary file, read the dry run, then confirm (see the module doc).

    A body larger than the limit is refused from its Content-Length before anything parses it.
    """

    staging_area = STAGING
    session_key = SESSION_KEY
    url_name = "actors:areas-import"
    form_class = BoundaryImportForm
    form_template = "actors/areas/import.html"
    report_template = "actors/areas/import_report.html"
    back_url_name = "actors:areas"
    back_label = gettext_lazy("Back to areas")
    refused_message = gettext_lazy("Only administrators import boundaries. Ask one of them, or switch to your "
                                   "administrator membership if you have one.")
    changed_notice = gettext_lazy("The stored areas changed since this report was made. Here is the report "
                                  "again; check it and confirm once more.")
    max_report_rows = MAX_REPORT_ROWS

    def max_bytes(self) -> int:
        return codab.MAX_FILE_BYTES

    def too_large_message(self, size: int) -> str:
        return _too_large_message(size)

    def params(self, form: forms.Form) -> dict[str, Any]:
        assert isinstance(form, BoundaryImportForm)
        return dataclasses.asdict(form.options())

    def plan(self, actor: Actor, data: bytes, params: Mapping[str, Any]) -> boundaries.BoundaryPlan:
        try:
            options = boundaries.ImportOptions(**params)
        except TypeError as exc:
            raise staging.Expired() from exc
        return queries.boundary_plan(actor, data, options)

    def describe(self, plan: boundaries.BoundaryPlan) -> staging.ImportReport:
        n_rejected, n_valid = len(plan.rejected), len(plan.areas)
        summary = " ".join([
            ngettext("The file has %(n)s feature.", "The file has %(n)s features.", plan.feature_count)
            % {"n": plan.feature_count},
            ngettext("%(n)s area would be created", "%(n)s areas would be created", len(plan.to_create))
            % {"n": len(plan.to_create)} + ",",
            ngettext("%(n)s would be updated", "%(n)s would be updated", len(plan.to_update))
            % {"n": len(plan.to_update)},
            _("(areas that would not change are left as they are)."),
        ])
        confirm = (ngettext("Import the %(n)s valid area, without the rejected features",
                            "Import the %(n)s valid areas, without the rejected features", n_valid) if n_rejected
                   else ngettext("Import %(n)s area", "Import %(n)s areas", n_valid)) % {"n": n_valid}
        return staging.ImportReport(
            summary=summary, importable=n_valid, confirm_label=confirm,
            rejected=[staging.RejectedItem(r.index, r.pcode, [r.reason]) for r in plan.rejected],
            rejected_summary=ngettext("%(n)s feature is rejected.", "%(n)s features are rejected.", n_rejected)
            % {"n": n_rejected},
            rejected_heading=_("Rejected features"),
            rejected_intro=_("With rejected features, nothing is imported unless you confirm importing the valid "
                             "ones without them. Features are counted from 1, in the order of the file."),
            position_header=_("Feature"), label_header=_("P-code"), label_is_code=True, notes=plan.notes,
        )

    def planned_rows(self, plan: boundaries.BoundaryPlan) -> Sequence[Any]:
        return plan.areas

    def execute(self, actor: Actor, plan: boundaries.BoundaryPlan, *, confirm_rejected: bool) -> Any:
        return actor_services.import_boundaries(actor, plan, confirm=confirm_rejected)

    def done(self, request: HttpRequest, plan: boundaries.BoundaryPlan, result: Any,
             params: Mapping[str, Any]) -> HttpResponse:
        summary = _("Boundaries imported: %(created)s created, %(updated)s updated, %(unchanged)s unchanged.") % {
            "created": result.created, "updated": result.updated, "unchanged": result.unchanged}
        if result.skipped:
            summary += " " + ngettext("%(n)s rejected feature was left out.",
                                      "%(n)s rejected features were left out.",
                                      len(result.skipped)) % {"n": len(result.skipped)}
        messages.success(request, summary)
        return HttpResponseRedirect(reverse("actors:areas") + "?" + urlencode({"level": plan.options.level}))

    def render(self, request: HttpRequest, template: str, context: dict[str, Any], *,
               status: int = 200) -> HttpResponse:
        return render_page(request, template, context, status=status)


areas_import = BoundaryImport.as_view()

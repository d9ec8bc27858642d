"""Directory pages: search, organisations (with hierarchy, people, liaison links and areas of
responsibility) and people (contact details only as the reader's view shows them)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from civmil.actors import queries
from civmil.actors.forms import DirectoryFilterForm, field_label
from civmil.actors.views import (
    FORM_ERROR_STATUS,
    actor_of,
    assignment_rows,
    not_found,
    paginate,
    render_page,
)
from civmil.core.errors import NotFound
from civmil.core.models import Membership, Organisation, Person
from civmil.core.pages import record_url

if TYPE_CHECKING:
    from civmil.core.acting import Actor

#: Results of each kind shown on the directory's search page before "see all".
INDEX_LIMIT = 25


def _filters(form: DirectoryFilterForm) -> dict[str, str]:
    if not form.is_valid():
        return {}
    return {k: str(v) for k, v in form.cleaned_data.items() if v}


def _memberships_by_person(actor: Actor, person_ids: list[Any]) -> dict[Any, list[Membership]]:
    out: dict[Any, list[Membership]] = {}
    for m in queries.current_memberships(actor, person_ids=person_ids).order_by("organisation__name"):
        out.setdefault(m.person_id, []).append(m)
    return out


def _person_rows(actor: Actor, people: list[Person]) -> list[dict[str, Any]]:
    by_person = _memberships_by_person(actor, [p.pk for p in people])
    return [{"person": p, "url": record_url("actors:person", p.pk), "memberships": by_person.get(p.pk, [])}
            for p in people]


@login_required
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """Search across organisations and people, with component, kind and role filters."""
    actor = actor_of(request)
    form = DirectoryFilterForm(request.GET)
    organisations: list[Organisation] = []
    people: list[Person] = []
    org_count = people_count = 0
    f = _filters(form)
    if form.is_valid():
        org_qs = queries.organisations(actor, q=f.get("q", ""), component=f.get("component", ""),
                                       kind=f.get("kind", ""))
        people_qs = queries.directory_people(actor, q=f.get("q", ""), component=f.get("component", ""),
                                             kind=f.get("kind", ""), role=f.get("role", ""))
        org_count, people_count = org_qs.count(), people_qs.count()
        organisations = list(org_qs[:INDEX_LIMIT])
        people = list(people_qs[:INDEX_LIMIT])
    org_query = urlencode({k: v for k, v in f.items() if k != "role"})
    return render_page(request, "actors/directory/index.html", {
        "form": form, "organisations": organisations, "people_rows": _person_rows(actor, people),
        "org_count": org_count, "people_count": people_count, "limit": INDEX_LIMIT,
        "org_query": org_query, "people_query": urlencode(f),
    }, status=200 if form.is_valid() else FORM_ERROR_STATUS)


@login_required
@require_GET
def organisation_list(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    form = DirectoryFilterForm(request.GET)
    page_obj = None
    if form.is_valid():
        f = _filters(form)
        page_obj = paginate(request, queries.organisations(actor, q=f.get("q", ""), component=f.get("component", ""),
                                                           kind=f.get("kind", "")))
    return render_page(request, "actors/directory/organisation_list.html", {"form": form, "page_obj": page_obj},
                       status=200 if form.is_valid() else FORM_ERROR_STATUS)


@login_required
@require_GET
def organisation_detail(request: HttpRequest, pk: Any) -> HttpResponse:
    """An organisation: hierarchy, people, liaison links in and out, areas of responsibility."""
    actor = actor_of(request)
    try:
        org = queries.organisation(actor, pk)
    except NotFound:
        not_found()
    members = list(queries.current_memberships(actor, organisation=org).order_by("person__full_name", "position"))
    sent, received = queries.organisation_liaisons(actor, org)
    areas = list(queries.areas_of_responsibility(actor, org))
    features = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": a.geometry,
         "properties": {"name": str(a), "url": reverse("actors:area", args=[a.pk])}}
        for a in areas
    ]}
    focal_point = None
    if org.security_focal_point_id and queries.visible_person_ids(actor, [org.security_focal_point_id]):
        focal_point = org.security_focal_point
    return render_page(request, "actors/directory/organisation_detail.html", {
        "org": org,
        "ancestors": list(reversed(org.ancestors())),
        "children": list(queries.child_organisations(actor, org)),
        "members": members,
        "sent": assignment_rows(actor, sent),
        "received": assignment_rows(actor, received),
        "areas": areas,
        "areas_geojson": features if areas else None,
        "focal_point": focal_point,
        "is_mine": actor.organisation_id == org.pk,
        "my_liaison_url": reverse("actors:my-liaison") + "?" + urlencode({"to": str(org.pk)}),
        "log_url": reverse("actors:liaison-log") + "?" + urlencode({"organisation": str(org.pk)}),
        "contact_url": _contact_url(actor, organisations=[org.pk]),
    })


@login_required
@require_GET
def person_list(request: HttpRequest) -> HttpResponse:
    actor = actor_of(request)
    form = DirectoryFilterForm(request.GET)
    page_obj = None
    rows: list[dict[str, Any]] = []
    if form.is_valid():
        f = _filters(form)
        page_obj = paginate(request, queries.directory_people(
            actor, q=f.get("q", ""), component=f.get("component", ""), kind=f.get("kind", ""),
            role=f.get("role", "")))
        rows = _person_rows(actor, list(page_obj.object_list))
    return render_page(request, "actors/directory/person_list.html",
                       {"form": form, "page_obj": page_obj, "rows": rows},
                       status=200 if form.is_valid() else FORM_ERROR_STATUS)


@login_required
@require_GET
def person_detail(request: HttpRequest, pk: Any) -> HttpResponse:
    """A person as the reader sees them: contact details only when the view shows them."""
    actor = actor_of(request)
    try:
        shown = queries.person(actor, pk)
    except NotFound:
        not_found()
    contacts = [
        {"label": field_label(Person, name), "name": name,
         "value": getattr(shown.record, name)}
        for name in Person.CONTACT_FIELDS if shown.view.shows(name)
    ]
    memberships = list(queries.memberships(actor, person_ids=[shown.record.pk]).order_by("-starts_on"))
    return render_page(request, "actors/directory/person_detail.html", {
        "person": shown,
        "contacts": [c for c in contacts if c["value"]],
        "contacts_released": bool(contacts),
        "some_withheld": 0 < len(contacts) < len(Person.CONTACT_FIELDS),
        "memberships": memberships,
        "assignments": assignment_rows(actor, queries.officer_assignments(actor, shown.record)),
        "contact_url": _contact_url(actor, people=[shown.record.pk]),
    })


def _contact_url(actor: Actor, *, organisations: Sequence[Any] = (), people: Sequence[Any] = ()) -> str:
    """The liaison log's new-entry form with these organisations (and the reader's own) and people
    already picked ("Record a contact with…"); empty when the reader may not record contacts."""
    if actor.organisation_id is None:
        return ""
    orgs = list(dict.fromkeys([actor.organisation_id, *organisations]))
    query = [("organisations", str(pk)) for pk in orgs] + [("people", str(pk)) for pk in people]
    return reverse("actors:liaison-new") + "?" + urlencode(query)

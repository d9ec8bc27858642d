"""Liaison assignment pages: the record kernel's pages of the type (list, record, history,
releases, CSV, create, edit, live rows and cards; civmil.core.kernel) with what is special to
assignments: the confirmation by the officer's organisation, and "who is my liaison to X"."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from civmil.actors import queries, services
from civmil.actors.forms import AssignmentForm, MyLiaisonForm
from civmil.actors.models import LiaisonAssignment
from civmil.actors.views import (
    FORM_ERROR_STATUS,
    actor_of,
    assignment_rows,
    not_found,
    point_features,
    refuse,
    render_page,
)
from civmil.core import access, registry
from civmil.core.acting import Actor
from civmil.core.errors import NotFound, ServiceError
from civmil.core.kernel.views import KernelViews


def _list_context(request: HttpRequest, actor: Actor) -> dict[str, Any]:
    return {"to_decide": assignment_rows(actor, queries.assignments_to_decide(actor))}


def _detail_context(request: HttpRequest, actor: Actor, shown: access.Shown[Any]) -> dict[str, Any]:
    cells = views.rows(actor, [shown.record])[0]["cells"]
    name = cells["officer"].text or cells["community"].text
    return {"assignment": shown, "geojson": point_features(shown, name),
            "may_decide": services.may_decide(actor, shown.record), "reason_max": services.DECISION_REASON_MAX}


def _created(assignment: LiaisonAssignment) -> tuple[int, str]:
    if assignment.counts:
        return messages.SUCCESS, _("The liaison officer was assigned.")
    return messages.WARNING, _("The officer belongs to another organisation: the assignment waits for that "
                               "organisation's confirmation, and counts only once it is confirmed.")


views = KernelViews(
    registry.get(LiaisonAssignment),
    templates={"list": "actors/assignments/list.html", "detail": "actors/assignments/detail.html",
               "form": "actors/assignments/form.html"},
    create_form=AssignmentForm,
    list_context=_list_context,
    detail_context=_detail_context,
    created_message=_created,
)


@login_required
@require_POST
def assignment_decide(request: HttpRequest, pk: Any, decision: str) -> HttpResponse:
    """Confirm or refuse, for the officer's organisation, an assignment another organisation recorded."""
    actor = actor_of(request)
    try:
        services.decide_assignment(actor, pk, confirm=decision == "confirm", reason=request.POST.get("reason", ""))
    except ServiceError as exc:
        if isinstance(exc, NotFound):
            not_found()
        if "reason" in exc.errors:
            return views.detail_page(request, queries.assignment(actor, pk), status=exc.status,
                                     extra={"reason_error": exc.errors["reason"][0]})
        return refuse(request, exc)
    confirmed = decision == "confirm"
    messages.success(request, _("You confirmed the assignment: the officer now liaises for it.") if confirmed
                     else _("You refused the assignment: it does not count as a liaison."))
    return HttpResponseRedirect(reverse("actors:assignment", args=[pk]))


@login_required
@require_GET
def my_liaison(request: HttpRequest) -> HttpResponse:
    """Who links my organisation and another, in either direction (``?to=<organisation id>``)."""
    actor = actor_of(request)
    form = MyLiaisonForm(actor, request.GET if "to" in request.GET else None)
    target = None
    rows: list[dict[str, Any]] = []
    if form.is_bound and form.is_valid():
        target = form.cleaned_data["to"]
        rows = assignment_rows(actor, queries.my_liaisons(actor, target))
    status = FORM_ERROR_STATUS if form.is_bound and not form.is_valid() else 200
    return render_page(request, "actors/assignments/my_liaison.html", {
        "form": form, "target": target, "rows": rows, "my_organisation": actor.organisation,
    }, status=status)

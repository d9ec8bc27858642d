"""Pages for erasing a person's personal data: an administrator asks, a second person approves."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from civmil.core import access
from civmil.core.accounts import erasure
from civmil.core.choices import PRIVILEGED_ROLES, Role
from civmil.core.errors import MAX_REASON, NotFound, ServiceError
from civmil.core.models import ErasureRequest, Person


class ErasureForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=MAX_REASON,
                             widget=forms.Textarea(attrs={"rows": 3}),
                             help_text=gettext_lazy("Kept in the ledger with your name. Do not repeat the "
                                                    "personal data being erased."))


def _person_or_404(actor: Any, value: Any) -> access.Shown[Person]:
    """The person as ``actor`` sees them; a hidden person is the 404 of a missing one."""
    try:
        return access.fetch(actor, Person, value)
    except NotFound as exc:
        raise Http404 from exc


def _request_or_404(actor: Any, value: Any) -> ErasureRequest:
    try:
        return erasure.request_for(actor, value)
    except NotFound as exc:
        raise Http404 from exc


@login_required
@require_http_methods(["GET"])
def erasure_list(request: HttpRequest) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    if actor.role not in PRIVILEGED_ROLES:
        raise PermissionDenied
    rows = erasure.requests_for(actor)
    return render(request, "core/erasure/list.html", {
        "pending": [r for r in rows if r.request.is_pending],
        "done": [r for r in rows if not r.request.is_pending],
        "actor_user_id": actor.user_id,
        "is_administrator": actor.role == Role.ADMINISTRATOR,
    })


@login_required
@require_http_methods(["GET", "POST"])
def erasure_new(request: HttpRequest) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    if actor.role != Role.ADMINISTRATOR:
        raise PermissionDenied
    person = _person_or_404(actor, request.GET.get("person") or request.POST.get("person"))
    form = ErasureForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                erasure.request_erasure(actor, person.record, form.cleaned_data["reason"])
            except NotFound as exc:
                raise Http404 from exc
            except ServiceError as exc:
                for error in exc.errors.get("reason", []) or [exc.message]:
                    form.add_error("reason" if exc.errors.get("reason") else None, error)
            else:
                messages.success(request, _("The erasure is requested. A second administrator, mission leadership "
                                            "or oversight must approve it."))
                return HttpResponseRedirect(reverse("core:erasure-list"))
        status = 422
    return render(request, "core/erasure/new.html", {"person": person, "form": form}, status=status)


@login_required
@require_POST
def erasure_decide(request: HttpRequest, pk: Any) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    if actor.role not in PRIVILEGED_ROLES:
        raise PermissionDenied
    found = _request_or_404(actor, pk)
    decision = request.POST.get("decision")
    try:
        if decision == "approve":
            erasure.approve_erasure(actor, found)
            messages.success(request, _("The personal data are erased."))
        elif decision == "refuse":
            erasure.refuse_erasure(actor, found)
            messages.success(request, _("The erasure request is refused; nothing was erased."))
        else:
            return render(request, "error.html", {"title": _("Not allowed"),
                                                  "message": _("Choose to approve or to refuse.")}, status=422)
    except NotFound as exc:
        raise Http404 from exc
    except ServiceError as exc:
        return render(request, "error.html", {"title": _("Not allowed"), "message": exc.message}, status=exc.status)
    return HttpResponseRedirect(reverse("core:erasure-list"))

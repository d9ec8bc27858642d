"""Administrators' pages for what waits for a second administrator, and for account links.

* ``/core/approvals/``: the one "waiting for approval" list (memberships and e-mail address
  changes), with who asked and when, and the decision for those the reader may take;
* ``/core/accounts/<id>/email/``: ask for a new address on an account (it then waits);
* ``/core/accounts/<id>/password-link/``: send the account a link to set a new password, at its
  own address. No page lets an administrator choose, see or reset a password.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from civmil.core import access, approvals, queries, services
from civmil.core.choices import MembershipStatus, Role
from civmil.core.errors import ServiceError
from civmil.core.models import EmailChangeRequest, Membership, Person, User
from civmil.core.pages import FORM_ERROR_STATUS, actor_of, not_found, render_page


def _require_admin(request: HttpRequest) -> Any:
    actor = actor_of(request)
    if actor.role != Role.ADMINISTRATOR:
        raise PermissionDenied
    return actor


def _visible_account(actor: Any, pk: Any) -> tuple[User, access.Shown[Person] | None]:
    """An account the reader may know of: its person is visible to them (or it has no person);
    any other id answers like a missing account."""
    try:
        user = queries.visible_accounts(actor).get(pk=int(pk))
    except (User.DoesNotExist, ValueError, TypeError):
        not_found()
    return user, queries.person_of_account(actor, user)


@login_required
@require_http_methods(["GET"])
def approval_list(request: HttpRequest) -> HttpResponse:
    actor = _require_admin(request)
    return render_page(request, "core/approvals/list.html", {
        "rows": approvals.waiting(actor), "duplicates": approvals.possible_duplicates(actor)})


@login_required
@require_POST
def approval_decide(request: HttpRequest, kind: str, pk: Any) -> HttpResponse:
    actor = _require_admin(request)
    approve = request.POST.get("decision") == "approve"
    try:
        if kind == "membership":
            membership = Membership.objects.filter(pk=pk, status=MembershipStatus.PENDING).first()
            if membership is None:
                not_found()
            services.decide_membership(actor, membership, approve=approve)
        elif kind == "email":
            change = EmailChangeRequest.objects.filter(pk=pk).first()
            if change is None or not any(w.kind == "email" and w.pk == change.pk for w in approvals.waiting(actor)):
                not_found()
            approvals.decide_email_change(actor, change, approve=approve)
        else:
            not_found()
    except ServiceError as exc:
        if exc.status == 404:
            not_found()
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Approved.") if approve else _("Refused."))
    return HttpResponseRedirect(reverse("core:approvals"))


class EmailChangeForm(forms.Form):
    new_email = forms.EmailField(label=gettext_lazy("New e-mail address"), max_length=254,
                                 help_text=gettext_lazy("It applies once a second administrator approves it."))


@login_required
@require_http_methods(["GET", "POST"])
def email_change(request: HttpRequest, pk: Any) -> HttpResponse:
    actor = _require_admin(request)
    account, person = _visible_account(actor, pk)
    form = EmailChangeForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                approvals.request_email_change(actor, account, form.cleaned_data["new_email"])
            except ServiceError as exc:
                for error in exc.errors.get("new_email", []) or [exc.message]:
                    form.add_error("new_email" if exc.errors.get("new_email") else None, error)
            else:
                messages.success(request, _("The change waits for a second administrator's approval."))
                return HttpResponseRedirect(reverse("core:approvals"))
        status = FORM_ERROR_STATUS
    return render_page(request, "core/approvals/email_change.html",
                       {"account": account, "person": person, "form": form}, status=status)


@login_required
@require_POST
def password_link(request: HttpRequest, pk: Any) -> HttpResponse:
    actor = _require_admin(request)
    account, _person = _visible_account(actor, pk)
    try:
        approvals.send_password_link(actor, account, site_url=request.build_absolute_uri("/"))
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("A link to set a new password was sent to the account's own address."))
    return HttpResponseRedirect(reverse("admin:core_user_changelist"))

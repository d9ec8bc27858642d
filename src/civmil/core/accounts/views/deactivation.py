"""Administrators' pages for deactivating and reactivating accounts."""

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
from django.views.decorators.http import require_http_methods

from civmil.core.accounts import services as accounts_services
from civmil.core.choices import Role
from civmil.core.errors import MAX_REASON, NotFound, ServiceError


class ReasonForm(forms.Form):
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=MAX_REASON,
                             widget=forms.Textarea(attrs={"rows": 3}),
                             help_text=gettext_lazy("Kept in the ledger with your name."))


def _account_page(request: HttpRequest, pk: int, *, deactivate: bool) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    if actor.role != Role.ADMINISTRATOR:
        raise PermissionDenied
    try:
        account, person = accounts_services.account_for(actor, pk)
    except NotFound as exc:
        raise Http404 from exc  # a hidden person's account answers like a missing one
    form = ReasonForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            service = accounts_services.deactivate_account if deactivate else accounts_services.reactivate_account
            try:
                service(actor, account, form.cleaned_data["reason"])
            except NotFound as exc:
                raise Http404 from exc
            except ServiceError as exc:
                for error in exc.errors.get("reason", []) or [exc.message]:
                    form.add_error("reason" if exc.errors.get("reason") else None, error)
            else:
                if deactivate:
                    messages.success(request, _("The account %(name)s is deactivated: its sessions, tokens and "
                                                "live connections have ended.") % {"name": account.get_username()})
                else:
                    messages.success(request, _("The account %(name)s can sign in again.")
                                     % {"name": account.get_username()})
                other = "core:account-reactivate" if deactivate else "core:account-deactivate"
                return HttpResponseRedirect(reverse(other, args=[account.pk]))
        status = 422
    template = "core/accounts/deactivate.html" if deactivate else "core/accounts/reactivate.html"
    return render(request, template, {"account": account, "person": person, "form": form}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def deactivate(request: HttpRequest, pk: Any) -> HttpResponse:
    return _account_page(request, int(pk), deactivate=True)


@login_required
@require_http_methods(["GET", "POST"])
def reactivate(request: HttpRequest, pk: Any) -> HttpResponse:
    return _account_page(request, int(pk), deactivate=False)

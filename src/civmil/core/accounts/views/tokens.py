"""Pages for personal API tokens: list, create (the secret is shown once), revoke."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from civmil.core.accounts import services as accounts_services
from civmil.core.acting import Actor
from civmil.core.errors import ServiceError
from civmil.core.models import ApiToken, Membership, TokenScope

#: The furthest expiry a token may be given (about five years).
MAX_EXPIRY_DAYS = 5 * 365 + 1


class TokenForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100,
                           help_text=gettext_lazy("What the token is for, e.g. \"sector report script\"."))
    membership = forms.ModelChoiceField(
        label=gettext_lazy("Acts as"), queryset=Membership.objects.none(), empty_label=None,
        help_text=gettext_lazy("The token sees and does only what this membership may."))
    scope = forms.ChoiceField(label=gettext_lazy("Scope"), choices=TokenScope.choices, initial=TokenScope.READ)
    expires_on = forms.DateField(
        label=gettext_lazy("Expires after"), required=False, widget=forms.DateInput(attrs={"type": "date"}),
        help_text=gettext_lazy("Optional: the token stops working at the end of this day."))

    def __init__(self, *args: Any, actor: Actor, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["membership"]
        assert isinstance(field, forms.ModelChoiceField)
        person_id = actor.person_id
        field.queryset = (
            Membership.objects.current().filter(person_id=person_id).select_related("organisation")
            .order_by("created_at", "id") if person_id is not None else Membership.objects.none())
        if actor.membership_id is not None:
            field.initial = actor.membership_id

    def clean_expires_on(self) -> dt.date | None:
        day: dt.date | None = self.cleaned_data.get("expires_on")
        if day is not None and day < timezone.localdate():
            raise forms.ValidationError(_("Choose today or a later day, or leave empty for no expiry."))
        if day is not None and day > timezone.localdate() + dt.timedelta(days=MAX_EXPIRY_DAYS):
            raise forms.ValidationError(_("Choose a day at most %(years)s years ahead, or leave empty for no "
                                          "expiry.") % {"years": MAX_EXPIRY_DAYS // 365})
        return day


def _expiry(day: dt.date | None) -> dt.datetime | None:
    """The end of ``day`` in the current time zone."""
    if day is None:
        return None
    start = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min)
    return timezone.make_aware(start, timezone.get_current_timezone())


def _user_id(request: HttpRequest) -> int:
    actor: Actor = request.actor  # type: ignore[attr-defined]
    if actor.user_id is None:
        raise Http404
    return actor.user_id


@login_required
@never_cache
def token_list(request: HttpRequest) -> HttpResponse:
    tokens = (ApiToken.objects.filter(user_id=_user_id(request))
              .select_related("membership__organisation").order_by("-created_at"))
    return render(request, "core/tokens/list.html", {"tokens": tokens})


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def token_new(request: HttpRequest) -> HttpResponse:
    actor: Actor = request.actor  # type: ignore[attr-defined]
    form = TokenForm(request.POST or None, actor=actor)
    if request.method == "POST" and form.is_valid():
        try:
            token, secret = accounts_services.create_token(
                actor, name=form.cleaned_data["name"], membership=form.cleaned_data["membership"],
                scope=form.cleaned_data["scope"], expires_at=_expiry(form.cleaned_data["expires_on"]))
        except ServiceError as exc:
            for field, errors in exc.errors.items():
                for error in errors:
                    form.add_error(field if field in form.fields else None, error)
            if not exc.errors:
                form.add_error(None, exc.message)
        else:
            # Rendered, not redirected: the secret is never stored, not even in the session.
            return render(request, "core/tokens/created.html", {"token": token, "secret": secret})
    status = 422 if request.method == "POST" else 200
    return render(request, "core/tokens/new.html", {"form": form}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def token_revoke(request: HttpRequest, pk: Any) -> HttpResponse:
    token = (ApiToken.objects.filter(pk=pk, user_id=_user_id(request))
             .select_related("membership__organisation").first())
    if token is None:
        raise Http404
    if request.method == "POST":
        try:
            accounts_services.revoke_token(request.actor, token)  # type: ignore[attr-defined]
        except ServiceError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("The token “%(name)s” is revoked.") % {"name": token.name})
        return HttpResponseRedirect(reverse("core:tokens"))
    return render(request, "core/tokens/revoke.html", {"token": token})

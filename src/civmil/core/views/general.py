"""Kernel pages: home, switching the acting membership, the language, error pages."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect, HttpResponseRedirect
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from civmil.core import events, pages, services
from civmil.core import home as home_panels
from civmil.core.acting import ACTING_SESSION_KEY
from civmil.core.errors import ServiceError
from civmil.core.models import Membership
from civmil.core.pages import actor_of, is_uuid, render_page


def home(request: HttpRequest) -> HttpResponse:
    """Who the reader acts as, where to go, and the panels of every app (:mod:`civmil.core.home`)."""
    if not request.user.is_authenticated:
        return HttpResponseRedirect("/accounts/login/")
    actor = actor_of(request)
    shown = [c for c in (home_panels.render_context(actor, p) for p in home_panels.panels()) if c is not None]
    return render_page(request, "core/home.html", {"panels": shown})


@require_GET
def favicon(request: HttpRequest) -> HttpResponse:
    """The site's icon where a browser looks for it by default (a permanent redirect to the static file)."""
    from django.templatetags.static import static

    return HttpResponsePermanentRedirect(static("civmil/img/favicon.svg"))


@login_required
@require_GET
def home_panel(request: HttpRequest, key: str) -> HttpResponse:
    """One panel again, for its live refresh; 204 when it has nothing for the reader now."""
    try:
        panel = home_panels.panel(key)
    except LookupError:
        pages.not_found()
    context = home_panels.render_context(actor_of(request), panel)
    if context is None:
        return HttpResponse(status=204)
    return render_page(request, "core/home/panel.html", {"p": context})


@login_required
@require_POST
def switch_membership(request: HttpRequest) -> HttpResponse:
    """Act as another of one's current memberships; ledgered; the session keeps the choice."""
    actor = request.actor  # type: ignore[attr-defined]
    chosen = request.POST.get("membership", "")
    membership = (
        Membership.objects.current().filter(pk=chosen, person_id=actor.person_id).first()
        if is_uuid(chosen) else None
    )
    if membership is None:
        messages.error(request, _("That membership is not one of yours, or it is no longer current."))
    else:
        try:
            services.record_acting_switch(actor, membership)
        except ServiceError as exc:
            messages.error(request, exc.message)
        else:
            request.session[ACTING_SESSION_KEY] = str(membership.pk)
            # Live connections re-read the session: save it before telling them to.
            request.session.save()
            events.actor_changed(actor.user_id)
            messages.success(request, _("You now act as %(m)s.") % {"m": membership})
    target = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "/"
    return HttpResponseRedirect(target)


def _error(request: HttpRequest, status: int, title: str, message: str) -> HttpResponse:
    return render(request, "error.html", {"title": title, "message": message}, status=status)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 400, _("Bad request"), _("The request could not be understood."))


def forbidden(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 403, _("Not allowed"), _("You are not allowed to do this."))


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 404, _("Not found"), _("There is nothing at this address."))


@login_required
def email_addresses(request: HttpRequest) -> HttpResponse:
    """Stands in for allauth's page of e-mail addresses: an account's address is where links to set
    a password go, so it changes only by an administrator's request that a second one approves."""
    return _error(request, 403, _("E-mail address"),
                  _("Your e-mail address is changed by your mission's administrators: ask one of them. "
                    "The change applies once a second administrator approves it."))


def server_error(request: HttpRequest) -> HttpResponse:
    return _error(request, 500, _("Server error"), _("Something went wrong on our side; it has been logged."))


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Django's language switch, remembered for the signed-in person so it follows them."""
    from django.views.i18n import set_language as django_set_language

    actor = request.actor  # type: ignore[attr-defined]
    if actor.is_authenticated:
        try:
            services.set_preferred_language(actor, request.POST.get("language", ""))
        except ServiceError as exc:
            messages.error(request, exc.message)
    return django_set_language(request)

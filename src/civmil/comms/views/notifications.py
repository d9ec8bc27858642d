"""The notification centre: the list, mark read, the header badge, the open link and preferences."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from civmil.comms.models import NotificationChannel, NotificationKind
from civmil.comms.queries import notifications as queries
from civmil.comms.services import notifications as services
from civmil.comms.views import actor_of, not_found, render_page
from civmil.core.errors import NotFound, ServiceError

PER_PAGE = 50


@login_required
@require_GET
def notification_list(request: HttpRequest) -> HttpResponse:
    """The actor's notifications, newest first, each worded through their current view of the record."""
    from django.core.paginator import Paginator

    actor = actor_of(request)
    page = Paginator(queries.inbox(actor).select_related("content_type"), PER_PAGE).get_page(request.GET.get("page"))
    return render_page(request, "comms/notifications/list.html", {
        "page_obj": page, "notifications": queries.describe(actor, list(page.object_list)),
        "unread": queries.unread_count(actor),
    })


@login_required
@require_POST
def notification_read(request: HttpRequest, pk: Any) -> HttpResponse:
    try:
        services.mark_read(actor_of(request), pk)
    except NotFound:
        not_found()
    return HttpResponseRedirect(reverse("comms:notifications"))


@login_required
@require_POST
def notifications_read_all(request: HttpRequest) -> HttpResponse:
    count = services.mark_all_read(actor_of(request))
    messages.success(request, _("%(n)s notifications marked read.") % {"n": count})
    return HttpResponseRedirect(reverse("comms:notifications"))


@login_required
@require_GET
def notification_open(request: HttpRequest, pk: Any) -> HttpResponse:
    """The link of an e-mail: to the record if the reader may still see it, else to the centre."""
    actor = actor_of(request)
    try:
        note = queries.notification(actor, pk)
    except NotFound:
        not_found()
    item = queries.describe(actor, [note])[0]
    if item.url:
        return HttpResponseRedirect(item.url)
    messages.info(request, item.text)
    return HttpResponseRedirect(reverse("comms:notifications"))


@require_GET
def unread_badge(request: HttpRequest) -> HttpResponse:
    """The header badge (an htmx fragment, polled every 60 s).

    Signed out (a session that ended): 204, which htmx leaves in place, rather than a redirect
    whose sign-in page htmx would swap into the header.
    """
    if not request.user.is_authenticated:
        return HttpResponse(status=204)
    return render(request, "comms/notifications/badge.html", {"unread": queries.unread_count(actor_of(request))})


def _preference_rows(prefs: dict[tuple[str, str], bool]) -> list[dict[str, Any]]:
    return [{
        "kind": kind, "label": label,
        "channels": [{"name": f"{kind}.{channel}", "label": channel_label, "enabled": prefs[(kind, channel)]}
                     for channel, channel_label in NotificationChannel.choices],
    } for kind, label in NotificationKind.choices]


@login_required
@require_http_methods(["GET", "POST"])
def notification_preferences(request: HttpRequest) -> HttpResponse:
    """Which channels each kind of notification uses (in the application, e-mail at once, daily digest)."""
    actor = actor_of(request)
    if actor.person_id is None:
        not_found()
    if request.method == "POST":
        choices = {(k, c): f"{k}.{c}" in request.POST
                   for k in NotificationKind.values for c in NotificationChannel.values}
        try:
            services.set_preferences(actor, choices)
        except ServiceError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Your notification preferences are saved."))
        return HttpResponseRedirect(reverse("comms:notification-preferences"))
    return render_page(request, "comms/notifications/preferences.html",
                       {"rows": _preference_rows(queries.preferences(actor.person_id))})

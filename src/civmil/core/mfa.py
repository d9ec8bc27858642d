"""A second factor (TOTP) is required for administrators, mission leadership and oversight.

:class:`RequireSecondFactorMiddleware` checks every request signed in with a session: an account
that holds a current membership with a privileged role (:data:`civmil.core.choices.PRIVILEGED_ROLES`)
and has no authenticator app set up may use only the account pages (sign-out, setting up the app,
recovery codes) and static files. Every other page redirects to setting up the app, and the API
answers 403 with a message saying so.

The check is on the *account*, not on the membership it currently acts as: switching to an
unprivileged membership does not lift it. ``CIVMIL_MFA_REQUIRED = False`` turns it off (tests of
other features sign privileged people in without a second factor).

An API request carrying a bearer token is judged by the token alone, whatever session cookie it
also carries: the middleware leaves it to :class:`civmil.core.accounts.api_auth.TokenAuth`, which refuses
the token of an account that owes its second factor with the same 403 (:func:`owes_second_factor`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from allauth.mfa.models import Authenticator
from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.utils.translation import gettext as _

from civmil.core.acting import memberships_of_request
from civmil.core.choices import PRIVILEGED_ROLES
from civmil.core.models import Membership

API_PREFIX = "/api/"


def needs_second_factor(user_id: int, memberships: Iterable[Membership] | None = None) -> bool:
    """Whether this account must set up an authenticator app before using the platform.
    ``memberships``: the account's current memberships, when the caller has them already."""
    if memberships is not None:
        privileged = any(m.role in PRIVILEGED_ROLES for m in memberships)
    else:
        privileged = Membership.objects.current().filter(person__user_id=user_id,
                                                         role__in=PRIVILEGED_ROLES).exists()
    if not privileged:
        return False
    return not Authenticator.objects.filter(user_id=user_id, type=Authenticator.Type.TOTP).exists()


def owes_second_factor(user_id: int, memberships: Iterable[Membership] | None = None) -> bool:
    """Whether the account may do nothing until it sets up its second factor (the rule is on)."""
    return bool(getattr(settings, "CIVMIL_MFA_REQUIRED", True)) and needs_second_factor(user_id, memberships)


def api_refusal() -> str:
    """What the API answers (403) an account that owes its second factor, by session or by token."""
    return _("Your role requires a second factor. Set up an authenticator app at %(url)s before using the API.") % {
        "url": reverse("mfa_activate_totp")}


def bearer_sent(request: HttpRequest) -> bool:
    """Whether the request authenticates with a bearer token (``Authorization: Bearer ...``).

    Such a request is judged by the token alone: the session cookies it may also carry neither
    refuse it (CSRF, a second factor the session's account owes) nor add to what it may do.
    """
    scheme, _sep, _rest = request.headers.get("Authorization", "").strip().partition(" ")
    return scheme.lower() == "bearer"


def allowed_prefixes() -> tuple[str, ...]:
    """Paths usable before the second factor is set up: account and MFA pages, static files, language."""
    accounts = reverse("account_login").rsplit("login/", 1)[0]
    return (accounts, settings.STATIC_URL or "/static/", reverse("set_language"), "/favicon.ico")


class RequireSecondFactorMiddleware:
    """Place after ``AuthenticationMiddleware`` and ``allauth.account.middleware.AccountMiddleware``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        path = request.path_info
        if path.startswith(API_PREFIX) and bearer_sent(request):
            return self.get_response(request)  # the token's own account is checked by TokenAuth
        if user is not None and user.is_authenticated and owes_second_factor(
                int(user.pk), memberships_of_request(request)):
            request.civmil_second_factor_required = True  # type: ignore[attr-defined]
            if not path.startswith(allowed_prefixes()):
                if path.startswith(API_PREFIX):
                    return JsonResponse({"detail": api_refusal(), "errors": {}}, status=403)
                if request.headers.get("HX-Request") == "true" or request.headers.get("X-Civmil-Background"):
                    # A fragment (the badge's poll, a live refresh) is never answered with the
                    # enrolment page: htmx would swap that page into itself, nested, each copy with a
                    # new secret, so the code on screen would never match. Nothing to swap instead.
                    return HttpResponse(status=204)
                return HttpResponseRedirect(reverse("mfa_activate_totp"))
        return self.get_response(request)

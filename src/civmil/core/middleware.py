"""Per-request actor (the account and the one membership it acts as), the language a person chose,
and the life of a signed-in session (idle and absolute limits, no caching of what it is shown)."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import auth, messages
from django.contrib.auth.views import redirect_to_login
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import translation
from django.utils.cache import add_never_cache_headers
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext as _

from civmil.core.acting import ACTING_SESSION_KEY, actor_for_user, memberships_of_request

#: Session keys: when the session was signed in, and when it last made a request (Unix seconds).
SESSION_STARTED_KEY = "civmil.session.started"
SESSION_SEEN_KEY = "civmil.session.seen"
#: The last-request time is written at most this often (seconds): not a session write per request.
SEEN_RESOLUTION_SECONDS = 60


def _now() -> int:
    """Unix time in whole seconds (the session clock; tests move it)."""
    return int(time.time())


class ActorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.actor = SimpleLazyObject(  # type: ignore[attr-defined]
            lambda: actor_for_user(request.user, request.session.get(ACTING_SESSION_KEY),
                                   memberships=memberships_of_request(request))
        )
        return self.get_response(request)


class PersonLanguageMiddleware:
    """A signed-in person reads the interface in the language they chose, on any device."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language = getattr(request.user, "language", "") if request.user.is_authenticated else ""
        if language and language in dict(settings.LANGUAGES):
            translation.activate(language)
            request.LANGUAGE_CODE = language
        return self.get_response(request)


#: Sent by requests a page makes by itself (the notification badge's poll, live refreshes): they
#: are checked against the session's limits but do not count as activity.
BACKGROUND_HEADER = "X-Civmil-Background"


class SessionLifetimeMiddleware:
    """Signed-in sessions end after an idle time and after an absolute lifetime, both mission
    settings (``session_idle_minutes``, ``session_max_hours`` of the live mission: one session
    may act in several spaces). Signed-in pages and every API answer are never stored by a cache.

    An ended session is signed out: a page redirects to the sign-in page (saying why, then back to
    the page), htmx is sent there too (``HX-Redirect``), the API answers 401 JSON. A request with a
    bearer token is judged by its token alone: its session cookie, if any, is neither checked nor
    kept alive. The session's expiry follows the idle limit (capped by what remains of the
    lifetime), so the stored session and its cookie end with it even if no request comes.

    Place after ``AuthenticationMiddleware`` and ``MessageMiddleware``.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from civmil.core import mfa

        bearer = mfa.bearer_sent(request)
        user = getattr(request, "user", None)
        if not bearer and user is not None and user.is_authenticated:
            ended = self._check(request)
            if ended is not None:
                return self._signed_out(request, ended)
        response = self.get_response(request)
        user = getattr(request, "user", None)
        signed_in = user is not None and user.is_authenticated
        if not bearer and signed_in and SESSION_STARTED_KEY not in request.session:
            self._start(request)  # signed in by this very request
        if signed_in or request.path_info.startswith(mfa.API_PREFIX):
            add_never_cache_headers(response)
        return response

    # -----------------------------------------------------------------------------------------

    @staticmethod
    def _limits(request: HttpRequest) -> tuple[int, int]:
        """(idle seconds, lifetime seconds), read once per request."""
        cached: tuple[int, int] | None = getattr(request, "_civmil_session_limits", None)
        if cached is None:
            from civmil.core.models.spaces import LIVE_SPACE_ID
            from civmil.core.services import mission_settings

            try:
                ms = mission_settings(LIVE_SPACE_ID)
                cached = (int(ms.session_idle_minutes) * 60, int(ms.session_max_hours) * 3600)
            except DatabaseError:  # no settings to read (an error page must still render): the defaults
                cached = (60 * 60, 12 * 3600)
            request._civmil_session_limits = cached  # type: ignore[attr-defined]
        return cached

    def _start(self, request: HttpRequest) -> None:
        now = _now()
        request.session[SESSION_STARTED_KEY] = now
        request.session[SESSION_SEEN_KEY] = now
        self._set_expiry(request, now, now)

    def _set_expiry(self, request: HttpRequest, started: int, now: int) -> None:
        idle, lifetime = self._limits(request)
        request.session.set_expiry(max(1, min(idle, started + lifetime - now)))

    def _check(self, request: HttpRequest) -> str | None:
        """``None`` while the session may go on (noting this request), else why it ended."""
        session = request.session
        now = _now()
        started, seen = session.get(SESSION_STARTED_KEY), session.get(SESSION_SEEN_KEY)
        if not isinstance(started, int) or not isinstance(seen, int):
            self._start(request)  # a session signed in before these limits existed starts now
            return None
        idle, lifetime = self._limits(request)
        if now - started >= lifetime:
            return "lifetime"
        if now - seen >= idle:
            return "idle"
        if request.headers.get(BACKGROUND_HEADER) == "1":
            return None  # a request the page made by itself (badge poll, live refresh) is no activity
        if now - seen >= min(SEEN_RESOLUTION_SECONDS, idle // 10 or 1):
            session[SESSION_SEEN_KEY] = now
            self._set_expiry(request, started, now)
        return None

    def _signed_out(self, request: HttpRequest, why: str) -> HttpResponse:
        from civmil.core import mfa

        idle, lifetime = self._limits(request)
        if why == "idle":
            message = _("You were signed out after %(minutes)d minutes without activity. Sign in again.") % {
                "minutes": idle // 60}
        else:
            message = _("Your session reached its longest allowed duration (%(hours)d hours). Sign in again.") % {
                "hours": lifetime // 3600}
        auth.logout(request)
        response: HttpResponse
        if request.path_info.startswith(mfa.API_PREFIX):
            response = JsonResponse({"detail": message, "errors": {}}, status=401)
        else:
            messages.info(request, message)
            response = redirect_to_login(request.get_full_path())
            if request.headers.get("HX-Request") == "true":
                response = _htmx_redirect(response["Location"])
        add_never_cache_headers(response)
        return response


def _htmx_redirect(location: str) -> HttpResponse:
    """An htmx request follows ``HX-Redirect`` with the whole page, not a fragment swap."""
    response = HttpResponse(status=401)
    response["HX-Redirect"] = location
    return response


"""The REST API at /api/v1/ (django-ninja). Routers come from each app's ``api.py``.

This module assembles them and decides what is common to every endpoint:

* **authentication** — :data:`AUTHENTICATORS`, tried in order; the first that recognises the
  request wins. Today: the browser session, with CSRF enforced on unsafe methods. A token
  authenticator joins the list later without touching any endpoint.
* **errors** — every error is JSON ``{"detail": "...", "errors": {"field": ["..."]}}`` with its
  4xx status (409 adds ``current_version``). Unexpected exceptions are *not* caught here: they
  stay 500s, logged by Django.
* **documentation** — ``/api/v1/openapi.json`` and ``/api/v1/docs``, served from our own static
  files (no CDN), so the docs work on a mission network without internet.
"""

from __future__ import annotations

import functools
import json
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import (
    BadRequest,
    ImproperlyConfigured,
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
)
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.urls import URLPattern, URLResolver, re_path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from ninja import NinjaAPI, Swagger
from ninja.errors import AuthenticationError, AuthorizationError, HttpError, ValidationError
from ninja.security import SessionAuth

from civmil.actors.api import router as actors_router
from civmil.comms.api import router as comms_router
from civmil.comms.api_search import router as search_router
from civmil.core.accounts.api_auth import TokenAuth
from civmil.core.api import router as core_router
from civmil.core.errors import ServiceError, StaleEdit
from civmil.core.kernel.api import kernel_routers
from civmil.core.kernel.maps import map_router
from civmil.core.mfa import bearer_sent

# ---------------------------------------------------------------------------------------------
# Authentication


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class CsrfFailed(AuthorizationError):
    pass


class CivmilSessionAuth(SessionAuth):
    """The signed-in browser session. Unsafe methods need the CSRF token (``X-CSRFToken`` header).

    A request without a session cookie is left to the next authenticator (the token one) instead
    of failing the CSRF check: it has no session an attacker could ride on. So is a request with a
    bearer token, whatever cookies it carries: it is judged by the token alone, and a token that
    does not authenticate is refused even when a valid session rides along.
    """

    def __call__(self, request: HttpRequest) -> Any:
        if self.param_name not in request.COOKIES or bearer_sent(request):
            return None
        if request.method not in SAFE_METHODS:
            # The CSRF check reads request.POST, which streams a multipart body away; read (and
            # size-check) the body first so the JSON parser still gets it and answers 400.
            request.body  # noqa: B018
        try:
            return super().__call__(request)
        except HttpError as exc:
            if exc.status_code == 403:
                raise CsrfFailed(403, _(
                    "CSRF check failed. Send the value of the csrftoken cookie in the X-CSRFToken header "
                    "with every POST, PUT, PATCH and DELETE made with a session."
                )) from exc
            raise


#: Tried in order for every endpoint; the first that returns a user authenticates the request.
AUTHENTICATORS: list[Callable[[HttpRequest], Any]] = [CivmilSessionAuth(csrf=True), TokenAuth()]


# ---------------------------------------------------------------------------------------------
# Documentation served offline


class OfflineSwagger(Swagger):
    """Swagger UI from django-ninja's bundled static files; never the CDN fallback.

    django-ninja renders its CDN page when ``ninja`` is not in ``INSTALLED_APPS``; we refuse to,
    so a missing setting shows up as an error instead of a docs page that needs the internet.
    """

    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs: Any) -> HttpResponse:
        if "ninja" not in settings.INSTALLED_APPS:
            raise ImproperlyConfigured("Add 'ninja' to INSTALLED_APPS so the API docs are served from local files.")
        self.settings["url"] = self.get_openapi_url(api, kwargs)
        context = {
            "swagger_settings": json.dumps(self.settings, indent=1),
            "api": api,
            "add_csrf": any(getattr(a, "csrf", False) for a in AUTHENTICATORS),
        }
        return render(request, self.template, context)


# ---------------------------------------------------------------------------------------------
# The API object


DESCRIPTION = """
The civmil REST API. Every answer is the view of the records that the signed-in actor (the
membership they act as) may see: a field your view withholds is absent from the JSON, and a record
you may not see answers 404 exactly like an id that does not exist.

**Authentication.** Two ways, for two kinds of client:

* *Scripts and other systems:* a personal API token. Create one at
  [API tokens](/core/tokens/) (your account menu): it acts as one of your memberships, for a
  period you choose, and is shown once. Send it in the `Authorization` header:
  `curl -H "Authorization: Bearer civmil_..." https://civmil.example.org/api/v1/me`. Token
  requests need no CSRF header, and are judged by the token alone, whatever cookies they carry.
  To try it on this page, press *Authorize* and paste the token (without `Bearer`).
* *The browser:* the session of the signed-in page (sign in at [/accounts/login/](/accounts/login/)).
  POST, PUT and DELETE also need the `X-CSRFToken` header (the `csrftoken` cookie's value).

Without either: 401. A revoked, expired or unknown token: 401. A session write without the
CSRF header: 403.

* Errors: `{"detail": "...", "errors": {"field": ["..."]}}`; 409 also carries `current_version`.
* Lists: `limit` (1-200, default 50) and `offset`; `count` counts only what you may see.

The API guide, with examples for every step (tokens, sessions, releasability, edit conflicts,
errors), is `docs/api.md` in civmil's source; the tokens themselves are described in
`docs/user/account.md`.
"""


class CivmilAPI(NinjaAPI):
    """A NinjaAPI whose URL patterns answer JSON for unknown paths (404) and wrong methods (405)."""

    @property
    def urls(self) -> tuple[list[URLResolver | URLPattern], str, str]:
        patterns, app_name, namespace = super().urls
        for pattern in patterns:
            if isinstance(pattern, URLPattern):
                pattern.callback = _json_method_not_allowed(pattern.callback)
        patterns.append(re_path(r"", _no_such_endpoint, name="not-found"))
        return patterns, app_name, namespace


def error_body(detail: str, errors: dict[str, list[str]] | None = None, **extra: Any) -> dict[str, Any]:
    return {"detail": detail, "errors": errors or {}, **extra}


def _no_such_endpoint(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    return JsonResponse(error_body(_("There is no API endpoint at this address.")), status=404)


def _json_method_not_allowed(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        if response.status_code == 405 and not response.get("Content-Type", "").startswith("application/json"):
            allowed = ", ".join(sorted(m.strip() for m in response.get("Allow", "").split(",") if m.strip()))
            response = JsonResponse(error_body(
                _("Method %(method)s is not allowed here; allowed: %(allowed)s.")
                % {"method": request.method, "allowed": allowed}), status=405)
            response["Allow"] = allowed
        return response

    return wrapper


api = CivmilAPI(
    title="civmil API",
    version="1",
    description=DESCRIPTION,
    urls_namespace="api",
    auth=AUTHENTICATORS,
    docs=OfflineSwagger(),
)
api.add_router("/", core_router)
api.add_router("/", actors_router)
api.add_router("/", comms_router)
api.add_router("/", search_router)
api.add_router("/", map_router())
api.add_router("/", kernel_routers())


# ---------------------------------------------------------------------------------------------
# Errors


def _respond(request: HttpRequest, status: int, detail: str, errors: dict[str, list[str]] | None = None,
             **extra: Any) -> HttpResponse:
    return api.create_response(request, error_body(detail, errors, **extra), status=status)


@api.exception_handler(ServiceError)
def _service_error(request: HttpRequest, exc: ServiceError) -> HttpResponse:
    extra = {"current_version": exc.extra["current_version"]} if isinstance(exc, StaleEdit) else {}
    return _respond(request, exc.status, exc.message, exc.errors, **extra)


_INTEGER = gettext_lazy("Enter a whole number.")
_NUMBER = gettext_lazy("Enter a number.")
_DATETIME = gettext_lazy("Enter a date and time such as 2025-03-01T09:30:00Z.")
_DATE = gettext_lazy("Enter a date such as 2025-03-01.")
_UUID = gettext_lazy("Enter a valid UUID.")
_CHOICE = gettext_lazy("Choose one of: %(expected)s.")
_OBJECT = gettext_lazy("Enter a JSON object.")
_BOOLEAN = gettext_lazy("Enter true or false.")

#: Our messages for pydantic's error types (placeholders are keys of the error's ``ctx``).
FIELD_MESSAGES = {
    "missing": gettext_lazy("This field is required."),
    "string_too_long": gettext_lazy("Ensure this value has at most %(max_length)s characters."),
    "too_long": gettext_lazy("Give at most %(max_length)s items."),
    "less_than_equal": gettext_lazy("Ensure this value is at most %(le)s."),
    "greater_than_equal": gettext_lazy("Ensure this value is at least %(ge)s."),
    "uuid_parsing": _UUID, "uuid_type": _UUID,
    "enum": _CHOICE, "literal_error": _CHOICE,
    "int_parsing": _INTEGER, "int_type": _INTEGER, "int_from_float": _INTEGER,
    "float_parsing": _NUMBER, "float_type": _NUMBER,
    "finite_number": gettext_lazy("Enter a finite number."),
    "bool_parsing": _BOOLEAN, "bool_type": _BOOLEAN,
    "string_type": gettext_lazy("Enter text."),
    "list_type": gettext_lazy("Enter a list."),
    "dict_type": _OBJECT, "model_type": _OBJECT, "model_attributes_type": _OBJECT,
    "datetime_parsing": _DATETIME, "datetime_type": _DATETIME, "datetime_from_date_parsing": _DATETIME,
    "timezone_aware": gettext_lazy("Give the time with its offset, such as 2025-03-01T09:30:00Z or +01:00."),
    "date_parsing": _DATE, "date_type": _DATE, "date_from_datetime_parsing": _DATE,
    "date_from_datetime_inexact": gettext_lazy("Enter a date without a time, such as 2025-03-01."),
}


def _field_message(error: dict[str, Any]) -> str:
    """A translated message for one pydantic error (pydantic's own English text as the fallback)."""
    ctx = error.get("ctx") or {}
    if error.get("type") == "value_error" and "error" in ctx:
        return str(ctx["error"])  # raised by our validators, already translated
    template = FIELD_MESSAGES.get(str(error.get("type", "")))
    if template is None:
        return str(error.get("msg") or _("This value is not valid."))
    values = {k: int(v) if isinstance(v, float) and v.is_integer() else v
              for k, v in ctx.items() if isinstance(v, str | int | float)}
    return str(template) % defaultdict(str, values)


def _field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    """``("body", "payload", "people", 0)`` -> ``people.0``; ``("query", "limit")`` -> ``limit``."""
    parts = list(loc)[1:]  # the source: body, query, path
    if loc and loc[0] == "body" and parts:
        parts = parts[1:]  # the name of the body parameter
    return ".".join(str(p) for p in parts) or "__all__"


@api.exception_handler(ValidationError)
def _validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors: dict[str, list[str]] = {}
    for error in exc.errors:
        loc = tuple(error.get("loc", ()))
        path = _field_path(loc)
        if path == "__all__" and error.get("type") == "missing":
            message = _("Send a JSON object in the request body.")
        else:
            message = _field_message(error)
        errors.setdefault(path, []).append(message)
    return _respond(request, 422, _("Some fields are not valid; see errors."), errors)


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if isinstance(exc, AuthenticationError):
        return _respond(request, 401, _("Authentication required: sign in first (session cookie)."))
    cause = exc.__cause__
    if exc.status_code == 400 and isinstance(cause, ValueError):
        return _respond(request, 400, _("The request body is not valid JSON: %(reason)s") % {"reason": cause})
    return _respond(request, exc.status_code, exc.message)


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _respond(request, 404, _("No such record."))


@api.exception_handler(PermissionDenied)
def _permission_denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return _respond(request, 403, _("You are not allowed to do this."))


@api.exception_handler(RequestDataTooBig)
def _too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return _respond(request, 413, _("The request body is too large (at most %(n)s bytes).")
                    % {"n": settings.DATA_UPLOAD_MAX_MEMORY_SIZE})


@api.exception_handler(SuspiciousOperation)
def _suspicious(request: HttpRequest, exc: SuspiciousOperation) -> HttpResponse:
    return _respond(request, 400, _("The request was refused as malformed."))


@api.exception_handler(BadRequest)
@api.exception_handler(MultiPartParserError)
def _bad_request(request: HttpRequest, exc: BadRequest | MultiPartParserError) -> HttpResponse:
    return _respond(request, 400, _("The request could not be read. Send the body as JSON "
                                    "(Content-Type: application/json)."))


@api.exception_handler(Exception)
def _unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    """Not an error a user can fix: let Django log it and answer 500 (ninja would hide it in DEBUG)."""
    raise exc

"""The options of a searchable picker (:mod:`civmil.core.pickers`), loaded as the user types."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from civmil.core import pickers
from civmil.core.acting import actor_of


def _refused(message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"detail": message}, status=status)


@require_GET
def picker_options(request: HttpRequest, key: str) -> HttpResponse:
    """``{"results": [{"value", "text"}], "more"}``: the records the reader may pick with ``key``
    matching ``?q=`` (name, acronym, title or P-code), at most ``?limit=`` of them. Signed-in
    readers only (401); an unknown picker answers 404, a bad parameter 400 with the reason."""
    actor = actor_of(request)
    if not actor.is_authenticated:
        return _refused(_("Sign in to search."), status=401)
    try:
        picker = pickers.get(key)
    except LookupError:
        return _refused(_("There is no such list to pick from."), status=404)
    text = request.GET.get("q", "")
    if len(text) > pickers.QUERY_MAX:
        return _refused(_("Type at most %(n)s characters.") % {"n": pickers.QUERY_MAX})
    text = text.replace("\x00", "")  # a NUL byte is no letter anyone types, and PostgreSQL refuses it
    raw_limit = request.GET.get("limit", "").strip() or str(pickers.LIMIT_DEFAULT)
    # ASCII digits only: str.isdigit() also takes "²", which int() refuses.
    if not (raw_limit.isascii() and raw_limit.isdigit()) or not 1 <= int(raw_limit) <= pickers.LIMIT_MAX:
        return _refused(_("limit must be a whole number from 1 to %(max)s.") % {"max": pickers.LIMIT_MAX})
    value_field = request.GET.get("value", "").strip() or "pk"
    if value_field != "pk" and value_field not in picker.value_fields:
        return _refused(_("value must be one of: %(fields)s.") % {"fields": ", ".join(("pk", *picker.value_fields))})
    results, more = pickers.options(actor, key, text, int(raw_limit), value_field)
    response = JsonResponse({"results": results, "more": more})
    response["Cache-Control"] = "private, no-store"  # what a reader may pick changes with their memberships
    return response

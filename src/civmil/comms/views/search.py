"""The search page: ``/comms/search/?q=`` (results as the reader's view shows them)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from civmil.comms.queries.search import search_records
from civmil.comms.search import MAX_QUERY_LENGTH, QueryError
from civmil.core.pages import render_page

PER_PAGE = 25


@login_required
@require_GET
def search_page(request: HttpRequest) -> HttpResponse:
    """Full-text search across records, people, organisations and areas.

    An unsearchable query answers 422 with the reason; an empty one shows the form only.
    """
    actor = request.actor  # type: ignore[attr-defined]
    q = request.GET.get("q", "")
    context: dict[str, object] = {"q": q, "max_length": MAX_QUERY_LENGTH}
    status = 200
    if q.strip():
        try:
            found = search_records(actor, q)
        except QueryError as exc:
            context["error"] = exc.message
            status = exc.status
        else:
            context["found"] = found
            context["page_obj"] = Paginator(found.results, PER_PAGE).get_page(request.GET.get("page"))
    return render_page(request, "comms/search/results.html", context, status=status)

"""REST endpoint of search: ``GET /api/v1/search?q=`` (add with ``api.add_router("/", router)``)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from civmil.comms.queries.search import search_records
from civmil.comms.search import MAX_QUERY_LENGTH, RESULT_LIMIT
from civmil.core.api import actor_of, page_of
from civmil.core.schemas import ERROR_RESPONSES, Page, PageQuery

router = Router(tags=["search"])


class SearchQuery(PageQuery):
    q: str = Field(..., max_length=MAX_QUERY_LENGTH * 4,
                   description="Words to find. Letters and digits are searched; punctuation and operators "
                               "are ignored. Every word must appear (as a word prefix) in the same field.")


class SearchResultOut(Schema):
    type: str = Field(description="Record type (``app_label.model_name``).")
    type_label: str
    id: str
    title: str
    field: str = Field(description="The field the snippet comes from (always one your view shows).")
    snippet: str = Field(description="Plain-text excerpt of that field around the match.")
    highlighted: str = Field(description="The same excerpt as escaped HTML with matches in <mark>.")
    url: str = Field(description="The page of the record (empty when it has none).")


class SearchPage(Page):
    truncated: bool = Field(description="True when more records you may see match than are listed (the best "
                                        f"{RESULT_LIMIT:,} are); records you may not see are never counted.")
    items: list[SearchResultOut]


@router.get("/search", response={200: SearchPage, **ERROR_RESPONSES}, url_name="search",
            summary="Full-text search")
def search(request: HttpRequest, filters: Query[SearchQuery]) -> dict[str, Any]:
    """Records, people, organisations and areas matching ``q``, as your view shows them.

    A record you may not see is neither listed nor counted; a record you see only in part is found
    by, and quoted from, only the fields released to you.
    """
    found = search_records(actor_of(request), filters.q)
    items, total = page_of(found.results, filters)
    return {
        "count": total, "limit": filters.limit, "offset": filters.offset, "truncated": found.truncated,
        "items": [{
            "type": r.object_type, "type_label": r.type_label, "id": r.object_id, "title": r.title,
            "field": r.field, "snippet": r.snippet_text, "highlighted": str(r.snippet_html), "url": r.url,
        } for r in items],
    }

"""Search as one reader sees it.

The engine (:mod:`civmil.comms.search`) returns raw index rows; this module keeps a row only when
the reader may know the record exists (:func:`civmil.core.access.visible`) *and* their view shows
the row's field (:meth:`civmil.core.access.View.shows`). A record with a reduced view is found
only by its shown fields and its snippet comes from one of them; a hidden record is absent and
is not counted.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.apps import apps
from django.urls import NoReverseMatch, reverse
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from civmil.comms import search
from civmil.core import access, registry

if TYPE_CHECKING:
    from civmil.core.actors import Actor

#: Detail pages of reference data (URL names taking ``pk``).
REFERENCE_URLS = {"core.organisation": "actors:organisation", "actors.area": "actors:area"}


@dataclass(frozen=True)
class SearchResult:
    """One record found, as the reader may see it."""

    object_type: str
    object_id: str
    type_label: str
    title: str
    field: str
    field_label: str
    #: Raw snippet with :data:`~civmil.comms.search.MARK_START`/``MARK_END`` around matches.
    snippet: str
    url: str

    @property
    def snippet_text(self) -> str:
        """The snippet as plain text (highlight marks removed)."""
        return self.snippet.replace(search.MARK_START, "").replace(search.MARK_END, "")

    @property
    def snippet_html(self) -> SafeString:
        """The snippet escaped, with matches in ``<mark>``."""
        text = str(escape(self.snippet))
        return mark_safe(text.replace(search.MARK_START, "<mark>").replace(search.MARK_END, "</mark>"))  # noqa: S308


@dataclass(frozen=True)
class SearchResults:
    query: str
    words: list[str]
    results: list[SearchResult]
    #: True when the engine stopped at its candidate limit (more records may match).
    truncated: bool

    @property
    def count(self) -> int:
        return len(self.results)


def _url(name: str, pk: Any) -> str:
    if not name:
        return ""
    try:
        return reverse(name, kwargs={"pk": pk})
    except NoReverseMatch:
        return ""


def _field_label(model: type[Any], field: str) -> str:
    try:
        return str(model._meta.get_field(field).verbose_name)
    except Exception:
        return field.replace("_", " ")


def _title(shown: access.Shown[Any], record_type: registry.RecordType) -> str:
    if shown.full:
        return str(shown.record)
    if shown.view.shows("full_name"):
        return str(shown.full_name)
    return record_type.label.capitalize()


def search_records(actor: Actor, q: str) -> SearchResults:
    """The records matching ``q`` that ``actor`` may see, best first, found only by shown fields.

    Raises :class:`civmil.comms.search.QueryError` (a 422) when ``q`` cannot be searched.
    """
    words = search.parse_query(q)
    matches = search.match(words, actor.space_id)
    truncated = len(matches) >= search.CANDIDATE_LIMIT
    by_type: dict[str, list[search.Match]] = defaultdict(list)
    for m in matches:
        by_type[m.object_type].append(m)

    # (object_type, object_id) -> (title, type label, url, model, the fields the reader may see)
    allowed: dict[tuple[str, str], tuple[str, str, str, type[Any], frozenset[str] | None]] = {}
    for key, rows in by_type.items():
        ids = list({r.object_id for r in rows})
        if key in search.REFERENCE_FIELDS:
            if not actor.is_authenticated:
                continue
            app_label, model_name = key.split(".")
            try:
                model = apps.get_model(app_label, model_name)
            except LookupError:
                continue
            for obj in model._default_manager.filter(pk__in=ids):
                allowed[(key, str(obj.pk))] = (str(obj), str(model._meta.verbose_name).capitalize(),
                                               _url(REFERENCE_URLS.get(key, ""), obj.pk), model, None)
            continue
        try:
            record_type = registry.by_key(key)
        except LookupError:  # a type no longer registered: never shown
            continue
        qs = access.visible(actor, record_type.model._default_manager.filter(pk__in=ids))
        for shown in access.show_all(actor, qs):
            if shown.view.kind < access.ViewKind.REDUCED:
                continue
            fields = None if shown.full else frozenset(f for f in record_type.search_fields if shown.view.shows(f))
            allowed[(key, str(shown.record.pk))] = (
                _title(shown, record_type), record_type.label.capitalize(),
                _url(record_type.detail_url_name, shown.record.pk), record_type.model, fields,
            )

    results: list[SearchResult] = []
    seen: set[tuple[str, str]] = set()
    for m in matches:  # best first
        ident = (m.object_type, m.object_id)
        if ident in seen or ident not in allowed:
            continue
        title, type_label, url, model, fields = allowed[ident]
        if fields is not None and m.field not in fields:
            continue  # a withheld field: it neither finds the record nor shows in a snippet
        seen.add(ident)
        results.append(SearchResult(
            object_type=m.object_type, object_id=m.object_id, type_label=type_label, title=title,
            field=m.field, field_label=_field_label(model, m.field), snippet=m.snippet, url=url,
        ))
    return SearchResults(query=q, words=words, results=results, truncated=truncated)

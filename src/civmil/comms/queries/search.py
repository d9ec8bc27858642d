"""Search as one reader sees it.

The engine (:mod:`civmil.comms.search`) reads index rows only of records the reader may know
exist: the access policy's filter (:func:`civmil.core.access.visible`, per type) is part of the
matching query, so a hidden record neither takes a candidate's place nor counts towards any limit.
This module then keeps a row only when the reader's view shows the row's field
(:meth:`civmil.core.access.View.shows`), reading further candidates, best first, until it has
enough results or the matches run out. A record with a reduced view is found only by its shown
fields and its snippet comes from one of them; a hidden record is absent and is not counted, and
``truncated`` says only that more records *the reader may see* match than are listed.
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
    from civmil.core.acting import Actor

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
    #: True when more records the reader may see match than the :data:`~civmil.comms.search.RESULT_LIMIT`
    #: listed (the best of them are listed).
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


def _title(shown: access.Shown[Any], record_type: registry.RecordType, page: Any) -> str:
    """The result's heading: the kernel's title line as the reader sees it (times in the mission's
    zone), a person's name, or the type's name when the view shows none of them."""
    if page is not None:
        from civmil.core.kernel import fields

        line = fields.title(record_type, shown, page)
        if line:
            return line
    elif shown.full:
        return str(shown.record)
    if shown.view.shows("full_name"):
        return str(shown.full_name)
    return record_type.label.capitalize()


#: What the reader may see of one record found: title, type label, url, model and the fields
#: their view shows (``None``: every field); ``None`` as a whole when they may not see it.
_Allowed = tuple[str, str, str, type[Any], frozenset[str] | None] | None


def _scope(actor: Actor) -> search.Scope:
    """The index rows ``actor``'s search reads: reference data, and the records they may know exist."""
    return search.Scope(
        reference=tuple(search.REFERENCE_FIELDS) if actor.is_authenticated else (),
        records={t.key: access.visible(actor, t.model._default_manager.all())
                 for t in registry.all_types() if t.search_fields},
    )


def _allow(actor: Actor, matches: list[search.Match], allowed: dict[tuple[str, str], _Allowed]) -> None:
    """Add to ``allowed`` what ``actor`` may see of each record of ``matches`` not yet in it."""
    by_type: dict[str, set[str]] = defaultdict(set)
    for m in matches:
        if (m.object_type, m.object_id) not in allowed:
            by_type[m.object_type].add(m.object_id)
    for key, id_set in by_type.items():
        ids = sorted(id_set)
        for object_id in ids:  # until found below: never shown
            allowed[(key, object_id)] = None
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
        found = [s for s in access.show_all(actor, qs) if s.view.kind >= access.ViewKind.REDUCED]
        page = None
        if record_type.fields:
            from civmil.core.kernel import fields as kernel_fields

            page = kernel_fields.Page.of(actor, kernel_fields.resolve(record_type), found)
        for shown in found:
            fields = None if shown.full else frozenset(f for f in record_type.search_fields if shown.view.shows(f))
            allowed[(key, str(shown.record.pk))] = (
                _title(shown, record_type, page), record_type.label.capitalize(),
                _url(record_type.detail_url_name, shown.record.pk), record_type.model, fields,
            )


def search_records(actor: Actor, q: str) -> SearchResults:
    """The records matching ``q`` that ``actor`` may see, best first, found only by shown fields.

    At most :data:`~civmil.comms.search.RESULT_LIMIT` are listed; ``truncated`` says more of the
    records ``actor`` may see match. Raises :class:`civmil.comms.search.QueryError` (a 422) when
    ``q`` cannot be searched.
    """
    words = search.parse_query(q)
    scope = _scope(actor)
    allowed: dict[tuple[str, str], _Allowed] = {}
    results: list[SearchResult] = []
    seen: set[tuple[str, str]] = set()
    offset, size = 0, search.CANDIDATE_BATCH
    while len(results) <= search.RESULT_LIMIT:
        matches = search.match(words, actor.space_id, scope=scope, limit=size, offset=offset)
        _allow(actor, matches, allowed)
        for m in matches:  # best first
            ident = (m.object_type, m.object_id)
            found = allowed.get(ident)
            if ident in seen or found is None:
                continue
            title, type_label, url, model, fields = found
            if fields is not None and m.field not in fields:
                continue  # a withheld field: it neither finds the record nor shows in a snippet
            seen.add(ident)
            results.append(SearchResult(
                object_type=m.object_type, object_id=m.object_id, type_label=type_label, title=title,
                field=m.field, field_label=_field_label(model, m.field), snippet=m.snippet, url=url,
            ))
            if len(results) > search.RESULT_LIMIT:
                break
        if len(matches) < size:
            break
        offset += size
        size = min(size * 2, search.MAX_CANDIDATE_BATCH)
    truncated = len(results) > search.RESULT_LIMIT
    return SearchResults(query=q, words=words, results=results[:search.RESULT_LIMIT], truncated=truncated)

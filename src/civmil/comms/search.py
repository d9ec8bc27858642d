"""The full-text search engine: what is indexed, how a query is parsed, how the index is matched.

The index (:class:`~civmil.comms.models.SearchDocument`) holds one row per (object type, object
id, field). Protected types index their registry ``search_fields``; reference data indexes the
fields in :data:`REFERENCE_FIELDS`. This module knows nothing of readers: matching reads only
the rows of the records a :class:`Scope` names (:mod:`civmil.comms.queries.search` builds it from
the access policy, so a record the reader may not see never takes a place among the candidates),
and the caller keeps only the rows whose field the reader's view shows. A snippet is cut from the
text of one field only, so a withheld field never leaks into it.

The index follows every save: :func:`connect` (called from ``CommsConfig.ready``) hooks
``post_save``/``post_delete`` of every registered type and of the reference models, so the index
row changes in the same transaction as the record. ``civmil reindex`` rebuilds everything.

Database vendors: SQLite matches through the FTS5 table ``comms_search_fts`` (external content,
kept in step by triggers); PostgreSQL through ``to_tsvector('simple', terms)`` (GIN-indexed), where
``terms`` is the text folded in Python (:func:`fold`) so both vendors split words alike.
User input never reaches either query language: it is cut into words of letters and digits,
and each word is quoted (FTS5) or checked to be a plain lexeme (PostgreSQL).
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

from django.apps import apps
from django.db import connection, models, transaction
from django.db.models.functions import Cast
from django.db.models.signals import post_delete, post_save
from django.utils.translation import gettext as _

from civmil.core import registry
from civmil.core.errors import Invalid

#: Reference data searched by every signed-in reader: ``app_label.model_name`` -> fields.
REFERENCE_FIELDS: dict[str, tuple[str, ...]] = {
    "core.organisation": ("name", "acronym", "description"),
    "actors.area": ("name", "name_alt", "pcode"),
}
#: Rows from which a bulk insert on SQLite fills the FTS5 table in one statement rather than
#: through its trigger (:func:`index_new_records`).
FTS_BULK_ROWS = 200
#: The SQLite trigger that adds each new index row to the FTS5 table (migration 0002).
_FTS_INSERT_TRIGGER = "comms_search_ai"
#: Longest query accepted, in characters.
MAX_QUERY_LENGTH = 200
#: Most words in one query.
MAX_TERMS = 8
#: Most records one search lists; when more match, the answer says so (``truncated``).
RESULT_LIMIT = 2000
#: Index rows read by the first query of a search. A search reads further batches, each twice
#: the last (up to :data:`MAX_CANDIDATE_BATCH`), until it holds ``RESULT_LIMIT + 1`` records the
#: reader may see or the matches run out.
CANDIDATE_BATCH = 500
MAX_CANDIDATE_BATCH = 4000
#: Private-use characters marking a highlighted match inside a snippet; pages escape the text
#: first and only then turn these into ``<mark>`` (never trusting the indexed text as HTML).
#: Stored text cannot forge them: private-use characters are removed from every text the index
#: holds (:func:`plain_text`) and again from the text a snippet is cut from, and the marks are
#: placed by :func:`mark_matches` alone, never by the database.
MARK_START = "\ue000"
MARK_END = "\ue001"
#: Every private-use character (Unicode category Co): the BMP area and planes 15 and 16.
_PRIVATE_USE = re.compile("[\ue000-\uf8ff\U000f0000-\U000ffffd\U00100000-\U0010fffd]")
#: Words of letters and digits (no underscore: neither index tokenises it as a letter).
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_SNIPPET_WORDS = 16


class QueryError(Invalid):
    """A query that cannot be searched; ``message`` says why and how to fix it."""


@dataclass(frozen=True)
class Scope:
    """The index rows one search may read: the reader's side of matching, decided in the database.

    ``reference``: the reference-data types searched (keys of :data:`REFERENCE_FIELDS`).
    ``records``: per protected type (``app_label.model_name``), a queryset of the records whose rows
    may match — :func:`civmil.core.access.visible` of the type. Rows of any other type are not read.
    """

    reference: tuple[str, ...] = ()
    records: Mapping[str, models.QuerySet[Any]] = dataclass_field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.reference or self.records)


@dataclass(frozen=True)
class Match:
    """One matching index row: which field of which object, its snippet and its rank (lower is better)."""

    object_type: str
    object_id: str
    field: str
    snippet: str
    rank: float


# ---------------------------------------------------------------------------------------------
# Queries


def plain_text(text: str) -> str:
    """``text`` without private-use characters (which mean nothing in shared text and would pass for
    the snippet marks)."""
    if text.isascii():  # none there
        return text
    return _PRIVATE_USE.sub("", text)


def fold(text: str) -> str:
    """Text as both indexes match it: lower case, diacritics removed, words separated by single spaces."""
    if text.isascii():  # nothing to decompose, and lower case keeps the words (the common case, much quicker)
        return " ".join(_WORD.findall(text.lower()))
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(w.lower() for w in _WORD.findall(plain))


def parse_query(q: str) -> list[str]:
    """The words of a user's query, lower-cased; operators and punctuation are plain separators.

    Raises :class:`QueryError` for an empty, too long or wordless query.
    """
    q = (q or "").strip()
    if len(q) > MAX_QUERY_LENGTH:
        raise QueryError(
            _("The search is too long (%(n)d characters); use at most %(max)d.")
            % {"n": len(q), "max": MAX_QUERY_LENGTH},
            errors={"q": [_("Shorten the search to a few words.")]},
        )
    words = list(dict.fromkeys(fold(q).split()))
    if not words:
        raise QueryError(_("Type at least one word or number to search for."),
                         errors={"q": [_("Letters and digits are searched; other characters are ignored.")]})
    if len(words) > MAX_TERMS:
        raise QueryError(
            _("The search has %(n)d words; use at most %(max)d.") % {"n": len(words), "max": MAX_TERMS},
            errors={"q": [_("Remove some words.")]},
        )
    return words


def _fts5_expression(words: list[str]) -> str:
    # Each word is a quoted string (so AND, OR, NOT, NEAR and * are just words) matched as a prefix.
    return " ".join('"' + w.replace('"', '""') + '"*' for w in words)


def _tsquery_expression(words: list[str]) -> str:
    # Words are letters and digits only (see _WORD), so none can be a tsquery operator.
    return " & ".join(w + ":*" for w in words)


def _scope_sql(scope: Scope) -> tuple[str, list[Any]]:
    """A condition on the index row ``d`` keeping the rows of ``scope`` only, and its parameters.

    Each protected type's queryset becomes a subquery of record ids as text, compared with
    ``d.object_id`` (``str(pk)``); SQLite stores a UUID as 32 hex digits, without hyphens.
    """
    parts: list[str] = []
    params: list[Any] = []
    if scope.reference:
        parts.append("d.object_type IN (" + ", ".join(["%s"] * len(scope.reference)) + ")")
        params.extend(scope.reference)
    for key, qs in scope.records.items():
        ids = qs.order_by().annotate(search_object_id=Cast("pk", output_field=models.TextField()))
        sub_sql, sub_params = ids.values("search_object_id").query.sql_with_params()
        column = "d.object_id"
        if connection.vendor == "sqlite" and isinstance(qs.model._meta.pk, models.UUIDField):
            column = "REPLACE(d.object_id, '-', '')"
        parts.append(f"(d.object_type = %s AND {column} IN ({sub_sql}))")
        params.extend([key, *sub_params])
    return "(" + " OR ".join(parts) + ")", params


def match(words: list[str], space_id: uuid.UUID | None, *, scope: Scope | None = None,
          limit: int = CANDIDATE_BATCH, offset: int = 0) -> list[Match]:
    """Index rows where every word occurs (as a prefix) in one field, best first.

    Rows of ``space_id`` and reference rows (no space) only; with ``scope``, only the rows it names
    (a reader's search passes one, so that rows they may not see take no place among the
    ``limit`` read). Rows are in a fixed order (rank, then row), so ``offset`` reads the next ones.
    The reader's view of each field is not applied here.
    """
    if not words or (scope is not None and not scope):
        return []
    space = space_id.hex if connection.vendor == "sqlite" and space_id is not None else space_id
    # ``within`` is fixed text and ORM-compiled SQL; every value in it is a parameter.
    within, within_params = _scope_sql(scope) if scope is not None else ("1 = 1", [])
    if connection.vendor == "postgresql":
        # ts_headline drops anything that looks like markup, so the snippet is cut in Python.
        sql = (
            "SELECT d.object_type, d.object_id, d.field, d.body AS snippet, "  # noqa: S608
            "-ts_rank(to_tsvector('simple', d.terms), q.query) AS rank "
            "FROM comms_searchdocument d, to_tsquery('simple', %s) AS q(query) "
            "WHERE to_tsvector('simple', d.terms) @@ q.query AND (d.space_id = %s OR d.space_id IS NULL) "
            f"AND {within} "
            "ORDER BY rank, d.id LIMIT %s OFFSET %s"
        )
        params: list[Any] = [_tsquery_expression(words), space, *within_params, limit, offset]
    else:
        sql = (
            "SELECT d.object_type, d.object_id, d.field, "  # noqa: S608
            "snippet(comms_search_fts, 0, %s, %s, '…', %s) AS snippet, comms_search_fts.rank AS rank "
            "FROM comms_search_fts JOIN comms_searchdocument d ON d.id = comms_search_fts.rowid "
            "WHERE comms_search_fts MATCH %s AND (d.space_id = %s OR d.space_id IS NULL) "
            f"AND {within} "
            "ORDER BY rank, d.id LIMIT %s OFFSET %s"
        )
        # The window only, unmarked: the marks are placed below, in Python, on text without
        # private-use characters, so that no stored character can pass for one.
        params = ["", "", _SNIPPET_WORDS, _fts5_expression(words), space, *within_params, limit, offset]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if connection.vendor == "postgresql":
        return [Match(str(t), str(i), str(f), snippet(str(b or ""), words), float(r or 0.0)) for t, i, f, b, r in rows]
    return [Match(str(t), str(i), str(f), mark_matches(str(s or ""), words), float(r or 0.0))
            for t, i, f, s, r in rows]


def _hit(token: str, words: list[str]) -> bool:
    folded = fold(token)
    return any(folded.startswith(w) for w in words)


def mark_matches(text: str, words: list[str]) -> str:
    """``text`` without private-use characters, each word matching a query word (as a prefix) between
    the mark characters."""
    text = plain_text(text)
    return _WORD.sub(lambda m: MARK_START + m.group() + MARK_END if _hit(m.group(), words) else m.group(), text)


def snippet(body: str, words: list[str], size: int = _SNIPPET_WORDS) -> str:
    """About ``size`` words of ``body`` around the first match, matches wrapped in the mark characters
    (private-use characters of ``body`` removed first)."""
    body = plain_text(body)
    tokens = list(_WORD.finditer(body))
    if not tokens:
        return body[:200]

    def hit(token: str) -> bool:
        return _hit(token, words)

    first = next((n for n, t in enumerate(tokens) if hit(t.group())), 0)
    start = max(0, min(first - size // 3, len(tokens) - size))
    window = tokens[start:start + size]
    begin = 0 if start == 0 else window[0].start()
    end = len(body) if start + size >= len(tokens) else window[-1].end()
    out, pos = [], begin
    for t in window:
        out.append(body[pos:t.start()])
        out.append(MARK_START + t.group() + MARK_END if hit(t.group()) else t.group())
        pos = t.end()
    out.append(body[pos:end])
    text = "".join(out).strip()
    return ("…" if begin > 0 else "") + text + ("…" if end < len(body) else "")


# ---------------------------------------------------------------------------------------------
# Indexing


def type_key(obj: models.Model | type[models.Model]) -> str:
    return f"{obj._meta.app_label}.{obj._meta.model_name}"


def indexed_fields(model: type[models.Model]) -> tuple[str, ...]:
    """The fields of ``model`` the index holds (empty when the model is not searched)."""
    key = type_key(model)
    if key in REFERENCE_FIELDS:
        return REFERENCE_FIELDS[key]
    try:
        return registry.get(model).search_fields
    except LookupError:
        return ()


def _text(value: Any) -> str:
    """The text the index holds for one field: private-use characters removed (:func:`plain_text`)."""
    if value is None:
        return ""
    return plain_text(str(value)).strip()


def index_record(record: models.Model) -> None:
    """Bring the index rows of ``record`` up to date (one per non-empty searched field).

    Call it inside the writing service's transaction, after the save (the signal receivers of
    :func:`connect` do so for every registered type and for organisations and areas).
    """
    from civmil.comms.models import SearchDocument

    fields = indexed_fields(type(record))
    if not fields or record.pk is None:
        return
    key, object_id = type_key(record), str(record.pk)
    space_id = getattr(record, "space_id", None)
    texts = {name: _text(getattr(record, name, "")) for name in fields}
    existing = {d.field: d for d in SearchDocument.objects.filter(object_type=key, object_id=object_id)}
    for name, body in texts.items():
        doc = existing.pop(name, None)
        if not body:
            if doc is not None:
                doc.delete()
            continue
        if doc is None:
            SearchDocument.objects.create(object_type=key, object_id=object_id, field=name, space_id=space_id,
                                          body=body, terms=fold(body))
        elif doc.body != body or doc.space_id != space_id:
            doc.body, doc.terms, doc.space_id = body, fold(body), space_id
            doc.save(update_fields=["body", "terms", "space_id", "indexed_at"])
    for stale in existing.values():  # a field no longer searched
        stale.delete()


def index_new_records(model: type[models.Model], rows: Iterable[Mapping[str, Any]]) -> int:
    """Add the index rows of records of ``model`` just written in bulk (each given as its values by
    field name, with ``id`` and ``space``), in one insert; returns how many rows were added. Each
    is what :func:`index_record` would write; on SQLite the FTS5 table gets them as its trigger
    would have added them."""
    from civmil.comms.models import SearchDocument
    from civmil.core.bulk import Table

    fields = indexed_fields(model)
    key = type_key(model)
    documents = []
    for row in rows:
        object_id, space_id = str(row["id"]), row.get("space")
        for name in fields:
            body = _text(row.get(name, ""))
            if body:
                documents.append((key, object_id, name, space_id, body, fold(body), row.get("updated_at")))
    table = Table(SearchDocument, ["object_type", "object_id", "field", "space_id", "body", "terms", "indexed_at"],
                  raw=["object_type", "object_id", "field", "body", "terms"])  # text already
    if connection.vendor != "sqlite" or len(documents) < FTS_BULK_ROWS:
        return table.insert(documents)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = %s", [_FTS_INSERT_TRIGGER])
        trigger = cursor.fetchone()
        if trigger is None:  # no FTS5 table to keep (a database not migrated this far)
            return table.insert(documents)
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM comms_searchdocument")
        last = cursor.fetchone()[0]
        # The trigger adds one FTS5 row per statement it fires in; one INSERT ... SELECT adds the
        # batch's rows about four times quicker. Dropped and created again inside this
        # transaction (savepoint), which holds the write lock: no other writer ever sees the
        # table without it, and a failure rolls the drop back with the rows.
        cursor.execute(f"DROP TRIGGER {_FTS_INSERT_TRIGGER}")
        added = table.insert(documents)
        cursor.execute("INSERT INTO comms_search_fts(rowid, body) SELECT id, body FROM comms_searchdocument "
                       "WHERE id > %s ORDER BY id", [last])
        cursor.execute(str(trigger[0]))
    return added


def unindex(object_type: str, object_id: Any) -> int:
    """Delete every index row of one object; returns how many were deleted."""
    from civmil.comms.models import SearchDocument

    deleted, _detail = SearchDocument.objects.filter(object_type=object_type, object_id=str(object_id)).delete()
    return int(deleted)


def unindex_record(record: models.Model) -> int:
    """Delete the index rows of ``record`` (call it before or after deleting the record)."""
    return unindex(type_key(record), record.pk)


def searched_models() -> list[type[models.Model]]:
    """Every model the index covers: registered types with search fields, then reference data."""
    found: list[type[models.Model]] = [t.model for t in registry.all_types() if t.search_fields]
    for key in REFERENCE_FIELDS:
        app_label, model_name = key.split(".")
        try:
            found.append(apps.get_model(app_label, model_name))
        except LookupError:  # the app is not installed
            continue
    return found


def rebuild(models_: Iterable[type[models.Model]] | None = None, batch: int = 500) -> int:
    """Delete the index and index every record again; returns the number of records indexed.

    Run inside a transaction (``civmil reindex`` does).
    """
    from civmil.comms.models import SearchDocument

    SearchDocument.objects.all().delete()
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:  # also drops anything left in the FTS table
            cursor.execute("INSERT INTO comms_search_fts(comms_search_fts) VALUES ('rebuild')")
    count = 0
    for model in models_ if models_ is not None else searched_models():
        for record in model._default_manager.all().order_by("pk").iterator(chunk_size=batch):
            index_record(record)
            count += 1
    return count


# ---------------------------------------------------------------------------------------------
# Signals


def _on_save(sender: type[models.Model], instance: models.Model, raw: bool = False, **kwargs: Any) -> None:
    if raw or not indexed_fields(sender):
        return
    index_record(instance)


def _on_delete(sender: type[models.Model], instance: models.Model, **kwargs: Any) -> None:
    if indexed_fields(sender):
        unindex_record(instance)


def _on_bulk_create(sender: type[models.Model], rows: list[dict[str, Any]], **kwargs: Any) -> None:
    if indexed_fields(sender):
        index_new_records(sender, rows)


def connect() -> None:
    """Keep the index in step with every save (and bulk write) and register the erasure hook. Idempotent."""
    from civmil.comms.services.search import purge_erased
    from civmil.core.bulk import records_created
    from civmil.core.ledger import register_erasure_hook

    records_created.connect(_on_bulk_create, dispatch_uid="civmil.comms.search.bulk")
    post_save.connect(_on_save, dispatch_uid="civmil.comms.search.save")
    post_delete.connect(_on_delete, dispatch_uid="civmil.comms.search.delete")
    register_erasure_hook(purge_erased)

"""Delivery: what one subscriber receives of the outbox, decided by the access policy at delivery.

Synchronous code (it reads the database); the WebSocket consumer runs it in a worker thread.
Nothing here trusts the outbox row beyond its ids: each record is loaded and shown through
:mod:`civmil.core.access` for the subscriber, on replay as on live delivery.
"""

from __future__ import annotations

import datetime as dt
import decimal
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core import signing
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import NoReverseMatch, reverse
from django.utils.functional import Promise

from civmil.core import access, metrics, registry
from civmil.core.events.outbox import horizon, last_id

if TYPE_CHECKING:
    from civmil.core.acting import Actor
    from civmil.core.models import OutboxEvent

#: A resume point further back than this many events in the subscribed streams gets "reload".
REPLAY_CAP = 500
#: Events read per query when catching up after a push.
BATCH = 500
#: Object ids a connection remembers having delivered (to send ``removed`` later).
SEEN_CAP = 10_000
_SEEN_SALT = "civmil.core.events.seen"
#: How long a page's token of the rows it rendered stays valid.
SEEN_TOKEN_MAX_AGE = 24 * 3600
SEEN_TOKEN_MAX_IDS = 1000
#: ``extra`` flag of an event that only subscribers with the FULL view of its record receive
#: (a new message in the record's discussion, a file attached to it: both open only with the
#: full view, so a reduced reader must not even learn that they happened).
FULL_VIEW_ONLY = "full_view_only"


class Seen:
    """The records one connection has shown its subscriber (stream key and object id), capped."""

    def __init__(self, cap: int = SEEN_CAP) -> None:
        self._keys: OrderedDict[tuple[str, str], None] = OrderedDict()
        self.cap = cap

    def add(self, object_type: str, object_id: str) -> None:
        key = (object_type, object_id)
        self._keys[key] = None
        self._keys.move_to_end(key)
        while len(self._keys) > self.cap:
            self._keys.popitem(last=False)

    def discard(self, object_type: str, object_id: str) -> bool:
        """Forget a record; ``True`` when the subscriber had seen it."""
        return self._keys.pop((object_type, object_id), False) is None

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self._keys)


# ---------------------------------------------------------------------------------------------
# Rendering one record for one subscriber


def json_value(value: Any) -> Any:
    """A field value as JSON: times in UTC ISO 8601, ids and decimals as strings."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID | decimal.Decimal | Promise):
        return str(value)
    if isinstance(value, models.Model):
        return str(value.pk)
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_value(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def render_view(actor: Actor, record_type: registry.RecordType, shown: access.Shown[Any]) -> dict[str, Any]:
    """The ``view`` of a live event: the registered renderer, or the live fields the view shows."""
    if record_type.render_live is not None:
        return {str(k): json_value(v) for k, v in record_type.render_live(actor, shown).items()}
    obj = shown.record
    view: dict[str, Any] = {}
    for name in record_type.live_field_names():
        if not shown.view.shows(name):
            continue
        field = obj._meta.get_field(name)
        if field.many_to_many or field.one_to_many:
            view[name] = sorted(str(pk) for pk in getattr(obj, name).values_list("pk", flat=True))
        elif field.is_relation:
            view[name] = json_value(getattr(obj, getattr(field, "attname", name)))
        else:
            view[name] = json_value(getattr(obj, name))
    return view


def _detail_url(record_type: registry.RecordType, obj: models.Model) -> str | None:
    if not record_type.detail_url_name:
        return None
    try:
        return reverse(record_type.detail_url_name, kwargs={"pk": obj.pk})
    except NoReverseMatch:
        return None


class Loaded:
    """The records some events name, loaded once for every subscriber who receives them.

    Records, and every active release and grant on them, are read once per record type (three
    queries); each subscriber's view is then decided by :func:`civmil.core.access.view_from_facts`
    without a query of its own, and a view's rendering is shared by all subscribers who get the
    same view of the same record (when the type has no per-reader ``render_live``).
    """

    def __init__(self, space_id: uuid.UUID, events: Sequence[OutboxEvent]) -> None:
        self.space_id = space_id
        self._ids: dict[str, set[str]] = {}
        for event in events:
            self._ids.setdefault(event.object_type, set()).add(event.object_id)
        self._records: dict[str, tuple[dict[str, Any], access.AccessFacts]] = {}
        self._rendered: dict[tuple[Any, ...], tuple[dict[str, Any], str | None]] = {}
        self._lock = threading.Lock()

    def _of_type(self, object_type: str) -> tuple[dict[str, Any], access.AccessFacts]:
        with self._lock:
            found = self._records.get(object_type)
            if found is None:
                found = self._records[object_type] = self._load(object_type)
            return found

    def _load(self, object_type: str) -> tuple[dict[str, Any], access.AccessFacts]:
        try:
            record_type = registry.by_key(object_type)
        except LookupError:
            return {}, access.AccessFacts({}, {})
        pk_field = record_type.model._meta.pk
        assert pk_field is not None
        pks = []
        for object_id in self._ids.get(object_type, ()):
            try:
                pks.append(pk_field.to_python(object_id))
            except ValidationError:
                continue
        if not pks:
            return {}, access.AccessFacts({}, {})
        records = {str(obj.pk): obj for obj in
                   record_type.model._default_manager.filter(pk__in=pks, space_id=self.space_id)}
        return records, access.access_facts(record_type.model, records)

    def shown(self, actor: Actor, object_type: str, object_id: str) -> access.Shown[Any] | None:
        """The record as ``actor`` sees it, when they get a view of it (REDUCED or FULL)."""
        records, facts = self._of_type(object_type)
        obj = records.get(object_id)
        if obj is None:
            return None
        view = access.view_from_facts(actor, obj, facts)
        if view.kind not in (access.ViewKind.REDUCED, access.ViewKind.FULL):
            return None
        return access.Shown(obj, view)

    def rendered(self, actor: Actor, object_type: str, shown: access.Shown[Any]) -> tuple[dict[str, Any], str | None]:
        """The ``view`` and ``url`` of ``shown`` for ``actor``, rendered once per view shape."""
        record_type = registry.by_key(object_type)
        if record_type.render_live is not None:
            return render_view(actor, record_type, shown), _detail_url(record_type, shown.record)
        key = (object_type, shown.record.pk, shown.view.kind, shown.view.fields)
        with self._lock:
            found = self._rendered.get(key)
            if found is None:
                found = self._rendered[key] = (render_view(actor, record_type, shown),
                                               _detail_url(record_type, shown.record))
            return found


def full_view_only(event: OutboxEvent) -> bool:
    """Whether only subscribers with the FULL view of the event's record receive it."""
    payload = event.payload
    return isinstance(payload, dict) and payload.get(FULL_VIEW_ONLY) is True


def frames_for(actor: Actor, events: Sequence[OutboxEvent], seen: Seen,
               loaded: Loaded | None = None) -> list[dict[str, Any]]:
    """The frames ``actor`` receives for ``events`` (in id order), updating ``seen``.

    A record the subscriber may see gives an ``event`` frame with its view rendered now; one
    they may not see (or that is gone) gives nothing — or ``removed``, with its id only, when
    this connection had shown it. A derived face is not a view of the record: it never carries
    the record's id, so it is never delivered on the record's stream. An event published as
    :data:`FULL_VIEW_ONLY` (about the record's discussion or files) gives a subscriber with a
    reduced view nothing at all: they still see the record, but not that anything happened in
    what is closed to them. ``loaded`` shares the records among the subscribers receiving the
    same events (see :class:`Loaded`).
    """
    if loaded is None:
        loaded = Loaded(actor.space_id, events)
    frames: list[dict[str, Any]] = []
    for event in events:
        shown = loaded.shown(actor, event.object_type, event.object_id)
        if shown is None:
            if seen.discard(event.object_type, event.object_id):
                frames.append({"type": "removed", "id": event.id, "object_type": event.object_type,
                               "object_id": event.object_id})
            continue
        if shown.view.kind != access.ViewKind.FULL and full_view_only(event):
            continue
        view, url = loaded.rendered(actor, event.object_type, shown)
        frame: dict[str, Any] = {
            "type": "event",
            "id": event.id,
            "kind": event.kind,
            "object_type": event.object_type,
            "object_id": event.object_id,
            "reduced": shown.reduced,
            "view": view,
        }
        if url:
            frame["url"] = url
        frames.append(frame)
        seen.add(event.object_type, event.object_id)
    return frames


# ---------------------------------------------------------------------------------------------
# Reading the outbox


def pending(space_id: uuid.UUID, streams: Sequence[str], after: int, limit: int) -> list[OutboxEvent]:
    """Events of ``streams`` in the space with an id above ``after``, oldest first."""
    from civmil.core.models import OutboxEvent

    return list(
        OutboxEvent.objects.filter(space_id=space_id, object_type__in=list(streams), id__gt=after)
        .order_by("id")[:limit]
    )


@dataclass
class Subscription:
    """What one connection listens to, and the id up to which it has read its streams."""

    streams: tuple[str, ...]
    cursor: int


def subscribe(actor: Actor, streams: Sequence[str], after: int | None, seen: Seen,
              cap: int | None = None) -> tuple[Subscription, list[dict[str, Any]]]:
    """Start (or restart) a subscription: replay what came after ``after``, filtered now.

    ``after`` is the last event id the client saw (``None``: it has seen nothing, start from
    now). An id above the newest event gives ``reset`` with the newest id; more than ``cap``
    events to replay, or a resume point older than what pruning kept (:func:`~civmil.core.events.
    outbox.prune`), give ``reload`` (the client reloads its view instead).
    """
    cap = REPLAY_CAP if cap is None else cap
    top = last_id()
    frames: list[dict[str, Any]] = []
    streams = tuple(streams)
    if after is None:
        return Subscription(streams, top), frames
    if after > top:
        return Subscription(streams, top), [{"type": "reset", "last_id": top}]
    events = pending(actor.space_id, streams, after, cap + 1)
    if len(events) > cap or after < horizon():
        return Subscription(streams, top), [{"type": "reload", "last_id": top}]
    frames = frames_for(actor, events, seen)
    # Every event up to ``top`` had committed before ``top`` was read (ids follow commit
    # order), so the query above saw all of them: the cursor may move to ``top`` at least.
    return Subscription(streams, max(top, events[-1].id if events else 0)), frames


@dataclass
class Batch:
    """The events of one space after one cursor, read once for all the subscribers of a process.

    ``events`` holds every stream's events with an id in (``after``, ``top``], at most ``limit``
    of them; a subscriber who has read them moves its cursor to ``covered``.
    """

    after: int
    top: int
    events: list[OutboxEvent]
    limit: int
    loaded: Loaded
    read_at: float

    @property
    def full(self) -> bool:
        """More events may be waiting after this batch."""
        return len(self.events) == self.limit

    @property
    def covered(self) -> int:
        return self.events[-1].id if self.full else max(self.top, self.after)


#: A batch read this recently serves every subscriber at the same cursor (a push fans out once).
BATCH_REUSE_SECONDS = 2.0
BATCHES_KEPT = 64
_batches: OrderedDict[tuple[str, int, int], Batch] = OrderedDict()
_batches_lock = threading.Lock()


def batch_after(space_id: uuid.UUID, after: int, *, need: int | None = None, limit: int = BATCH) -> Batch:
    """The events of the space after ``after``, read at a moment when event ``need`` had committed.

    ``need`` is the id a push announced (``None``: the newest id now). A batch another subscriber
    of this process read for the same cursor, recently and after ``need`` committed, is shared;
    otherwise the outbox is read. Every event up to ``top`` had committed when ``top`` was read
    (ids follow commit order), so reading up to ``top`` misses none.
    """
    from civmil.core.models import OutboxEvent

    key = (str(space_id), after, limit)
    if need is None:
        need = last_id()
    with _batches_lock:
        found = _batches.get(key)
        if found is not None and found.top >= need and time.monotonic() - found.read_at < BATCH_REUSE_SECONDS:
            return found
    top = last_id()
    events = list(OutboxEvent.objects.filter(space_id=space_id, id__gt=after, id__lte=top).order_by("id")[:limit])
    batch = Batch(after, top, events, limit, Loaded(space_id, events), time.monotonic())
    with _batches_lock:
        _batches[key] = batch
        _batches.move_to_end(key)
        while len(_batches) > BATCHES_KEPT:
            _batches.popitem(last=False)
    return batch


def forget_batches() -> None:
    """Drop the shared batches (after the outbox was purged, and between tests)."""
    with _batches_lock:
        _batches.clear()


def catch_up(actor: Actor, subscription: Subscription, seen: Seen, batch: int = BATCH,
             need: int | None = None) -> tuple[list[dict[str, Any]], bool]:
    """Frames for the events committed after the subscription's cursor (one batch).

    ``need`` is the id of the push that woke the connection, if any (see :func:`batch_after`).
    Returns the frames and whether more may be waiting (a full batch).
    """
    read = batch_after(actor.space_id, subscription.cursor, need=need, limit=batch)
    events = [e for e in read.events if e.object_type in subscription.streams]
    subscription.cursor = max(subscription.cursor, read.covered)
    frames = frames_for(actor, events, seen, read.loaded)
    metrics.observe_event_delays(e.created_at for e in events)  # the outbox lag (civmil_live_event_delay_seconds)
    return frames, read.full


# ---------------------------------------------------------------------------------------------
# Rows a page rendered: a signed token, so a connection may later send ``removed`` for them


def seen_token(actor: Actor, records: Iterable[models.Model]) -> str:
    """A token naming the records a page shows ``actor`` (for ``data-live-seen``).

    The page renders it with the rows; the live client hands it over when it subscribes, and
    the connection then counts those records as seen, so it can send ``removed`` when one of
    them leaves the subscriber's view. Signed and bound to the account and acting membership,
    so it cannot name records the subscriber was never shown.
    """
    keys = []
    for obj in list(records)[:SEEN_TOKEN_MAX_IDS]:
        keys.append([registry.get(type(obj)).key, str(obj.pk)])
    data = {"u": actor.user_id, "m": str(actor.membership_id or ""), "r": keys}
    return signing.dumps(data, salt=_SEEN_SALT, compress=True)


def read_seen_token(actor: Actor, token: str) -> list[tuple[str, str]] | None:
    """The records a token names, or ``None`` when it is forged, expired or someone else's."""
    try:
        data = signing.loads(token, salt=_SEEN_SALT, max_age=SEEN_TOKEN_MAX_AGE)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or data.get("u") != actor.user_id or data.get("m") != str(actor.membership_id or ""):
        return None
    keys = data.get("r")
    if not isinstance(keys, list):
        return None
    return [(str(k[0]), str(k[1])) for k in keys[:SEEN_TOKEN_MAX_IDS] if isinstance(k, list) and len(k) == 2]

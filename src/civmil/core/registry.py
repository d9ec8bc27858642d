"""The registry of protected record types.

Each app registers its types in ``AppConfig.ready``. Threads, attachments, search, the map,
exports and the access-matrix tests work from this registry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from civmil.core.choices import Component, Level

if TYPE_CHECKING:
    from civmil.core.access import Shown
    from civmil.core.actors import Actor
    from civmil.core.models import ProtectedRecord

#: Fields every non-empty view shows.
BASE_FACE = ("id", "pk", "level", "owner", "owner_id", "space_id", "version", "created_at", "updated_at")
#: Fields a live event shows by default besides the searchable text (each only where the model has
#: it and the reader's view shows it).
LIVE_DEFAULT_FIELDS = ("level", "version", "created_at", "updated_at", "occurred_at")


@dataclass(frozen=True)
class RecordType:
    """How one protected model takes part in releasability and the cross-cutting features."""

    model: type[ProtectedRecord]
    levels: tuple[Level, ...]
    #: Fields an owner may release one by one (a release of a declared set of fields).
    release_fields: tuple[str, ...] = ()
    #: Extra fields shown in every reduced view.
    face_fields: tuple[str, ...] = ()
    #: Components that get the reduced face even below the record's level (e.g. the name of a
    #: person whose contact details they may not see). Empty for most types.
    floor_components: frozenset[str] = frozenset()
    #: Text fields searched, when a reader's view shows them.
    search_fields: tuple[str, ...] = ()
    threads: bool = False
    attachments: bool = False
    #: Name of the URL pattern of the record's detail page, taking ``pk``.
    detail_url_name: str = ""
    #: A derived face for readers without a view (returns a dict) or ``None``.
    derive: Callable[[Actor, Any], dict[str, Any]] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: Fields a live event carries in its ``view`` (each only when the reader's view shows it);
    #: ``None``: :data:`LIVE_DEFAULT_FIELDS` and the searchable text fields.
    live_fields: tuple[str, ...] | None = None
    #: Renders the ``view`` of a live event for one reader from the record as that reader sees it
    #: (``render_live(actor, shown) -> dict`` of JSON values); replaces ``live_fields`` when given.
    render_live: Callable[[Actor, Shown[Any]], dict[str, Any]] | None = None

    @property
    def key(self) -> str:
        return f"{self.model._meta.app_label}.{self.model._meta.model_name}"

    @property
    def label(self) -> str:
        return str(self.model._meta.verbose_name)

    def face(self) -> frozenset[str]:
        return frozenset(BASE_FACE) | frozenset(self.face_fields)

    def live_field_names(self) -> tuple[str, ...]:
        """The fields a live event may show (the reader's view still decides each one)."""
        if self.live_fields is not None:
            return self.live_fields
        concrete = {f.name for f in self.model._meta.get_fields() if getattr(f, "concrete", False)}
        names = [n for n in (*LIVE_DEFAULT_FIELDS, *self.search_fields) if n in concrete]
        return tuple(dict.fromkeys(names))


_TYPES: dict[type[Any], RecordType] = {}


def register(record_type: RecordType) -> RecordType:
    """Register a protected record type; registering the same model twice is an error."""
    existing = _TYPES.get(record_type.model)
    if existing is not None and existing != record_type:
        raise ValueError(f"{record_type.key} is already registered")
    known = {f.name for f in record_type.model._meta.get_fields()}
    bad = set(record_type.release_fields) - known
    if bad:
        raise ValueError(f"{record_type.key}: unknown release fields {sorted(bad)}")
    bad = set(record_type.live_fields or ()) - known
    if bad:
        raise ValueError(f"{record_type.key}: unknown live fields {sorted(bad)}")
    _TYPES[record_type.model] = record_type
    return record_type


def get(model: type[Any]) -> RecordType:
    """The registered type of ``model``; a model that is not registered is a programming error."""
    try:
        return _TYPES[model]
    except KeyError:
        raise LookupError(f"{model!r} is not a registered protected record type") from None


def by_key(key: str) -> RecordType:
    for record_type in _TYPES.values():
        if record_type.key == key:
            return record_type
    raise LookupError(key)


def all_types() -> Iterator[RecordType]:
    return iter(sorted(_TYPES.values(), key=lambda t: t.key))


def register_kernel_types() -> None:
    from civmil.core.models import Person

    register(
        RecordType(
            model=Person,
            levels=(Level.PUBLIC, Level.MISSION, Level.HUMANITARIAN, Level.MILITARY, Level.RESTRICTED),
            release_fields=Person.CONTACT_FIELDS,
            face_fields=("full_name", "title", "languages", "is_active", "memberships", "user_id"),
            floor_components=frozenset(
                {Component.MILITARY, Component.POLICE, Component.CIVILIAN, Component.HUMANITARIAN}
            ),
            search_fields=("full_name", "title", "email", "phone", "radio_call_sign"),
            detail_url_name="actors:person",
        )
    )

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
    from civmil.core.acting import Actor
    from civmil.core.models import ProtectedRecord

#: Fields every non-empty view shows.
BASE_FACE = ("id", "pk", "level", "owner", "owner_id", "space_id", "version", "created_at", "updated_at")
#: Fields a live event shows by default besides the searchable text (each only where the model has
#: it and the reader's view shows it).
LIVE_DEFAULT_FIELDS = ("level", "version", "created_at", "updated_at", "occurred_at")

#: The views a field can be kept in (``FieldSpec.views``).
FULL, REDUCED, DERIVED = "full", "reduced", "derived"


@dataclass(frozen=True)
class FieldSpec:
    """One field of a record type, declared once: the record kernel (:mod:`civmil.core.kernel`)
    derives its form field, API type and constraints, table cell, card line, JSON, CSV, history and
    stale-edit texts from it and from the model field of the same ``name``.

    Everything has a default read from the model field, so most declarations are just a name:
    ``FieldSpec("summary", search=True)``.
    """

    name: str
    #: Label and help text; default: the model field's ``verbose_name`` and ``help_text``.
    label: Any = None
    help_text: Any = None
    #: The views that keep the field: ``full`` always; ``reduced`` when an owner may release it one
    #: by one; ``derived`` when the type's derived face carries it (a copy, never the record's id).
    views: tuple[str, ...] = (FULL, REDUCED)
    #: Shown with every non-empty view (like the owner and the level).
    face: bool = False
    #: How a *reduced* view coarsens the value (``coarsen(value) -> value``); ``None``: as is.
    coarsen: Callable[[Any], Any] | None = None
    #: The list page and the API filter on it (choices: one of; dates and times: a from/to range;
    #: related records and text: equal).
    filter: bool = False
    sort: bool = False
    #: Text searched by the list's ``q`` and by site search (only where the reader's view shows it).
    search: bool = False
    #: Entered on the create and edit forms and the API (``False``: kept by the services alone).
    editable: bool = True
    #: Entered only on creation (changing it would make another record, e.g. an assignment's officer).
    fixed: bool = False
    #: Shown as a column of the list page, and on the card.
    in_list: bool = True
    on_card: bool = True
    in_csv: bool = True
    #: Overrides, each taking the value (never called for a withheld field): ``cell(value) -> str``
    #: (text of the cell; links come from the related record), ``json(value) -> JSON value``.
    cell: Callable[[Any], str] | None = None
    json: Callable[[Any], Any] | None = None
    #: The API type of ``json``'s output (a pydantic type); default from the model field.
    api_type: Any = None
    #: A form field factory ``form_field(actor) -> django.forms.Field``; default from the model field
    #: (a :class:`~civmil.core.models.Placed` model's ``geometry``: a map to draw on, or a point typed
    #: in decimal degrees or MGRS, :class:`civmil.core.forms_geometry.GeometryField`).
    form_field: Callable[[Any], Any] | None = None
    #: The value the create form starts with, ``initial(actor) -> value`` (e.g. now, or the
    #: reader's organisation); a query parameter of the same name wins.
    initial: Callable[[Any], Any] | None = None
    #: URL name of a related record's page (taking ``pk``), for links in cells.
    url_name: str = ""


@dataclass(frozen=True)
class MapLayer:
    """A record type's layer on the map (:mod:`civmil.core.kernel.maps`): ``/api/v1/map/layers/<key>``.

    The geometry is a :class:`~civmil.core.models.Placed` model's ``geometry`` (the default), or a
    point from two float fields (``point=("latitude", "longitude")``). A record whose view withholds
    its geometry is no feature. ``style`` names a field whose value picks each feature's colour
    (``colours`` maps values to CSS colours; others get the palette in order). The time window
    meets ``time`` (one field, or a start and an end field; a null end is open); a
    :class:`~civmil.core.models.Period` model needs none. The popup is the type's card.
    """

    point: tuple[str, str] | None = None
    style: str = ""
    colours: dict[str, str] = field(default_factory=dict)
    time: tuple[str, ...] = ()
    #: The layer's name in the legend; default: the model's plural name.
    label: Any = None

    def fields(self) -> tuple[str, ...]:
        return (*(self.point or ()), *((self.style,) if self.style else ()), *self.time)


@dataclass(frozen=True)
class RecordType:
    """How one protected model takes part in releasability and the cross-cutting features.

    With ``fields`` (:class:`FieldSpec`) the declaration also drives the record kernel
    (:mod:`civmil.core.kernel`): list, record, form, history and release pages, CSV and the API.
    ``release_fields``, ``face_fields`` and ``search_fields`` left empty are then derived from the
    field declarations; given, they win (types registered before the kernel keep working).
    """

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
    #: The kernel's declaration of each field, in display order (empty: not a kernel type).
    fields: tuple[FieldSpec, ...] = ()
    #: The type's own writes, used by the kernel's forms and API instead of the generic
    #: ``core.services.create_record`` / ``update_record``: ``create(actor, values) -> record`` and
    #: ``update(actor, pk, expected_version, values) -> record``; ``values`` maps field names to
    #: cleaned values (related records as instances, many-to-many as lists), plus ``level``.
    create: Callable[[Actor, dict[str, Any]], Any] | None = None
    update: Callable[[Actor, Any, int, dict[str, Any]], Any] | None = None
    #: Ledger actions of the generic writes, and how the history page names actions.
    created_action: str = ""
    updated_action: str = ""
    action_labels: dict[str, Any] = field(default_factory=dict)
    #: Filters beyond the fields' own (:class:`civmil.core.kernel.filters.ListFilter`).
    list_filters: tuple[Any, ...] = ()
    #: Name of the URL pattern of the list page (default: the detail URL's name plus ``s``).
    list_url_name: str = ""
    #: Name of the URL pattern of the record's card (default: the detail URL's name plus ``-card``);
    #: a map feature's popup loads it when clicked.
    card_url_name: str = ""
    #: The type's map layer (``None``: not on the map).
    layer: MapLayer | None = None
    #: Adjusts a made-up record (``civmil demo scale``) where the generator, which fills each field
    #: from its kind, cannot meet the type's rules: ``synthesize(draft)`` changes
    #: ``draft.values`` in place (:class:`civmil.core.bulk.Draft`).
    synthesize: Callable[[Any], None] | None = None
    #: How the access-matrix tests plant a record: ``plant(author, level, marked) -> record``, where
    #: ``marked`` maps field names to marker texts to put in them (:attr:`marked_fields`); ``None``:
    #: the kernel's default (:func:`civmil.core.kernel.planting.plant`, through ``create``).
    plant: Callable[[Actor, str, dict[str, str]], Any] | None = None
    #: The text fields the matrix marks: one an owner releases in a field release, one no field
    #: release it makes shows (empty: the first fitting declared fields, see :meth:`marked_fields`).
    marked: tuple[str, str] | tuple[()] = ()
    #: The fields that name a record where a whole card would be too much (a notification, a home
    #: page panel): their cells joined, each only where the reader's view shows it (empty: the
    #: first text field declared; see :func:`civmil.core.kernel.fields.title`).
    title: tuple[str, ...] = ()
    #: Set when the type has no pages of an app's own: the kernel mounts them (and its API) from the
    #: declaration alone, under ``/records/<key>/`` and ``/api/v1/records/<key>``.
    kernel_mounted: bool = field(default=False, init=False, compare=False)

    def __post_init__(self) -> None:
        if not self.fields:
            return
        if not self.detail_url_name:
            meta = self.model._meta
            object.__setattr__(self, "detail_url_name", f"{meta.app_label}:{meta.model_name}")
            object.__setattr__(self, "kernel_mounted", True)
        derived = {
            "release_fields": tuple(f.name for f in self.fields if REDUCED in f.views and not f.face),
            "face_fields": tuple(f.name for f in self.fields if f.face),
            "search_fields": tuple(f.name for f in self.fields if f.search),
        }
        for name, value in derived.items():
            if not getattr(self, name):
                object.__setattr__(self, name, value)

    def marked_fields(self) -> tuple[str, str]:
        """The text fields the access matrix plants its two markers in: the first searchable text
        an owner may release one by one, and the first text no field release of the first one
        shows (a full-only field when there is one)."""
        if self.marked:
            return self.marked
        from django.db import models

        def text(name: str) -> bool:
            f = self.model._meta.get_field(name)
            return isinstance(f, models.CharField | models.TextField) and not f.choices

        face = set(self.face_fields)
        names = [f.name for f in self.fields] or [*self.release_fields, *self.search_fields]
        texts = [n for n in dict.fromkeys(names) if n not in face and text(n)]
        released = next((n for n in texts if n in self.release_fields and n in self.search_fields), None)
        if released is None:
            raise LookupError(f"{self.key}: no releasable searchable text field to mark; declare `marked`")
        full_only = [n for n in texts if n != released and n not in self.release_fields]
        others = [n for n in texts if n != released]
        withheld = next(iter(full_only or others), None)
        if withheld is None:
            raise LookupError(f"{self.key}: no second text field to mark; declare `marked`")
        return released, withheld

    def field_spec(self, name: str) -> FieldSpec | None:
        return next((f for f in self.fields if f.name == name), None)

    @property
    def url_base(self) -> str:
        """The detail URL's name (``actors:assignment``): the kernel's pages are named after it
        (``actors:assignment-edit``, ``-history``, ``-releases``, ``-export``, ``-row``, ``-card``)."""
        return self.detail_url_name

    @property
    def list_url(self) -> str:
        return self.list_url_name or f"{self.detail_url_name}s"

    @property
    def card_url(self) -> str:
        return self.card_url_name or (f"{self.detail_url_name}-card" if self.detail_url_name else "")

    @property
    def key(self) -> str:
        return f"{self.model._meta.app_label}.{self.model._meta.model_name}"

    @property
    def label(self) -> str:
        return str(self.model._meta.verbose_name)

    @property
    def label_plural(self) -> str:
        return str(self.model._meta.verbose_name_plural)

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
    bad = {f.name for f in record_type.fields} - known
    if bad:
        raise ValueError(f"{record_type.key}: unknown declared fields {sorted(bad)}")
    if record_type.layer is not None:
        layer_fields = set(record_type.layer.fields()) | (set() if record_type.layer.point else {"geometry"})
        bad = layer_fields - known
        if bad:
            raise ValueError(f"{record_type.key}: unknown map layer fields {sorted(bad)}")
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


def kernel_mounted() -> list[RecordType]:
    """The types whose pages and API the kernel mounts itself (no app routes of their own)."""
    return [t for t in all_types() if t.kernel_mounted]


def _plant_person(author: Actor, level: str, marked: dict[str, str]) -> Any:
    """A person of the author's organisation whose contact details are at ``level``."""
    from civmil.core import services
    from civmil.core.models import Person

    return services.save_person(author, Person(owner=author.organisation, level=level, **marked))


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
            created_action="person.created",
            # The name every view shows (the face), and a contact detail only the full view shows.
            marked=("full_name", "phone"),
            plant=_plant_person,
        )
    )

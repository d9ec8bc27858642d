"""The django-ninja router of a kernel record type, from its declaration.

``record_router(record_type, name="assignment")`` answers, under the path it is mounted at:

=========================  ====================================================================
``GET ""``                 the list, with the page's filters, ``limit`` and ``offset``
``POST ""``                create (201)
``GET /{id}``              one record as the reader sees it
``PUT /{id}``              replace the editable fields, with the ``version`` loaded: 409 with
                           ``current_version`` and ``differences`` when someone changed it since
``GET /{id}/history``      the changes, cut to the reader's view
``GET|POST /{id}/releases``, ``DELETE /{id}/releases/{release_id}``   (owners only)
=========================  ====================================================================

Every answer is the reader's view: a withheld field is absent and named in ``withheld``. The
OpenAPI document carries each field's real constraints (lengths, choices, ranges).
"""

import datetime as dt
import uuid
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypedDict

from django.contrib.contenttypes.models import ContentType
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from pydantic import create_model

from civmil.core import access, dates, registry
from civmil.core import merge as merging
from civmil.core import services as core_services
from civmil.core.api import actor_of, page_of
from civmil.core.choices import Component
from civmil.core.errors import Forbidden, Invalid, NotFound, StaleEdit
from civmil.core.kernel import areas as kernel_areas
from civmil.core.kernel import fields as kf
from civmil.core.kernel import queries as kq
from civmil.core.kernel.queries import history_of
from civmil.core.kernel.views import generic_create, generic_update
from civmil.core.schemas import (
    ERROR_RESPONSES,
    NOT_BLANK,
    CleanStr,
    OrganisationRef,
    Page,
    PageQuery,
    PersonRef,
    RecordOut,
    StaleEditOut,
    Version,
    WindowDate,
    WindowDatetime,
    organisation_ref,
    withholdable,
)
from civmil.core.schemas_geometry import geometry_schema

if TYPE_CHECKING:
    from civmil.core.acting import Actor


class RecordRef(Schema):
    id: uuid.UUID
    name: str


class FieldDifference(Schema):
    """One field where your edit and the record now differ."""

    field: str = Field(description="The field's name, as this endpoint takes it.")
    theirs: Any = Field(description="Its value now (``current_version``), in the form you send it.")
    yours: Any = Field(description="The value you sent.")
    changed_by: Literal["them", "you", "both"] = Field(description=(
        "Who changed it since the version you loaded: 'them' (sending yours would revert their change), "
        "'you' (yours is a change of your own), or 'both' (choose)."))


class KernelStaleOut(StaleEditOut):
    """409: the record changed since the version you sent, and nothing was written. ``differences``
    lists every field where your edit and the record now differ."""

    differences: list[FieldDifference]


class ReleaseOut(Schema):
    id: uuid.UUID
    target_organisation: OrganisationRef | None
    target_component: Component | None
    target_person: PersonRef | None = Field(description="Null also when you may no longer see that person.")
    fields: list[str] | None = Field(description="Released fields; null for the full view.")
    created_at: dt.datetime
    revoked_at: dt.datetime | None
    active: bool


class HistoryOut(Schema):
    version: int | None
    action: str
    recorded_at: dt.datetime
    actor: str = Field(description='Who made the change, by name; "withheld" for a person you may not see.')
    changes: dict[str, Any] = Field(description='What changed, cut to your view of the record. A person you may '
                                                'not see is "withheld", never their id.')


def _choices(f: kf.Field) -> Any:
    values = tuple(v for v, _label in f.choices)
    return Literal[values]  # type: ignore[valid-type]


def _out_type(f: kf.Field) -> Any:
    from civmil.core.models import Organisation, Person

    if f.spec.api_type is not None:
        base = f.spec.api_type
    elif f.kind == kf.GEOMETRY:
        base = dict[str, Any]
    elif f.kind in (kf.RELATED, kf.MANY):
        model = f.related_model
        base = PersonRef if model is Person else OrganisationRef if model is Organisation else RecordRef
    else:
        base = {kf.CHOICE: _choices(f), kf.DATE: dt.date, kf.DATETIME: dt.datetime, kf.NUMBER: float,
                kf.INTEGER: int, kf.BOOLEAN: bool}.get(f.kind, str)
    if f.kind == kf.MANY:
        return list[base]  # type: ignore[valid-type]
    nullable = getattr(f.model_field, "null", False) or f.kind == kf.RELATED
    return base | None if nullable else base


def _in_type(f: kf.Field, *, filtering: bool = False) -> tuple[Any, Any]:
    """The input type of ``f`` and its pydantic ``Field`` (constraints for the OpenAPI document)."""
    description = f.help_text
    required = f.required and not filtering
    if f.kind in (kf.TEXT, kf.LONG_TEXT):
        t: Any = CleanStr
        if required:
            return t, Field(..., max_length=f.max_length or 10_000, description=description,
                            json_schema_extra=NOT_BLANK)
        return t, Field("", max_length=f.max_length or 10_000, description=description)
    if f.kind == kf.CHOICE:
        t = _choices(f)
    elif f.kind == kf.RELATED:
        t = uuid.UUID
    elif f.kind == kf.MANY:
        return list[uuid.UUID], Field(... if required else [], max_length=100, description=description,
                                      json_schema_extra={"minItems": 1} if required else None)
    elif f.kind == kf.DATE:
        t = WindowDate
    elif f.kind == kf.DATETIME:
        t = WindowDatetime
    elif f.kind in (kf.NUMBER, kf.INTEGER):
        low, high = f.bounds()
        number = float if f.kind == kf.NUMBER else int
        t = Annotated[number, Field(ge=low, le=high, allow_inf_nan=False) if number is float  # type: ignore[valid-type]
                      else Field(ge=low, le=high)]
    elif f.kind == kf.BOOLEAN:
        return bool, Field(False, description=description)
    elif f.kind == kf.GEOMETRY:
        t = geometry_schema(f.geometry_types)
    else:
        t = str
    if required:
        return t, Field(..., description=description)
    return t | None, Field(None, description=description)


def schemas(record_type: registry.RecordType, body_rule: dict[str, Any] | None = None) -> dict[str, Any]:
    """The API schemas of ``record_type``: ``out``, ``page``, ``query``, ``create``, ``update``.
    ``body_rule`` adds JSON Schema keywords to the bodies (a rule across fields the services enforce)."""
    stem = record_type.model.__name__
    fields = kf.resolve(record_type)
    out_fields: dict[str, Any] = {}
    for f in fields:
        t = _out_type(f)
        out_fields[f.name] = (t, Field(description=f.help_text or None)) if f.spec.face else (
            t, withholdable(f.help_text))
    out = create_model(f"{stem}Out", __base__=RecordOut, **out_fields)
    page = create_model(f"{stem}Page", __base__=Page, items=(list[out], ...))  # type: ignore[valid-type]
    levels = Literal[tuple(str(lv) for lv in record_type.levels)]  # type: ignore[valid-type]
    query_fields: dict[str, Any] = {"level": (levels | None, Field(None))}
    if record_type.search_fields:
        query_fields["q"] = (CleanStr, Field("", max_length=200, description="Text in: " + ", ".join(
            record_type.search_fields) + "."))
    for f in fields:
        if not f.spec.filter:
            continue
        if f.kind in (kf.DATE, kf.DATETIME):
            query_fields[f"{f.name}_from"] = (WindowDate | None, Field(None, description=f"{f.label}: from this day."))
            query_fields[f"{f.name}_to"] = (WindowDate | None, Field(None, description=f"{f.label}: up to this day."))
        else:
            query_fields[f.name] = _in_type(f, filtering=True)
    for extra in record_type.list_filters:
        default = False if extra.api_type is bool else None
        query_fields[extra.name] = (extra.api_type, Field(default, description=extra.description or None))
    if kernel_areas.offered(record_type):
        query_fields[kernel_areas.NAME] = (CleanStr | None, Field(None, max_length=200, description=(
            "An area's P-code or name: records whose place, as your view gives it, lies in that area or an "
            "area below it.")))
    query = create_model(f"{stem}Query", __base__=PageQuery, **query_fields)
    editable = [f for f in fields if f.spec.editable]
    create_fields = {f.name: _in_type(f) for f in editable}
    create_fields["level"] = (levels, Field(...))
    create = create_model(f"{stem}In", __base__=Schema, **create_fields)  # type: ignore[call-overload]
    update_fields = {f.name: _in_type(f) for f in editable if not f.spec.fixed}
    update_fields["level"] = (levels, Field(...))
    update_fields["version"] = (Version, Field(...))
    update = create_model(f"{stem}UpdateIn", __base__=Schema, **update_fields)  # type: ignore[call-overload]
    if body_rule is not None:
        for model in (create, update):
            model.model_config["json_schema_extra"] = body_rule
            model.model_rebuild(force=True)
    return {"out": out, "page": page, "query": query, "create": create, "update": update}


# ---------------------------------------------------------------------------------------------
# Answers


def records_out(actor: "Actor", record_type: registry.RecordType, records: list[Any]) -> list[dict[str, Any]]:
    """Records as the reader sees them (one query for the people they name)."""
    fields = kf.resolve(record_type)
    many = [f.name for f in fields if f.kind == kf.MANY]
    if many:
        from django.db.models import prefetch_related_objects

        prefetch_related_objects(records, *many)
    shown = access.show_all(actor, records)
    page = kf.Page.of(actor, fields, shown)
    return [kf.record_json(fields, s, page) for s in shown]


def _values(actor: "Actor", record_type: registry.RecordType, payload: Schema) -> dict[str, Any]:
    from civmil.core.kernel.forms import related_queryset

    data = payload.model_dump(exclude={"version"})
    by_name = {f.name: f for f in kf.resolve(record_type)}
    errors: dict[str, list[str]] = {}
    for name, value in list(data.items()):
        f = by_name.get(name)
        if f is None or f.kind not in (kf.RELATED, kf.MANY):
            continue
        qs = related_queryset(actor, f.related_model)
        if f.kind == kf.RELATED:
            found = qs.filter(pk=value).first() if value is not None else None
            if value is not None and found is None:
                errors[name] = [_("No such record.")]
            data[name] = found
        else:
            found_many = list(qs.filter(pk__in=value))
            if len(found_many) != len(set(value)):
                errors[name] = [_("Some of these do not exist.")]
            data[name] = found_many
    if errors:
        raise Invalid(_("Some fields are not valid; see errors."), errors=errors)
    return data


def _in_window(actor: "Actor", record_type: registry.RecordType, values: dict[str, Any]) -> None:
    """422 naming each date outside the mission's accepted window, as the forms do."""
    dated = {f.name for f in kf.resolve(record_type) if f.kind in (kf.DATE, kf.DATETIME)}
    dated |= {f"{name}_{end}" for name in dated for end in ("from", "to")}
    errors = dates.window_errors({k: v for k, v in values.items() if k in dated and v is not None}, actor.space_id)
    if errors:
        raise Invalid(_("Some fields are not valid; see errors."), errors=errors)


def area_of(values: dict[str, Any]) -> None:
    """The area filter's text found as its area (and the areas below it); 422 naming the filter
    when no area, or several, answer to it."""
    text = str(values.get(kernel_areas.NAME) or "").strip()
    if not text:
        values.pop(kernel_areas.NAME, None)
        return
    try:
        values[kernel_areas.NAME] = kernel_areas.find(text)
    except Invalid as exc:
        raise Invalid(exc.message, errors={kernel_areas.NAME: [exc.message]}) from exc


def update_order(record_type: registry.RecordType) -> list[str]:
    """The fields an update replaces, in the order of the type's declaration."""
    return [f.name for f in kf.resolve(record_type) if f.spec.editable and not f.spec.fixed] + ["level"]


def stale_body(actor: "Actor", record_type: registry.RecordType, exc: StaleEdit) -> dict[str, Any]:
    """The 409 body: every field where the sender's edit and the record now differ. People the
    sender may not see count nowhere (a list leaves them out, a single one is "withheld")."""
    from civmil.core.models import Person

    body: dict[str, Any] = {"detail": exc.message, "errors": {}, "current_version": exc.current_version,
                            "differences": []}
    if not isinstance(exc.merge, merging.Merge):
        return body
    people = {f.name for f in kf.resolve(record_type) if f.kind in (kf.RELATED, kf.MANY) and f.related_model is Person}
    named = {str(p) for f in exc.merge.fields.values() if f.name in people
             for side in (f.base, f.mine, f.theirs) for p in (side if isinstance(side, list) else [side]) if p}
    visible = set(kq.people_names(actor, kq.uuids(named)))

    def seen(name: str, value: Any) -> Any:
        if name not in people or not value:
            return value
        if isinstance(value, list):
            return sorted(str(p) for p in value if str(p) in visible)
        return value if str(value) in visible else "withheld"

    def same(name: str, a: Any, b: Any) -> bool:
        return merging.same_value(name, seen(name, a), seen(name, b))

    merged = exc.merge.remerge(same=same) if people else exc.merge
    body["differences"] = [
        {"field": f.name, "theirs": seen(name, f.theirs), "yours": seen(name, f.mine), "changed_by": f.changed_by}
        for name in update_order(record_type) if (f := merged.fields.get(name)) is not None and f.differs
    ]
    return body


def _release_out(release: Any, names: dict[str, str]) -> dict[str, Any]:
    person = str(release.target_person_id) if release.target_person_id else None
    return {
        "id": release.pk,
        "target_organisation": organisation_ref(release.target_organisation) if release.target_organisation else None,
        "target_component": release.target_component or None,
        "target_person": {"id": release.target_person_id, "full_name": names[person]}
        if person and person in names else None,
        "fields": release.fields, "created_at": release.created_at, "revoked_at": release.revoked_at,
        "active": release.revoked_at is None,
    }


def _names(actor: "Actor", ids: list[Any]) -> dict[str, str]:
    return kq.people_names(actor, ids)


class Named(TypedDict):
    url_name: str
    operation_id: str


def named(url_name: str) -> Named:
    """An operation's URL name and its OpenAPI operation id (unique, like the URL names; the
    default id, the function's module and name, is the same for every type's router)."""
    return Named(url_name=url_name, operation_id=url_name.replace("-", "_"))


def record_router(record_type: registry.RecordType, *, name: str, tags: list[str],
                  create_schema: Any = None, body_rule: dict[str, Any] | None = None) -> Router:
    """The API of ``record_type`` (see the module's docstring). ``name`` prefixes the operations'
    URL names; ``create_schema`` replaces the generated creation body (its fields are handed to the
    type's ``create`` as they are); ``body_rule``: see :func:`schemas`."""
    model = record_type.model
    made = schemas(record_type, body_rule)
    out, query, update_in = made["out"], made["query"], made["update"]
    create_in = create_schema or made["create"]
    router = Router(tags=tags)
    create = record_type.create or generic_create(record_type)
    update = record_type.update or generic_update(record_type)

    def one(actor: "Actor", pk: Any) -> dict[str, Any]:
        return records_out(actor, record_type, [access.fetch(actor, model, pk).record])[0]

    @router.get("", response={200: made["page"], **ERROR_RESPONSES}, **named(f"{name}s"), exclude_unset=True,
                summary=f"List {model._meta.verbose_name_plural}")
    def list_records(request: HttpRequest, filters: Query[query]) -> dict[str, Any]:  # type: ignore[valid-type]
        """Records you may know exist, filtered; a filter matches only what your view shows."""
        actor = actor_of(request)
        values = filters.model_dump(exclude={"limit", "offset"})  # type: ignore[attr-defined]
        _in_window(actor, record_type, values)
        area_of(values)
        qs = kq.filtered(actor, record_type, values)
        found, total = page_of(qs, filters)  # type: ignore[arg-type]
        return {"count": total, "limit": filters.limit, "offset": filters.offset,  # type: ignore[attr-defined]
                "items": records_out(actor, record_type, found)}

    @router.post("", response={201: out, **ERROR_RESPONSES}, **named(f"{name}-create"), exclude_unset=True,
                 summary=f"Create a {model._meta.verbose_name}")
    def create_record(request: HttpRequest, payload: create_in) -> Status[dict[str, Any]]:  # type: ignore[valid-type]
        """Create a record owned by the organisation you act for, at a level it may see."""
        actor = actor_of(request)
        body: Any = payload
        _in_window(actor, record_type, body.model_dump())
        values = body.model_dump() if create_schema is not None else _values(actor, record_type, body)
        record = create(actor, values)
        return Status(201, one(actor, record.pk))

    @router.get("/{record_id}", response={200: out, **ERROR_RESPONSES}, **named(name), exclude_unset=True,
                summary=f"One {model._meta.verbose_name}")
    def get_record(request: HttpRequest, record_id: uuid.UUID) -> dict[str, Any]:
        return one(actor_of(request), record_id)

    @router.put("/{record_id}", response={200: out, 409: KernelStaleOut, **ERROR_RESPONSES},
                **named(f"{name}-update"), exclude_unset=True, summary=f"Replace a {model._meta.verbose_name}")
    def update_record(request: HttpRequest, record_id: uuid.UUID,
                      payload: update_in) -> dict[str, Any] | Status[dict[str, Any]]:  # type: ignore[valid-type]
        """Replace the editable fields. Send the ``version`` you loaded: if someone changed the record
        since, nothing is overwritten and the answer is 409 with ``current_version`` and
        ``differences`` (their value, yours, and who changed it since your version)."""
        actor = actor_of(request)
        body: Any = payload
        _in_window(actor, record_type, body.model_dump())
        values = _values(actor, record_type, body)
        try:
            update(actor, record_id, payload.version, values)  # type: ignore[attr-defined]
        except StaleEdit as exc:
            return Status(409, stale_body(actor, record_type, exc))
        return one(actor, record_id)

    history_and_releases(router, record_type, name=name)
    router.record_schemas = made  # type: ignore[attr-defined]
    return router


_API_NAMES: dict[str, str] = {}


def api_name(record_type: registry.RecordType) -> str:
    """The name ``record_type``'s kernel operations were mounted with (``api:<name>-history``)."""
    return _API_NAMES[record_type.key]


def history_and_releases(router: Router, record_type: registry.RecordType, *, name: str) -> Router:
    """The history and releases operations of ``record_type`` on ``router`` (``/{id}/history``,
    ``/{id}/releases``, ``/{id}/releases/{release id}``), named ``<name>-history``,
    ``<name>-releases``, ``<name>-release-create`` and ``<name>-release``; :func:`record_router`
    adds them, and a type whose other operations are its own adds them alone."""
    model = record_type.model
    _API_NAMES[record_type.key] = name

    @router.get("/{record_id}/history", response={200: list[HistoryOut], **ERROR_RESPONSES},
                **named(f"{name}-history"), summary=f"History of a {model._meta.verbose_name}")
    def history(request: HttpRequest, record_id: uuid.UUID) -> list[dict[str, Any]]:
        """Every recorded change, oldest first, cut to your view of the record."""
        actor = actor_of(request)
        shown = access.fetch(actor, model, record_id)
        return history_of(actor, shown)

    def releasable(actor: "Actor", pk: Any) -> "access.Shown[Any]":
        shown = access.fetch(actor, model, pk)
        if not access.may(actor, access.Action.RELEASE, shown.record, shown.view):
            raise Forbidden(_("Only members of the owning organisation may see and change the releases of "
                              "this record."))
        return shown

    def releases_of(shown: "access.Shown[Any]") -> list[Any]:
        from civmil.core.models import Release

        return list(Release.objects.filter(content_type=ContentType.objects.get_for_model(model),
                                           object_id=shown.record.pk)
                    .select_related("target_organisation", "target_person").order_by("created_at"))

    release_field = Literal[tuple(record_type.release_fields) or ("",)]  # type: ignore[valid-type]
    release_in = create_model(f"{model.__name__}ReleaseIn", __base__=Schema,
                              target_organisation=(uuid.UUID | None, None),
                              target_component=(Component | None, None),
                              target_person=(uuid.UUID | None, None),
                              fields=(list[release_field] | None,  # type: ignore[valid-type,arg-type]
                                      Field(None, max_length=50)))
    # For the document: exactly one target (the service refuses none or several on ``target``).
    release_in.model_config["json_schema_extra"] = {"oneOf": [
        {"required": [name], "properties": {name: {"type": "string"}}}
        for name in ("target_organisation", "target_component", "target_person")]}
    release_in.model_rebuild(force=True)

    @router.get("/{record_id}/releases", response={200: list[ReleaseOut], **ERROR_RESPONSES},
                **named(f"{name}-releases"), summary=f"Releases of a {model._meta.verbose_name}")
    def list_releases(request: HttpRequest, record_id: uuid.UUID) -> list[dict[str, Any]]:
        """Who the record is released to beyond its level (owners only), revoked ones included."""
        actor = actor_of(request)
        found = releases_of(releasable(actor, record_id))
        names = _names(actor, [r.target_person_id for r in found])
        return [_release_out(r, names) for r in found]

    @router.post("/{record_id}/releases", response={201: ReleaseOut, **ERROR_RESPONSES},
                 **named(f"{name}-release-create"), summary=f"Release a {model._meta.verbose_name}")
    def add_release(request: HttpRequest, record_id: uuid.UUID,
                    payload: release_in) -> Status[dict[str, Any]]:  # type: ignore[valid-type]
        """Release the record to one organisation, component or person: fully, or the listed fields."""
        from civmil.core.kernel.forms import related_queryset
        from civmil.core.models import Organisation, Person

        actor = actor_of(request)
        shown = releasable(actor, record_id)
        p: Any = payload
        organisation = person = None
        errors: dict[str, list[str]] = {}
        if p.target_organisation is not None:
            organisation = related_queryset(actor, Organisation).filter(pk=p.target_organisation).first()
            if organisation is None:
                errors["target_organisation"] = [_("No such organisation.")]
        if p.target_person is not None:
            person = related_queryset(actor, Person).filter(pk=p.target_person).first()
            if person is None:
                errors["target_person"] = [_("No such person.")]
        if errors:
            raise Invalid(_("The release has errors; see each field."), errors=errors)
        release = core_services.release_record(
            actor, shown.record, organisation=organisation, component=p.target_component or "", person=person,
            fields=list(p.fields) if p.fields is not None else None)
        return Status(201, _release_out(release, _names(actor, [release.target_person_id])))

    @router.delete("/{record_id}/releases/{release_id}", response={200: ReleaseOut, **ERROR_RESPONSES},
                   **named(f"{name}-release"), summary=f"Revoke a release of a {model._meta.verbose_name}")
    def revoke_release(request: HttpRequest, record_id: uuid.UUID, release_id: uuid.UUID) -> dict[str, Any]:
        """Revoke a release; it stops opening the record at once. Revoking twice changes nothing."""
        actor = actor_of(request)
        found = [r for r in releases_of(releasable(actor, record_id)) if r.pk == release_id]
        if not found:
            raise NotFound(_("No such release."))
        release = found[0]
        if release.revoked_at is None:
            release = core_services.revoke_release(actor, release)
        return _release_out(release, _names(actor, [release.target_person_id]))

    return router


def kernel_routers() -> Router:
    """The API of every type with no API of an app's own (:attr:`RecordType.kernel_mounted`), from
    the declaration alone: ``/records/<key>`` (``/api/v1/records/kernel_proof.observation``), its
    operations named ``<app label>-<model name>`` (``kernel_proof-observation``, ``-history``...)."""
    router = Router()
    for record_type in registry.kernel_mounted():
        meta = record_type.model._meta
        router.add_router(f"/records/{record_type.key}",
                          record_router(record_type, name=f"{meta.app_label}-{meta.model_name}",
                                        tags=[str(meta.verbose_name_plural)]))
    return router

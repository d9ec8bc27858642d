"""The ledger, its checkpoints, releases and grants in the admin: listings only."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.db.models import CharField, Func, Q
from django.db.models.functions import Cast
from django.http import HttpRequest
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy

from civmil.core import queries, registry
from civmil.core.acting import actor_of
from civmil.core.admin.base import WITHHELD_TEXT, PolicyAdmin, _Label, shown_person
from civmil.core.choices import Level
from civmil.core.models import Checkpoint, Grant, LedgerEntry, Release
from civmil.core.pages import is_uuid

if TYPE_CHECKING:
    from civmil.core.acting import Actor


@admin.register(LedgerEntry)
class LedgerEntryAdmin(PolicyAdmin):
    """Entries hold hashes, never content. Listed: the entries of records the reader may see, the
    reader's own acts, and entries that name no protected record (reference data, accounts,
    settings...). The record an entry names is withheld unless the reader may see it."""

    list_display = ("seq", "recorded_at", "action", "object_type", "object_shown", "actor_user_id", "short_hash")
    list_filter = ("action", "object_type")
    fields = ("seq", "recorded_at", "space_id", "actor_user_id", "actor_membership_id", "action", "object_type",
              "object_shown", "change_hash", "prev_hash", "entry_hash")
    readonly_fields = fields
    ordering = ("-seq",)
    open_fields = ("seq", "recorded_at", "action", "object_type", "actor_user_id")

    #: Reference data every administrator may list: all their entries are shown.
    open_types = ("core.organisation", "actors.area")

    def get_queryset(self, request: HttpRequest) -> Any:
        """A semi-join per kind of entry, so the list, its count, its pages and its filters agree:

        * registered record types: the records :func:`access.visible` lets through;
        * memberships and accounts: those of people the reader may see (and accounts with no person);
        * mission settings: the reader's own space; organisations and areas: all (reference data);
        * anything else (messages, notifications, tokens, erasures...): the reader's own acts only,
          since such an entry may belong to a record the reader may not see.
        """
        actor = actor_of(request)
        listed = Q(object_type__in=self.open_types)
        for record_type in registry.all_types():
            seen = queries.visible_records(actor, record_type.model).order_by().values(
                ledger_object_id=_UUIDText("pk"))
            listed |= Q(object_type=record_type.key, object_id__in=seen)
        memberships = queries.memberships(actor).order_by().values(ledger_object_id=_UUIDText("pk"))
        listed |= Q(object_type="core.membership", object_id__in=memberships)
        accounts = queries.visible_accounts(actor).order_by().values(
            ledger_object_id=Cast("pk", output_field=CharField()))
        listed |= Q(object_type="core.user", object_id__in=accounts)
        listed |= Q(object_type="core.missionsettings", object_id=str(actor.space_id))
        if actor.user_id is not None:
            listed |= Q(actor_user_id=actor.user_id)
        return super().get_queryset(request).filter(listed)

    @admin.display(description=gettext_lazy("Hash"))
    def short_hash(self, obj: LedgerEntry) -> str:
        return obj.entry_hash[:16]

    @admin.display(description=gettext_lazy("Record"))
    def object_shown(self, obj: LedgerEntry) -> str:
        hidden: set[tuple[str, str]] | None = getattr(obj, "_civmil_hidden", None)
        if hidden is None or (obj.object_type, obj.object_id) in hidden:
            return str(WITHHELD_TEXT)
        return obj.object_id

    def _mark(self, request: HttpRequest, entries: list[LedgerEntry]) -> None:
        """Find, for the entries shown, which name a protected record the reader may not see."""
        actor = actor_of(request)
        wanted: dict[str, set[str]] = {}
        for e in entries:
            try:
                registry.by_key(e.object_type)
            except LookupError:
                continue
            wanted.setdefault(e.object_type, set()).add(e.object_id)
        hidden: set[tuple[str, str]] = set()
        for key, ids in wanted.items():
            model = registry.by_key(key).model
            valid_ids = [i for i in ids if is_uuid(i)]
            seen = {str(pk) for pk in queries.visible_records(actor, model, pk__in=valid_ids)
                    .values_list("pk", flat=True)}
            hidden.update((key, i) for i in ids if i not in seen)
        for e in entries:
            e._civmil_hidden = hidden  # type: ignore[attr-defined]

    def get_changelist_instance(self, request: HttpRequest) -> ChangeList:
        changelist = super().get_changelist_instance(request)
        self._mark(request, list(changelist.result_list))
        return changelist

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Any:
        obj = super().get_object(request, object_id, from_field)
        if obj is not None:
            self._mark(request, [obj])
        return obj

    def render_change_form(self, request: HttpRequest, context: dict[str, Any], add: bool = False,
                           change: bool = False, form_url: str = "", obj: Any = None) -> Any:
        if obj is not None:  # the entry's own name holds the record's id: use its number and action only
            label = f"#{obj.seq} {obj.action}"
            context["original"] = _Label(obj, label)
            context["subtitle"] = label
        return super().render_change_form(request, context, add, change, form_url, obj)


class _UUIDText(Func):
    """A UUID column as the ledger writes an id (``str(uuid)``: lower case, with hyphens)."""

    output_field = CharField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:
        # SQLite stores a UUID as 32 hex digits; put the hyphens back.
        sql, params = compiler.compile(self.source_expressions[0])
        pieces = [f"substr({sql}, {start}, {length})" for start, length in ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12))]
        return "lower(" + " || '-' || ".join(pieces) + ")", list(params) * len(pieces)

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list[Any]]:  # type: ignore[override]
        # PostgreSQL's uuid::text is already the canonical form.
        sql, params = compiler.compile(self.source_expressions[0])
        return f"CAST({sql} AS text)", list(params)


@admin.register(Checkpoint)
class CheckpointAdmin(PolicyAdmin):
    list_display = ("tree_size", "root", "signed_at", "public_key")
    fields = ("tree_size", "root", "signed_at", "public_key", "signature")
    open_fields = ("tree_size", "root", "signed_at", "public_key")
    readonly_fields = fields
    ordering = ("-tree_size",)


def _releasable(actor: Actor) -> Q:
    """Records whose releases and grants the reader may list: those their organisation owns (never
    oversight records, which only case grants open)."""
    from django.contrib.contenttypes.models import ContentType

    q = Q(pk__in=[])
    if actor.organisation_id is None:
        return q
    for record_type in registry.all_types():
        model = record_type.model
        owned = queries.visible_records(actor, model, owner_id=actor.organisation_id).exclude(
            level=Level.OVERSIGHT)
        q |= Q(content_type=ContentType.objects.get_for_model(model), object_id__in=owned.values("pk"))
    return q


class _RecordLinkMixin:
    @admin.display(description=gettext_lazy("Record type"))
    def record_type(self, obj: Release | Grant) -> str:
        model = obj.content_type.model_class()
        return capfirst(str(model._meta.verbose_name)) if model is not None else str(obj.content_type)


@admin.register(Release)
class ReleaseAdmin(_RecordLinkMixin, PolicyAdmin):
    list_display = ("record_type", "object_id", "target_shown", "fields", "created_at", "revoked_at")
    fields = ("record_type", "object_id", "target_shown", "fields", "created_at", "revoked_at")
    readonly_fields = fields
    ordering = ("-created_at",)
    open_fields = ("object_id", "target_component", "created_at", "revoked_at")
    people_columns = ("target_person_id",)

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).filter(_releasable(actor_of(request))).select_related(
            "content_type", "target_organisation")

    @admin.display(description=gettext_lazy("released to"))
    def target_shown(self, obj: Release) -> str:
        """An organisation or a component by name; a person only as the reader's view of them shows them."""
        if obj.target_person_id is not None:
            return shown_person(obj, obj.target_person_id)
        return obj.target_label


@admin.register(Grant)
class GrantAdmin(_RecordLinkMixin, PolicyAdmin):
    list_display = ("record_type", "object_id", "person_shown", "purpose", "created_at", "revoked_at", "recused_at")
    fields = ("record_type", "object_id", "person_shown", "purpose", "created_at", "revoked_at", "recused_at",
              "recusal_reason")
    readonly_fields = fields
    ordering = ("-created_at",)
    open_fields = ("object_id", "purpose", "created_at", "revoked_at", "recused_at")
    people_columns = ("person_id",)

    def get_queryset(self, request: HttpRequest) -> Any:
        actor = actor_of(request)
        mine = Q(person_id=actor.person_id) if actor.person_id else Q(pk__in=[])
        return super().get_queryset(request).filter(_releasable(actor) | mine).select_related("content_type")

    @admin.display(description=gettext_lazy("person"))
    def person_shown(self, obj: Grant) -> str:
        return shown_person(obj, obj.person_id)

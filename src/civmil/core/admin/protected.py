"""Protected records in the admin: read-only, cut to the reader's view."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from django.contrib import messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import FieldDoesNotExist
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.text import Truncator, capfirst
from django.utils.translation import gettext as _

from civmil.core import access, queries, registry
from civmil.core.acting import actor_of
from civmil.core.admin.base import EMPTY, LIST_TEXT_LENGTH, WITHHELD_TEXT, PolicyAdmin, _is_protected, _Label
from civmil.core.errors import ServiceError

if TYPE_CHECKING:
    from civmil.core.acting import Actor


def display_value(actor: Actor, obj: Any, name: str, view: access.View | None = None) -> str:
    """A field of ``obj`` as text; related protected records appear only if ``actor`` may know them.
    In a reduced ``view`` a value its declaration coarsens is shown coarsened, as on the record's page."""
    try:
        field = obj._meta.get_field(name)
    except FieldDoesNotExist:
        value = getattr(obj, name, None)
        return str(value) if value not in (None, "") else EMPTY
    if field.many_to_many:
        related = getattr(obj, name).all()
        if _is_protected(field.related_model):
            related = access.visible(actor, related)
        return ", ".join(str(r) for r in related) or EMPTY
    if field.is_relation:
        value = getattr(obj, name)
        if value is None:
            return EMPTY
        if _is_protected(field.related_model) and not queries.visible_records(
                actor, field.related_model, pk=value.pk).exists():
            return str(WITHHELD_TEXT)
        return str(value)
    if field.choices:
        return str(getattr(obj, f"get_{name}_display")())
    value = getattr(obj, name)
    if view is not None and view.kind == access.ViewKind.REDUCED and value is not None:
        spec = registry.get(type(obj)).field_spec(name) if _is_protected(type(obj)) else None
        if spec is not None and spec.coarsen is not None:
            value = spec.coarsen(value)
    if value is None or value == "":
        return EMPTY
    if hasattr(value, "tzinfo") and value.tzinfo is not None:
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M %Z")
    return str(value)


_VIEW_ATTR = "_civmil_view"
_VIEWER_ATTR = "_civmil_viewer"


class ProtectedAdmin(PolicyAdmin):
    """A protected record type, read-only and cut to the reader's view.

    ``shown_fields`` names the model fields the admin may show on a record's page (as
    ``shown_<name>``, only those the reader's view shows); ``list_columns`` those listed (as
    ``list_<name>``, reading "(withheld)" where the view does not show them). The list filters,
    searches and orders only on the type's face (the fields every view shows: ``level``,
    ``owner``, a person's name...), so no lookup can probe withheld text.
    """

    shown_fields: tuple[str, ...] = ()
    list_columns: tuple[str, ...] = ()
    list_filter: ClassVar[tuple[Any, ...]] = ("level",)
    ordering = ("-created_at",)

    def get_open_fields(self) -> frozenset[str]:
        """The face of the record type: every view shows it. A type with a derived face has none
        (a derived face shows no field of the record itself)."""
        record_type = registry.get(self.model)
        if record_type.derive is not None:
            return frozenset({self.model._meta.pk.name})
        names = {self.model._meta.pk.name}
        for name in record_type.face():
            field = self._own_field(name)
            if field is not None:
                names.add(field.name)
        return frozenset(names)

    def __init__(self, model: Any, admin_site: Any) -> None:
        super().__init__(model, admin_site)
        for name in self.shown_fields:
            setattr(self, f"shown_{name}", self._column(name))
        for name in self.list_columns:
            setattr(self, f"list_{name}", self._column(name, truncate=LIST_TEXT_LENGTH))

    def get_list_display(self, request: HttpRequest) -> tuple[str, ...]:
        return tuple(f"list_{name}" for name in self.list_columns)

    def _column(self, name: str, truncate: int | None = None) -> Callable[[Any], str]:
        try:
            label = capfirst(self.model._meta.get_field(name).verbose_name)
        except FieldDoesNotExist:
            label = capfirst(name.replace("_", " "))

        def column(obj: Any) -> str:
            view: access.View | None = getattr(obj, _VIEW_ATTR, None)
            actor: Actor | None = getattr(obj, _VIEWER_ATTR, None)
            if view is None or actor is None or not view.shows(name):
                return str(WITHHELD_TEXT)
            text = display_value(actor, obj, name, view)
            return Truncator(text).chars(truncate) if truncate else text

        column.short_description = label  # type: ignore[attr-defined]
        return column

    def get_queryset(self, request: HttpRequest) -> Any:
        return access.visible(actor_of(request), super().get_queryset(request))

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Any:
        """Through the one door (:func:`access.fetch`): hidden, missing and malformed ids alike."""
        if from_field is not None:
            return None
        try:
            shown = access.fetch(actor_of(request), self.model, object_id)
        except ServiceError:
            return None
        obj, view = shown.record, shown.view
        setattr(obj, _VIEW_ATTR, view)
        setattr(obj, _VIEWER_ATTR, actor_of(request))
        return obj

    def get_changelist_instance(self, request: HttpRequest) -> ChangeList:
        changelist = super().get_changelist_instance(request)
        actor = actor_of(request)
        rows = list(changelist.result_list)
        for shown in access.show_all(actor, rows):
            setattr(shown.record, _VIEW_ATTR, shown.view)
            setattr(shown.record, _VIEWER_ATTR, actor)
        return changelist

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:  # type: ignore[override]
        view: access.View | None = getattr(obj, _VIEW_ATTR, None) if obj is not None else None
        if view is None:
            return []
        return [f"shown_{name}" for name in self.shown_fields if view.shows(name)]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:  # type: ignore[override]
        return self.get_fields(request, obj)

    def label(self, obj: Any) -> str:
        """The record's name as the reader may see it (its id when the view is not full)."""
        view: access.View | None = getattr(obj, _VIEW_ATTR, None)
        return str(obj) if view is not None and view.kind == access.ViewKind.FULL else str(obj.pk)

    def render_change_form(self, request: HttpRequest, context: dict[str, Any], add: bool = False,
                           change: bool = False, form_url: str = "", obj: Any = None) -> Any:
        if obj is not None:
            label = self.label(obj)
            context["original"] = _Label(obj, label)
            context["subtitle"] = label
        return super().render_change_form(request, context, add, change, form_url, obj)

    def history_view(self, request: HttpRequest, object_id: str, extra_context: Any = None) -> HttpResponse:
        messages.info(request, _("The history of a protected record is on its page in the application, cut to "
                                 "what you may see; the admin keeps no history of its own."))
        opts = self.model._meta
        return HttpResponseRedirect(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist",
                                            current_app=self.admin_site.name))


#: Fields of every protected record its admin page shows after the declared ones.
RECORD_FIELDS = ("level", "owner", "created_at", "updated_at", "version")


def declared_admin(record_type: registry.RecordType) -> type[ProtectedAdmin]:
    """The admin of a record type, from its kernel declaration (:attr:`registry.RecordType.fields`).

    The record's page shows every declared field and :data:`RECORD_FIELDS`; the list's columns
    are the fields declared ``in_list`` (but many-to-many ones, which would cost a query a row),
    then the owner and the level; it filters on the level and the declared ``filter`` fields, and
    searches the declared ``search`` fields, each only where it is on the type's face (every view
    shows it), as :class:`ProtectedAdmin` requires. The site registers it for every declared type
    whose app registers no admin of its own (:class:`civmil.core.admin.site.CivmilAdminSite`).
    """
    model = record_type.model
    face = set() if record_type.derive is not None else record_type.face()
    many = {f.name for f in model._meta.get_fields() if f.many_to_many}
    declared = [spec.name for spec in record_type.fields]
    attrs = {
        "__module__": __name__,
        "__doc__": f"The admin of {model._meta.verbose_name_plural}, from their declaration.",
        "shown_fields": tuple(dict.fromkeys([*declared, *RECORD_FIELDS])),
        "list_columns": tuple(dict.fromkeys(
            [*(s.name for s in record_type.fields if s.in_list and s.name not in many), "owner", "level"])),
        "list_filter": tuple(name for name in dict.fromkeys(
            ["level", *(s.name for s in record_type.fields if s.filter)]) if name in face),
        "search_fields": tuple(s.name for s in record_type.fields if s.search and s.name in face),
        # A derived type's list may order by nothing of the record but its id.
        "ordering": ProtectedAdmin.ordering if record_type.derive is None else ("-pk",),
    }
    return type(f"{model.__name__}Admin", (ProtectedAdmin,), attrs)

"""The admin's base classes: every model admin asks the access policy (see :mod:`civmil.core.admin`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.db.models import F, Q
from django.db.models.constants import LOOKUP_SEP
from django.db.models.expressions import OrderBy
from django.forms.models import ModelForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext_lazy

from civmil.core import access, queries, registry, services
from civmil.core.acting import actor_of
from civmil.core.errors import ServiceError
from civmil.core.models import Person

if TYPE_CHECKING:
    from civmil.core.acting import Actor


#: Shown in place of a field the reader's view withholds.
WITHHELD_TEXT = gettext_lazy("(withheld)")
#: Longest text in a list column.
LIST_TEXT_LENGTH = 120
EMPTY = "—"


def is_admin_request(request: HttpRequest) -> bool:
    """An active, signed-in account acting as an administrator. Superuser and staff flags count for nothing."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    return services.is_administrator(actor_of(request))


# ---------------------------------------------------------------------------------------------
# Base classes


class PolicyChangeList(ChangeList):
    """A list that filters, orders and drills down by date only on its admin's open fields.

    A lookup outside them answers exactly as Django answers any invalid lookup (a redirect to
    ``?e=1``), so a refused probe and a probe on a field that does not exist look alike, whatever
    the database holds. Ordering by anything else is dropped, as Django drops an unknown column.
    """

    model_admin: PolicyAdmin

    def get_filters(self, request: HttpRequest) -> Any:
        if self.date_hierarchy and self.model_admin.open_field(self.date_hierarchy) is None:
            self.date_hierarchy = None
        for lookup in self.get_filters_params():
            if not self.model_admin.open_lookup(lookup):
                raise IncorrectLookupParameters(lookup)
        return super().get_filters(request)

    def get_ordering(self, request: HttpRequest, queryset: Any) -> list[Any]:
        ordering = super().get_ordering(request, queryset)
        kept = [term for term in ordering if self.model_admin.open_ordering(term)]
        return list(self._get_deterministic_ordering(kept))  # type: ignore[attr-defined]


class PolicyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Every civmil model admin: permissions come from the acting membership, read-only by default.

    Lists filter, search, order and drill down by date only on the model's *open fields*
    (:meth:`get_open_fields`): its own fields that every view of a record shows. No lookup follows
    a relation into another record; a foreign key among the open fields is compared by its id
    only, and only when it points at reference data (never at a protected record).
    """

    #: The model's own fields every reader of a listed record sees (see :meth:`get_open_fields`).
    open_fields: ClassVar[tuple[str, ...]] = ()

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_admin_request(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_admin_request(request)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    # The ledger is the record of changes; Django's admin log is not written.
    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        return None

    def log_change(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        return None

    def log_deletion(self, request: HttpRequest, obj: Any, object_repr: str) -> Any:
        return None

    def log_deletions(self, request: HttpRequest, queryset: Any) -> Any:
        return None

    # --- What a list may filter, search and order on -------------------------------------------

    def get_open_fields(self) -> frozenset[str]:
        """Names of the model's own fields a list may filter, search and order on (the primary key
        always): declared in ``open_fields``. Relations other than a foreign key to reference data
        never count."""
        names = {self.model._meta.pk.name}
        for name in self.open_fields:
            field = self._own_field(name)
            if field is not None:
                names.add(field.name)
        return frozenset(names)

    def _own_field(self, name: str) -> Any:
        """The model's own field called ``name`` (or its column name, or ``pk``), if a list may use it:
        a plain field, or a foreign key to a model that is not a protected record type."""
        opts = self.model._meta
        if name == "pk":
            return opts.pk
        try:
            field = opts.get_field(name)
        except FieldDoesNotExist:
            return None
        if not getattr(field, "concrete", False) or field.many_to_many:
            return None
        if field.is_relation and (_is_protected(field.related_model) or not (field.many_to_one or field.one_to_one)):
            return None
        return field

    def open_field(self, name: str) -> Any:
        """The open field called ``name`` (or its column name, or ``pk``), else ``None``."""
        field = self._own_field(name)
        return field if field is not None and field.name in self.get_open_fields() else None

    def open_lookup(self, lookup: str) -> bool:
        """May a list filter by ``lookup``? Only on an open field, with its own transforms and lookups;
        a foreign key compares its id (``owner``, ``owner_id``, ``owner__id__exact``, ``owner__isnull``)."""
        name, *rest = lookup.split(LOOKUP_SEP)
        field = self.open_field(name)
        if field is None:
            return False
        if not field.is_relation:
            return True  # what follows can only be transforms and lookups of this field
        target = field.target_field
        if rest and rest[0] in {"pk", target.name, target.attname}:
            rest = rest[1:]
            lookups = target.get_lookups()
        else:
            lookups = field.get_lookups()
        return not rest or (len(rest) == 1 and rest[0] in lookups)

    def open_ordering(self, term: Any) -> bool:
        """May a list be ordered by ``term`` (a name, ``-name``, ``F`` or ``OrderBy``)? Only by an open field."""
        if isinstance(term, OrderBy):
            term = term.expression
        if isinstance(term, F):
            term = term.name
        if not isinstance(term, str):
            return False
        name = term.removeprefix("-")
        return LOOKUP_SEP not in name and self.open_field(name) is not None

    def _open_search_field(self, name: str) -> bool:
        field = self.open_field(str(name).lstrip("^=@").split(LOOKUP_SEP)[0])
        return field is not None and not field.is_relation

    def lookup_allowed(self, lookup: str, value: Any, request: HttpRequest | None = None) -> bool:
        return self.open_lookup(lookup)

    def get_list_filter(self, request: HttpRequest) -> Any:
        """Filters on open fields only (a custom filter class names no field, so it is not kept)."""
        kept = []
        for item in super().get_list_filter(request):
            name = item[0] if isinstance(item, (list, tuple)) else item
            if isinstance(name, str) and self.open_lookup(name):
                kept.append(item)
        return kept

    def get_search_fields(self, request: HttpRequest) -> Any:
        return [name for name in super().get_search_fields(request) if self._open_search_field(name)]

    def search_beyond_own_fields(self, request: HttpRequest, term: str) -> Q | None:
        """Rows a search also finds through the policy (e.g. a membership by its person's name,
        among the people the reader may see). ``None``: own open fields only."""
        return None

    def get_search_results(self, request: HttpRequest, queryset: Any, search_term: str) -> Any:
        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        beyond = self.search_beyond_own_fields(request, search_term.strip()) if search_term.strip() else None
        if beyond is None:
            return found, may_have_duplicates
        if not self.get_search_fields(request):
            found = queryset.none()
        return queryset.filter(Q(pk__in=found.values("pk")) | beyond), may_have_duplicates

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return PolicyChangeList

    # --- Columns naming people ---------------------------------------------------------------

    #: Attributes of a row holding a person's id, each shown (by :func:`shown_person`) only as the
    #: reader's view of that person allows.
    people_columns: ClassVar[tuple[str, ...]] = ()

    def get_changelist_instance(self, request: HttpRequest) -> ChangeList:
        changelist = super().get_changelist_instance(request)
        if self.people_columns:
            label_people(actor_of(request), list(changelist.result_list), self.people_columns)
        return changelist

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Any:
        obj = super().get_object(request, object_id, from_field)
        if obj is not None and self.people_columns:
            label_people(actor_of(request), [obj], self.people_columns)
        return obj

    def _limit_protected(self, request: HttpRequest, db_field: Any, kwargs: dict[str, Any]) -> None:
        """Choices of a protected type (e.g. a person) list only the records the reader may know exist."""
        model = db_field.related_model
        try:
            registry.get(model)
        except LookupError:
            return
        kwargs["queryset"] = access.visible(actor_of(request), model._default_manager.all())

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        self._limit_protected(request, db_field, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        self._limit_protected(request, db_field, kwargs)
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class VersionedForm(ModelForm):  # type: ignore[type-arg]
    """Carries the version the editor loaded, so a concurrent edit is refused rather than overwritten."""

    expected_version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.instance._state.adding:
            self.fields["expected_version"].initial = getattr(self.instance, "version", None)


_SERVICE_ERROR = "_civmil_admin_service_error"


class ServiceAdmin(PolicyAdmin):
    """Reference data edited in the admin and written by its service.

    Subclasses implement :meth:`save_via_service`. A :class:`ServiceError` from it rolls the
    admin's transaction back and the form is shown again with the service's messages.
    """

    #: Told to the user who tries to delete (no service deletes reference data).
    delete_refusal = gettext_lazy("Records of this kind are not deleted: they stay for the ledger and for "
                                  "records that refer to them. Mark them inactive or end them instead.")

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return is_admin_request(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_admin_request(request)

    def save_via_service(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        raise NotImplementedError

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        self.save_via_service(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """The service has written everything; the form writes nothing of its own."""
        return None

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        raise PermissionDenied

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        raise PermissionDenied

    def delete_view(self, request: HttpRequest, object_id: str, extra_context: Any = None) -> HttpResponse:
        messages.error(request, str(self.delete_refusal))
        opts = self.model._meta
        return HttpResponseRedirect(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist",
                                            current_app=self.admin_site.name))

    def changeform_view(self, request: HttpRequest, object_id: str | None = None, form_url: str = "",
                        extra_context: dict[str, Any] | None = None) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ServiceError as exc:
            # The failed save was rolled back; show the form again, with the service's reasons.
            setattr(request, _SERVICE_ERROR, exc)
            return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form_class = super().get_form(request, obj, change, **kwargs)
        found: ServiceError | None = getattr(request, _SERVICE_ERROR, None)
        if found is None or request.method != "POST":
            return form_class
        error: ServiceError = found

        class RefusedForm(form_class):  # type: ignore[valid-type,misc]
            def clean(self) -> Any:
                cleaned = super().clean()
                self.add_error(None, error.message)
                for name, field_messages in error.errors.items():
                    for message in field_messages:
                        if name in self.fields:
                            self.add_error(name, message)
                        elif message != error.message:
                            self.add_error(None, message)
                return cleaned

        return RefusedForm


_PEOPLE_ATTR = "_civmil_people"


def person_labels(actor: Actor, ids: Iterable[Any]) -> dict[Any, str]:
    """How each person of ``ids`` is named to ``actor``: their title and name where the reader's view
    shows them, else "(withheld)" (a person the reader may not know exists among them)."""
    wanted = {i for i in ids if i is not None}
    labels = dict.fromkeys(wanted, str(WITHHELD_TEXT))
    if not wanted:
        return labels
    for shown in access.show_all(actor, queries.visible_records(actor, Person, pk__in=wanted)):
        if shown.view.shows("full_name") and shown.view.shows("title"):
            labels[shown.record.pk] = str(shown.record)
    return labels


def label_people(actor: Actor, rows: list[Any], attnames: Iterable[str]) -> None:
    """Name, once for a whole list page, the people ``rows`` hold in ``attnames`` (see :func:`shown_person`)."""
    names = tuple(attnames)
    labels = person_labels(actor, [getattr(row, name) for row in rows for name in names])
    for row in rows:
        setattr(row, _PEOPLE_ATTR, labels)


def shown_person(obj: Any, person_id: Any) -> str:
    """The person ``person_id`` of a row as its reader may see them; "(withheld)" unless labelled."""
    if person_id is None:
        return EMPTY
    labels: dict[Any, str] = getattr(obj, _PEOPLE_ATTR, {})
    return labels.get(person_id, str(WITHHELD_TEXT))


def _is_protected(model: Any) -> bool:
    try:
        registry.get(model)
    except LookupError:
        return False
    return True


class _Label:
    """Stands in for a protected record in the admin's templates (title, breadcrumbs): its id and a
    label that uses only what the reader's view shows."""

    def __init__(self, obj: Any, label: str) -> None:
        self.pk = obj.pk
        self._meta = obj._meta
        self._label = label

    def __str__(self) -> str:
        return self._label

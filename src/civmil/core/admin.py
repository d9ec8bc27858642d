"""The admin site, through the access policy.

Django's superuser and staff flags open no door here. The site lets in an active account whose
*acting* membership has the administrator role, and each page shows what that membership may
see:

* protected records (people here; liaison entries and assignments in the actors app) are
  read-only: lists hold only the records :func:`civmil.core.access.visible` lets through, and
  every column and field is shown only when the reader's view shows it (a person's contact
  details need the full view, or a release of that field). Edits happen in the application's
  pages, which go through the services;
* reference data (organisations, memberships, accounts, mission settings; areas in the actors
  app) is editable, and every save goes through its service (validation, ledger). A refusal
  from the service comes back on the form. Deleting is refused: no service deletes them;
* ledger entries, checkpoints, releases and grants are listings only, and no ledger change
  content is ever shown. The ledger lists the entries of records the reader may see, the
  reader's own acts, and entries that name no protected record.

Every list filters, searches, orders and drills down by date only on the model's *open fields*
(its own fields every view of a record shows; see :class:`PolicyAdmin`): no lookup follows a
relation into another record, and a refused lookup answers exactly as Django answers any
invalid one. Columns naming people (a membership's person, an account's person and e-mail
address, a release's or grant's person) show them as the reader's view of that person does.

Sign-in is the application's (rate limits, second factor): the admin has no login form of its
own. Django's admin log is not written; the ledger is the record of every change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured, PermissionDenied
from django.db.models import CharField, F, Func, Q
from django.db.models.constants import LOOKUP_SEP
from django.db.models.expressions import OrderBy
from django.db.models.functions import Cast
from django.forms.models import ModelForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.text import Truncator, capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from civmil.core import access, approvals, queries, registry, services
from civmil.core.choices import Level, MembershipStatus
from civmil.core.errors import Invalid, ServiceError
from civmil.core.models import (
    Checkpoint,
    Grant,
    LedgerEntry,
    Membership,
    MissionSettings,
    Organisation,
    Person,
    Release,
    User,
)

if TYPE_CHECKING:
    from civmil.core.acting import Actor

#: Shown in place of a field the reader's view withholds.
WITHHELD_TEXT = gettext_lazy("(withheld)")
#: Longest text in a list column.
LIST_TEXT_LENGTH = 120
EMPTY = "—"


def actor_of(request: HttpRequest) -> Actor:
    return request.actor  # type: ignore[attr-defined,no-any-return]


def is_admin_request(request: HttpRequest) -> bool:
    """An active, signed-in account acting as an administrator. Superuser and staff flags count for nothing."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    return services.is_administrator(actor_of(request))


# ---------------------------------------------------------------------------------------------
# The site


class CivmilAdminSite(admin.AdminSite):
    site_header = gettext_lazy("civmil administration")
    site_title = gettext_lazy("civmil administration")
    index_title = gettext_lazy("Accounts, reference data and the ledger")

    def has_permission(self, request: HttpRequest) -> bool:
        return is_admin_request(request)

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        """Signing in is the application's; a signed-in non-administrator is told why they may not enter."""
        target = request.GET.get("next") or reverse("admin:index", current_app=self.name)
        if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
            target = reverse("admin:index", current_app=self.name)
        if not request.user.is_authenticated:
            return redirect_to_login(target, reverse("account_login"))
        if self.has_permission(request):
            return HttpResponseRedirect(target)
        return render(request, "error.html", {
            "title": _("Not allowed"),
            "message": _("The admin site is for administrators. The membership you act as is not an administrator's; "
                         "if you have an administrator membership, switch to it first. Account flags such as "
                         "'superuser' open nothing here."),
        }, status=403)

    def register(self, model_or_iterable: Any, admin_class: Any = None, **options: Any) -> None:
        if admin_class is None or not issubclass(admin_class, PolicyAdmin):
            raise ImproperlyConfigured(
                "civmil's admin site takes only civmil.core.admin.PolicyAdmin subclasses, which ask the access policy")
        super().register(model_or_iterable, admin_class, **options)


def _install(site: Any) -> None:
    """Put civmil's door on Django's default site (created by django.contrib.admin before our code runs)
    and drop the admins other apps registered on it, which answer to Django's flags, not the policy."""
    site.__class__ = CivmilAdminSite
    for model in [m for m in site._registry if not m.__module__.startswith("civmil.")]:
        site.unregister(model)


_install(admin.site)


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


# ---------------------------------------------------------------------------------------------
# Protected records: read-only, cut to the reader's view


def display_value(actor: Actor, obj: Any, name: str) -> str:
    """A field of ``obj`` as text; related protected records appear only if ``actor`` may know them."""
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
    if value is None or value == "":
        return EMPTY
    if hasattr(value, "tzinfo") and value.tzinfo is not None:
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M %Z")
    return str(value)


_PEOPLE_ATTR = "_civmil_people"
_ACCOUNT_PERSON_ATTR = "_civmil_person_label"
_ACCOUNT_EMAIL_ATTR = "_civmil_email"


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
            text = display_value(actor, obj, name)
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


# ---------------------------------------------------------------------------------------------
# Kernel models


@admin.register(Person)
class PersonAdmin(ProtectedAdmin):
    shown_fields = ("full_name", "title", "languages", "is_active", "level", "owner", "email", "phone",
                    "radio_call_sign", "messaging", "created_at", "updated_at", "version")
    list_columns = ("full_name", "title", "owner", "level", "is_active", "email", "phone")
    list_filter = ("level", "is_active")
    search_fields = ("full_name", "title")
    ordering = ("full_name",)


class OrganisationForm(VersionedForm):
    website = forms.URLField(label=gettext_lazy("website"), required=False, assume_scheme="https")

    class Meta:
        model = Organisation
        fields = services.ORGANISATION_FIELDS


@admin.register(Organisation)
class OrganisationAdmin(ServiceAdmin):
    form = OrganisationForm
    list_display = ("name", "acronym", "component", "kind", "parent", "is_active")
    list_filter = ("component", "kind", "is_active")
    search_fields = ("name", "acronym")
    open_fields = ("name", "acronym", "component", "kind", "parent", "country", "description", "contact_email",
                   "contact_phone", "website", "is_active", "version", "created_at", "updated_at")
    autocomplete_fields = ("parent",)
    fields = ("name", "acronym", "component", "kind", "parent", "country", "description", "contact_email",
              "contact_phone", "website", "security_focal_point", "is_active", "expected_version")
    delete_refusal = gettext_lazy("Organisations are not deleted: records refer to them and the ledger keeps "
                                  "their history. Untick 'active' instead.")

    def _focal_point_hidden(self, request: HttpRequest, obj: Organisation | None) -> bool:
        """Is the organisation's security focal point a person the reader may not know exists?"""
        if obj is None or obj.security_focal_point_id is None:
            return False
        return not queries.visible_records(actor_of(request), Person, pk=obj.security_focal_point_id).exists()

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:  # type: ignore[override]
        """A focal point the reader may not see is shown as withheld and kept as it is (a choice
        among the people the reader sees would otherwise drop it on save)."""
        fields = [str(name) for name in super().get_fields(request, obj)]
        if self._focal_point_hidden(request, obj):
            fields[fields.index("security_focal_point")] = "focal_point_withheld"
        return fields

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:  # type: ignore[override]
        readonly = list(super().get_readonly_fields(request, obj))
        return [*readonly, "focal_point_withheld"] if self._focal_point_hidden(request, obj) else readonly

    @admin.display(description=gettext_lazy("security focal point"))
    def focal_point_withheld(self, obj: Organisation) -> str:
        return str(WITHHELD_TEXT)

    def save_via_service(self, request: HttpRequest, obj: Organisation, form: Any, change: bool) -> None:
        services.save_organisation(actor_of(request), obj, expected_version=form.cleaned_data.get("expected_version"))


class MembershipForm(ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Membership
        fields = ("person", "organisation", "role", "position", "starts_on", "ends_on")


@admin.register(Membership)
class MembershipAdmin(ServiceAdmin):
    form = MembershipForm
    list_display = ("person_shown", "organisation", "role", "status", "starts_on", "ends_on")
    list_filter = ("status", "role")
    #: The person's name and the organisation's are searched through the policy (see below).
    search_fields = ("position",)
    open_fields = ("organisation", "role", "position", "starts_on", "ends_on", "status", "created_at")
    ordering = ("-starts_on", "-created_at")
    autocomplete_fields = ("person", "organisation")
    actions = ("approve", "refuse", "end_today")
    delete_refusal = gettext_lazy("Memberships are not deleted: end them (set the date they end) so the "
                                  "ledger and past records keep who acted for whom.")

    def get_queryset(self, request: HttpRequest) -> Any:
        people = queries.visible_records(actor_of(request), Person).values("pk")
        return super().get_queryset(request).filter(person__in=people).select_related("person", "organisation")

    people_columns = ("person_id",)

    @admin.display(description=gettext_lazy("person"))
    def person_shown(self, obj: Membership) -> str:
        return shown_person(obj, obj.person_id)

    def search_beyond_own_fields(self, request: HttpRequest, term: str) -> Q | None:
        """A membership by its person's name (among the people the reader may see; a name is on every
        view of a person) or by its organisation's name or acronym (reference data)."""
        people = queries.visible_records(actor_of(request), Person).filter(
            Q(full_name__icontains=term) | Q(title__icontains=term)).values("pk")
        organisations = Organisation.objects.filter(Q(name__icontains=term) | Q(acronym__icontains=term)).values("pk")
        return Q(person__in=people) | Q(organisation__in=organisations)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:  # type: ignore[override]
        fields = ["person", "organisation", "role", "position", "starts_on", "ends_on"]
        return fields if obj is None else [*fields, "status"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:  # type: ignore[override]
        # A membership changes only by ending it (or by a decision on a pending one, see the actions).
        return [] if obj is None else ["person", "organisation", "role", "position", "starts_on", "status"]

    def save_via_service(self, request: HttpRequest, obj: Membership, form: Any, change: bool) -> None:
        actor = actor_of(request)
        data = form.cleaned_data
        if not change:
            created = services.add_membership(
                actor, person=data["person"], organisation=data["organisation"], role=data["role"],
                position=data.get("position") or "", starts_on=data.get("starts_on"), ends_on=data.get("ends_on"))
            obj.pk, obj.status = created.pk, created.status
            obj._state.adding = False
            if created.status == MembershipStatus.PENDING:
                messages.warning(request, _("This membership waits for a second administrator's approval (it is "
                                            "a privileged role, or your own): see 'Waiting for approval'."))
            return
        if "ends_on" in form.changed_data:
            if data.get("ends_on") is None:
                raise Invalid(_("A membership that has an end date cannot be reopened; add a new membership."),
                              errors={"ends_on": [_("Give the date the membership ends.")]})
            services.end_membership(actor, obj, on=data["ends_on"])

    def _decide(self, request: HttpRequest, queryset: Iterable[Membership], approve: bool) -> None:
        done = 0
        for membership in queryset:
            try:
                services.decide_membership(actor_of(request), membership, approve=approve)
            except ServiceError as exc:
                messages.error(request, f"{membership}: {exc.message}")
            else:
                done += 1
        if done:
            messages.success(request, (_("%(n)s membership(s) approved.") if approve
                                       else _("%(n)s membership(s) refused.")) % {"n": done})

    @admin.action(description=gettext_lazy("Approve the selected pending memberships (second administrator)"))
    def approve(self, request: HttpRequest, queryset: Any) -> None:
        self._decide(request, queryset, approve=True)

    @admin.action(description=gettext_lazy("Refuse the selected pending memberships"))
    def refuse(self, request: HttpRequest, queryset: Any) -> None:
        self._decide(request, queryset, approve=False)

    @admin.action(description=gettext_lazy("End the selected memberships today"))
    def end_today(self, request: HttpRequest, queryset: Any) -> None:
        for membership in queryset:
            try:
                services.end_membership(actor_of(request), membership)
            except ServiceError as exc:
                messages.error(request, f"{membership}: {exc.message}")


class MissionSettingsForm(VersionedForm):
    class Meta:
        model = MissionSettings
        fields = services.SETTINGS_FIELDS


@admin.register(MissionSettings)
class MissionSettingsAdmin(ServiceAdmin):
    form = MissionSettingsForm
    list_display = ("mission_name", "mission_acronym", "time_zone", "projection", "version")
    fields = (*services.SETTINGS_FIELDS, "expected_version")
    open_fields = (*services.SETTINGS_FIELDS, "version")
    delete_refusal = gettext_lazy("Mission settings are not deleted; change them instead.")

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False  # one record per space, made on first use

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).filter(space_id=actor_of(request).space_id)

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        if is_admin_request(request):
            services.mission_settings(actor_of(request).space_id)
        return super().changelist_view(request, extra_context)

    def save_via_service(self, request: HttpRequest, obj: MissionSettings, form: Any, change: bool) -> None:
        changes = {name: form.cleaned_data[name] for name in services.SETTINGS_FIELDS if name in form.cleaned_data}
        services.update_mission_settings(actor_of(request), obj.space, changes,
                                         expected_version=form.cleaned_data.get("expected_version"))


class InvitationForm(ModelForm):  # type: ignore[type-arg]
    """A new account for a person who has none yet: the person sets their own password from an
    invitation sent to the e-mail address on their record."""

    person = forms.ModelChoiceField(queryset=Person.objects.none(), label=gettext_lazy("Person"),
                                    help_text=gettext_lazy("The invitation goes to the e-mail address on this "
                                                           "person's record."))

    class Meta:
        model = User
        fields = ("username",)


@admin.register(User)
class AccountAdmin(ServiceAdmin):
    """Accounts are created here by invitation (for an existing person) and otherwise only listed.

    An administrator never chooses, sees or resets a password: the action "Send a link to set a
    new password" mails one to the account's own address. A new address is asked for on the
    account's e-mail page and waits for a second administrator.
    """

    list_display = ("username", "email_shown", "person_name", "is_active", "last_login")
    list_filter = ("is_active",)
    #: An address is searched only where the reader may see it (see ``search_beyond_own_fields``).
    search_fields = ("username",)
    open_fields = ("username", "is_active", "last_login", "date_joined")
    ordering = ("username",)
    actions = ("send_password_link",)
    delete_refusal = gettext_lazy("Accounts are not deleted: the ledger refers to them.")

    @admin.display(description=gettext_lazy("Person"))
    def person_name(self, obj: User) -> str:
        return getattr(obj, _ACCOUNT_PERSON_ATTR, str(WITHHELD_TEXT))

    @admin.display(description=gettext_lazy("e-mail address"))
    def email_shown(self, obj: User) -> str:
        if not getattr(obj, _ACCOUNT_EMAIL_ATTR, False):
            return str(WITHHELD_TEXT)
        return obj.email or EMPTY

    def _as_seen(self, request: HttpRequest, users: list[User]) -> None:
        """Each account's person and address as the reader's view of that person shows them: the
        address is a person's contact detail, withheld unless the view shows ``email``."""
        actor = actor_of(request)
        ids = [u.pk for u in users]
        with_person = set(User.objects.filter(pk__in=ids, person__isnull=False).values_list("pk", flat=True))
        shown = {s.record.user_id: s for s in access.show_all(
            actor, queries.visible_records(actor, Person, user__in=ids))}
        for user in users:
            person = shown.get(user.pk)
            if user.pk not in with_person:
                setattr(user, _ACCOUNT_PERSON_ATTR, EMPTY)
                setattr(user, _ACCOUNT_EMAIL_ATTR, True)
                continue
            named = person is not None and person.view.shows("full_name") and person.view.shows("title")
            setattr(user, _ACCOUNT_PERSON_ATTR, str(person.record) if person is not None and named
                    else str(WITHHELD_TEXT))
            setattr(user, _ACCOUNT_EMAIL_ATTR, person is not None and person.view.shows("email"))

    def get_changelist_instance(self, request: HttpRequest) -> ChangeList:
        changelist = super().get_changelist_instance(request)
        self._as_seen(request, list(changelist.result_list))
        return changelist

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Any:
        obj = super().get_object(request, object_id, from_field)
        if obj is not None:
            self._as_seen(request, [obj])
            if not getattr(obj, _ACCOUNT_EMAIL_ATTR):
                # The page shows the model's field: it reads what the reader may see (no admin page saves
                # an account: has_change_permission is false).
                obj.email = str(WITHHELD_TEXT)
        return obj

    def search_beyond_own_fields(self, request: HttpRequest, term: str) -> Q | None:
        """Accounts by e-mail address, only where the reader may see the address: accounts of a person
        whose view shows it, and accounts of no person."""
        actor = actor_of(request)
        matching = User.objects.filter(email__icontains=term).values("pk")
        people = queries.visible_records(actor, Person, user__in=matching)
        shown = [s.record.user_id for s in access.show_all(actor, people) if s.view.shows("email")]
        return Q(pk__in=shown) | Q(email__icontains=term, person__isnull=True)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> Any:
        # Accounts of people the reader may know exist, and accounts with no person at all.
        people = queries.visible_records(actor_of(request), Person, user__isnull=False).values("user_id")
        return super().get_queryset(request).filter(Q(pk__in=people) | Q(person__isnull=True))

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is not None:
            return super().get_form(request, obj, change, **kwargs)
        kwargs["form"] = InvitationForm
        form_class = super().get_form(request, obj, change, **kwargs)
        people = queries.people(actor_of(request), with_account=False)

        class NewAccountForm(form_class):  # type: ignore[valid-type,misc]
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                self.fields["person"].queryset = people

        return NewAccountForm

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:  # type: ignore[override]
        if obj is None:
            return ["person", "username"]
        return ["username", "email", "first_name", "last_name", "person_name", "is_active", "last_login",
                "date_joined"]

    def save_via_service(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        data = form.cleaned_data
        user = approvals.invite_account(actor_of(request), username=data["username"], person=data["person"],
                                        site_url=request.build_absolute_uri("/"))
        obj.pk = user.pk
        obj._state.adding = False
        messages.info(request, _("An invitation to set a password was sent to the address on the person's record."))

    @admin.action(description=gettext_lazy("Send a link to set a new password (to the account's own address)"))
    def send_password_link(self, request: HttpRequest, queryset: Any) -> None:
        sent = 0
        for user in queryset:
            try:
                approvals.send_password_link(actor_of(request), user, site_url=request.build_absolute_uri("/"))
            except ServiceError as exc:
                messages.error(request, f"{user.username}: {exc.message}")
            else:
                sent += 1
        if sent:
            messages.success(request, _("%(n)s link(s) sent.") % {"n": sent})


# ---------------------------------------------------------------------------------------------
# Ledger, releases and grants: listings only


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
            valid_ids = [i for i in ids if _is_uuid(i)]
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


def _is_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


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


__all__ = ["CivmilAdminSite", "PolicyAdmin", "ProtectedAdmin", "ServiceAdmin", "VersionedForm", "display_value"]

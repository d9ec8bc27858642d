"""Accounts in the admin: created by invitation, otherwise listed; never a password."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.db.models import Q
from django.forms.models import ModelForm
from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from civmil.core import access, approvals, queries
from civmil.core.acting import actor_of
from civmil.core.admin.base import EMPTY, WITHHELD_TEXT, ServiceAdmin
from civmil.core.errors import ServiceError
from civmil.core.models import Person, User

_ACCOUNT_PERSON_ATTR = "_civmil_person_label"
_ACCOUNT_EMAIL_ATTR = "_civmil_email"


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

"""The identity kernel: accounts, organisations, people and their memberships."""

from __future__ import annotations

import datetime as dt
import uuid

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from civmil.core.choices import Component, Level, MembershipStatus, OrganisationKind, Role
from civmil.core.models.records import ProtectedRecord


class User(AbstractUser):
    """A sign-in account. The person behind it is :class:`Person` (``user.person``)."""

    #: The interface language the person chose; it follows them from one device to the next.
    language = models.CharField(_("language"), max_length=8, blank=True)

    class Meta:
        verbose_name = _("account")
        verbose_name_plural = _("accounts")


class Organisation(models.Model):
    """An organisation present in the mission area. Reference data: every signed-in user sees it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(_("name"), max_length=200, unique=True)
    acronym = models.CharField(_("acronym"), max_length=32, blank=True)
    component = models.CharField(_("component"), max_length=16, choices=Component.choices)
    kind = models.CharField(_("kind"), max_length=32, choices=OrganisationKind.choices)
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children",
        verbose_name=_("parent organisation"),
    )
    country = models.CharField(_("country (ISO 3166 alpha-2)"), max_length=2, blank=True)
    description = models.TextField(_("mandate and description"), blank=True)
    contact_email = models.EmailField(_("contact e-mail"), blank=True)
    contact_phone = models.CharField(_("contact phone"), max_length=64, blank=True)
    website = models.URLField(_("website"), blank=True)
    security_focal_point = models.ForeignKey(
        "core.Person", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("security focal point"),
    )
    is_active = models.BooleanField(_("active"), default=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")

    def __str__(self) -> str:
        # A name that already ends with its acronym ("Force CIMIC Branch (U9)") is not given it twice.
        if not self.acronym or str(self.name).endswith(f"({self.acronym})"):
            return str(self.name)
        return f"{self.name} ({self.acronym})"

    @property
    def label(self) -> str:
        return str(self.acronym or self.name)

    def ancestors(self) -> list[Organisation]:
        chain: list[Organisation] = []
        node = self.parent
        seen = {self.pk}
        while node is not None and node.pk not in seen:
            chain.append(node)
            seen.add(node.pk)
            node = node.parent
        return chain


class Person(ProtectedRecord):
    """A person, with or without an account.

    The record's ``level`` is the releasability of the *contact details*: readers who may not
    see that level get the reduced face (name, positions, organisations) without them.
    """

    user = models.OneToOneField(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="person",
        verbose_name=_("account"),
    )
    full_name = models.CharField(_("full name"), max_length=200)
    title = models.CharField(_("title or rank"), max_length=64, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    phone = models.CharField(_("phone"), max_length=64, blank=True)
    radio_call_sign = models.CharField(_("radio call sign"), max_length=64, blank=True)
    messaging = models.CharField(_("messaging handle"), max_length=128, blank=True)
    languages = models.CharField(_("languages spoken"), max_length=200, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    CONTACT_FIELDS = ("email", "phone", "radio_call_sign", "messaging")

    class Meta:
        ordering = ["full_name"]
        verbose_name = _("person")
        verbose_name_plural = _("people")

    def __str__(self) -> str:
        return f"{self.title} {self.full_name}".strip()

    def active_memberships(self) -> models.QuerySet[Membership]:
        return Membership.objects.current().filter(person=self)


class MembershipQuerySet(models.QuerySet["Membership"]):
    def current(self, on: dt.date | None = None) -> MembershipQuerySet:
        day = on or timezone.localdate()
        return self.filter(status=MembershipStatus.ACTIVE, starts_on__lte=day).filter(
            models.Q(ends_on__isnull=True) | models.Q(ends_on__gte=day)
        )


class Membership(models.Model):
    """A person's position and role in an organisation, for a period."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="memberships",
                               verbose_name=_("person"))
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="memberships",
                                     verbose_name=_("organisation"))
    role = models.CharField(_("role"), max_length=32, choices=Role.choices)
    position = models.CharField(_("position"), max_length=200, blank=True)
    starts_on = models.DateField(_("starts on"), default=timezone.localdate)
    ends_on = models.DateField(_("ends on"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=MembershipStatus.choices,
                              default=MembershipStatus.ACTIVE)
    requested_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    approved_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        ordering = ["person__full_name", "organisation__name"]
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_on__isnull=True) | models.Q(ends_on__gte=models.F("starts_on")),
                name="membership_period_ordered",
            )
        ]

    def __str__(self) -> str:
        return f"{self.person.full_name} — {self.get_role_display()}, {self.organisation.label}"

    @property
    def component(self) -> str:
        return str(self.organisation.component)

    def is_current(self, on: dt.date | None = None) -> bool:
        day = on or timezone.localdate()
        return (
            self.status == MembershipStatus.ACTIVE
            and self.starts_on <= day
            and (self.ends_on is None or self.ends_on >= day)
        )


PERSON_CONTACT_LEVELS = (Level.PUBLIC, Level.MISSION, Level.HUMANITARIAN, Level.MILITARY, Level.RESTRICTED)

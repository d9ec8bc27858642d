"""No single administrator widens a view (DESIGN.md, "Releasability").

What an administrator could use to read more than their own membership allows waits for a
second administrator, in one list (:func:`waiting`):

* a membership an administrator adds for themselves, in any role, and any membership of a
  privileged role (a status of the membership itself, see :func:`civmil.core.services.add_membership`);
* a change of an account's e-mail address (:class:`~civmil.core.models.EmailChangeRequest`),
  because the address is where invitations and password links go.

Accounts are created by invitation (:func:`invite_account`): the account takes the e-mail
address on the person's record, and the person receives a one-time link there to set their own
password. An administrator never chooses, sees or resets a password; a reset is a link sent to
the account's own address (:func:`send_password_link`). Every act, approval and refusal is
written to the ledger.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from allauth.account.forms import default_token_generator
from allauth.account.utils import user_pk_to_url_str
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Count, Q
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from civmil.core import access, events, home, ledger
from civmil.core.choices import MembershipStatus, Role
from civmil.core.errors import Forbidden, Invalid, NotFound
from civmil.core.mail import queue_mail
from civmil.core.models import EmailChangeRequest, LedgerEntry, Membership, Person, User

if TYPE_CHECKING:
    from civmil.core.acting import Actor

logger = logging.getLogger(__name__)

ACCOUNT = "core.user"


def _require_admin(actor: Actor) -> None:
    if actor is None or actor.user_id is None or actor.role != Role.ADMINISTRATOR:
        raise Forbidden(_("Only a signed-in administrator may do this."))


def _username_taken(username: str) -> bool:
    return User.objects.filter(username__iexact=username).exists()


def _language_of(user: User) -> str:
    chosen = str(user.language or "")
    return chosen if chosen in dict(settings.LANGUAGES) else str(settings.LANGUAGE_CODE)


def password_link(user: User, site_url: str = "") -> str:
    """A one-time link to set the account's password: it works once (it is bound to the current
    password and last sign-in), expires after ``PASSWORD_RESET_TIMEOUT`` and names this account."""
    path = reverse("account_reset_password_from_key", kwargs={
        "uidb36": user_pk_to_url_str(user), "key": default_token_generator.make_token(user)})
    base = (site_url or str(getattr(settings, "CIVMIL_SITE_URL", ""))).rstrip("/")
    return base + path


def _mail_link(user: User, *, invitation: bool, site_url: str) -> None:
    """Send the link to the account's own address (after commit; a failed send is logged, the act stays)."""
    link = password_link(user, site_url)
    days = max(1, int(settings.PASSWORD_RESET_TIMEOUT) // 86400)
    with translation.override(_language_of(user)):
        if invitation:
            subject = _("civmil: your account")
            body = _("An account was made for you on civmil, with the user name %(username)s.\n\n"
                     "Set your password with this link (it works once, within %(days)s days):\n%(link)s\n\n"
                     "If you did not expect this, tell your mission's administrators.")
        else:
            subject = _("civmil: set a new password")
            body = _("An administrator sent you a link to set a new password for your civmil account "
                     "%(username)s.\n\nSet it with this link (it works once, within %(days)s days):\n%(link)s\n\n"
                     "If you did not ask for this, tell your mission's administrators.")
        body = body % {"username": user.username, "days": days, "link": link}
    try:
        queue_mail(subject, body, [user.email])
    except Exception:  # the account stays; the administrator can send the link again
        logger.warning("account link for user %s could not be sent", user.pk, exc_info=True)


def _last_record_editor(person: Person) -> int | None:
    entry = (LedgerEntry.objects.filter(object_type="core.person", object_id=str(person.pk),
                                        action__in=("person.created", "person.updated"))
             .order_by("-seq").values_list("actor_user_id", flat=True).first())
    return entry


def invite_account(actor: Actor, *, username: str, person: Person, site_url: str = "") -> User:
    """Make an account for ``person`` and send them a one-time link to set their password.

    The account's address is the one on the person's record, which the administrator must be
    able to see. An administrator who last changed that record may not send the invitation
    (they could have put their own address there): a second administrator does.
    """
    _require_admin(actor)
    username = (username or "").strip()
    if not username:
        raise Invalid(_("Give a user name."), errors={"username": [_("Give a user name.")]})
    view = access.view_for(actor, person)
    if not view:
        raise NotFound(_("No such record."))
    if view.kind != access.ViewKind.FULL:
        raise Forbidden(_("You may not see this person's contact details, so you may not invite them."),
                        errors={"person": [_("Choose a person whose contact details you may see.")]})
    if not person.email:
        message = _("This person's record has no e-mail address: add one to the record first.")
        raise Invalid(message, errors={"person": [message]})
    if _last_record_editor(person) == actor.user_id:
        message = _("You last changed this person's record, so a second administrator must send the invitation.")
        raise Forbidden(message, errors={"person": [message]})
    with transaction.atomic():
        current = Person.objects.select_for_update().get(pk=person.pk)
        if current.user_id is not None:
            message = _("This person already has an account.")
            raise Invalid(message, errors={"person": [message]})
        if _username_taken(username):
            raise Invalid(_("That username is taken."), errors={"username": [_("That username is taken.")]})
        user = User(username=username, email=current.email)
        user.set_unusable_password()
        user.save()
        Person.objects.filter(pk=current.pk).update(user=user)
        person.user = user
        ledger.append(actor, "account.invited", ACCOUNT, user.pk, {"username": username, "person": current.pk})
        transaction.on_commit(lambda: _mail_link(user, invitation=True, site_url=site_url))
    return user


def _require_address_seen(actor: Actor, user: User) -> None:
    """The reader must see the account's address (their view of its person shows the e-mail), or
    every answer about it would be an oracle on a withheld address. One refusal, whatever the address."""
    person = Person.objects.filter(user_id=user.pk).first()
    if person is not None and not access.view_for(actor, person).shows("email"):
        raise Forbidden(_("You may not see this person's contact details, so you may not act on their address."))


def send_password_link(actor: Actor, user: User, site_url: str = "") -> None:
    """Send ``user`` a link to set a new password, at the account's own address (ledgered)."""
    _require_admin(actor)
    _require_address_seen(actor, user)
    if not user.email:
        raise Invalid(_("This account has no e-mail address to send the link to."))
    if not user.is_active:
        raise Invalid(_("This account is deactivated; reactivate it first."))
    with transaction.atomic():
        ledger.append(actor, "account.password_link_sent", ACCOUNT, user.pk, {"username": user.username})
        transaction.on_commit(lambda: _mail_link(user, invitation=False, site_url=site_url))


# ---------------------------------------------------------------------------------------------
# E-mail address changes


def request_email_change(actor: Actor, user: User, new_email: str) -> EmailChangeRequest:
    """Ask for a new address on ``user``; a second administrator applies it (:func:`decide_email_change`)."""
    _require_admin(actor)
    assert actor.user_id is not None  # checked by _require_admin
    _require_address_seen(actor, user)
    new_email = (new_email or "").strip()
    try:
        validate_email(new_email)
    except ValidationError:
        message = _("Enter a valid e-mail address.")
        raise Invalid(message, errors={"new_email": [message]}) from None
    if new_email.lower() == (user.email or "").lower():
        message = _("The account already has this address.")
        raise Invalid(message, errors={"new_email": [message]})
    with transaction.atomic():
        if EmailChangeRequest.objects.select_for_update().filter(user=user, decided_at__isnull=True).exists():
            raise Invalid(_("A change of this account's address is already waiting for approval."))
        request = EmailChangeRequest.objects.create(
            user=user, new_email=new_email, requested_by_id=actor.user_id, requested_at=timezone.now())
        ledger.append(actor, "account.email_change_requested", ACCOUNT, user.pk, {"request": request.pk})
    return request


def decide_email_change(actor: Actor, request: EmailChangeRequest, *, approve: bool) -> EmailChangeRequest:
    """A second administrator applies (or refuses) a requested address. Neither the requester nor the
    account's owner may decide."""
    _require_admin(actor)
    with transaction.atomic():
        req = EmailChangeRequest.objects.select_for_update().select_related("user").get(pk=request.pk)
        if not req.is_pending:
            raise Invalid(_("This change is not waiting for approval."))
        if req.requested_by_id == actor.user_id:
            raise Forbidden(_("A second administrator must approve: you asked for this change."))
        if req.user_id == actor.user_id:
            raise Forbidden(_("You cannot approve a change of your own account's address."))
        req.decided_by_id, req.decided_at, req.approved = actor.user_id, timezone.now(), approve
        req.save(update_fields=["decided_by", "decided_at", "approved"])
        if approve:
            User.objects.filter(pk=req.user_id).update(email=req.new_email)
            _sync_allauth_address(req.user, req.new_email)
        ledger.append(actor, "account.email_change_approved" if approve else "account.email_change_refused",
                      ACCOUNT, req.user_id, {"request": req.pk})
        if approve:
            events.actor_changed(req.user_id)
    return req


def _sync_allauth_address(user: User, address: str) -> None:
    """allauth keeps its own copy of addresses (used by sign-in by e-mail and password reset)."""
    from allauth.account.models import EmailAddress

    EmailAddress.objects.filter(user=user).delete()
    EmailAddress.objects.create(user=user, email=address, primary=True, verified=True)


# ---------------------------------------------------------------------------------------------
# The one list of what waits


@dataclass(frozen=True)
class Waiting:
    """One act waiting for a second administrator, as the reader may see it."""

    kind: str  # "membership" | "email"
    pk: Any
    summary: str
    asked_by: str
    asked_at: dt.datetime
    #: The reader may decide it (someone else asked, and it is not about the reader).
    decidable: bool


def _account_label(user_id: int | None, names: dict[int, str]) -> str:
    if user_id is None:
        return _("console")
    return names.get(user_id, _("withheld"))


def _visible_names(actor: Actor, user_ids: set[int]) -> dict[int, str]:
    """Names of the accounts' people, only those the reader may see."""
    people = access.visible(actor, Person.objects.filter(user_id__in=user_ids))
    return {p.user_id: str(p) for p in people if p.user_id is not None}


def waiting(actor: Actor) -> list[Waiting]:
    """Everything waiting for a second administrator that the reader may know of, oldest first.

    Only people the reader may see appear: a membership or account of a hidden person is not
    listed, and whoever asked is named only if the reader may see them.
    """
    _require_admin(actor)
    people = access.visible(actor, Person.objects.all())
    memberships = list(Membership.objects.filter(status=MembershipStatus.PENDING, person__in=people)
                       .select_related("person", "organisation").order_by("created_at"))
    visible_accounts = people.filter(user__isnull=False).values("user_id")
    changes = list(EmailChangeRequest.objects.filter(decided_at__isnull=True, user_id__in=visible_accounts)
                   .select_related("user").order_by("requested_at"))
    askers = {m.requested_by_id for m in memberships if m.requested_by_id} | {c.requested_by_id for c in changes}
    names = _visible_names(actor, askers | {c.user_id for c in changes})
    rows: list[Waiting] = []
    for m in memberships:
        rows.append(Waiting(
            kind="membership", pk=m.pk,
            summary=_("%(person)s as %(role)s, %(organisation)s") % {
                "person": m.person.full_name, "role": m.get_role_display(), "organisation": m.organisation.label},
            asked_by=_account_label(m.requested_by_id, names), asked_at=m.created_at,
            decidable=m.requested_by_id != actor.user_id and m.person.user_id != actor.user_id))
    for c in changes:
        shown_person = access.show(actor, c.user.person) if hasattr(c.user, "person") else None
        old = c.user.email if shown_person is not None and shown_person.view.shows("email") else _("withheld")
        rows.append(Waiting(
            kind="email", pk=c.pk,
            summary=_("New e-mail address for %(account)s: %(old)s → %(new)s") % {
                "account": names.get(c.user_id, c.user.username), "old": old, "new": c.new_email},
            asked_by=_account_label(c.requested_by_id, names), asked_at=c.requested_at,
            decidable=c.requested_by_id != actor.user_id and c.user_id != actor.user_id))
    rows.sort(key=lambda w: w.asked_at)
    return rows


@dataclass(frozen=True)
class PossibleDuplicate:
    """People who may be one person: the same e-mail address, or the same name in one organisation."""

    reason: str
    people: tuple[Person, ...]


def possible_duplicates(actor: Actor) -> list[PossibleDuplicate]:
    """Groups of people the reader may fully see who share an e-mail address, or a name and an
    organisation (an import of a person the importer could not see creates such a pair; the
    importer is never told, an administrator who sees both is).

    A read only: nothing is written when the duplicate is made, so nothing betrays it to the
    importer. A group is listed only when the reader sees the shared detail of at least two of it.
    """
    _require_admin(actor)
    space_people = Person.objects.filter(space_id=actor.space_id)
    shared_emails = (space_people.exclude(email="").annotate(address=Lower("email")).values("address")
                     .annotate(n=Count("pk")).filter(n__gt=1).values("address"))
    shared_names = (space_people.annotate(name=Lower("full_name")).values("name", "owner_id")
                    .annotate(n=Count("pk")).filter(n__gt=1))
    by_email = access.visible(actor, space_people.annotate(address=Lower("email")).filter(
        address__in=shared_emails)).select_related("owner").order_by("pk")
    groups: dict[tuple[str, str], list[Person]] = {}
    for shown in access.show_all(actor, by_email):
        if shown.view.shows("email"):
            groups.setdefault(("email", shown.record.email.casefold()), []).append(shown.record)
    name_q = Q(pk__in=[])
    for row in shared_names[:200]:
        name_q |= Q(full_name__iexact=row["name"], owner_id=row["owner_id"])
    for person in access.visible(actor, space_people.filter(name_q)).select_related("owner").order_by("pk"):
        groups.setdefault(("name", f"{person.full_name.casefold()}|{person.owner_id}"), []).append(person)
    found = []
    for (kind, _key), people in sorted(groups.items()):
        if len(people) > 1:
            reason = (_("Same e-mail address: %(address)s") % {"address": people[0].email} if kind == "email"
                      else _("Same name in %(organisation)s") % {"organisation": people[0].owner.label})
            found.append(PossibleDuplicate(reason=reason, people=tuple(people)))
    return found



def waiting_for_home(actor: Actor) -> list[home.WaitingItem]:
    """For the home page: the acts an administrator may decide as second administrator."""
    from django.utils.translation import ngettext

    if actor is None or actor.user_id is None or actor.role != Role.ADMINISTRATOR:
        return []
    n = sum(1 for w in waiting(actor) if w.decidable)
    text = ngettext("%(n)s change waits for a second administrator", "%(n)s changes wait for a second administrator",
                    n) % {"n": n}
    return [home.WaitingItem(text=text, url=reverse("core:approvals"), count=n)]

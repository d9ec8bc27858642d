"""Erasing a person's personal data on request (DESIGN.md, "Ledger": erasure with a second approver).

An administrator (or the operator at the console) asks; a second person holding a privileged role
approves, and the erasure is carried out at once, in one transaction:

* the person's personal fields are blanked (the record stays, named "Erased person <short id>");
* their account, if any, is deactivated and its personal fields blanked;
* every stored change of the ledger about the person or their account is erased through
  :func:`civmil.core.ledger.erase_change` (the chain still verifies), which runs the registered
  erasure hooks (search index, attachments...);
* the live events of the person and the account are deleted from the outbox.

Attachments: the files that are the person's personal data are those attached to the person's
own record or account; their uploads are changes about the person, so erasing those changes
erases the files (``civmil.comms.services.attachments.purge_erased``: the file is deleted after
commit, its row stays marked erased). Files the person attached to *other* records are those
records' evidence, like the text they wrote there, and stay; one that is itself someone's personal
data is erased on its own, by erasing its ``attachment.added`` change (docs/user/erasure.md).

The ledger records the request, the approval or refusal, with ids and the reason only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from civmil.core import access, events, ledger
from civmil.core.accounts import services as accounts_services
from civmil.core.acting import Actor, actor_for_user
from civmil.core.choices import PRIVILEGED_ROLES, Role
from civmil.core.errors import Forbidden, Invalid, NotFound, required_reason
from civmil.core.models import ErasureRequest, LedgerChange, Membership, OutboxEvent, Person, User

if TYPE_CHECKING:
    from civmil.core.ledger import Erasure

PERSONAL_FIELDS = ("email", "phone", "radio_call_sign", "messaging", "languages", "title")
PERSON_TYPE = "core.person"
USER_TYPE = "core.user"
REQUEST_TYPE = "core.erasurerequest"


def _is_administrator(actor: Actor | None) -> bool:
    return actor is None or actor.role == Role.ADMINISTRATOR  # None: the operator at the console


def _clean_reason(reason: str) -> str:
    return required_reason(reason, _("Say why the personal data are erased."))


def erased_name(person: Person) -> str:
    return _("Erased person %(id)s") % {"id": str(person.pk)[:8]}


def is_erased(person: Person) -> bool:
    return ErasureRequest.objects.filter(person=person, carried_out_at__isnull=False).exists()


# ---------------------------------------------------------------------------------------------
# Reads: every person comes through the policy. A request about a person the reader may not see
# is missing to them, and the accounts that asked or approved are named as the reader's view of
# their person shows them.


def _may_see(actor: Actor | None, person_id: Any) -> bool:
    """May ``actor`` know that the person exists? (``None``, the operator at the console, may.)"""
    return actor is None or access.visible(actor, Person.objects.filter(pk=person_id)).exists()


@dataclass(frozen=True)
class RequestRow:
    """An erasure request as one reader sees it."""

    request: ErasureRequest
    person: access.Shown[Person]
    #: Who asked and who approved: a name, "console", "withheld" or "" (nobody yet).
    requested_by: str
    approved_by: str


def account_names(actor: Actor, user_ids: set[Any]) -> dict[Any, str]:
    """Accounts by id, named as ``actor``'s view of their person shows the name; an account whose
    person the reader may not see is "withheld", one without a person its username."""
    if not user_ids:
        return {}
    names: dict[Any, str] = {pk: name for pk, name in User.objects.filter(pk__in=user_ids, person__isnull=True)
                             .values_list("pk", "username")}
    people = Person.objects.filter(user_id__in=user_ids)
    names.update({pk: _("withheld") for pk in people.values_list("user_id", flat=True)})
    for shown in access.show_all(actor, access.visible(actor, people)):
        if shown.full_name:
            names[shown.record.user_id] = str(shown.full_name)
    return names


def requests_for(actor: Actor, limit: int = 200) -> list[RequestRow]:
    """The newest erasure requests about people ``actor`` may see (the others do not exist to them)."""
    visible = access.visible(actor, Person.objects.all()).values("pk")
    found = list(ErasureRequest.objects.filter(person__in=visible).select_related("person")[:limit])
    names = account_names(actor, {pk for r in found for pk in (r.requested_by_id, r.approved_by_id) if pk})
    shown = {s.record.pk: s for s in access.show_all(actor, [r.person for r in found])}

    def who(user_id: Any, *, console: bool) -> str:
        if user_id is None:
            return _("console") if console else ""
        return names.get(user_id, _("withheld"))

    return [RequestRow(r, shown[r.person_id], who(r.requested_by_id, console=True),
                       who(r.approved_by_id, console=False)) for r in found]


def request_for(actor: Actor, pk: Any) -> ErasureRequest:
    """One erasure request; :class:`NotFound` alike for a missing one and one about a hidden person."""
    try:
        found = ErasureRequest.objects.select_related("person").filter(pk=pk).first()
    except (TypeError, ValueError, ValidationError):
        found = None
    if found is None or not _may_see(actor, found.person_id):
        raise NotFound(_("No such erasure request."))
    return found


# ---------------------------------------------------------------------------------------------
# Writes


def request_erasure(actor: Actor | None, person: Person, reason: str) -> ErasureRequest:
    """Ask for the erasure of ``person``'s personal data. Administrators only; a second person approves."""
    if not _is_administrator(actor):
        raise Forbidden(_("Only administrators may request an erasure of personal data."))
    reason = _clean_reason(reason)
    with transaction.atomic():
        locked = Person.objects.select_for_update().filter(pk=person.pk).first()
        if locked is None or not _may_see(actor, locked.pk):
            raise NotFound(_("No such person."))
        if is_erased(locked):
            raise Invalid(_("This person's personal data were already erased."))
        if ErasureRequest.objects.filter(person=locked, approved_at__isnull=True, refused_at__isnull=True).exists():
            raise Invalid(_("An erasure of this person's personal data is already waiting for approval."))
        request = ErasureRequest.objects.create(
            person=locked, reason=reason, requested_at=timezone.now(),
            requested_by_id=actor.user_id if actor is not None else None,
        )
        ledger.append(actor, "erasure.requested", REQUEST_TYPE, request.pk,
                      {"person": locked.pk, "reason": reason})
    return request


def _check_approver(approver: Actor, request: ErasureRequest) -> None:
    if not approver.is_authenticated or approver.role not in PRIVILEGED_ROLES:
        raise Forbidden(_("An erasure must be approved by an administrator, mission leadership or oversight."))
    if request.requested_by_id is not None and approver.user_id == request.requested_by_id:
        raise Forbidden(_("A second person must approve an erasure: you cannot approve your own request."))


def _requester(request: ErasureRequest) -> Actor | None:
    """The requester as an administrator (``None`` for a request made at the console)."""
    if request.requested_by_id is None:
        return None
    admin = Membership.objects.current().filter(person__user_id=request.requested_by_id,
                                                role=Role.ADMINISTRATOR).first()
    if admin is None:
        raise Forbidden(_("The person who asked for this erasure is no longer an administrator; "
                          "refuse it and make a new request."))
    return actor_for_user(admin.person.user, admin.pk)


def _locked_pending(request: ErasureRequest, actor: Actor | None) -> ErasureRequest:
    locked = ErasureRequest.objects.select_for_update().filter(pk=request.pk).first()
    if locked is None or not _may_see(actor, locked.person_id):
        raise NotFound(_("No such erasure request."))
    if locked.approved_at is not None:
        raise Invalid(_("This erasure was already approved and carried out."))
    if locked.refused_at is not None:
        raise Invalid(_("This erasure request was refused."))
    return locked


def purge_outbox(erasure: Erasure) -> None:
    """Erasure hook: delete the live events of the object whose stored change was erased."""
    entry = erasure.entry
    if entry.object_type and entry.object_id:
        OutboxEvent.objects.filter(object_type=str(entry.object_type), object_id=str(entry.object_id)).delete()
        transaction.on_commit(events.forget_batches)  # no connection keeps a purged event in memory


def approve_erasure(actor: Actor, request: ErasureRequest) -> ErasureRequest:
    """Approve ``request`` and carry out the erasure at once (see the module's docstring).

    ``actor`` must hold a privileged role and must not be the requester.
    """
    _check_approver(actor, request)
    with transaction.atomic():
        locked = _locked_pending(request, actor)
        requester = _requester(locked)
        person = Person.objects.select_for_update().get(pk=locked.person_id)
        user = User.objects.filter(pk=person.user_id).first() if person.user_id else None
        if user is not None:
            if requester is not None and requester.user_id == user.pk:
                raise Forbidden(_("An administrator cannot have their own personal data erased this way; "
                                  "ask another administrator to request it."))
            if user.is_active:
                accounts_services.deactivate_account(requester, user, locked.reason)
            else:
                Session.objects.filter(
                    session_key__in=[s.session_key for s in accounts_services.sessions_of(user.pk)]).delete()
            user.refresh_from_db()
            user.username = f"erased-{str(person.pk)[:8]}-{user.pk}"
            user.email = ""
            user.first_name = ""
            user.last_name = ""
            user.is_active = False
            user.set_unusable_password()
            user.save(update_fields=["username", "email", "first_name", "last_name", "is_active", "password"])
        person.full_name = erased_name(person)
        for name in PERSONAL_FIELDS:
            setattr(person, name, "")
        person.version += 1
        person.save()
        objects = Q(entry__object_type=PERSON_TYPE, entry__object_id=str(person.pk))
        if user is not None:
            objects |= Q(entry__object_type=USER_TYPE, entry__object_id=str(user.pk))
        seqs = list(LedgerChange.objects.filter(objects, data__isnull=False, erased_by_seq__isnull=True)
                    .exclude(entry__action=ledger.ERASED_ACTION)
                    .order_by("entry_id").values_list("entry_id", flat=True))
        for seq in seqs:
            ledger.erase_change(requester, seq, locked.reason, actor)
        OutboxEvent.objects.filter(objects_outbox(person, user)).delete()
        now = timezone.now()
        locked.approved_by_id = actor.user_id
        locked.approved_at = now
        locked.carried_out_at = now
        locked.save(update_fields=["approved_by", "approved_at", "carried_out_at"])
        ledger.append(actor, "erasure.approved", REQUEST_TYPE, locked.pk, {
            "person": person.pk, "reason": locked.reason, "erased_entries": seqs,
            "account": user.pk if user is not None else None,
        })
    return locked


def objects_outbox(person: Person, user: User | None) -> Q:
    """The outbox rows of ``person`` and of their account."""
    query = Q(object_type=PERSON_TYPE, object_id=str(person.pk))
    if user is not None:
        query |= Q(object_type=USER_TYPE, object_id=str(user.pk))
    return query


def refuse_erasure(actor: Actor | None, request: ErasureRequest) -> ErasureRequest:
    """Refuse (or withdraw) a pending request: nothing is erased."""
    if actor is not None and actor.role not in PRIVILEGED_ROLES:
        raise Forbidden(_("Only administrators, mission leadership or oversight may refuse an erasure."))
    with transaction.atomic():
        locked = _locked_pending(request, actor)
        locked.refused_at = timezone.now()
        locked.save(update_fields=["refused_at"])
        ledger.append(actor, "erasure.refused", REQUEST_TYPE, locked.pk, {"person": locked.person_id})
    return locked

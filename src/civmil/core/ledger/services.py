"""Ledger services: signing checkpoints and erasing a stored change.

These are the only writes to the ledger tables besides :func:`civmil.core.ledger.append`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from civmil.core.choices import PRIVILEGED_ROLES, Role
from civmil.core.errors import Forbidden, Invalid, NotFound, ServiceError
from civmil.core.ledger import chain
from civmil.core.ledger.signing import sign
from civmil.core.ledger.tree import LedgerTree

if TYPE_CHECKING:
    from civmil.core.acting import Actor
    from civmil.core.models import Checkpoint, LedgerEntry

#: Action and object type of the entry an erasure writes; its object id is the erased entry's seq.
ERASED_ACTION = "ledger.erased"
ERASED_OBJECT_TYPE = "core.ledgerchange"
#: Default of ``settings.CIVMIL_LEDGER_CHECKPOINT_INTERVAL``: seconds between on-demand checkpoints.
DEFAULT_CHECKPOINT_INTERVAL = 10
_REASON_MAX = 500


class ReceiptPending(ServiceError):
    """No signed checkpoint covers the entry yet and the on-demand rate cap forbids signing one now."""

    status = 503

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            _("No signed checkpoint covers this entry yet. Try again in %(seconds)d seconds.")
            % {"seconds": retry_after},
            retry_after=retry_after,
        )
        self.retry_after = retry_after


def _now() -> dt.datetime:
    now = timezone.now()
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def checkpoint() -> Checkpoint:
    """Sign the current tree size and root with the platform key and store the checkpoint.

    Appends wait while it runs, so the size and root describe one state of the ledger.
    """
    from civmil.core.models import Checkpoint

    with transaction.atomic():
        chain._lock()
        tree = LedgerTree()
        size = tree.get_size()
        if size == 0:
            raise Invalid(_("The ledger is empty: there is nothing to sign yet."))
        root = tree.root_hex(size)
        signed_at = _now()
        public_key, signature = sign(size, root, signed_at)
        return Checkpoint.objects.create(tree_size=size, root=root, signed_at=signed_at,
                                         public_key=public_key, signature=signature)


def periodic_checkpoint() -> Checkpoint | None:
    """Sign a checkpoint if entries were appended since the latest one; else ``None``.

    Idempotent, for the periodic job of ``core.schedule``: running it twice signs once.
    """
    from civmil.core.models import Checkpoint, LedgerEntry

    with transaction.atomic():
        chain._lock()
        size = LedgerEntry.objects.count()
        latest = Checkpoint.objects.order_by("-tree_size", "-id").values_list("tree_size", flat=True).first()
        if size == 0 or (latest is not None and latest >= size):
            return None
        return checkpoint()


def checkpoint_interval() -> int:
    return int(getattr(settings, "CIVMIL_LEDGER_CHECKPOINT_INTERVAL", DEFAULT_CHECKPOINT_INTERVAL))


def checkpoint_covering(seq: int, *, sign_if_needed: bool = True) -> Checkpoint:
    """The latest checkpoint whose tree includes entry ``seq``, signed on demand if none does.

    On-demand signing is rate-capped: if any checkpoint was signed less than
    ``CIVMIL_LEDGER_CHECKPOINT_INTERVAL`` seconds ago, :class:`ReceiptPending` says when to retry.
    """
    from civmil.core.models import Checkpoint

    covering = Checkpoint.objects.filter(tree_size__gte=seq).order_by("-tree_size", "-id")
    found = covering.first()
    if found is not None:
        return found
    if not sign_if_needed:
        raise ReceiptPending(checkpoint_interval())
    with transaction.atomic():
        chain._lock()
        found = covering.first()  # another process may have signed one while we waited
        if found is not None:
            return found
        last = Checkpoint.objects.order_by("-signed_at", "-id").values_list("signed_at", flat=True).first()
        interval = checkpoint_interval()
        if last is not None:
            wait = interval - (timezone.now() - last).total_seconds()
            if wait > 0:
                raise ReceiptPending(max(1, int(wait + 0.999)))
        return checkpoint()


# ---------------------------------------------------------------------------------------------
# Erasure


@dataclass(frozen=True)
class Erasure:
    """What an erasure hook is told. ``data`` is the erased change, in memory only, so that hooks
    can find and purge its copies (outbox, search index, attachments)."""

    entry: LedgerEntry
    erasure: LedgerEntry
    data: Any


ErasureHook = Callable[[Erasure], None]
_erasure_hooks: list[ErasureHook] = []


def register_erasure_hook(hook: ErasureHook) -> ErasureHook:
    """Run ``hook`` inside every erasure's transaction, after the stored change is nulled.

    Apps that keep copies of a change (events outbox, search index, attachments) register here
    in ``AppConfig.ready``; a hook that raises aborts the erasure. Usable as a decorator.
    """
    if hook not in _erasure_hooks:
        _erasure_hooks.append(hook)
    return hook


def unregister_erasure_hook(hook: ErasureHook) -> None:
    if hook in _erasure_hooks:
        _erasure_hooks.remove(hook)


def _check_approver(actor: Actor | None, approved_by: Actor) -> None:
    if not approved_by.is_authenticated or approved_by.role not in PRIVILEGED_ROLES:
        raise Forbidden(_("An erasure must be approved by an administrator, mission leadership or oversight."),
                        errors={"approved_by": [_("Choose an approver who holds one of these roles.")]})
    if actor is not None and approved_by.user_id == actor.user_id:
        raise Forbidden(_("A second person must approve an erasure: you cannot approve your own."),
                        errors={"approved_by": [_("Choose someone else.")]})


def erase_change(actor: Actor | None, seq: int, reason: str, approved_by: Actor) -> LedgerEntry:
    """Erase the change stored with entry ``seq`` (e.g. an anonymous reporter's details).

    Administrators (or the operator at the console, ``actor=None``) erase, with the approval of a
    second person holding a privileged role. The stored change is nulled; its hash stays in the
    entry, so the chain and the tree still verify. A ``ledger.erased`` entry records who erased,
    why and who approved, never the erased content. Returns that entry.
    """
    from civmil.core.models import LedgerChange, LedgerEntry

    if actor is not None and actor.role != Role.ADMINISTRATOR:
        raise Forbidden(_("Only administrators may erase a stored change."))
    _check_approver(actor, approved_by)
    reason = (reason or "").strip()
    if not reason:
        raise Invalid(_("Say why the change is erased."), errors={"reason": [_("This field is required.")]})
    if len(reason) > _REASON_MAX:
        raise Invalid(_("The reason is too long (at most %(n)d characters).") % {"n": _REASON_MAX},
                      errors={"reason": [_("Shorten the reason.")]})
    with transaction.atomic():
        chain._lock()
        entry = LedgerEntry.objects.filter(seq=seq).first()
        change = LedgerChange.objects.filter(entry_id=seq).first()
        if entry is None or change is None:
            raise NotFound(_("No ledger entry #%(seq)s.") % {"seq": seq})
        if entry.action == ERASED_ACTION:
            raise Invalid(_("The record of an erasure cannot itself be erased."))
        if change.erased_by_seq is not None:
            raise Invalid(_("The change of entry #%(seq)s was already erased (by entry #%(by)s).")
                          % {"seq": seq, "by": change.erased_by_seq})
        if change.data is None:
            raise Invalid(_("Entry #%(seq)s stored no change: there is nothing to erase.") % {"seq": seq})
        erased = change.data
        record = chain.append(actor, ERASED_ACTION, ERASED_OBJECT_TYPE, seq, {
            "erased_seq": seq,
            "reason": reason,
            "approved_by_user": approved_by.user_id,
            "approved_by_membership": approved_by.membership_id,
            "approved_by_role": approved_by.role,
        }, space_id=entry.space_id)
        updated = LedgerChange.objects.filter(entry_id=seq, erased_by_seq__isnull=True).update(
            data=None, erased_by_seq=record.seq)
        if updated != 1:
            raise Invalid(_("The change of entry #%(seq)s was already erased.") % {"seq": seq})
        for hook in list(_erasure_hooks):
            hook(Erasure(entry=entry, erasure=record, data=erased))
    return record

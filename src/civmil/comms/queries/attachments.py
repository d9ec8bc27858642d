"""Reading attachments: only readers with the FULL view of the record see or download them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from civmil.comms.models import Attachment
from civmil.core import access, registry
from civmil.core.errors import NotFound

if TYPE_CHECKING:
    from civmil.core.acting import Actor


def _full(actor: Actor, record: Any) -> bool:
    """A signed-in reader with the record's FULL view (an anonymous visitor reads a PUBLIC record, not
    its attachments)."""
    return actor.is_authenticated and bool(access.view_for(actor, record).kind == access.ViewKind.FULL)


def attachments_of(actor: Actor, record: Any) -> list[Attachment]:
    """The attachments of ``record`` (empty unless ``actor`` reads the record in full)."""
    try:
        record_type = registry.get(type(record))
    except LookupError:
        return []
    if not record_type.attachments or not _full(actor, record):
        return []
    return list(Attachment.objects.filter(object_type=record_type.key, object_id=record.pk)
                .select_related("uploaded_by"))


def attachment_for_download(actor: Actor, pk: Any) -> tuple[Attachment, Any]:
    """An attachment and its record, for a reader with the record's FULL view; else :class:`NotFound`.

    A missing attachment, one of a hidden record and one of a record seen only in part answer alike.
    """
    try:
        attachment = Attachment.objects.filter(pk=pk, space_id=actor.space_id).first()
    except (ValueError, TypeError, ValidationError):  # a malformed id is a missing one
        attachment = None
    if attachment is None:
        raise NotFound(_("No such attachment."))
    try:
        model = registry.by_key(attachment.object_type).model
    except LookupError:
        raise NotFound(_("No such attachment.")) from None
    record = model._default_manager.filter(pk=attachment.object_id).first()
    if record is None or not _full(actor, record):
        raise NotFound(_("No such attachment."))
    return attachment, record

"""``{% attachments_panel record %}``: the attachments of a record, for the reader of the page.

Pages include ``comms/attachments/panel.html`` with ``record=<the record or its Shown view>``.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import NoReverseMatch, reverse

from civmil.comms.queries.attachments import attachments_of
from civmil.comms.services.attachments import KINDS, MAX_SIZE, may_delete
from civmil.core import access, registry

register = template.Library()

_ACCEPT = ",".join([*(k.media_type for k in KINDS.values()), *(e for k in KINDS.values() for e in k.extensions)])


@register.inclusion_tag("comms/attachments/_panel.html", takes_context=True)
def attachments_panel(context: template.Context, record: Any) -> dict[str, Any]:
    request = context.get("request")
    actor = getattr(request, "actor", None)
    if isinstance(record, access.Shown):
        record = record.record
    if request is None or actor is None or record is None or not actor.is_authenticated:
        return {"enabled": False}
    try:
        record_type = registry.get(type(record))
    except LookupError:
        return {"enabled": False}
    if not record_type.attachments or access.view_for(actor, record).kind != access.ViewKind.FULL:
        return {"enabled": False}
    try:
        upload_url = reverse("comms:attachment-upload", kwargs={"object_type": record_type.key,
                                                                "object_id": record.pk})
    except NoReverseMatch:  # attachments' URLs are not mounted in this deployment
        return {"enabled": False}
    items = attachments_of(actor, record)
    uploaders = {s.record.pk: s for s in access.show_all(actor, {a.uploaded_by for a in items})}
    rows = [{
        "attachment": a,
        "uploader": str(uploaders[a.uploaded_by_id].full_name) if a.uploaded_by_id in uploaders
        and uploaders[a.uploaded_by_id].view.shows("full_name") else "",
        "download_url": reverse("comms:attachment-download", kwargs={"pk": a.pk}),
        "delete_url": reverse("comms:attachment-delete", kwargs={"pk": a.pk}) if may_delete(actor, a, record) else "",
    } for a in items]
    return {
        "enabled": True, "rows": rows, "csrf_token": context.get("csrf_token"),
        "may_upload": actor.membership is not None,
        "upload_url": upload_url,
        "accept": _ACCEPT, "max_mb": MAX_SIZE // 1048576,
    }

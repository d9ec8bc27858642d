"""Attachment pages: upload (POST), download (access-checked, never from a media URL), delete (POST).

An erased file answers 410 Gone with a page that says so, to readers who may see the record in
full; anyone else gets the same 404 as for a file that does not exist.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from civmil.comms.models import Attachment
from civmil.comms.queries.attachments import attachment_for_download
from civmil.comms.services import attachments as service
from civmil.core import registry
from civmil.core.errors import Invalid, NotFound, ServiceError


def _record_url(object_type: str, object_id: object) -> str:
    try:
        name = registry.by_key(object_type).detail_url_name
        return reverse(name, kwargs={"pk": object_id}) if name else "/"
    except (LookupError, NoReverseMatch):
        return "/"


def _refused(request: HttpRequest, exc: ServiceError, back: str) -> HttpResponse:
    if isinstance(exc, NotFound):
        raise Http404()
    return render(request, "comms/attachments/refused.html",
                  {"message": exc.message, "errors": exc.errors, "back": back}, status=exc.status)


def _erased(request: HttpRequest, attachment: Attachment) -> HttpResponse:
    return render(request, "comms/attachments/erased.html", {
        "attachment": attachment, "back": _record_url(attachment.object_type, attachment.object_id),
    }, status=410)


@login_required
@require_POST
def upload(request: HttpRequest, object_type: str, object_id: str) -> HttpResponse:
    """Attach the posted ``file`` to a record; a refused file answers 4xx with the reason."""
    back = _record_url(object_type, object_id)
    upload_file = request.FILES.get("file")
    try:
        if upload_file is None:
            raise Invalid(_("Choose a file to attach."), errors={"file": [_("This field is required.")]})
        attachment = service.add_attachment(request.actor, object_type, object_id, upload_file)  # type: ignore[attr-defined]
    except ServiceError as exc:
        return _refused(request, exc, back)
    messages.success(request, _("“%(name)s” is attached.") % {"name": attachment.filename})
    return HttpResponseRedirect(back + "#attachments")


@login_required
@require_GET
def download(request: HttpRequest, pk: str) -> HttpResponseBase:
    """Send the file as a download. Only readers with the record's FULL view; others get the 404 page."""
    try:
        attachment, _record = attachment_for_download(request.actor, pk)  # type: ignore[attr-defined]
    except NotFound:
        raise Http404() from None
    if attachment.erased_at is not None:
        return _erased(request, attachment)
    try:
        handle = service.open_stored(attachment)  # streamed from the storage; FileResponse closes it
    except FileNotFoundError:
        raise Http404() from None
    response = FileResponse(handle, as_attachment=True, filename=attachment.filename,
                            content_type=attachment.media_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_POST
def delete(request: HttpRequest, pk: str) -> HttpResponse:
    """Delete an attachment (its uploader or the record's owner), then go back to the record."""
    try:
        attachment, _record = attachment_for_download(request.actor, pk)  # type: ignore[attr-defined]
    except NotFound:
        raise Http404() from None
    if attachment.erased_at is not None:
        return _erased(request, attachment)
    back = _record_url(attachment.object_type, attachment.object_id)
    try:
        service.delete_attachment(request.actor, pk)  # type: ignore[attr-defined]
    except ServiceError as exc:
        return _refused(request, exc, back)
    messages.success(request, _("“%(name)s” is deleted.") % {"name": attachment.filename})
    return HttpResponseRedirect(back + "#attachments")

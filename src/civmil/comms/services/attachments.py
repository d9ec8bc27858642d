"""Attachments: upload (type sniffed from the content, images re-encoded without metadata), delete
and erasure.

Files are stored through the default storage (``MEDIA_ROOT``, or an S3 bucket: see
:mod:`civmil.config.storage`) as ``attachments/<random name>``, with no extension; nothing serves
them but the access-checked download view. The ledger records the file's SHA-256, type and size, never its content
or name.

Erasure (DESIGN.md, "Ledger": erasure purges the copies in attachments): :func:`purge_erased` is a
ledger erasure hook, registered in ``CommsConfig.ready``. When the erased change is the one that
recorded an upload (``attachment.added``), the upload itself is what is erased: the stored file is
deleted once the erasure commits, and the row stays as its trace, marked erased, with its name,
type, size and hash blanked. Images are re-encoded before they are stored and nothing else is
derived from a file (no thumbnail, no preview), so the stored file is the only copy.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import secrets
import threading
import unicodedata
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile, File
from django.core.files.storage import storages
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from civmil.comms import live
from civmil.comms.models import Attachment
from civmil.core import access, ledger, registry
from civmil.core.acting import Actor
from civmil.core.errors import Forbidden, Invalid, NotFound
from civmil.core.formats import megabytes

if TYPE_CHECKING:
    from civmil.core.ledger import Erasure

logger = logging.getLogger("civmil.comms")

#: Ledger action of an upload; erasing its stored change erases the file.
ADDED_ACTION = "attachment.added"
REMOVED_ACTION = "attachment.removed"
#: Largest file accepted, in bytes.
MAX_SIZE = 10 * 1024 * 1024
#: Largest image accepted, in pixels (guards against decompression bombs).
MAX_PIXELS = 40_000_000
#: Memory one image re-encode may take, in bytes: the decoded picture (width x height x the bytes
#: per pixel of its mode, as Pillow holds it) plus the one working copy a rotation or a change of
#: mode needs, reckoned from the image's header before anything is decoded. 96 MB: a 24
#: megapixel photo fits; a 6,300 x 6,300 colour PNG (a 154 KB file can hold one) does not.
IMAGE_MEMORY_BUDGET = 96 * 1024 * 1024
#: Image re-encodes running at once in one process (each may take IMAGE_MEMORY_BUDGET); more wait
#: up to REENCODE_WAIT_SECONDS for a free slot, then are refused as "busy".
MAX_CONCURRENT_REENCODES = 2
REENCODE_WAIT_SECONDS = 30.0
_reencode_slots = threading.BoundedSemaphore(MAX_CONCURRENT_REENCODES)
MAX_FILENAME = 120


@dataclass(frozen=True)
class FileKind:
    media_type: str
    label: Any
    extensions: tuple[str, ...]


KINDS: dict[str, FileKind] = {
    "png": FileKind("image/png", gettext_lazy("PNG image"), (".png",)),
    "jpeg": FileKind("image/jpeg", gettext_lazy("JPEG image"), (".jpg", ".jpeg")),
    "webp": FileKind("image/webp", gettext_lazy("WebP image"), (".webp",)),
    "pdf": FileKind("application/pdf", gettext_lazy("PDF document"), (".pdf",)),
    "text": FileKind("text/plain", gettext_lazy("plain text"), (".txt",)),
    "csv": FileKind("text/csv", gettext_lazy("CSV table"), (".csv",)),
}
_PIL_FORMAT = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}


def allowed_description() -> str:
    """The accepted kinds, for messages and help text."""
    return ", ".join(f"{k.label} ({'/'.join(k.extensions)})" for k in KINDS.values())


def stored_name(attachment: Attachment) -> str:
    """The name of the attachment's file in the default storage."""
    return f"attachments/{attachment.storage_name}"


def open_stored(attachment: Attachment) -> File[bytes]:
    """The attachment's stored file, open for reading; ``FileNotFoundError`` when it is gone."""
    return storages["default"].open(stored_name(attachment), "rb")


# ---------------------------------------------------------------------------------------------
# Sniffing


def _is_text(data: bytes) -> bool:
    if b"\x00" in data:
        return False
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return False
    return not any(unicodedata.category(c) == "Cc" and c not in "\t\n\r\f" for c in text)


def sniff(data: bytes) -> str | None:
    """The kind of file ``data`` is, from its content alone (``None``: not an accepted kind)."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data.startswith(b"%PDF-"):
        return "pdf"
    if _is_text(data):
        return "text"
    return None


def _kind_of_name(filename: str) -> str | None:
    suffix = Path(filename).suffix.lower()
    for key, kind in KINDS.items():
        if suffix in kind.extensions:
            return key
    return None


def _clean_filename(name: str) -> str:
    name = Path(name.replace("\\", "/")).name
    name = "".join(c for c in unicodedata.normalize("NFC", name) if unicodedata.category(c)[0] != "C")
    name = name.strip().strip(".") or "file"
    if len(name) > MAX_FILENAME:
        stem, suffix = Path(name).stem, Path(name).suffix[:16]
        name = stem[: MAX_FILENAME - len(suffix)] + suffix
    return name


def _refuse(message: str, hint: str) -> Invalid:
    return Invalid(message, errors={"file": [hint]})


def _bytes_per_pixel(mode: str) -> int:
    """Bytes per pixel of an image of ``mode`` as Pillow holds it decoded (RGB takes four, as RGBA)."""
    if mode in ("1", "L", "P"):
        return 1
    if mode.startswith(("I;16", "BGR;15", "BGR;16")):
        return 2
    return 4


def _target_mode(kind: str, mode: str) -> str:
    """The mode an image of ``mode`` is stored in as ``kind`` (its own when the format takes it)."""
    if kind == "jpeg" and mode not in ("RGB", "L"):
        return "RGB"
    if kind in ("png", "webp") and mode not in ("RGB", "RGBA", "L", "LA", "P"):
        return "RGBA"
    return mode


def reencode_memory(width: int, height: int, mode: str, kind: str, *, rotated: bool = False) -> int:
    """Bytes a re-encode of such an image holds at its peak: the decoded picture, plus one working
    copy when it must be rotated upright or changed to another mode (never both at once)."""
    pixels = width * height
    target = _target_mode(kind, mode)
    extra = max(_bytes_per_pixel(mode) if rotated else 0, _bytes_per_pixel(target) if target != mode else 0)
    return pixels * (_bytes_per_pixel(mode) + extra)


def _unreadable() -> Invalid:
    return _refuse(_("The file looks like an image but cannot be read: it may be damaged."),
                   _("Open it in an image editor, save it again and upload the result."))


def _header_rotated(img: Image.Image) -> bool:
    """Whether the EXIF read with the header asks for the picture to be turned upright.

    Read from what opening the file parsed (``info``): a PNG's ``getexif()`` would decode the whole
    picture to look for an EXIF chunk after it. One found only after decoding is checked then.
    """
    exif = Image.Exif()
    raw = img.info.get("exif")
    if isinstance(raw, bytes):
        with contextlib.suppress(Exception):  # unreadable EXIF: nothing to turn by
            exif.load(raw)
    return exif.get(ExifTags.Base.Orientation, 1) not in (None, 1)


def _check_size(img: Image.Image, kind: str, *, rotated: bool) -> None:
    """Refuse an image too large to decode (pixels, then memory), from its header alone."""
    if img.width * img.height > MAX_PIXELS:
        raise _refuse(_("The image is too large (%(w)d by %(h)d pixels); at most %(max)d million pixels.")
                      % {"w": img.width, "h": img.height, "max": MAX_PIXELS // 1_000_000},
                      _("Scale the image down and upload it again."))
    need = reencode_memory(img.width, img.height, img.mode, kind, rotated=rotated)
    if need > IMAGE_MEMORY_BUDGET:
        raise _refuse(
            _("The image is too large to process: %(w)d by %(h)d pixels would take %(need)s MB of memory; "
              "at most %(max)s MB.")
            % {"w": img.width, "h": img.height, "need": megabytes(need), "max": megabytes(IMAGE_MEMORY_BUDGET)},
            _("Scale the image down (fewer pixels) and upload it again."))


def _reencode(data: bytes, kind: str) -> bytes:
    """Decode and re-encode an image so that no metadata (EXIF, GPS, XMP, comments) survives.

    Its size is checked from the header before any pixel is decoded (:func:`_check_size`); at most
    :data:`MAX_CONCURRENT_REENCODES` run at once; and it holds one decoded copy of the picture, plus
    one more only while it is rotated upright or changed to a mode the format takes.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                probe.verify()
            with Image.open(io.BytesIO(data)) as img:
                rotated = _header_rotated(img)
                _check_size(img, kind, rotated=rotated)
                if not _reencode_slots.acquire(timeout=REENCODE_WAIT_SECONDS):
                    raise _refuse(_("The server is busy processing other images; try again in a minute."),
                                  _("Upload the file again in a minute."))
                try:
                    return _decode_and_save(img, kind, rotated=rotated)
                finally:
                    _reencode_slots.release()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as exc:
        raise _unreadable() from exc


def _decode_and_save(img: Image.Image, kind: str, *, rotated: bool) -> bytes:
    transparency = img.info.get("transparency")
    img.load()
    if not rotated and img.getexif().get(ExifTags.Base.Orientation, 1) not in (None, 1):
        _check_size(img, kind, rotated=True)  # an orientation found only now (after a PNG's picture)
    ImageOps.exif_transpose(img, in_place=True)  # the right way up, the tag gone; no copy kept
    picture = img
    target = _target_mode(kind, img.mode)
    if target != img.mode:
        picture = img.convert(target)
        img.close()  # the decoded original goes before encoding
        transparency = None
    # Nothing the file carried goes out again: no EXIF, XMP, ICC profile, comment or text chunk.
    picture.info = {}
    options: dict[str, Any] = {"quality": 90} if kind in ("jpeg", "webp") else {}
    if transparency is not None and kind == "png":
        options["transparency"] = transparency
    out = io.BytesIO()
    picture.save(out, format=_PIL_FORMAT[kind], **options)
    return out.getvalue()


def inspect_upload(filename: str, data: bytes) -> tuple[str, str, bytes]:
    """Check an upload; returns (clean file name, kind key, bytes to store) or raises :class:`Invalid`.

    The kind comes from the content; the name's extension must agree with it. Images are re-encoded.
    """
    if not data:
        raise _refuse(_("The file is empty."), _("Choose a file that has content."))
    if len(data) > MAX_SIZE:
        raise _refuse(_("The file is too large (%(size)s MB); at most %(max)d MB.")
                      % {"size": megabytes(len(data)), "max": MAX_SIZE // 1048576},
                      _("Upload a smaller file."))
    name = _clean_filename(filename)
    named = _kind_of_name(name)
    if named is None:
        raise _refuse(_("Files named like “%(name)s” are not accepted. Accepted: %(allowed)s.")
                      % {"name": name, "allowed": allowed_description()},
                      _("Upload one of the accepted kinds."))
    found = sniff(data)
    if found == "text" and named == "csv":
        found = "csv"
    if found is None:
        raise _refuse(_("“%(name)s” is named as a %(named)s but its content is not one of the accepted kinds "
                        "(%(allowed)s).") % {"name": name, "named": KINDS[named].label,
                                            "allowed": allowed_description()},
                      _("Upload the document itself, or convert it to PDF."))
    if found != named:
        raise _refuse(_("“%(name)s” is named as a %(named)s but its content is a %(found)s. Files whose name "
                        "disguises their content are refused.")
                      % {"name": name, "named": KINDS[named].label, "found": KINDS[found].label},
                      _("Rename the file with the extension of what it contains."))
    if found in _PIL_FORMAT:
        data = _reencode(data, found)
    return name, found, data


# ---------------------------------------------------------------------------------------------
# Services


def _record(actor: Actor, object_type: str, object_id: Any) -> Any:
    """The record ``actor`` attaches to; a hidden or missing one is :class:`NotFound`."""
    obj: Any = access.fetch(actor, object_type, object_id, derived=True).record
    record_type = registry.by_key(object_type)
    if not record_type.attachments:
        raise Forbidden(_("Files cannot be attached to a %(type)s.") % {"type": record_type.label})
    return obj


def _read(upload: IO[bytes] | Any) -> bytes:
    size = getattr(upload, "size", None)
    if size is not None and size > MAX_SIZE:
        raise _refuse(_("The file is too large (%(size)s MB); at most %(max)d MB.")
                      % {"size": megabytes(size), "max": MAX_SIZE // 1048576},
                      _("Upload a smaller file."))
    if hasattr(upload, "chunks"):
        data = bytearray()
        for chunk in upload.chunks():
            data += chunk
            if len(data) > MAX_SIZE:
                break
        return bytes(data)
    return bytes(upload.read(MAX_SIZE + 1))


def add_attachment(actor: Actor, object_type: str, object_id: Any, upload: Any,
                   filename: str | None = None) -> Attachment:
    """Attach an uploaded file to a record whose full view ``actor`` has.

    Refuses (with the reason) empty, too large, unaccepted and disguised files. Appends
    ``attachment.added`` to the ledger (hash, type and size) and publishes the live event.
    """
    if not actor.is_authenticated or actor.person is None or actor.membership is None:
        raise Forbidden(_("You need a current membership of an organisation to attach files."))
    record = _record(actor, object_type, object_id)
    if not access.view_for(actor, record).kind == access.ViewKind.FULL:
        raise Forbidden(_("You may attach files only to records you may read in full."))
    name, kind, data = inspect_upload(filename or getattr(upload, "name", "") or "", _read(upload))
    digest = hashlib.sha256(data).hexdigest()
    storage_name = secrets.token_hex(16)
    storage = storages["default"]
    stored = storage.save(f"attachments/{storage_name}", ContentFile(data))
    if stored != f"attachments/{storage_name}":  # 128 random bits: never, but never overwrite either
        storage.delete(stored)
        raise RuntimeError("attachment storage name already taken")
    try:
        with transaction.atomic():
            attachment = Attachment.objects.create(
                space_id=record.space_id, object_type=object_type, object_id=record.pk, filename=name,
                media_type=KINDS[kind].media_type, size=len(data), sha256=digest, storage_name=storage_name,
                uploaded_by=actor.person,
            )
            ledger.append(actor, ADDED_ACTION, object_type, record.pk, {
                "attachment": attachment.pk, "sha256": digest, "media_type": attachment.media_type,
                "size": attachment.size,
            })
            live.publish_discussion_event(ADDED_ACTION, record)
    except BaseException:
        storage.delete(stored)
        raise
    return attachment


def may_delete(actor: Actor, attachment: Attachment, record: Any) -> bool:
    """The uploader, or a member of the record's owning organisation, may delete an attachment
    (not an erased one: its row is the trace of the erasure)."""
    if actor.person_id is None or actor.membership is None or attachment.erased_at is not None:
        return False
    return bool(attachment.uploaded_by_id == actor.person_id or record.owner_id == actor.organisation_id)


def delete_attachment(actor: Actor, attachment_id: Any) -> None:
    """Delete an attachment (its uploader or the record's owner). Ledgered; the file goes after commit."""
    with transaction.atomic():
        try:
            attachment = Attachment.objects.select_for_update().filter(pk=attachment_id).first()
        except (ValueError, TypeError, ValidationError):  # a malformed id is a missing one
            attachment = None
        if attachment is None or attachment.space_id != actor.space_id:
            raise NotFound(_("No such attachment."))
        record = _record(actor, attachment.object_type, attachment.object_id)
        if access.view_for(actor, record).kind != access.ViewKind.FULL:
            raise NotFound(_("No such attachment."))
        if attachment.erased_at is not None:
            raise Invalid(_("This file was erased: nothing of it is left to delete."))
        if not may_delete(actor, attachment, record):
            raise Forbidden(_("Only the person who attached a file, or the record's owner, may delete it."))
        name = stored_name(attachment)
        ledger.append(actor, REMOVED_ACTION, attachment.object_type, record.pk, {
            "attachment": attachment.pk, "sha256": attachment.sha256,
        })
        live.publish_discussion_event(REMOVED_ACTION, record)
        attachment.delete()
        transaction.on_commit(lambda: _delete_file(name))


def _delete_file(name: str) -> None:
    """Delete a stored file after commit. A failure is logged (with the random storage name only),
    never raised: the transaction has committed and the caller's answer stands."""
    try:
        storages["default"].delete(name)
    except Exception:  # a file system's OSError, an S3 client error: logged, the answer stands
        logger.error("attachment file %s could not be deleted", name.rsplit("/", 1)[-1], exc_info=True)


def purge_erased(erasure: Erasure) -> None:
    """Erasure hook: erase the uploaded file whose ``attachment.added`` change was erased.

    In the erasure's transaction, the attachment row is marked erased and its name, media type,
    size and hash (copies of the erased change, or of the file) are blanked; the row keeps its
    record, its uploader and its upload time, as the ledger entry keeps its actor and time. A live
    ``attachment.removed`` event tells open pages of the record. The stored file is deleted after
    the transaction commits, so an erasure that rolls back keeps it. Any other erased change
    (including ``attachment.removed``, whose file is already gone) leaves attachments alone.
    """
    entry, data = erasure.entry, erasure.data
    if entry.action != ADDED_ACTION or not isinstance(data, dict) or not data.get("attachment"):
        return
    try:
        attachment = (Attachment.objects.select_for_update()
                      .filter(pk=data["attachment"], object_type=str(entry.object_type),
                              object_id=str(entry.object_id)).first())
    except (ValueError, TypeError, ValidationError):  # not an id this app wrote: nothing of ours
        attachment = None
    if attachment is None or attachment.erased_at is not None:
        return  # deleted since (its file went with it) or already erased
    name = stored_name(attachment)
    attachment.filename = ""
    attachment.media_type = ""
    attachment.size = 0
    attachment.sha256 = ""
    attachment.erased_at = timezone.now()
    attachment.save(update_fields=["filename", "media_type", "size", "sha256", "erased_at"])
    _announce_removal(attachment)
    transaction.on_commit(lambda: _delete_file(name))


def _announce_removal(attachment: Attachment) -> None:
    try:
        model = registry.by_key(attachment.object_type).model
    except LookupError:
        return
    record = model._default_manager.filter(pk=attachment.object_id).first()
    if record is not None:
        live.publish_discussion_event(REMOVED_ACTION, record)

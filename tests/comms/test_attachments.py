"""Attachments: sniffed types, size limit, disguises refused, metadata stripped, downloads access-checked."""

from __future__ import annotations

import datetime as dt
import html
import io
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import translation
from PIL import Image

from civmil.actors import services as actor_services
from civmil.actors.services import LiaisonContact
from civmil.comms.models import Attachment
from civmil.comms.services import attachments as service
from civmil.core import ledger, services
from civmil.core.choices import Component, Level, Role
from civmil.core.errors import Forbidden, Invalid, NotFound
from civmil.core.models import LedgerChange, LedgerEntry, OutboxEvent
from tests.actors.test_liaison_views import normalised
from tests.factories import Member, make_member
from tests.test_translations import _compiled_catalogue  # noqa: F401  (the French message needs the .mo)


def _stored(attachment: Any) -> Path:
    """Where the default (local) storage keeps an attachment's file."""
    from django.conf import settings as django_settings

    return Path(django_settings.MEDIA_ROOT) / service.stored_name(attachment)


pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.comms.urls")]

MISSING = "00000000-0000-0000-0000-000000000000"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture(autouse=True)
def _media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return Path(settings.MEDIA_ROOT)


def make_entry(m: Member, level: str = Level.MISSION, summary: str = "Meeting at Kaya") -> Any:
    data = LiaisonContact(occurred_at=dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC), channel="meeting",
                          summary=summary, level=level, organisation_ids=[m.org.pk])
    return actor_services.record_liaison_contact(m.actor, data)


def upload_url(entry: Any) -> str:
    return reverse("comms:attachment-upload", kwargs={"object_type": "actors.liaisonlogentry",
                                                       "object_id": entry.pk})


def jpeg_with_gps() -> bytes:
    img = Image.new("RGB", (40, 30), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "SpyCam Maker"  # Make
    exif[0x0110] = "SpyCam 3000"  # Model
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (4.0, 21.0, 36.0)
    gps[3] = "E"
    gps[4] = (18.0, 33.0, 0.0)
    out = io.BytesIO()
    img.save(out, format="JPEG", exif=exif.tobytes())
    return out.getvalue()


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (8, 8), (0, 0, 255, 128)).save(out, format="PNG")
    return out.getvalue()


def post(client: Client, m: Member, entry: Any, name: str, data: bytes, content_type: str = "") -> Any:
    client.force_login(m.user)
    upload = SimpleUploadedFile(name, data, content_type=content_type or "application/octet-stream")
    return client.post(upload_url(entry), {"file": upload})


def test_an_image_is_reencoded_without_exif_or_gps(client: Client, _media: Path) -> None:
    author = make_member(Component.CIVILIAN)
    entry = make_entry(author)
    original = jpeg_with_gps()
    with Image.open(io.BytesIO(original)) as check:
        assert check.getexif().get_ifd(0x8825)  # the test file really carries a GPS position

    response = post(client, author, entry, "photo.jpg", original, "image/jpeg")
    assert response.status_code == 302
    attachment = Attachment.objects.get()
    stored = (_media / "attachments" / attachment.storage_name).read_bytes()
    assert b"SpyCam" not in stored and b"Exif" not in stored
    with Image.open(io.BytesIO(stored)) as img:
        assert img.format == "JPEG" and img.size == (40, 30)
        assert not img.getexif()
        assert "exif" not in img.info
    assert attachment.media_type == "image/jpeg"
    assert attachment.filename == "photo.jpg"

    download = client.get(reverse("comms:attachment-download", kwargs={"pk": attachment.pk}))
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == stored  # type: ignore[attr-defined]
    assert download["Content-Disposition"].startswith("attachment;")
    assert download["X-Content-Type-Options"] == "nosniff"
    assert download["Content-Type"] == "image/jpeg"


def test_pdf_text_csv_and_png_are_accepted(client: Client) -> None:
    author = make_member(Component.CIVILIAN)
    entry = make_entry(author)
    assert post(client, author, entry, "minutes.pdf", PDF).status_code == 302
    assert post(client, author, entry, "notes.txt", "Réunion à Kaya\n".encode()).status_code == 302
    assert post(client, author, entry, "people.csv", b"name,role\nA,B\n").status_code == 302
    assert post(client, author, entry, "map.png", png_bytes()).status_code == 302
    assert sorted(Attachment.objects.values_list("media_type", flat=True)) == [
        "application/pdf", "image/png", "text/csv", "text/plain"]


@pytest.mark.parametrize(("name", "data", "reason"), [
    ("report.png", PDF, "content is a PDF document"),
    ("invoice.pdf", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "content is a PNG image"),
    ("notes.txt", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff", "not one of the accepted kinds"),
    ("tool.exe", b"MZ\x90\x00", "are not accepted"),
    ("page.html", b"<html><script>alert(1)</script></html>", "are not accepted"),
    ("drawing.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>", "are not accepted"),
    ("empty.txt", b"", "empty"),
    ("broken.jpg", b"\xff\xd8\xff\xe0" + b"garbage" * 10, "cannot be read"),
])
def test_unaccepted_and_disguised_files_are_refused_with_the_reason(client: Client, name: str, data: bytes,
                                                                     reason: str) -> None:
    author = make_member(Component.CIVILIAN)
    entry = make_entry(author)
    response = post(client, author, entry, name, data)
    assert response.status_code == 422
    assert reason in response.content.decode()
    assert not Attachment.objects.exists()


def test_a_file_over_the_size_limit_is_refused(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "MAX_SIZE", 1024)
    author = make_member(Component.CIVILIAN)
    entry = make_entry(author)
    response = post(client, author, entry, "long.txt", b"a" * 2048)
    assert response.status_code == 422
    assert "too large" in response.content.decode()
    assert not Attachment.objects.exists()


def test_the_default_limit_is_ten_megabytes() -> None:
    assert service.MAX_SIZE == 10 * 1024 * 1024
    with pytest.raises(Invalid, match="too large"):
        service.inspect_upload("big.txt", b"a" * (service.MAX_SIZE + 1))


@pytest.mark.usefixtures("_compiled_catalogue")
def test_the_size_in_the_refusal_is_written_as_the_readers_language_writes_numbers() -> None:
    eleven = b"a" * (11 * 1024 * 1024)
    with pytest.raises(Invalid) as refused:
        service.inspect_upload("big.txt", eleven)
    assert refused.value.message == "The file is too large (11.0 MB); at most 10 MB."
    with translation.override("fr"), pytest.raises(Invalid) as refused:
        service.inspect_upload("big.txt", eleven)
    assert refused.value.message == "Le fichier est trop volumineux (11,0 Mo) ; 10 Mo au plus."


# ---------------------------------------------------------------------------------------------
# Images: a memory budget read from the header, a few re-encodes at once


def bomb_png(width: int, height: int, colour_type: int = 2) -> bytes:
    """A valid PNG of ``width`` x ``height`` black pixels, built without ever holding the picture:
    a few hundred KB that would decode to hundreds of MB (colour type 2: RGB, 6: RGBA, 0: grey)."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    channels = {0: 1, 2: 3, 6: 4}[colour_type]
    row = b"\x00" * (1 + width * channels)  # filter byte, then the pixels
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_a_decompression_bomb_is_refused_from_its_header_before_any_pixel_is_decoded(
        client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    bomb = bomb_png(6300, 6300)
    assert len(bomb) < 200 * 1024  # 154 KB in the report; this one is smaller still
    from PIL import ImageFile

    decoded: list[Any] = []
    real_load = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: decoded.append(self.size) or real_load(self))
    author = make_member(Component.CIVILIAN)
    entry = make_entry(author)
    response = post(client, author, entry, "big.png", bomb)
    assert response.status_code == 422
    text = " ".join(html.unescape(response.content.decode()).split())
    assert "6300 by 6300 pixels would take 151.4 MB of memory; at most 96.0 MB" in text, text
    assert "Scale the image down" in text
    assert not decoded  # refused before decoding
    assert not Attachment.objects.exists()


@pytest.mark.parametrize(("width", "height", "colour_type", "fits"), [
    (6000, 4000, 2, True),  # a 24 megapixel photo: 96 MB decoded
    (6300, 6300, 0, True),  # the same size in grey takes a quarter
    (4900, 4900, 6, True),
    (5200, 5200, 6, False),  # RGBA held as four bytes a pixel
    (6300, 6300, 2, False),
])
def test_the_budget_counts_the_bytes_per_pixel_of_the_mode(width: int, height: int, colour_type: int,
                                                          fits: bool) -> None:
    mode = {0: "L", 2: "RGB", 6: "RGBA"}[colour_type]
    need = service.reencode_memory(width, height, mode, "png")
    assert (need <= service.IMAGE_MEMORY_BUDGET) is fits
    # JPEG takes no alpha: an RGBA picture is converted, and the converted copy counts too.
    assert service.reencode_memory(100, 100, "RGBA", "jpeg") == 100 * 100 * 8
    assert service.reencode_memory(100, 100, "L", "png", rotated=True) == 100 * 100 * 2


def test_an_image_over_the_budget_is_refused_and_one_within_is_stored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "IMAGE_MEMORY_BUDGET", 64 * 64 * 4)
    with pytest.raises(Invalid, match="65 by 64 pixels would take") as refused:
        service.inspect_upload("a.png", bomb_png(65, 64))
    assert "at most 0.0 MB" in refused.value.message  # (a budget of 16 KB, in MB with one decimal)
    _name, kind, stored = service.inspect_upload("b.png", bomb_png(64, 64))
    assert kind == "png"
    with Image.open(io.BytesIO(stored)) as img:
        assert img.size == (64, 64)


def test_a_photo_turned_by_its_exif_is_stored_upright_without_the_tag() -> None:
    img = Image.new("RGB", (40, 30), (10, 200, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to view
    out = io.BytesIO()
    img.save(out, format="JPEG", exif=exif.tobytes())
    _name, _kind, stored = service.inspect_upload("turned.jpg", out.getvalue())
    with Image.open(io.BytesIO(stored)) as upright:
        assert upright.size == (30, 40)
        assert not upright.getexif()


def test_at_most_two_images_are_re_encoded_at_once_and_a_long_wait_is_refused_as_busy(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import threading
    import time

    running, most = [0], [0]
    lock = threading.Lock()
    real = service._decode_and_save

    def slow(img: Any, kind: str, *, rotated: bool) -> bytes:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.2)
        with lock:
            running[0] -= 1
        return real(img, kind, rotated=rotated)

    monkeypatch.setattr(service, "_decode_and_save", slow)
    results: list[Any] = []

    def upload() -> None:
        try:
            results.append(service.inspect_upload("p.png", png_bytes())[1])
        except Invalid as exc:
            results.append(exc.message)

    threads = [threading.Thread(target=upload) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == ["png"] * 6 and most[0] == service.MAX_CONCURRENT_REENCODES == 2

    monkeypatch.setattr(service, "REENCODE_WAIT_SECONDS", 0.05)
    assert service._reencode_slots.acquire(timeout=1) and service._reencode_slots.acquire(timeout=1)
    try:
        with pytest.raises(Invalid, match="busy processing other images"):
            service.inspect_upload("p.png", png_bytes())
    finally:
        service._reencode_slots.release()
        service._reencode_slots.release()


def test_download_is_404_without_the_full_view_exactly_like_a_missing_file(client: Client) -> None:
    military = make_member(Component.MILITARY)
    entry = make_entry(military, level=Level.MILITARY)
    attachment = service.add_attachment(military.actor, "actors.liaisonlogentry", entry.pk,
                                        SimpleUploadedFile("orders.pdf", PDF))
    humanitarian = make_member(Component.HUMANITARIAN)
    url = reverse("comms:attachment-download", kwargs={"pk": attachment.pk})
    missing = reverse("comms:attachment-download", kwargs={"pk": MISSING})
    client.force_login(humanitarian.user)
    hidden, absent = client.get(url), client.get(missing)
    assert hidden.status_code == absent.status_code == 404
    assert normalised(hidden.content, attachment.pk) == normalised(absent.content, MISSING)

    # A release of some fields (a reduced view) still does not open the files.
    services.release_record(military.actor, entry, organisation=humanitarian.org, fields=["summary"])
    assert client.get(url).status_code == 404
    with pytest.raises(NotFound):
        service.delete_attachment(humanitarian.actor, attachment.pk)
    # A full release does.
    services.release_record(military.actor, entry, organisation=humanitarian.org)
    assert client.get(url).status_code == 200


def test_files_are_never_exposed_under_a_media_url(client: Client, settings: Any, _media: Path) -> None:
    author = make_member(Component.CIVILIAN)
    entry = make_entry(author)
    post(client, author, entry, "minutes.pdf", PDF)
    attachment = Attachment.objects.get()
    stored = _media / "attachments" / attachment.storage_name
    assert stored.exists() and "minutes" not in stored.name and stored.suffix == ""
    page = client.get(reverse("actors:liaison-entry", kwargs={"pk": entry.pk})).content.decode()
    assert attachment.storage_name not in page
    assert reverse("comms:attachment-download", kwargs={"pk": attachment.pk}) in page
    for prefix in {str(settings.MEDIA_URL or "/"), "/media/", "/"}:
        assert client.get(f"{prefix}attachments/{attachment.storage_name}").status_code == 404
        assert client.get(f"{prefix}{attachment.storage_name}").status_code == 404


def test_upload_is_ledgered_with_the_hash_and_publishes_a_live_event(client: Client) -> None:
    author = make_member(Component.CIVILIAN)
    entry = make_entry(author)
    post(client, author, entry, "secret-plan.txt", b"the content itself")
    attachment = Attachment.objects.get()
    record = LedgerEntry.objects.get(action="attachment.added")
    assert record.object_id == str(entry.pk)
    change = LedgerChange.objects.get(entry_id=record.seq).data
    assert change["sha256"] == attachment.sha256
    assert "the content itself" not in str(change) and "secret-plan" not in str(change)
    assert OutboxEvent.objects.filter(kind="attachment.added", object_id=str(entry.pk)).exists()


def test_delete_by_the_uploader_or_the_owner_only(client: Client, _media: Path) -> None:
    author = make_member(Component.CIVILIAN)
    entry = make_entry(author)
    colleague = make_member(Component.CIVILIAN, org=author.org)
    outsider = make_member(Component.CIVILIAN)  # full view through the MISSION level, other organisation
    first = service.add_attachment(outsider.actor, "actors.liaisonlogentry", entry.pk,
                                   SimpleUploadedFile("a.txt", b"first"))
    second = service.add_attachment(author.actor, "actors.liaisonlogentry", entry.pk,
                                    SimpleUploadedFile("b.txt", b"second"))
    third = service.add_attachment(author.actor, "actors.liaisonlogentry", entry.pk,
                                   SimpleUploadedFile("c.txt", b"third"))

    with pytest.raises(Forbidden):
        service.delete_attachment(outsider.actor, second.pk)
    client.force_login(outsider.user)
    assert client.post(reverse("comms:attachment-delete", kwargs={"pk": second.pk})).status_code == 403
    assert client.post(reverse("comms:attachment-delete", kwargs={"pk": first.pk})).status_code == 302
    service.delete_attachment(colleague.actor, third.pk)  # a member of the owning organisation
    assert list(Attachment.objects.values_list("pk", flat=True)) == [second.pk]
    assert LedgerEntry.objects.filter(action="attachment.removed").count() == 2


def test_the_panel_shows_on_the_liaison_entry_for_full_readers_only(client: Client) -> None:
    military = make_member(Component.MILITARY)
    entry = make_entry(military, level=Level.MILITARY)
    service.add_attachment(military.actor, "actors.liaisonlogentry", entry.pk,
                           SimpleUploadedFile("orders.pdf", PDF))
    url = reverse("actors:liaison-entry", kwargs={"pk": entry.pk})
    client.force_login(military.user)
    assert "orders.pdf" in client.get(url).content.decode()
    humanitarian = make_member(Component.HUMANITARIAN)
    services.release_record(military.actor, entry, organisation=humanitarian.org, fields=["summary"])
    client.force_login(humanitarian.user)
    page = client.get(url)
    assert page.status_code == 200
    assert "orders.pdf" not in page.content.decode()


def test_a_reader_without_a_view_cannot_attach_and_learns_nothing(client: Client) -> None:
    military = make_member(Component.MILITARY)
    entry = make_entry(military, level=Level.MILITARY)
    humanitarian = make_member(Component.HUMANITARIAN)
    assert post(client, humanitarian, entry, "x.txt", b"hello").status_code == 404
    assert not Attachment.objects.exists()


# ---------------------------------------------------------------------------------------------
# Erasure: erasing the ledger change that recorded an upload erases the file


def _admins() -> tuple[Member, Member]:
    return (make_member(Component.CIVILIAN, role=Role.ADMINISTRATOR),
            make_member(Component.CIVILIAN, role=Role.ADMINISTRATOR))


def _upload_seq(attachment: Attachment) -> int:
    return next(c.entry_id for c in LedgerChange.objects.filter(entry__action="attachment.added", data__isnull=False)
                if c.data["attachment"] == str(attachment.pk))


def test_erasing_the_upload_deletes_the_file_after_commit_and_leaves_a_trace(
        client: Client, django_capture_on_commit_callbacks: Any) -> None:
    author = make_member(Component.CIVILIAN)
    entry = make_entry(author)
    photo = service.add_attachment(author.actor, "actors.liaisonlogentry", entry.pk,
                                   SimpleUploadedFile("amina-passport.jpg", jpeg_with_gps()))
    kept = service.add_attachment(author.actor, "actors.liaisonlogentry", entry.pk,
                                  SimpleUploadedFile("minutes.pdf", PDF))
    stored, other = _stored(photo), _stored(kept)
    assert stored.exists()
    OutboxEvent.objects.all().delete()
    admin, approver = _admins()

    with django_capture_on_commit_callbacks(execute=True):
        ledger.erase_change(admin.actor, _upload_seq(photo), "Asked by the person shown", approver.actor)
        assert stored.exists(), "the file is deleted only once the erasure commits"
    assert not stored.exists()
    assert other.exists(), "the record's other files stay"

    photo.refresh_from_db()
    assert photo.erased_at is not None
    assert (photo.filename, photo.media_type, photo.size, photo.sha256) == ("", "", 0, "")
    assert photo.uploaded_by_id == author.person.pk, "who uploaded stays, as in the ledger entry"
    result = ledger.verify()
    assert result.ok, result.problems
    assert OutboxEvent.objects.filter(kind="attachment.removed", object_id=str(entry.pk)).exists()

    # The download says the file was erased (410), never a 500; the record's page no longer names it.
    client.force_login(author.user)
    url = reverse("comms:attachment-download", kwargs={"pk": photo.pk})
    response = client.get(url)
    assert response.status_code == 410
    page = response.content.decode()
    assert "File erased" in page and "amina-passport" not in page
    record_page = client.get(reverse("actors:liaison-entry", kwargs={"pk": entry.pk})).content.decode()
    assert "amina-passport" not in record_page and "File erased on" in record_page
    assert url not in record_page and "minutes.pdf" in record_page
    assert client.get(reverse("comms:attachment-download", kwargs={"pk": kept.pk})).status_code == 200
    # Nothing is left to delete; the trace stays.
    assert client.post(reverse("comms:attachment-delete", kwargs={"pk": photo.pk})).status_code == 410
    with pytest.raises(Invalid):
        service.delete_attachment(author.actor, photo.pk)
    assert Attachment.objects.filter(pk=photo.pk).exists()
    # A reader without the record's full view learns nothing more than for a missing file.
    outsider = make_member(Component.HUMANITARIAN)
    hidden_entry = make_entry(author, level=Level.RESTRICTED)
    hidden = service.add_attachment(author.actor, "actors.liaisonlogentry", hidden_entry.pk,
                                    SimpleUploadedFile("notes.txt", b"notes"))
    with django_capture_on_commit_callbacks(execute=True):
        ledger.erase_change(admin.actor, _upload_seq(hidden), "Asked", approver.actor)
    client.force_login(outsider.user)
    gone = client.get(reverse("comms:attachment-download", kwargs={"pk": hidden.pk}))
    absent = client.get(reverse("comms:attachment-download", kwargs={"pk": MISSING}))
    assert gone.status_code == absent.status_code == 404
    assert normalised(gone.content, hidden.pk) == normalised(absent.content, MISSING)


def test_a_rolled_back_erasure_keeps_the_file(django_capture_on_commit_callbacks: Any) -> None:
    author = make_member(Component.CIVILIAN)
    entry = make_entry(author)
    attachment = service.add_attachment(author.actor, "actors.liaisonlogentry", entry.pk,
                                        SimpleUploadedFile("report.txt", b"the report"))
    seq = _upload_seq(attachment)
    admin, approver = _admins()

    def later_hook_fails(erasure: ledger.Erasure) -> None:
        raise RuntimeError("the search index is unavailable")

    ledger.register_erasure_hook(later_hook_fails)
    try:
        with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(RuntimeError):
            ledger.erase_change(admin.actor, seq, "Asked", approver.actor)
    finally:
        ledger.unregister_erasure_hook(later_hook_fails)
    assert callbacks == []
    assert _stored(attachment).read_bytes() == b"the report"
    attachment.refresh_from_db()
    assert attachment.erased_at is None and attachment.filename == "report.txt"
    assert LedgerChange.objects.get(entry_id=seq).data is not None


def test_erasing_other_changes_leaves_attachments_alone(django_capture_on_commit_callbacks: Any) -> None:
    author = make_member(Component.CIVILIAN)
    entry = make_entry(author)
    attachment = service.add_attachment(author.actor, "actors.liaisonlogentry", entry.pk,
                                        SimpleUploadedFile("a.txt", b"first"))
    removed = service.add_attachment(author.actor, "actors.liaisonlogentry", entry.pk,
                                     SimpleUploadedFile("b.txt", b"second"))
    service.delete_attachment(author.actor, removed.pk)
    admin, approver = _admins()
    created = LedgerEntry.objects.filter(object_id=str(entry.pk)).order_by("seq").first()
    assert created is not None and created.action != "attachment.added"
    removal = LedgerEntry.objects.get(action="attachment.removed")
    upload_of_removed = _upload_seq(removed)
    with django_capture_on_commit_callbacks(execute=True):
        # A change of the record itself, the removal of another file and that file's upload.
        ledger.erase_change(admin.actor, created.seq, "An anonymous source's details", approver.actor)
        ledger.erase_change(admin.actor, removal.seq, "Asked", approver.actor)
        ledger.erase_change(admin.actor, upload_of_removed, "Asked", approver.actor)
    attachment.refresh_from_db()
    assert attachment.erased_at is None and _stored(attachment).exists()
    assert ledger.verify().ok

"""Attachments on an S3-compatible store (``CIVMIL_MEDIA_STORAGE=s3``), against a real S3 server
(moto's, in this process, on a local port): upload, access-checked download streamed by the
application, deletion, no public object, nothing on the local disk, and backup and restore of
the bucket's attachments. Also the refusals of unusable S3 variables."""

from __future__ import annotations

import datetime as dt
import io
import json
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from civmil.actors import services as actor_services
from civmil.actors.services import LiaisonContact
from civmil.comms.models import Attachment
from civmil.comms.services import attachments as service
from civmil.config.env import EnvironmentProblem
from civmil.config.storage import default_storage
from civmil.core.choices import Component, Level
from tests.factories import Member, make_member
from tests.scale.stack import free_port

pytestmark = pytest.mark.urls("tests.comms.urls")

BUCKET = "civmil-attachments"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PUBLIC_GROUPS = ("http://acs.amazonaws.com/groups/global/AllUsers",
                 "http://acs.amazonaws.com/groups/global/AuthenticatedUsers")


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def bucket(s3_endpoint: str, settings: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """An empty bucket, and the settings civmil derives from CIVMIL_MEDIA_STORAGE=s3 pointing at it."""
    import boto3

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "civmil-test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "civmil-test-secret")
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    for listed in client.list_objects_v2(Bucket=BUCKET).get("Contents", []) if _exists(client) else []:
        client.delete_object(Bucket=BUCKET, Key=listed["Key"])
    if not _exists(client):
        client.create_bucket(Bucket=BUCKET)
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.STORAGES = {**settings.STORAGES, "default": default_storage({
        "CIVMIL_MEDIA_STORAGE": "s3", "CIVMIL_S3_BUCKET": BUCKET, "CIVMIL_S3_ENDPOINT_URL": s3_endpoint,
        "CIVMIL_S3_PREFIX": "mission-a/", "AWS_ACCESS_KEY_ID": "civmil-test",
        "AWS_SECRET_ACCESS_KEY": "civmil-test-secret"})}
    return client


def _exists(client: Any) -> bool:
    return any(b["Name"] == BUCKET for b in client.list_buckets().get("Buckets", []))


def _keys(client: Any) -> list[str]:
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def _entry(m: Member, level: str = Level.MISSION) -> Any:
    data = LiaisonContact(occurred_at=dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC), channel="meeting",
                          summary="Meeting at Kaya", level=level, organisation_ids=[m.org.pk])
    return actor_services.record_liaison_contact(m.actor, data)


@pytest.mark.django_db(transaction=True)
def test_attachments_live_in_the_bucket_and_are_served_only_through_the_access_check(
        bucket: Any, client: Client, tmp_path: Path) -> None:
    military = make_member(Component.MILITARY)
    entry = _entry(military, level=Level.MILITARY)
    client.force_login(military.user)
    upload = client.post(reverse("comms:attachment-upload", kwargs={
        "object_type": "actors.liaisonlogentry", "object_id": entry.pk}),
        {"file": SimpleUploadedFile("orders.pdf", PDF)})
    assert upload.status_code == 302, upload.content
    attachment = Attachment.objects.get()
    key = f"mission-a/attachments/{attachment.storage_name}"
    assert _keys(bucket) == [key]
    assert bucket.get_object(Bucket=BUCKET, Key=key)["Body"].read() == PDF
    assert not (tmp_path / "media").exists()  # nothing on this host's disk
    grants = bucket.get_object_acl(Bucket=BUCKET, Key=key)["Grants"]
    assert not [g for g in grants if g["Grantee"].get("URI") in PUBLIC_GROUPS], grants

    url = reverse("comms:attachment-download", kwargs={"pk": attachment.pk})
    download = client.get(url)
    assert download.status_code == 200 and b"".join(download.streaming_content) == PDF  # type: ignore[attr-defined]
    assert download["Content-Type"] == "application/pdf" and download["Cache-Control"].startswith("private, no-store")
    assert "Location" not in download  # streamed by the application, no redirect to the bucket
    outsider = make_member(Component.HUMANITARIAN)
    client.force_login(outsider.user)
    assert client.get(url).status_code == 404

    client.force_login(military.user)
    deleted = client.post(reverse("comms:attachment-delete", kwargs={"pk": attachment.pk}))
    assert deleted.status_code == 302
    assert _keys(bucket) == []


@pytest.mark.django_db(transaction=True)
def test_a_file_missing_from_the_bucket_answers_404_not_500(bucket: Any, client: Client) -> None:
    author = make_member(Component.CIVILIAN)
    attachment = service.add_attachment(author.actor, "actors.liaisonlogentry", _entry(author).pk,
                                        SimpleUploadedFile("minutes.pdf", PDF))
    bucket.delete_object(Bucket=BUCKET, Key=f"mission-a/{service.stored_name(attachment)}")
    client.force_login(author.user)
    assert client.get(reverse("comms:attachment-download", kwargs={"pk": attachment.pk})).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_backup_takes_the_bucket_attachments_and_restore_puts_them_back(
        bucket: Any, settings: Any, tmp_path: Path) -> None:
    settings.CIVMIL_VAR_DIR = tmp_path / "var"
    settings.CIVMIL_VAR_DIR.mkdir()
    author = make_member(Component.CIVILIAN)
    attachment = service.add_attachment(author.actor, "actors.liaisonlogentry", _entry(author).pk,
                                        SimpleUploadedFile("minutes.pdf", PDF))
    name = service.stored_name(attachment)
    archive = tmp_path / "b.tar.gz"
    call_command("backup", "--output", str(archive), stdout=io.StringIO())
    with tarfile.open(archive) as tar:
        assert tar.extractfile(f"media/{name}").read() == PDF  # type: ignore[union-attr]
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    assert f"media/{name}" in manifest["members"]
    bucket.delete_object(Bucket=BUCKET, Key=f"mission-a/{name}")
    call_command("restore", str(archive), "--force", stdout=io.StringIO(), stderr=io.StringIO())
    assert bucket.get_object(Bucket=BUCKET, Key=f"mission-a/{name}")["Body"].read() == PDF
    with service.open_stored(Attachment.objects.get()) as stored:
        assert stored.read() == PDF
    call_command("backup", "--output", str(tmp_path / "no-media.tar.gz"), "--no-media", stdout=io.StringIO())
    with tarfile.open(tmp_path / "no-media.tar.gz") as tar:
        assert not [n for n in tar.getnames() if n.startswith("media/")]


def test_local_storage_is_the_default_and_keeps_files_private() -> None:
    local = default_storage({})
    assert local["BACKEND"] == "django.core.files.storage.FileSystemStorage"
    assert local["OPTIONS"] == {"file_permissions_mode": 0o600, "directory_permissions_mode": 0o700}
    s3 = default_storage({"CIVMIL_MEDIA_STORAGE": "S3", "CIVMIL_S3_BUCKET": "b", "CIVMIL_S3_REGION": "eu-west-3"})
    assert s3["OPTIONS"]["default_acl"] is None and s3["OPTIONS"]["querystring_expire"] == 60
    assert s3["OPTIONS"]["region_name"] == "eu-west-3" and "endpoint_url" not in s3["OPTIONS"]


@pytest.mark.parametrize(("environ", "variable", "message"), [
    ({"CIVMIL_MEDIA_STORAGE": "nfs"}, "CIVMIL_MEDIA_STORAGE", "must be one of local, s3"),
    ({"CIVMIL_MEDIA_STORAGE": "s3"}, "CIVMIL_S3_BUCKET", "must name the bucket"),
    ({"CIVMIL_MEDIA_STORAGE": "s3", "CIVMIL_S3_BUCKET": "b", "CIVMIL_S3_ENDPOINT_URL": "s3.local:9000"},
     "CIVMIL_S3_ENDPOINT_URL", "is not an http(s) URL"),
    ({"CIVMIL_MEDIA_STORAGE": "s3", "CIVMIL_S3_BUCKET": "b", "AWS_ACCESS_KEY_ID": "k"},
     "AWS_SECRET_ACCESS_KEY", "must be set with its pair"),
])
def test_unusable_storage_variables_are_refused_by_name(environ: dict[str, str], variable: str, message: str) -> None:
    with pytest.raises(EnvironmentProblem) as refused:
        default_storage(environ)
    assert refused.value.variable == variable and message in refused.value.problem


def test_the_command_refuses_them_in_one_line(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("CIVMIL_", "DJANGO_"))}
    env.update(CIVMIL_VAR_DIR=str(tmp_path), DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
               CIVMIL_MEDIA_STORAGE="s3")
    done = subprocess.run([str(Path(sys.executable).with_name("civmil")), "check"], env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 1
    assert done.stderr.strip() == "civmil: CIVMIL_S3_BUCKET: must name the bucket when CIVMIL_MEDIA_STORAGE=s3"

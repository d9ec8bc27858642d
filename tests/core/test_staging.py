"""Staged imports (civmil.core.staging): the kept upload and its staging id, and the generic
upload -> dry run -> confirm page, driven through a small import of text lines."""

from __future__ import annotations

import json
import os
import stat
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django import forms
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.test import Client
from django.urls import path as route
from django.urls import reverse

from civmil.core import services, staging
from civmil.core.acting import ACTING_SESSION_KEY, Actor
from civmil.core.choices import Component, Role
from civmil.core.errors import Invalid
from tests.factories import Member, make_member, make_org

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.core.test_staging")]

AREA = staging.StagingArea("test-imports", prefix="lines-", suffix=".txt")
OTHER_AREA = staging.StagingArea("other-imports", prefix="lines-", suffix=".txt")
LIMIT = 1000


def too_large(size: int) -> str:
    return f"The file is {size} bytes; the limit is {LIMIT}."


@pytest.fixture(autouse=True)
def var_dir(settings: Any, tmp_path: Path) -> Path:
    settings.CIVMIL_VAR_DIR = tmp_path
    return tmp_path


def kept(var_dir: Path, area: staging.StagingArea = AREA) -> list[Path]:
    return sorted((var_dir / "tmp" / area.name).glob("*"))


def upload(text: str | bytes, name: str = "lines.txt") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode() if isinstance(text, str) else text, "text/plain")


@pytest.fixture
def admin() -> Member:
    return make_member(Component.CIVILIAN, role=Role.ADMINISTRATOR)


# ---------------------------------------------------------------------------------------------
# The staging area


def test_an_upload_is_kept_privately_and_read_back_by_its_uploader(admin: Member, var_dir: Path) -> None:
    staged = AREA.store(upload("one\ntwo\n", name="../../x/lines.txt"), admin.actor, max_bytes=LIMIT,
                        too_large=too_large)
    (path,) = kept(var_dir)
    assert path.name == f"lines-{staged.staging_id}.txt"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert staged.filename == "lines.txt"  # no directories from the browser
    again = AREA.load(staged.staging_id, admin.actor, sha256=staged.sha256)
    assert again.data == b"one\ntwo\n"


def test_another_person_cannot_load_an_upload(admin: Member) -> None:
    staged = AREA.store(upload("one\n"), admin.actor, max_bytes=LIMIT, too_large=too_large)
    other = make_member(Component.CIVILIAN, role=Role.ADMINISTRATOR)
    with pytest.raises(staging.NotYours) as refused:
        AREA.load(staged.staging_id, other.actor)
    assert refused.value.status == 400
    assert "made by someone else" in refused.value.message and "Upload the file again" in refused.value.message


def test_the_uploader_acting_as_another_membership_cannot_load_it(admin: Member) -> None:
    staged = AREA.store(upload("one\n"), admin.actor, max_bytes=LIMIT, too_large=too_large)
    second = services.add_membership(None, person=admin.person, organisation=make_org(Component.HUMANITARIAN),
                                     role=Role.ADMINISTRATOR)
    as_second = Actor(user_id=admin.user.pk, person=admin.person, membership=second)
    with pytest.raises(staging.NotYours):
        AREA.load(staged.staging_id, as_second)


def test_a_staging_id_of_another_area_is_refused(admin: Member) -> None:
    staged = AREA.store(upload("one\n"), admin.actor, max_bytes=LIMIT, too_large=too_large)
    with pytest.raises(staging.NotYours):
        OTHER_AREA.load(staged.staging_id, admin.actor)


@pytest.mark.parametrize("staging_id", ["", "x" * 43, "../../etc/passwd", "a" * 43 + "." + "b" * 22 + "/..",
                                        "a" * 43 + ".." + "b" * 22, "a" * 43 + "." + "b" * 22 + "\n"])
def test_a_malformed_staging_id_is_refused_as_expired(admin: Member, staging_id: str) -> None:
    with pytest.raises(staging.Expired) as refused:
        AREA.load(staging_id, admin.actor)
    assert refused.value.status == 400 and "upload the file again" in refused.value.message
    assert AREA.path(staging_id) is None


def test_an_expired_upload_is_refused_and_removed(admin: Member, var_dir: Path) -> None:
    staged = AREA.store(upload("one\n"), admin.actor, max_bytes=LIMIT, too_large=too_large)
    (path,) = kept(var_dir)
    old = time.time() - AREA.ttl_seconds - 60
    os.utime(path, (old, old))
    with pytest.raises(staging.Expired) as refused:
        AREA.load(staged.staging_id, admin.actor)
    assert "expired" in refused.value.message
    assert kept(var_dir) == []


def test_a_kept_file_that_changed_is_refused_and_removed(admin: Member, var_dir: Path) -> None:
    staged = AREA.store(upload("one\n"), admin.actor, max_bytes=LIMIT, too_large=too_large)
    (path,) = kept(var_dir)
    path.write_bytes(b"tampered\n")
    with pytest.raises(staging.Expired):
        AREA.load(staged.staging_id, admin.actor, sha256=staged.sha256)
    assert kept(var_dir) == []


def test_an_oversized_upload_is_refused_with_the_limit_and_nothing_is_kept(admin: Member, var_dir: Path) -> None:
    with pytest.raises(staging.TooLarge) as refused:
        AREA.store(upload(b"x" * (LIMIT + 1)), admin.actor, max_bytes=LIMIT, too_large=too_large)
    assert refused.value.status == 413
    assert refused.value.message == f"The file is {LIMIT + 1} bytes; the limit is {LIMIT}."
    assert kept(var_dir) == []


def test_sweep_removes_only_expired_uploads_of_its_area(admin: Member, var_dir: Path) -> None:
    fresh = AREA.store(upload("fresh\n"), admin.actor, max_bytes=LIMIT, too_large=too_large)
    AREA.store(upload("stale\n"), admin.actor, max_bytes=LIMIT, too_large=too_large)
    OTHER_AREA.store(upload("other\n"), admin.actor, max_bytes=LIMIT, too_large=too_large)
    unrelated = var_dir / "tmp" / AREA.name / "notes.md"
    unrelated.write_text("kept")
    old = time.time() - AREA.ttl_seconds - 60
    for path in kept(var_dir):
        if fresh.staging_id not in path.name:
            os.utime(path, (old, old))
    for path in kept(var_dir, OTHER_AREA):
        os.utime(path, (old, old))
    assert AREA.sweep() == 1
    assert sorted(p.name for p in kept(var_dir)) == sorted([f"lines-{fresh.staging_id}.txt", "notes.md"])
    assert len(kept(var_dir, OTHER_AREA)) == 1  # another area's files wait for its own sweep
    # Keeping a new upload sweeps too.
    OTHER_AREA.store(upload("new\n"), admin.actor, max_bytes=LIMIT, too_large=too_large)
    assert len(kept(var_dir, OTHER_AREA)) == 1


def test_the_hourly_job_sweeps_every_area_and_folders_no_app_declared(admin: Member, var_dir: Path) -> None:
    from civmil.core import schedule

    assert schedule.registered()["staging.sweep"].task is schedule.sweep_staged_uploads
    fresh = AREA.store(upload("fresh\n"), admin.actor, max_bytes=LIMIT, too_large=too_large)
    OTHER_AREA.store(upload("stale\n"), admin.actor, max_bytes=LIMIT, too_large=too_large)
    undeclared = var_dir / "tmp" / "retired-imports"
    undeclared.mkdir()
    (undeclared / "left-over.csv").write_text("x")
    (undeclared / "recent.csv").write_text("y")
    old = time.time() - staging.DEFAULT_TTL_SECONDS - 60
    for path in (*kept(var_dir, OTHER_AREA), undeclared / "left-over.csv"):
        os.utime(path, (old, old))
    assert schedule.sweep_staged_uploads.call() == 2
    assert [p.name for p in kept(var_dir)] == [f"lines-{fresh.staging_id}.txt"]
    assert not kept(var_dir, OTHER_AREA)
    assert [p.name for p in undeclared.iterdir()] == ["recent.csv"]


@pytest.mark.parametrize(("name", "prefix", "suffix"), [
    ("../up", "lines-", ".txt"), ("ok", "../", ".txt"), ("ok", "lines-", "txt"), ("ok", "lines-", ".t/x"),
    ("ok", "lines-", ".txt\n"),
])
def test_unsafe_area_names_are_refused(name: str, prefix: str, suffix: str) -> None:
    with pytest.raises(ValueError):
        staging.StagingArea(name, prefix=prefix, suffix=suffix)


# ---------------------------------------------------------------------------------------------
# The page, through a small import of text lines: a line starting with "-" is rejected; a file
# starting with "!" is refused whole.


@dataclass
class LinesPlan:
    lines: list[str]
    rejected: list[int] = field(default_factory=list)
    error: str = ""
    stored_version: int = 0

    def fingerprint(self) -> str:
        return json.dumps([self.lines, self.rejected, self.stored_version])


@dataclass
class Line:
    number: int

    def describe(self) -> str:
        return f"line {self.number} starts with -"


class LinesForm(forms.Form):
    file = forms.FileField()
    mode = forms.ChoiceField(choices=[("add", "add"), ("replace", "replace")])


class LinesImport(staging.StagedImport[LinesPlan]):
    """Import text lines."""

    staging_area = AREA
    session_key = "tests.lines_import"
    url_name = "lines-import"
    form_class = LinesForm
    form_template = "lines/form.html"
    report_template = "lines/report.html"
    back_url_name = "lines-import"
    refused_message = "Only administrators import lines."
    changed_notice = "The stored lines changed; check the report again."
    stored_version = 0
    imported: list[tuple[str, list[str]]] = []

    def max_bytes(self) -> int:
        return LIMIT

    def too_large_message(self, size: int) -> str:
        return too_large(size)

    def params(self, form: forms.Form) -> dict[str, Any]:
        return {"mode": form.cleaned_data["mode"]}

    def plan(self, actor: Actor, data: bytes, params: Mapping[str, Any]) -> LinesPlan:
        if params.get("mode") not in ("add", "replace"):
            raise staging.Expired()
        text = data.decode()
        if text.startswith("!"):
            return LinesPlan([], error="The file starts with '!'.")
        lines = text.splitlines()
        return LinesPlan([x for x in lines if not x.startswith("-")],
                         [n for n, x in enumerate(lines, start=1) if x.startswith("-")],
                         stored_version=LinesImport.stored_version)

    def describe(self, plan: LinesPlan) -> staging.ImportReport:
        return staging.ImportReport(
            summary=f"{len(plan.lines)} lines would be imported.", importable=len(plan.lines),
            confirm_label="Import", rejected=[staging.RejectedItem(n, "", ["starts with -"]) for n in plan.rejected])

    def execute(self, actor: Actor, plan: LinesPlan, *, confirm_rejected: bool) -> Any:
        staging.refuse_unconfirmed(
            error=plan.error, rejected=[Line(n) for n in plan.rejected], valid=len(plan.lines),
            confirm=confirm_rejected, field="lines", nothing_message="No line can be imported.",
            rejected_message=lambda n, ok: f"{n} lines are rejected, so nothing was imported ({ok} are valid).")
        LinesImport.imported.append((str(actor.membership_id), plan.lines))
        return len(plan.lines)

    def done(self, request: HttpRequest, plan: LinesPlan, result: Any, params: Mapping[str, Any]) -> HttpResponse:
        return HttpResponseRedirect(f"/done/?n={result}&mode={params['mode']}")

    def render(self, request: HttpRequest, template: str, context: dict[str, Any], *,
               status: int = 200) -> HttpResponse:
        """The context as JSON: enough to check what a page would show."""
        report = context.get("report")
        form = context.get("form")
        return HttpResponse(json.dumps({
            "template": template, "error": context.get("error", ""), "notice": context.get("notice", ""),
            "message": str(context.get("message", "")), "token": context.get("token", ""),
            "summary": report.summary if report else "", "rejected": [r.position for r in report.rejected]
            if report else [], "form_errors": form.errors.get_json_data() if form is not None else {},
            "rows": list(context.get("rows", [])), "import_url": context.get("import_url", ""),
        }), status=status, content_type="application/json")


urlpatterns = [route("lines/import/", LinesImport.as_view(), name="lines-import")]


@pytest.fixture(autouse=True)
def _reset_lines() -> None:
    LinesImport.imported = []
    LinesImport.stored_version = 0


def signed_in(member: Member) -> Client:
    client = Client()
    client.force_login(member.user)
    return client


def post_file(client: Client, text: str | bytes, mode: str = "add", **extra: Any) -> HttpResponse:
    response: HttpResponse = client.post(reverse("lines-import"), {"step": "upload", "file": upload(text),
                                                                   "mode": mode}, **extra)
    return response


def page(response: HttpResponse) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(response.content)
    return body


def test_upload_shows_the_dry_run_and_confirm_imports(admin: Member, var_dir: Path) -> None:
    client = signed_in(admin)
    assert page(client.get(reverse("lines-import")))["template"] == "lines/form.html"
    dry = post_file(client, "one\n-bad\nthree\n", mode="replace")
    report = page(dry)
    assert dry.status_code == 200 and report["template"] == "lines/report.html"
    assert report["summary"] == "2 lines would be imported." and report["rejected"] == [2]
    assert report["import_url"] == reverse("lines-import")
    token = report["token"]
    assert client.session[LinesImport.session_key]["token"] == token
    assert LinesImport.imported == []

    refused = client.post(reverse("lines-import"), {"step": "confirm", "token": token})
    assert refused.status_code == 422 and "nothing was imported" in page(refused)["error"]
    done = client.post(reverse("lines-import"), {"step": "confirm", "token": token, "confirm_rejected": "1"})
    assert done.status_code == 302 and done["Location"] == "/done/?n=2&mode=replace"
    assert LinesImport.imported == [(str(admin.membership.pk), ["one", "three"])]
    assert kept(var_dir) == [] and LinesImport.session_key not in client.session

    again = client.post(reverse("lines-import"), {"step": "confirm", "token": token, "confirm_rejected": "1"})
    assert again.status_code == 400 and "upload the file again" in page(again)["error"]
    assert len(LinesImport.imported) == 1


def test_a_foreign_staging_id_is_refused_with_the_reason(admin: Member, var_dir: Path) -> None:
    owner = signed_in(admin)
    token = page(post_file(owner, "one\n"))["token"]
    intruder = signed_in(make_member(Component.CIVILIAN, role=Role.ADMINISTRATOR))
    response = intruder.post(reverse("lines-import"), {"step": "confirm", "token": token})
    assert response.status_code == 400
    assert "made by someone else" in page(response)["error"]
    assert LinesImport.imported == []
    assert len(kept(var_dir)) == 1  # the owner's upload is untouched
    assert owner.post(reverse("lines-import"), {"step": "confirm", "token": token}).status_code == 302


def test_switching_membership_after_the_dry_run_refuses_the_confirmation(admin: Member) -> None:
    client = signed_in(admin)
    token = page(post_file(client, "one\n"))["token"]
    second = services.add_membership(None, person=admin.person, organisation=make_org(Component.HUMANITARIAN),
                                     role=Role.ADMINISTRATOR)
    session = client.session
    session[ACTING_SESSION_KEY] = str(second.pk)
    session.save()
    response = client.post(reverse("lines-import"), {"step": "confirm", "token": token})
    assert response.status_code == 400 and "acting as another membership" in page(response)["error"]
    assert LinesImport.imported == []


def test_an_expired_staging_id_is_refused_with_the_reason(admin: Member, var_dir: Path) -> None:
    client = signed_in(admin)
    token = page(post_file(client, "one\n"))["token"]
    (path,) = kept(var_dir)
    old = time.time() - AREA.ttl_seconds - 1
    os.utime(path, (old, old))
    response = client.post(reverse("lines-import"), {"step": "confirm", "token": token})
    assert response.status_code == 400 and "expired" in page(response)["error"]
    assert kept(var_dir) == [] and LinesImport.session_key not in client.session
    assert LinesImport.imported == []


def test_options_that_no_longer_make_sense_are_refused_as_expired(admin: Member, var_dir: Path) -> None:
    client = signed_in(admin)
    token = page(post_file(client, "one\n"))["token"]
    session = client.session
    session[LinesImport.session_key] = {**session[LinesImport.session_key], "params": {"mode": "explode"}}
    session.save()
    response = client.post(reverse("lines-import"), {"step": "confirm", "token": token})
    assert response.status_code == 400 and "expired" in page(response)["error"]
    assert kept(var_dir) == []


def test_an_oversized_body_is_refused_before_it_is_read(admin: Member, var_dir: Path) -> None:
    response = signed_in(admin).post(reverse("lines-import"), {"mode": "add"},
                                     CONTENT_LENGTH=str(LIMIT + staging.BODY_ALLOWANCE + 1))
    assert response.status_code == 413
    assert page(response)["error"] == too_large(LIMIT + staging.BODY_ALLOWANCE + 1)
    assert kept(var_dir) == []


def test_an_oversized_file_is_refused_on_the_form_with_the_limit(admin: Member, var_dir: Path) -> None:
    response = post_file(signed_in(admin), b"x" * (LIMIT + 10))
    assert response.status_code == 422
    assert page(response)["form_errors"]["file"][0]["message"] == too_large(LIMIT + 10)
    assert kept(var_dir) == []


def test_a_file_refused_whole_keeps_nothing(admin: Member, var_dir: Path) -> None:
    client = signed_in(admin)
    response = post_file(client, "!broken\n")
    assert response.status_code == 422 and page(response)["error"] == "The file starts with '!'."
    assert page(response)["token"] == ""
    assert kept(var_dir) == [] and LinesImport.session_key not in client.session


def test_a_file_with_nothing_to_import_keeps_nothing(admin: Member, var_dir: Path) -> None:
    response = post_file(signed_in(admin), "-only\n-rejected\n")
    assert response.status_code == 422 and page(response)["rejected"] == [1, 2]
    assert kept(var_dir) == []


def test_a_plan_that_changed_is_shown_again_before_it_is_imported(admin: Member) -> None:
    client = signed_in(admin)
    token = page(post_file(client, "one\n"))["token"]
    LinesImport.stored_version = 1  # someone changed what is stored meanwhile
    changed = client.post(reverse("lines-import"), {"step": "confirm", "token": token})
    assert changed.status_code == 409 and page(changed)["notice"] == LinesImport.changed_notice
    assert page(changed)["token"] == token and LinesImport.imported == []
    assert client.post(reverse("lines-import"), {"step": "confirm", "token": token}).status_code == 302


def test_a_new_upload_replaces_the_pending_one(admin: Member, var_dir: Path) -> None:
    client = signed_in(admin)
    first = page(post_file(client, "one\n"))["token"]
    second = page(post_file(client, "two\n"))["token"]
    assert [p.name for p in kept(var_dir)] == [f"lines-{second}.txt"]
    response = client.post(reverse("lines-import"), {"step": "confirm", "token": first})
    assert response.status_code == 400 and "upload the file again" in page(response)["error"]


def test_cancel_removes_the_kept_upload(admin: Member, var_dir: Path) -> None:
    client = signed_in(admin)
    post_file(client, "one\n")
    response = client.post(reverse("lines-import"), {"step": "cancel"})
    assert response.status_code == 302 and response["Location"] == reverse("lines-import")
    assert kept(var_dir) == [] and LinesImport.session_key not in client.session


def test_only_those_who_may_import_reach_the_page(var_dir: Path) -> None:
    client = signed_in(make_member(Component.CIVILIAN))
    assert client.get(reverse("lines-import")).status_code == 403
    response = post_file(client, "one\n")
    assert response.status_code == 403 and page(response)["message"] == "Only administrators import lines."
    assert kept(var_dir) == []


def test_csrf_is_still_checked(admin: Member, var_dir: Path) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin.user)
    assert post_file(client, "one\n").status_code == 403
    assert kept(var_dir) == []


@pytest.mark.parametrize(("error", "rejected", "valid", "confirm", "refused"), [
    ("Not a text file.", [], 3, True, ("Not a text file.", {"file": ["Not a text file."]})),
    ("", [Line(2), Line(5)], 3, False,
     ("2 lines are rejected, so nothing was imported (3 are valid).",
      {"lines": ["line 2 starts with -", "line 5 starts with -"]})),
    ("", [Line(2)], 0, True, ("No line can be imported.", {"lines": ["No line can be imported."]})),
    ("", [Line(2)], 3, True, None),
    ("", [], 3, False, None),
])
def test_an_import_writes_nothing_with_rejected_items_unless_confirmed(
        error: str, rejected: list[Line], valid: int, confirm: bool, refused: tuple[str, Any] | None) -> None:
    def guard() -> None:
        staging.refuse_unconfirmed(
            error=error, rejected=rejected, valid=valid, confirm=confirm, field="lines",
            nothing_message="No line can be imported.",
            rejected_message=lambda n, ok: f"{n} lines are rejected, so nothing was imported ({ok} are valid).")

    if refused is None:
        guard()
        return
    with pytest.raises(Invalid) as found:
        guard()
    assert (found.value.message, found.value.errors) == refused

"""Staged imports: upload a file, read the dry run, then confirm.

Every import of a file through the browser runs in two steps. The *upload* step keeps the file
on the server (so that a large file is not sent twice over a mission's slow link), plans the
import without writing anything, and shows the dry run: what would be created or updated, and
every rejected item with the reasons. The *confirm* step reads the kept file back, plans again
against what is stored now, and imports only if the plan is still the one the user saw.

Two pieces, usable on their own:

:class:`StagingArea`
    Where one kind of upload is kept: ``<var>/tmp/<name>/<prefix><staging id><suffix>``, mode
    0600 in a 0700 directory, for :attr:`StagingArea.ttl_seconds` (a day). The staging id is a
    random nonce and a signature that binds it to the uploading account, the membership it acted
    as, the space and the staging area, so nobody else (nor the same person acting as another
    membership) can confirm it. Files older than the time to live are refused and swept away.

:class:`StagedImport`
    The page: a subclass names its form, templates, limits, how to plan, how to describe a plan
    (an :class:`ImportReport`, shown by ``core/includes/import_report.html``) and which service
    carries the plan out; :meth:`StagedImport.as_view` gives the view function. The pending
    import (staging id, the file's SHA-256, its name, the chosen options and the plan's
    fingerprint) is kept in the uploader's session, one per page.

See ``docs/development/staged-imports.md`` for a worked example.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods

from civmil.core import services
from civmil.core.errors import Invalid, ServiceError

if TYPE_CHECKING:
    from django import forms
    from django.http import HttpRequest, HttpResponse
    from django.utils.functional import _StrPromise

    from civmil.core.acting import Actor

#: Uploads left behind (an abandoned dry run) are refused and removed after this many seconds.
DEFAULT_TTL_SECONDS = 24 * 3600
#: Planned items listed in a dry-run report (rejected items are always all listed).
MAX_REPORT_ROWS = 500
#: A request body may exceed the file limit by this much (the form's other fields, multipart framing).
BODY_ALLOWANCE = 1024 * 1024
#: Status of a form re-rendered with validation errors (as every other form page).
FORM_ERROR_STATUS = 422

_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")
_SUFFIX = re.compile(r"\.[a-z0-9]+")
_STAGING_ID = re.compile(r"([A-Za-z0-9_-]{43})\.([A-Za-z0-9_-]{22})")


# ---------------------------------------------------------------------------------------------
# Errors


class StagingRefused(ServiceError):
    """A staging id that cannot be confirmed; the user uploads the file again."""

    status = 400


class Expired(StagingRefused):
    def __init__(self, message: str = "") -> None:
        super().__init__(message or _("This upload has expired or was imported already; upload the file again."))


class NotYours(StagingRefused):
    def __init__(self, message: str = "") -> None:
        super().__init__(message or _(
            "This upload was made by someone else, or by you acting as another membership, so it cannot be "
            "confirmed here. Upload the file again."))


class TooLarge(ServiceError):
    status = 413


# ---------------------------------------------------------------------------------------------
# Where uploads wait


@dataclass(frozen=True)
class StagedFile:
    """An upload kept between the dry run and the confirmation."""

    staging_id: str
    data: bytes
    filename: str = ""

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True)
class StagingArea:
    """One kind of upload: ``<CIVMIL_VAR_DIR>/tmp/<name>/<prefix><staging id><suffix>``."""

    name: str
    prefix: str
    suffix: str
    ttl_seconds: int = DEFAULT_TTL_SECONDS

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name) or not _NAME.fullmatch(self.prefix.rstrip("-") or "x") \
                or not _SUFFIX.fullmatch(self.suffix):
            raise ValueError(f"unsafe staging area {self.name!r} {self.prefix!r} {self.suffix!r}")
        _AREAS[self.name] = self

    @property
    def directory(self) -> Path:
        return Path(settings.CIVMIL_VAR_DIR) / "tmp" / self.name

    def path(self, staging_id: str) -> Path | None:
        """The file of a well-formed staging id (whoever made it), else ``None``."""
        if not _STAGING_ID.fullmatch(staging_id or ""):
            return None
        return self.directory / f"{self.prefix}{staging_id}{self.suffix}"

    def _signature(self, nonce: str, actor: Actor) -> str:
        binding = f"{nonce}|{actor.user_id or ''}|{actor.membership_id or ''}|{actor.space_id}"
        mac = salted_hmac(f"civmil.core.staging.{self.name}", binding, algorithm="sha256").digest()
        return base64.urlsafe_b64encode(mac[:16]).rstrip(b"=").decode()

    def check_owner(self, staging_id: str, actor: Actor) -> None:
        """Refuse a malformed staging id (:class:`Expired`) or one made for someone else (:class:`NotYours`)."""
        match = _STAGING_ID.fullmatch(staging_id or "")
        if match is None:
            raise Expired()
        if not constant_time_compare(match.group(2), self._signature(match.group(1), actor)):
            raise NotYours()

    def store(self, upload: UploadedFile, actor: Actor, *, max_bytes: int,
              too_large: Callable[[int], str]) -> StagedFile:
        """Keep ``upload`` for ``actor`` under a fresh staging id; sweeps expired uploads first.

        Raises :class:`TooLarge` (with ``too_large(size)`` as its message) when the file is
        bigger than ``max_bytes``; nothing is kept then.
        """
        self.sweep()
        chunks: list[bytes] = []
        size = 0
        for chunk in upload.chunks():
            size += len(chunk)
            if size > max_bytes:
                raise TooLarge(too_large(size))
            chunks.append(chunk)
        data = b"".join(chunks)
        nonce = secrets.token_urlsafe(32)
        staging_id = f"{nonce}.{self._signature(nonce, actor)}"
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.directory / f"{self.prefix}{staging_id}{self.suffix}",
                     os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        return StagedFile(staging_id, data, os.path.basename(str(upload.name or ""))[:200])

    def load(self, staging_id: str, actor: Actor, *, sha256: str | None = None) -> StagedFile:
        """The kept file of ``staging_id``, if ``actor`` made it, it has not expired and (when
        ``sha256`` is given) it is still the file that was planned.

        Raises :class:`NotYours` or :class:`Expired`; an expired or altered file is removed.
        """
        self.check_owner(staging_id, actor)
        path = self.path(staging_id)
        assert path is not None  # check_owner refused malformed ids
        try:
            if time.time() - path.stat().st_mtime > self.ttl_seconds:
                path.unlink(missing_ok=True)
                raise Expired()
            data = path.read_bytes()
        except OSError as exc:
            raise Expired() from exc
        if not data or (sha256 is not None and not constant_time_compare(hashlib.sha256(data).hexdigest(), sha256)):
            path.unlink(missing_ok=True)
            raise Expired()
        return StagedFile(staging_id, data)

    def discard(self, staging_id: str) -> None:
        """Remove the kept file of ``staging_id`` (nothing happens for an unknown id)."""
        path = self.path(staging_id)
        if path is not None:
            path.unlink(missing_ok=True)

    def sweep(self, now: float | None = None) -> int:
        """Remove uploads older than the time to live; returns how many were removed."""
        cutoff = (time.time() if now is None else now) - self.ttl_seconds
        removed = 0
        for path in self.directory.glob(f"{self.prefix}*{self.suffix}"):
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except OSError:
                continue
        return removed


_AREAS: dict[str, StagingArea] = {}


def sweep_all(now: float | None = None) -> int:
    """Remove expired uploads of every staging area (the periodic job ``staging.sweep``).

    A worker process may not have imported the app that declares an area: a folder under
    ``var/tmp`` with no declared area is swept with the default time to live.
    """
    root = Path(settings.CIVMIL_VAR_DIR) / "tmp"
    removed = 0
    folders = {p.name for p in root.iterdir() if p.is_dir()} if root.is_dir() else set()
    for name in sorted(folders | set(_AREAS)):
        area = _AREAS.get(name)
        if area is None:
            if not _NAME.fullmatch(name):
                continue
            cutoff = (time.time() if now is None else now) - DEFAULT_TTL_SECONDS
            for path in (root / name).iterdir():
                try:
                    if path.is_file() and path.stat().st_mtime < cutoff:
                        path.unlink()
                        removed += 1
                except OSError:
                    continue
        else:
            removed += area.sweep(now)
    return removed


# ---------------------------------------------------------------------------------------------
# What the dry run shows


@dataclass(frozen=True)
class RejectedItem:
    """One item of the file left out: where it is in the file, what it is called, and why."""

    position: int | str
    label: str
    reasons: Sequence[str]


@dataclass(frozen=True)
class ImportReport:
    """What ``core/includes/import_report.html`` shows about a plan.

    The sentences are built by the import (they name its own items: areas, records, rows...).
    """

    #: What the import would do, e.g. "3 areas would be created, 1 would be updated."
    summary: str
    #: Items the plan can write (0: there is nothing to confirm).
    importable: int
    #: The confirm button's text.
    confirm_label: str
    rejected: Sequence[RejectedItem] = ()
    #: e.g. "2 rows are rejected." (shown when something is rejected).
    rejected_summary: str = ""
    rejected_heading: str = ""
    #: What confirming with rejected items does, and how positions are counted.
    rejected_intro: str = ""
    #: Column headers of the rejected table: the position ("Row") and the label ("Name").
    position_header: str = ""
    label_header: str = ""
    #: Show labels as code (P-codes, identifiers).
    label_is_code: bool = False
    #: Warnings that help fix a wrong choice of options.
    notes: Sequence[str] = field(default_factory=tuple)


class Describable(Protocol):
    def describe(self) -> str: ...


def refuse_unconfirmed(*, error: str, rejected: Sequence[Describable], valid: int, confirm: bool, field: str,
                       rejected_message: Callable[[int, int], str], nothing_message: str) -> None:
    """The guard an import's service runs before it writes anything (:class:`Invalid` if refused).

    A file-level ``error`` refuses the file (named ``file``). With any ``rejected`` item nothing is
    written unless the user confirmed importing the ``valid`` ones without them (``confirm``):
    ``rejected_message(n_rejected, n_valid)`` says so, and ``field`` names each rejected item's
    description. A plan with nothing valid is refused with ``nothing_message``.
    """
    if error:
        raise Invalid(error, errors={"file": [error]})
    if rejected and not confirm:
        raise Invalid(rejected_message(len(rejected), valid), errors={field: [r.describe() for r in rejected]})
    if not valid:
        raise Invalid(nothing_message, errors={field: [nothing_message]})


class ImportPlan(Protocol):
    """What :class:`StagedImport` needs of a plan: a file-level error, and a fingerprint that
    changes whenever what the user was shown would change."""

    error: str

    def fingerprint(self) -> str: ...


PlanT = TypeVar("PlanT", bound=ImportPlan)


# ---------------------------------------------------------------------------------------------
# The page


def _actor(request: HttpRequest) -> Actor:
    return request.actor  # type: ignore[attr-defined,no-any-return]


class StagedImport(Generic[PlanT]):
    """Upload -> dry run -> confirm, for one kind of file. Subclass, fill in the hooks, and route
    ``MyImport.as_view()``.

    Status codes: a form with errors 422; a file over the limit 413 (refused from the request's
    Content-Length before anything parses it); a file that cannot be planned 422; a staging id
    that is malformed, expired, already imported or someone else's 400; a plan that changed
    since the dry run 409 (with the new report); a service error its own status.
    """

    staging_area: StagingArea
    #: Session key of the pending import (one per page).
    session_key: str
    #: URL name of the page (forms post to it; cancel returns to it).
    url_name: str
    form_class: type[forms.Form]
    #: The upload form's page and the dry-run report's page.
    form_template: str
    report_template: str
    #: The form's file field.
    file_field = "file"
    #: The link beside the upload button.
    back_url_name: str
    back_label: str | _StrPromise = ""
    #: Shown (403) to a signed-in user who may not import.
    refused_message: str | _StrPromise = ""
    #: Shown (409) when the plan changed between the dry run and the confirmation.
    changed_notice: str | _StrPromise = ""
    max_report_rows = MAX_REPORT_ROWS

    # -- hooks ---------------------------------------------------------------------------------

    def max_bytes(self) -> int:
        raise NotImplementedError

    def too_large_message(self, size: int) -> str:
        raise NotImplementedError

    def may_import(self, actor: Actor) -> bool:
        return services.is_administrator(actor)

    def params(self, form: forms.Form) -> dict[str, Any]:
        """The form's options, kept in the session (JSON) for the confirm step."""
        return {}

    def plan(self, actor: Actor, data: bytes, params: Mapping[str, Any]) -> PlanT:
        """Plan the import (writes nothing). Raise :class:`Expired` if ``params`` from the
        session are no longer usable."""
        raise NotImplementedError

    def describe(self, plan: PlanT) -> ImportReport:
        raise NotImplementedError

    def planned_rows(self, plan: PlanT) -> Sequence[Any]:
        """What the import would do, item by item (the first :attr:`max_report_rows` are listed)."""
        return ()

    def form_context(self) -> dict[str, Any]:
        return {}

    def report_context(self, plan: PlanT) -> dict[str, Any]:
        return {}

    def execute(self, actor: Actor, plan: PlanT, *, confirm_rejected: bool) -> Any:
        """Carry the plan out through the app's service; raise :class:`ServiceError` to refuse."""
        raise NotImplementedError

    def done(self, request: HttpRequest, plan: PlanT, result: Any, params: Mapping[str, Any]) -> HttpResponse:
        """The answer after a successful import (a message and a redirect)."""
        raise NotImplementedError

    def render(self, request: HttpRequest, template: str, context: dict[str, Any], *,
               status: int = 200) -> HttpResponse:
        return render(request, template, context, status=status)

    # -- the view ------------------------------------------------------------------------------

    @classmethod
    def as_view(cls) -> Callable[[HttpRequest], HttpResponse]:
        page = cls()
        steps = csrf_protect(require_http_methods(["GET", "POST"])(page.steps))

        @csrf_exempt  # CSRF is checked by `steps`, after the size check in `dispatch`
        @login_required
        def view(request: HttpRequest) -> HttpResponse:
            return page.dispatch(request, steps)

        view.__doc__ = cls.__doc__
        view.__name__ = view.__qualname__ = cls.__name__
        return view

    def dispatch(self, request: HttpRequest, steps: Callable[[HttpRequest], HttpResponse]) -> HttpResponse:
        """Refuse who may not import (403) and a body over the limit (413), then run the step."""
        if not self.may_import(_actor(request)):
            return self.render(request, "error.html", {"title": _("Not allowed"), "message": self.refused_message},
                               status=403)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if request.method == "POST" and length > self.max_bytes() + BODY_ALLOWANCE:
            return self.form_page(request, self.form_class(), status=413, error=self.too_large_message(length))
        return steps(request)

    def steps(self, request: HttpRequest) -> HttpResponse:
        actor = _actor(request)
        if request.method == "GET":
            return self.form_page(request, self.form_class())
        step = request.POST.get("step", "upload")
        if step == "confirm":
            return self.confirm(request, actor)
        if step == "cancel":
            self.discard(request)
            messages.info(request, _("The import was cancelled; nothing was imported."))
            return HttpResponseRedirect(reverse(self.url_name))
        return self.dry_run(request, actor)

    # -- the steps -----------------------------------------------------------------------------

    def dry_run(self, request: HttpRequest, actor: Actor) -> HttpResponse:
        form = self.form_class(request.POST, request.FILES)
        valid = form.is_valid()
        upload = form.cleaned_data.get(self.file_field) if valid else None
        if isinstance(upload, UploadedFile) and upload.size is not None and upload.size > self.max_bytes():
            form.add_error(self.file_field, self.too_large_message(upload.size))
            valid = False
        if not valid or not isinstance(upload, UploadedFile):
            return self.form_page(request, form, status=FORM_ERROR_STATUS)
        params = self.params(form)
        self.discard(request)
        try:
            staged = self.staging_area.store(upload, actor, max_bytes=self.max_bytes(),
                                             too_large=self.too_large_message)
        except TooLarge as exc:
            form.add_error(self.file_field, exc.message)
            return self.form_page(request, form, status=exc.status)
        plan = self.plan(actor, staged.data, params)
        report = self.describe(plan)
        if plan.error or not report.importable:
            self.staging_area.discard(staged.staging_id)
            return self.report_page(request, plan, report, staging_id="", filename=staged.filename,
                                    error=plan.error, status=FORM_ERROR_STATUS)
        request.session[self.session_key] = {
            "token": staged.staging_id, "sha256": staged.sha256, "filename": staged.filename, "params": params,
            "fingerprint": plan.fingerprint(),
        }
        return self.report_page(request, plan, report, staging_id=staged.staging_id, filename=staged.filename)

    def confirm(self, request: HttpRequest, actor: Actor) -> HttpResponse:
        staging_id = request.POST.get("token", "")
        pending = request.session.get(self.session_key)
        try:
            self.staging_area.check_owner(staging_id, actor)
            if not isinstance(pending, dict) or pending.get("token") != staging_id:
                raise Expired()
            try:
                staged = self.staging_area.load(staging_id, actor, sha256=str(pending.get("sha256", "")))
                params = pending.get("params")
                plan = self.plan(actor, staged.data, params if isinstance(params, dict) else {})
            except StagingRefused:
                self.discard(request)
                raise
        except StagingRefused as exc:
            return self.form_page(request, self.form_class(), status=exc.status, error=exc.message)
        filename = str(pending.get("filename", ""))
        report = self.describe(plan)
        if plan.fingerprint() != pending.get("fingerprint"):
            pending["fingerprint"] = plan.fingerprint()
            request.session[self.session_key] = pending
            return self.report_page(request, plan, report, staging_id=staging_id, filename=filename, status=409,
                                    notice=str(self.changed_notice))
        try:
            result = self.execute(actor, plan, confirm_rejected=request.POST.get("confirm_rejected") == "1")
        except ServiceError as exc:
            return self.report_page(request, plan, report, staging_id=staging_id, filename=filename,
                                    error=exc.message, status=exc.status)
        self.discard(request)
        return self.done(request, plan, result, pending.get("params") or {})

    def discard(self, request: HttpRequest) -> None:
        """Forget the session's pending import and remove its file."""
        pending = request.session.pop(self.session_key, None)
        if isinstance(pending, dict):
            self.staging_area.discard(str(pending.get("token", "")))

    # -- pages ---------------------------------------------------------------------------------

    def _common(self) -> dict[str, Any]:
        return {"import_url": reverse(self.url_name), "max_mb": self.max_bytes() // 1024 // 1024}

    def form_page(self, request: HttpRequest, form: forms.Form, *, status: int = 200, error: str = "") -> HttpResponse:
        return self.render(request, self.form_template, {
            **self.form_context(), **self._common(), "form": form, "error": error,
            "back_url": reverse(self.back_url_name), "back_label": self.back_label,
        }, status=status)

    def report_page(self, request: HttpRequest, plan: PlanT, report: ImportReport, *, staging_id: str,
                    filename: str, error: str = "", notice: str = "", status: int = 200) -> HttpResponse:
        rows = self.planned_rows(plan)
        return self.render(request, self.report_template, {
            **self.report_context(plan), **self._common(), "plan": plan, "report": report, "token": staging_id,
            "filename": filename, "error": error, "notice": notice, "failed": bool(plan.error),
            "rows": rows[:self.max_report_rows], "rows_truncated": len(rows) > self.max_report_rows,
            "max_rows": self.max_report_rows,
        }, status=status)


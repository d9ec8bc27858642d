"""Logs an operator can follow: a request id per request (in every line logged for it, and in the
response), one access line per request, JSON lines on request, and a line per job run."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import AsyncClient, Client
from django.urls import path
from django_tasks import task

from civmil.config.logging import json_formatter, logging_config
from civmil.core import observability, schedule

view_logger = logging.getLogger("civmil.tests.view")


def _logging_view(request: HttpRequest) -> HttpResponse:
    view_logger.warning("inside the view")
    return HttpResponse("ok")


def _failing_view(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("the view broke")


urlpatterns = [path("logged", _logging_view, name="logged"), path("broken", _failing_view, name="broken")]


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """What the root logger writes, as the JSON lines CIVMIL_LOG_FORMAT=json makes."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_formatter())
    handler.addFilter(observability.RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    saved = {name: logging.getLogger(name).level for name in ("civmil", "civmil.access")}
    logging.getLogger("civmil").setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def _records(stream: io.StringIO) -> list[dict[str, Any]]:
    lines = stream.getvalue().splitlines()
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    for record in records:
        assert {"time", "level", "logger", "message", "request_id"} <= set(record)
    return records


# -- the request id -----------------------------------------------------------------------------------

def test_each_request_gets_its_own_id_in_the_response_header() -> None:
    first = Client().get("/health/live")["X-Request-ID"]
    second = Client().get("/health/live")["X-Request-ID"]
    assert len(first) == 32 and first != second


@pytest.mark.parametrize(("sent", "kept"), [
    ("0f5c8e2a9b7d4c1e8f3a6b2d9c4e7f10", True),  # nginx's $request_id
    ("3fa85f64-5717-4562-b3fc-2c963f66afa6", True),  # a UUID
    ("short", False),
    ("x" * 200, False),
    ("abc def\nforged log line", False),
    ("<script>alert(1)</script>", False),
])
def test_the_proxys_request_id_is_kept_only_when_sane(sent: str, kept: bool) -> None:
    got = Client().get("/health/live", HTTP_X_REQUEST_ID=sent)["X-Request-ID"]
    assert (got == sent) is kept
    assert observability.SANE_REQUEST_ID.match(got)


@pytest.mark.urls("tests.core.test_logs")
def test_the_request_id_reaches_the_view_and_the_access_line(json_lines: io.StringIO) -> None:
    response = Client().get("/logged?q=secret-search", HTTP_X_REQUEST_ID="req-0123456789")
    assert response["X-Request-ID"] == "req-0123456789"
    inside, access = _records(json_lines)
    assert inside == {**inside, "logger": "civmil.tests.view", "level": "WARNING", "request_id": "req-0123456789"}
    assert access["logger"] == "civmil.access" and access["request_id"] == "req-0123456789"
    assert access["method"] == "GET" and access["path"] == "/logged" and access["status"] == 200
    assert access["route"] == "logged" and isinstance(access["duration_ms"], float)
    assert "secret-search" not in json_lines.getvalue()  # the query string is never logged


@pytest.mark.urls("tests.core.test_logs")
def test_concurrent_async_requests_keep_their_own_ids(json_lines: io.StringIO) -> None:
    async def both() -> list[Any]:
        client = AsyncClient()
        return list(await asyncio.gather(*(client.get("/logged", headers={"X-Request-ID": f"request-{n:04d}"})
                                           for n in range(6))))

    responses = asyncio.run(both())
    assert sorted(r["X-Request-ID"] for r in responses) == [f"request-{n:04d}" for n in range(6)]
    records = _records(json_lines)
    views = sorted(r["request_id"] for r in records if r["logger"] == "civmil.tests.view")
    accesses = sorted(r["request_id"] for r in records if r["logger"] == "civmil.access")
    assert views == accesses == [f"request-{n:04d}" for n in range(6)]


def test_outside_a_request_the_id_is_null(json_lines: io.StringIO) -> None:
    logging.getLogger("civmil.tests").warning("no request here")
    [record] = _records(json_lines)
    assert record["request_id"] is None and record["message"] == "no request here"
    assert record["time"].endswith("+00:00")


def test_probes_are_logged_below_info(json_lines: io.StringIO) -> None:
    Client().get("/health/live")
    [record] = _records(json_lines)
    assert record["level"] == "DEBUG" and record["route"] == "health-live"


def test_text_lines_carry_the_request_id_too() -> None:
    config = logging_config("text", "INFO")
    formatter = logging.Formatter(config["formatters"]["text"]["format"])
    record = logging.LogRecord("civmil.x", logging.INFO, __file__, 1, "hello", None, None)
    with observability.bound_request_id("abcd1234abcd"):
        observability.RequestIdFilter().filter(record)
    assert formatter.format(record).endswith("INFO civmil.x [abcd1234abcd] hello")


@pytest.mark.urls("tests.core.test_logs")
def test_a_server_error_is_mailed_to_the_admins(settings: Any, mailoutbox: list[Any]) -> None:
    settings.ADMINS = [("Mission IT desk", "it-desk@mission.example")]
    settings.SERVER_EMAIL = "civmil errors <errors@mission.example>"
    response = Client(raise_request_exception=False).get("/broken", headers={"X-Request-ID": "req-broken-0001"})
    assert response.status_code == 500 and response["X-Request-ID"] == "req-broken-0001"
    [mail] = mailoutbox
    assert mail.to == ["it-desk@mission.example"] and mail.from_email == "civmil errors <errors@mission.example>"
    assert "RuntimeError" in mail.body


@pytest.mark.django_db
@pytest.mark.urls("tests.core.broken_error_page_urls")
def test_a_request_whose_error_page_fails_too_is_still_logged_and_counted(json_lines: io.StringIO) -> None:
    from civmil.core import metrics

    def failed() -> float:
        text = metrics.exposition(pids={os.getpid()}).decode()
        line = 'civmil_http_request_duration_seconds_count{method="GET",route="broken",status="5xx"} '
        return sum(float(row.split()[-1]) for row in text.splitlines() if row.startswith(line))

    before = failed()
    with pytest.raises(ValueError, match="Missing staticfiles manifest entry"):
        Client().get("/broken", headers={"X-Request-ID": "req-unanswered-1"})
    [access] = [r for r in _records(json_lines) if r["logger"] == "civmil.access"]
    assert access["level"] == "ERROR" and access["status"] == 500 and access["request_id"] == "req-unanswered-1"
    assert failed() == before + 1


# -- uvicorn's lines go through the same formatting -----------------------------------------------------

def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_server_writes_only_json_lines_with_uvicorns_own(tmp_path: Path) -> None:
    port = _free_port()
    environ = {**{k: v for k, v in os.environ.items() if not k.startswith(("CIVMIL_", "DJANGO_"))},
               "CIVMIL_VAR_DIR": str(tmp_path), "CIVMIL_LOG_FORMAT": "json", "CIVMIL_LOG_LEVEL": "DEBUG",
               "DJANGO_SETTINGS_MODULE": "civmil.config.settings", "DATABASE_URL": f"sqlite:///{tmp_path}/db"}
    script = ("import uvicorn\nfrom civmil.config.logging import uvicorn_log_config\n"
              f"uvicorn.run('civmil.config.asgi:application', host='127.0.0.1', port={port}, lifespan='off', "
              "log_config=uvicorn_log_config())\n")
    server = subprocess.Popen([sys.executable, "-c", script], env=environ, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health/live", timeout=5) as response:
                    request_id = response.headers["X-Request-ID"]
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.2)
    finally:
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=30)
    records = [json.loads(line) for line in output.splitlines() if line.strip()]
    assert {"uvicorn.error", "civmil.access"} <= {r["logger"] for r in records}, output
    assert any("Uvicorn running on" in r["message"] for r in records)
    [access] = [r for r in records if r["logger"] == "civmil.access" and r["request_id"] == request_id]
    assert access["path"] == "/health/live" and access["status"] == 200
    assert not [r for r in records if r["logger"] == "uvicorn.access"]  # civmil.access replaces them


# -- job runs ---------------------------------------------------------------------------------------------

@task()
def _fine_job() -> str:
    logging.getLogger("civmil.tests.job").warning("working")
    return "done"


@task()
def _broken_job() -> None:
    raise RuntimeError("the job broke")


def test_each_job_run_is_logged_with_its_outcome(transactional_db: Any, json_lines: io.StringIO) -> None:
    schedule.register_periodic("test.fine", _fine_job, schedule.LEDGER_CHECKPOINT_EVERY)
    try:
        fine = _fine_job.enqueue()
        broken = _broken_job.enqueue()
        schedule.run_queued()
    finally:
        schedule.unregister_periodic("test.fine")
    records = _records(json_lines)
    [inside] = [r for r in records if r["logger"] == "civmil.tests.job"]
    ran = {r["task_id"]: r for r in records if r["logger"] == "civmil.jobs" and r["level"] != "DEBUG"}
    assert inside["request_id"] == f"job-{fine.id}" == ran[str(fine.id)]["request_id"]
    done = ran[str(fine.id)]
    assert done["job"] == "test.fine" and done["outcome"] == "succeeded" and done["level"] == "INFO"
    assert done["started_at"] <= done["finished_at"] and done["duration_s"] >= 0
    failed = ran[str(broken.id)]
    assert failed["job"].endswith("test_logs._broken_job") and failed["outcome"] == "failed"
    assert failed["level"] == "ERROR" and "RuntimeError: the job broke" in failed["exc_info"]
    assert observability.current_request_id() is None  # nothing left bound after the jobs


# -- what an access line never carries ----------------------------------------------------------------

@pytest.mark.django_db
def test_a_password_link_is_not_handed_to_whoever_reads_the_logs(json_lines: io.StringIO) -> None:
    Client().get("/accounts/password/reset/key/7-dj0zff-2040d3e24cf5a9b1c3/")
    [access] = [r for r in _records(json_lines) if r["logger"] == "civmil.access"]
    assert access["path"] == "/accounts/password/reset/key/***/"
    assert "2040d3e24cf5a9b1c3" not in json_lines.getvalue()


def test_a_path_cannot_forge_a_line_of_its_own() -> None:
    from django.test import RequestFactory

    forged = "/x%0A2026-12-03T19:30:00+00:00%20INFO%20civmil.access%20[-]%20POST%20/accounts/login/%20302%1B[31m%0D"
    request = RequestFactory().get(forged)
    assert "\n" in request.path  # what a server hands on, decoded
    shown = observability.logged_path(request)
    assert "\n" not in shown and "\r" not in shown and "\x1b" not in shown
    assert shown.startswith("/x\\x0a2026-12-03") and "\\x1b[31m\\x0d" in shown

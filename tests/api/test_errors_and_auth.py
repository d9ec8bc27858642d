"""Authentication, CSRF and the shape of every error answer."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.http import Http404, HttpRequest
from django.middleware.csrf import get_token
from django.test.client import ClientHandler

from civmil.actors import queries
from civmil.actors.models import LiaisonLogEntry
from civmil.config.api import api as civmil_api
from civmil.core.choices import Component
from civmil.core.errors import Forbidden, Invalid, NotFound, StaleEdit
from tests.api.conftest import API, Api, entry_body, make_client, record_entry
from tests.factories import make_member

pytestmark = pytest.mark.django_db


def _operations() -> list[tuple[str, str]]:
    schema = civmil_api.get_openapi_schema(path_prefix=f"{API}/")
    ops = []
    for path, item in schema["paths"].items():
        for method in item:
            concrete = re.sub(r"\{[^}]+\}", "3f0b8a4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b", path)
            ops.append((method.upper(), concrete))
    return ops


@pytest.mark.parametrize(("method", "path"), _operations())
def test_every_endpoint_answers_401_json_when_signed_out(anonymous, method: str, path: str) -> None:
    r = anonymous.client.generic(method, path, "{}", content_type="application/json")
    assert r.status_code == 401
    assert r["Content-Type"] == "application/json; charset=utf-8"
    assert r.json() == {"detail": "Authentication required: sign in first (session cookie).", "errors": {}}


@pytest.fixture(scope="session")
def csrf_handler() -> ClientHandler:
    return ClientHandler(enforce_csrf_checks=True)


def _csrf_token(api: Api) -> str:
    request = HttpRequest()
    token = get_token(request)
    api.client.cookies["csrftoken"] = request.META["CSRF_COOKIE"]
    return token


def test_session_writes_need_the_csrf_token(csrf_handler) -> None:
    m = make_member(Component.CIVILIAN)
    entry = record_entry(m)
    client = make_client(csrf_handler)
    client.force_login(m.user)
    api = Api(client)

    assert api.get("/liaison-log").status_code == 200
    refused = [
        api.post("/liaison-log", entry_body(m)),
        api.put(f"/liaison-log/{entry.pk}", entry_body(m, summary="changed", version=1)),
        api.post(f"/liaison-log/{entry.pk}/releases", {"target_component": "police"}),
    ]
    for r in refused:
        assert r.status_code == 403
        assert r.json()["detail"].startswith("CSRF check failed") and r.json()["errors"] == {}
    assert LiaisonLogEntry.objects.count() == 1
    entry.refresh_from_db()
    assert entry.version == 1

    token = _csrf_token(api)
    r = api.post("/liaison-log", entry_body(m), HTTP_X_CSRFTOKEN=token)
    assert r.status_code == 201, r.content
    wrong = api.post("/liaison-log", entry_body(m), HTTP_X_CSRFTOKEN="x" * 64)
    assert wrong.status_code == 403


@pytest.mark.parametrize(("content_type", "body"), [
    ("multipart/form-data; boundary=x",
     b'--x\r\nContent-Disposition: form-data; name="summary"\r\n\r\nhi\r\n--x--\r\n'),
    ("multipart/form-data; boundary=x", b"--x\r\nbroken"),
    ("multipart/form-data", b'{"summary": "no boundary"}'),
    ("application/x-www-form-urlencoded", b"summary=hi&level=mission"),
])
def test_form_bodies_are_refused_as_json_errors(csrf_handler, content_type: str, body: bytes) -> None:
    m = make_member(Component.CIVILIAN)
    client = make_client(csrf_handler)
    client.force_login(m.user)
    api = Api(client)
    token = _csrf_token(api)
    r = client.post(f"{API}/liaison-log", body, content_type=content_type, HTTP_X_CSRFTOKEN=token)
    assert r.status_code == 400
    assert r["Content-Type"] == "application/json; charset=utf-8" and r.json()["errors"] == {}
    assert not LiaisonLogEntry.objects.exists()


def test_a_write_without_any_session_is_401_not_a_csrf_error(csrf_handler) -> None:
    r = Api(make_client(csrf_handler)).post("/liaison-log", {})
    assert r.status_code == 401


def test_malformed_json_is_400(signed_in) -> None:
    m = make_member(Component.CIVILIAN)
    r = signed_in(m).client.post(f"{API}/liaison-log", '{"summary": "unterminated', content_type="application/json")
    assert r.status_code == 400
    assert r.json()["detail"].startswith("The request body is not valid JSON") and r.json()["errors"] == {}
    bad_bytes = signed_in(m).client.post(f"{API}/liaison-log", b"\xff\xfe{}", content_type="application/json")
    assert bad_bytes.status_code == 400


def test_an_oversized_body_is_413(signed_in, settings) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2_000
    m = make_member(Component.CIVILIAN)
    r = signed_in(m).post("/liaison-log", entry_body(m, summary="x" * 5_000))
    assert r.status_code == 413
    assert r.json() == {"detail": "The request body is too large (at most 2000 bytes).", "errors": {}}
    assert not LiaisonLogEntry.objects.exists()


@pytest.mark.parametrize(("changes", "expected"), [
    ({"summary": None}, {"summary": ["Enter text."]}),
    ({"summary": "x" * 10_001}, {"summary": ["Ensure this value has at most 10000 characters."]}),
    ({"summary": "nul\x00byte"}, {"summary": ["Text may not contain NUL characters."]}),
    ({"channel": "carrier pigeon"},
     {"channel": ["Choose one of: 'meeting', 'phone', 'radio', 'visit' or 'message'."]}),
    ({"level": "public"},
     {"level": ["Choose one of: 'mission', 'humanitarian', 'military' or 'restricted'."]}),
    ({"occurred_at": "2025-03-01T09:30:00"},
     {"occurred_at": ["Give the time with its offset, such as 2025-03-01T09:30:00Z or +01:00."]}),
    ({"occurred_at": "yesterday"}, {"occurred_at": ["Enter a date and time such as 2025-03-01T09:30:00Z."]}),
    ({"occurred_at": "0001-01-01T00:00:00+14:00"},  # the mission's date window (tests/api/test_liaison_log.py)
     {"occurred_at": [f"Give a date between 1 January 1990 and 31 December {dt.date.today().year + 10}."]}),
    ({"organisations": ["not-a-uuid"]}, {"organisations.0": ["Enter a valid UUID."]}),
    ({"organisations": "everyone"}, {"organisations": ["Enter a list."]}),
    ({"latitude": 91, "longitude": "east"},
     {"latitude": ["Ensure this value is at most 90."], "longitude": ["Enter a number."]}),
    ({"latitude": "NaN"}, {"latitude": ["Enter a finite number."]}),
])
def test_bad_fields_get_field_messages(signed_in, changes: dict[str, Any], expected: dict[str, list[str]]) -> None:
    m = make_member(Component.CIVILIAN)
    r = signed_in(m).post("/liaison-log", entry_body(m, **changes))
    assert r.status_code == 422
    assert r.json() == {"detail": "Some fields are not valid; see errors.", "errors": expected}
    assert not LiaisonLogEntry.objects.exists()


def test_missing_fields_and_a_missing_body(signed_in) -> None:
    m = make_member(Component.CIVILIAN)
    api = signed_in(m)
    r = api.post("/liaison-log", {"summary": "only this"})
    assert r.status_code == 422
    assert r.json()["errors"] == {name: ["This field is required."]
                                  for name in ("occurred_at", "channel", "level", "organisations")}
    empty = api.client.post(f"{API}/liaison-log", "", content_type="application/json")
    assert empty.status_code == 422
    assert empty.json()["errors"] == {"__all__": ["Send a JSON object in the request body."]}
    not_an_object = api.post("/liaison-log", ["a", "list"])
    assert not_an_object.status_code == 422


def test_wrong_typed_parameters(signed_in) -> None:
    api = signed_in(make_member(Component.CIVILIAN))
    assert api.get("/liaison-log/123").json()["errors"] == {"entry_id": ["Enter a valid UUID."]}
    r = api.get("/liaison-log", {"limit": "ten", "offset": "-1", "since": "2025-01-01T00:00:00",
                                 "channel": "fax", "q": "x" * 201})
    assert r.status_code == 422
    assert r.json()["errors"] == {
        "limit": ["Enter a whole number."], "offset": ["Ensure this value is at least 0."],
        "since": ["Give the time with its offset, such as 2025-03-01T09:30:00Z or +01:00."],
        "channel": ["Choose one of: 'meeting', 'phone', 'radio', 'visit' or 'message'."],
        "q": ["Ensure this value has at most 200 characters."],
    }
    put = api.put(f"/liaison-log/{uuid.uuid4()}", {"version": 0})
    assert put.status_code == 422 and put.json()["errors"]["version"] == ["Ensure this value is at least 1."]


def test_unknown_address_and_wrong_method_answer_json(signed_in) -> None:
    api = signed_in(make_member(Component.CIVILIAN))
    r = api.get("/no/such/thing")
    assert r.status_code == 404
    assert r.json() == {"detail": "There is no API endpoint at this address.", "errors": {}}
    r = api.client.patch(f"{API}/liaison-log")
    assert r.status_code == 405 and r["Allow"] == "GET, POST"
    assert r.json()["detail"] == "Method PATCH is not allowed here; allowed: GET, POST."


@pytest.mark.parametrize(("raised", "status", "body"), [
    (Invalid("Bad.", errors={"summary": ["Too vague."]}), 422,
     {"detail": "Bad.", "errors": {"summary": ["Too vague."]}}),
    (Forbidden("No."), 403, {"detail": "No.", "errors": {}}),
    (NotFound("No such record."), 404, {"detail": "No such record.", "errors": {}}),
    (StaleEdit("Changed.", current_version=7), 409, {"detail": "Changed.", "errors": {}, "current_version": 7}),
    (Http404("gone"), 404, {"detail": "No such record.", "errors": {}}),
    (PermissionDenied(), 403, {"detail": "You are not allowed to do this.", "errors": {}}),
    (SuspiciousOperation(), 400, {"detail": "The request was refused as malformed.", "errors": {}}),
])
def test_exceptions_map_to_json_errors(signed_in, monkeypatch, raised: Exception, status: int,
                                       body: dict[str, Any]) -> None:
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise raised

    api = signed_in(make_member(Component.CIVILIAN))
    monkeypatch.setattr(queries, "liaison_log", fail)
    r = api.get("/liaison-log")
    assert r.status_code == status and r.json() == body


def test_unexpected_errors_are_not_swallowed(signed_in, monkeypatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("bug")

    api = signed_in(make_member(Component.CIVILIAN))
    monkeypatch.setattr(queries, "liaison_log", broken)
    with pytest.raises(RuntimeError, match="bug"):
        api.get("/liaison-log")
    api.client.raise_request_exception = False
    assert api.get("/liaison-log").status_code == 500

"""Helpers for the REST API tests: signed-in clients and records made through the services."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.test.client import ClientHandler
from django.utils import timezone

from civmil.actors import services as actor_services
from civmil.actors.models import LiaisonLogEntry
from civmil.core.choices import Level
from tests.factories import Member

API = "/api/v1"


class Api:
    """A Django test client speaking JSON to /api/v1/ as one member (or signed out)."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.client.get(f"{API}{path}", params or {})

    def post(self, path: str, body: Any = None, **extra: Any) -> Any:
        return self.client.post(f"{API}{path}", json.dumps(body), content_type="application/json", **extra)

    def put(self, path: str, body: Any = None, **extra: Any) -> Any:
        return self.client.put(f"{API}{path}", json.dumps(body), content_type="application/json", **extra)

    def delete(self, path: str, **extra: Any) -> Any:
        return self.client.delete(f"{API}{path}", **extra)


@pytest.fixture(scope="session")
def client_handler() -> ClientHandler:
    """One request handler for every test client: loading the middleware (WhiteNoise indexes the
    collected static files) takes longer than most tests."""
    return ClientHandler(enforce_csrf_checks=False)


def make_client(handler: ClientHandler) -> Client:
    client = Client()
    client.handler = handler
    return client


@pytest.fixture
def signed_in(client_handler: ClientHandler) -> Callable[[Member], Api]:
    """``signed_in(member)`` -> an :class:`Api` with that member's session."""

    def make(m: Member) -> Api:
        client = make_client(client_handler)
        client.force_login(m.user)
        return Api(client)

    return make


@pytest.fixture
def anonymous(client_handler: ClientHandler) -> Api:
    return Api(make_client(client_handler))


def record_entry(m: Member, *, level: str = Level.MISSION, summary: str = "Water point at the bridge",
                 channel: str = "meeting", occurred_at: dt.datetime | None = None,
                 organisation_ids: list[uuid.UUID] | None = None, person_ids: list[uuid.UUID] | None = None,
                 **extra: Any) -> LiaisonLogEntry:
    """A liaison log entry recorded by ``m`` through the service."""
    return actor_services.record_liaison_contact(m.actor, actor_services.LiaisonContact(
        occurred_at=occurred_at or timezone.now() - dt.timedelta(hours=1), channel=channel, summary=summary,
        level=level, organisation_ids=organisation_ids or [m.org.pk], person_ids=person_ids or [], **extra))


def entry_body(m: Member, **overrides: Any) -> dict[str, Any]:
    """A valid POST body for a liaison log entry of ``m``'s organisation."""
    body: dict[str, Any] = {
        "occurred_at": (timezone.now() - dt.timedelta(hours=2)).isoformat(),
        "channel": "meeting", "level": "mission", "summary": "Agreed the convoy schedule",
        "organisations": [str(m.org.pk)],
    }
    body.update(overrides)
    return body


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """After a schemathesis run, each operation's share of refused valid requests (worst first)."""
    rows: dict[str, list[int]] = {}
    for reports in terminalreporter.stats.values():
        for report in reports:
            for key, value in getattr(report, "user_properties", ()):
                if key == "acceptance" and value[0]:
                    valid, refused = rows.setdefault(value[0], [0, 0])
                    rows[value[0]] = [valid + value[1], refused + value[2]]
    if not rows:
        return
    terminalreporter.section("valid requests refused (400/422), per operation")
    for operation, (valid, refused) in sorted(rows.items(), key=lambda r: -r[1][1] / max(r[1][0], 1)):
        share = f"{refused / valid:4.0%}" if valid else "   -"
        terminalreporter.write_line(f"{share}  {refused:4d}/{valid:<4d}  {operation}")

"""A bounded property-based run of the whole API (schemathesis), signed in as an ordinary user.

Every operation gets generated valid and invalid requests; the checks are that nothing answers
5xx and that every answer matches the schema the document declares for its status. ``make fuzz``
raises the number of examples with ``SCHEMATHESIS_MAX_EXAMPLES``.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.test import Client
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from civmil.actors import services as actor_services
from civmil.actors.models import Area
from civmil.config.api import api as civmil_api
from civmil.core import services
from civmil.core.choices import Component, Level
from tests.api.conftest import API, record_entry
from tests.factories import make_member, make_org

FUZZ = "SCHEMATHESIS_MAX_EXAMPLES" in os.environ
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "20"))


@pytest.fixture
def _same_connection() -> Iterator[None]:
    """Keep the test's database connection (and its transaction) across the WSGI requests, as
    Django's own test client does: by default Django closes connections around each request."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture(scope="session")
def wsgi_app() -> WSGIHandler:
    return WSGIHandler()


@pytest.fixture
def ordinary_user() -> dict[str, Any]:
    """A CMCoord officer with some data around them, signed in: the cookies and CSRF header to send,
    and ids of real records (by path parameter name) to steer generated requests towards."""
    me = make_member(Component.HUMANITARIAN)
    soldier = make_member(Component.MILITARY)
    own = record_entry(me, level=Level.HUMANITARIAN, summary="Distribution at the school")
    joint = record_entry(soldier, summary="Joint meeting", organisation_ids=[soldier.org.pk, me.org.pk])
    partly = record_entry(soldier, level=Level.MILITARY, summary="Patrol schedule")
    services.release_record(soldier.actor, partly, organisation=me.org, fields=["summary", "occurred_at"])
    release = services.release_record(me.actor, own, component=Component.CIVILIAN)
    assignment = actor_services.assign_liaison(me.actor, actor_services.Assignment(
        officer_id=me.person.pk, starts_on=dt.date(2025, 1, 1), level=Level.MISSION,
        to_organisation_id=make_org(Component.CIVILIAN).pk))
    ring = [[30.0, 10.0], [31.0, 10.0], [31.0, 11.0], [30.0, 11.0], [30.0, 10.0]]
    area = actor_services.save_area(None, Area(name="North", pcode="XY01", admin_level=1),
                                    {"type": "Polygon", "coordinates": [ring]})
    from civmil.core.accounts.services import create_token

    _token, secret = create_token(me.actor, name="schemathesis", membership=me.membership, scope="read_write")
    # The token run must be signed in, not a run of 401s that conform trivially.
    assert Client().get(f"{API}/me", HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 200
    client = Client()
    client.force_login(me.user)
    request = HttpRequest()
    token = get_token(request)
    return {
        "cookies": {"sessionid": client.cookies["sessionid"].value, "csrftoken": request.META["CSRF_COOKIE"]},
        "headers": {"X-CSRFToken": token},
        "token_headers": {"Authorization": f"Bearer {secret}"},
        "ids": {
            "entry_id": [own.pk, joint.pk, partly.pk], "release_id": [release.pk],
            "assignment_id": [assignment.pk], "record_id": [assignment.pk], "area_id": [area.pk],
            "person_id": [me.person.pk, soldier.person.pk],
            "organisation_id": [me.org.pk, soldier.org.pk],
        },
        "organisation": str(me.org.pk),
    }


def _pick(generated: Any, choices: list[Any]) -> Any:
    """Deterministically keep the generated value or replace it by one of ``choices`` (most of the time)."""
    slot = sum(str(generated).encode()) % (len(choices) + 1)
    return generated if slot == len(choices) else str(choices[slot])


def _steer(case: Any, user: dict[str, Any]) -> None:
    """Random ids almost never exist: point most generated requests at real records, so answers with
    data (200, 201, reduced views) are checked against the schema too, not only 404s and 422s."""
    for name, value in (case.path_parameters or {}).items():
        if name in user["ids"]:
            case.path_parameters[name] = _pick(value, user["ids"][name])
    if case.operation.path.endswith("/areas/lookup") and isinstance(case.query, dict):
        case.query["location"] = _pick(case.query.get("location"), ["10.5, 30.5", "36P TS 26358 61783"])
    if isinstance(case.body, dict) and isinstance(case.body.get("organisations"), list):
        case.body["organisations"] = [_pick(case.body["organisations"], [user["organisation"]])]


# Loaded from the document the API generates (the same one it serves: test_openapi checks that).
# ``schemathesis.pytest.from_fixture`` would load it from the running app, but it does not work
# with pytest 9 (it sets the removed ``Node._nodeid``).
schema = schemathesis.openapi.from_dict(
    civmil_api.get_openapi_schema(path_prefix=f"{API}/"),
    # The coverage phase (every boundary and invalid value, systematically) takes a minute:
    # ``make fuzz`` runs it, the everyday suite runs the bounded random phases only.
    config=schemathesis.Config.from_dict({"phases": {"coverage": {"enabled": FUZZ}}}),
)


@pytest.mark.django_db
@pytest.mark.parametrize("credential", ["session", "token"])
@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
          derandomize=not FUZZ,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                 HealthCheck.filter_too_much])
def test_schemathesis_api_conforms_and_never_fails(case: Any, credential: str, ordinary_user: dict[str, Any],
                                                  wsgi_app: WSGIHandler, _same_connection: None) -> None:
    """Signed in as an ordinary user, once with a session (and CSRF) and once with a Bearer token."""
    _steer(case, ordinary_user)
    if credential == "session":
        auth = {"cookies": ordinary_user["cookies"], "headers": ordinary_user["headers"]}
    else:
        auth = {"cookies": {}, "headers": ordinary_user["token_headers"]}
    case.call_and_validate(app=wsgi_app, **auth, checks=[not_a_server_error, response_schema_conformance])

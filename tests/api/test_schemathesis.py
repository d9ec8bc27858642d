"""A bounded property-based run of the whole API (schemathesis), signed in as an ordinary user.

Every operation gets generated valid and invalid requests; the checks are that nothing answers
5xx, that every answer matches the schema the document declares for its status, and that most
requests the schema calls valid are accepted: an operation that refuses (400/422) most of them
enforces a constraint its schema does not state, so clients and fuzzers cannot know it. ``make
fuzz`` raises the number of examples with ``SCHEMATHESIS_MAX_EXAMPLES``.
"""

from __future__ import annotations

import datetime as dt
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
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
from civmil.core import registry, services
from civmil.core.choices import Component, Level
from civmil.core.kernel.planting import plant
from tests.api.conftest import API, record_entry
from tests.factories import kept_for_many_tests, make_member, make_org
from tests.kernel_proof.models import Observation

FUZZ = "SCHEMATHESIS_MAX_EXAMPLES" in os.environ
MAX_EXAMPLES = int(os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "20"))

#: Answers that refuse a request as malformed.
REFUSALS = (400, 422)
#: An operation may refuse, naming fields, at most this share of the requests its schema calls valid
#: (the rest is what no schema can say: a referenced record that does not exist). A refusal naming
#: no field is about the state of a record (an assignment already decided) and does not count.
MAX_REFUSED_SHARE = 0.5
#: Fewer valid requests than this say too little about the share (a few draws of this year's
#: remaining days decide it for a contact that may not be in the future, a rule no schema states);
#: ``make fuzz`` sends every operation far more.
MIN_VALID_REQUESTS = 20


@dataclass
class Acceptance:
    """What one operation answered to the requests its schema calls valid (schemathesis's positive mode)."""

    operation: str = ""
    valid: int = 0
    refused: int = 0
    #: Refusals by the field the answer named and its message.
    reasons: Counter[str] = field(default_factory=Counter)

    def count(self, case: Any, response: Any) -> None:
        self.operation = case.operation.label
        if case.meta is None or not case.meta.generation.mode.is_positive:
            return
        self.valid += 1
        if response.status_code not in REFUSALS:
            return
        try:
            errors = response.json().get("errors") or {}
        except (ValueError, AttributeError):
            errors = {"(the body)": [response.text[:100]]}
        if not errors:
            return  # the state of a record (an assignment already decided), not the request's data
        self.refused += 1
        for name, messages in errors.items():
            self.reasons[f"{name}: {'; '.join(messages)}"] += 1

    def verdict(self) -> str:
        """Empty when the operation accepts most valid requests; else what it refuses, for the developer."""
        if self.valid < MIN_VALID_REQUESTS or self.refused <= MAX_REFUSED_SHARE * self.valid:
            return ""
        top = "\n".join(f"  {n} x {reason}" for reason, n in self.reasons.most_common(5))
        return (f"{self.operation} refused {self.refused} of the {self.valid} requests its schema calls valid "
                f"(at most {MAX_REFUSED_SHARE:.0%} may be): the schema omits a constraint the server "
                f"enforces. State it in the schema (from the model field). Refused fields:\n{top}")


@pytest.fixture
def acceptance(request: pytest.FixtureRequest) -> Iterator[Acceptance]:
    """Counts one operation's answers over every generated request, then judges the share refused
    (``make fuzz`` prints every operation's share: tests/api/conftest.py)."""
    tally = Acceptance()
    yield tally
    request.node.user_properties.append(("acceptance", (tally.operation, tally.valid, tally.refused)))
    assert not tally.verdict(), tally.verdict()


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


@pytest.fixture(scope="module")
def ordinary_user(django_db_setup: None, django_db_blocker: Any) -> Iterator[dict[str, Any]]:
    """A CMCoord officer with some data around them, signed in: the cookies and CSRF header to send,
    and ids of real records (by path parameter name) to steer generated requests towards.

    Made once for the module's tests (every operation, both credentials) and rolled back after
    them; what a test's requests write is rolled back with that test, so each starts from this."""
    with kept_for_many_tests(django_db_blocker, _ordinary_user) as user:
        yield user


def _ordinary_user() -> dict[str, Any]:
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
    pending = actor_services.assign_liaison(me.actor, actor_services.Assignment(
        officer_id=soldier.person.pk, starts_on=dt.date(2025, 1, 1), level=Level.MISSION,
        to_organisation_id=me.org.pk))
    ring = [[30.0, 10.0], [31.0, 10.0], [31.0, 11.0], [30.0, 11.0], [30.0, 10.0]]
    area = actor_services.save_area(None, Area(name="North", pcode="XY01", admin_level=1),
                                    {"type": "Polygon", "coordinates": [ring]})
    observation = plant(registry.get(Observation), me.actor, Level.HUMANITARIAN, {"title": "Crowd at the market"})
    from civmil.core.accounts.services import create_token

    _token, secret = create_token(me.actor, name="schemathesis", membership=me.membership, scope="read_write")
    # The token run must be signed in, not a run of 401s that conform trivially.
    assert Client().get(f"{API}/me", HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 200
    client = Client()
    client.force_login(me.user)
    request = HttpRequest()
    token = get_token(request)
    people = [me.person.pk, soldier.person.pk]
    organisations = [me.org.pk, soldier.org.pk]
    return {
        "cookies": {"sessionid": client.cookies["sessionid"].value, "csrftoken": request.META["CSRF_COOKIE"]},
        "headers": {"X-CSRFToken": token},
        "token_headers": {"Authorization": f"Bearer {secret}"},
        # Path parameters by name; ``record_id`` and ``release_id`` by the records the path serves.
        "ids": {
            "entry_id": [own.pk, joint.pk, partly.pk], "assignment_id": [assignment.pk, pending.pk],
            "area_id": [area.pk], "person_id": people, "organisation_id": organisations,
            "pk": [own.pk, joint.pk],
        },
        "records": {
            "/liaison-log/": ([own.pk, joint.pk, partly.pk], [release.pk]),
            "/liaison-assignments/": ([assignment.pk, pending.pk], []),
            "/records/kernel_proof.observation/": ([observation.pk], []),
        },
        # Body fields naming other records, by name.
        "references": {
            "organisations": organisations, "to_organisation": organisations, "target_organisation": organisations,
            "people": people, "officer": people, "target_person": people, "mentions": people,
            "area": [area.pk],
        },
    }


def _pick(generated: Any, choices: list[Any]) -> Any:
    """Deterministically keep the generated value or replace it by one of ``choices`` (most of the time)."""
    slot = sum(str(generated).encode()) % (len(choices) + 1)
    return generated if slot == len(choices) else str(choices[slot])


def _steer(case: Any, user: dict[str, Any]) -> None:
    """Random ids almost never exist: point most generated requests at real records, so answers with
    data (200, 201, reduced views) are checked against the schema too, not only 404s and 422s."""
    path = case.operation.path
    for name, value in (case.path_parameters or {}).items():
        records = next((found for prefix, found in user["records"].items() if prefix in path), ([], []))
        choices = {"record_id": records[0], "release_id": records[1]}.get(name) or user["ids"].get(name)
        if choices:
            case.path_parameters[name] = _pick(value, choices)
    if path.startswith("/threads/") and case.path_parameters:
        case.path_parameters["record_type"] = _pick(case.path_parameters.get("record_type"),
                                                    ["actors.liaisonlogentry"])
    if path.endswith("/areas/lookup") and isinstance(case.query, dict):
        case.query["location"] = _pick(case.query.get("location"), ["10.5, 30.5", "36P TS 26358 61783"])
    if isinstance(case.body, dict):
        # A valid request names records that exist (no schema can say which do); invalid requests
        # keep some random ids, to check the 422 naming the field.
        positive = case.meta is not None and case.meta.generation.mode.is_positive
        for name, choices in user["references"].items():
            value = case.body.get(name)
            if isinstance(value, list):
                case.body[name] = [_pick(v, choices) for v in value]
                if positive:
                    case.body[name] = [str(choices[i % len(choices)]) for i in range(len(value))]
            elif isinstance(value, str):
                case.body[name] = str(choices[0]) if positive else _pick(value, choices)
        if isinstance(case.body.get("location"), str) and case.body["location"]:
            places = ["10.5, 30.5", "36P TS 26358 61783"]
            case.body["location"] = places[0] if positive else _pick(case.body["location"], places)


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
                                                  wsgi_app: WSGIHandler, _same_connection: None,
                                                  acceptance: Acceptance) -> None:
    """Signed in as an ordinary user, once with a session (and CSRF) and once with a Bearer token.
    After the run, ``acceptance`` fails the operation if it refused most of the valid requests."""
    _steer(case, ordinary_user)
    if credential == "session":
        auth = {"cookies": ordinary_user["cookies"], "headers": ordinary_user["headers"]}
    else:
        auth = {"cookies": {}, "headers": ordinary_user["token_headers"]}
    response = case.call(app=wsgi_app, **auth)
    acceptance.count(case, response)
    case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

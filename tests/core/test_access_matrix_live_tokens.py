"""The access matrix on two channels beside the policy: live events about a record's discussion
and files, and API tokens whose account lost its second factor.

The records are those of ``test_access_matrix.py`` (planted by :func:`plant_matrix`, one per
relation and level the hand-written table of ``test_access_policy.py`` has for each reader
profile). Each channel adds its rows to that one table:

* **Discussion and file events** (:data:`DISCUSSION_EVENTS`), for every registered type with
  discussions and attachments: on every record its author (or a
  colleague, when the reader is the author) posts a message, attaches a file and removes
  another. The discussion opens only with the full view, so a reader whose cell is F receives
  every one of those events, a reader whose cell is R receives none of them (no frame at all,
  while still receiving the record's own events, reduced), and N receives nothing of the record.
  Read on replay, on live delivery and, for a few profiles, through a real WebSocket.
* **Tokens without their second factor** (:data:`TOKEN_WITHOUT_SECOND_FACTOR`): each reader sets
  up an authenticator app, issues read and read-and-write tokens, then removes the app. For a
  profile whose role requires a second factor, every API operation of the OpenAPI schema, on
  every planted record, answers 403 with the message its pages give (and exactly what its session
  answers), changes nothing and carries no marker; once the app is set up again, the same token
  reads. Other profiles' tokens read exactly what their session reads.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from civmil.actors.models import LiaisonAssignment, LiaisonLogEntry
from civmil.comms.models import Attachment, Message, Notification
from civmil.comms.services import attachments as attachment_services
from civmil.comms.services import threads as thread_services
from civmil.core import events, registry
from civmil.core.accounts import services as accounts_services
from civmil.core.acting import Actor
from civmil.core.choices import Component
from civmil.core.models import ApiToken, Release, TokenScope
from tests.conftest import count_access_cases
from tests.core.test_access_matrix import READERS, Matrix, _client, make_reader, plant_matrix
from tests.core.test_access_matrix_channels import THREADED_TYPES, _poster, websocket_replay
from tests.factories import make_member

pytestmark = pytest.mark.django_db

STREAM = "actors.liaisonlogentry"
DISCUSSION_KINDS = ("thread.message", "attachment.added", "attachment.removed")

# fmt: off
#: Hand-written: the discussion and file events of a record a reader receives, by the reader's
#: cell for that record in the table of ``test_access_policy.py`` (the discussion opens only with
#: the full view; a reduced view still receives the record's own events, reduced).
DISCUSSION_EVENTS: dict[str, tuple[str, ...]] = {
    "F": DISCUSSION_KINDS,
    "R": (),
    "N": (),
}

#: Hand-written from DESIGN.md and the account guide ("a second factor for administrators,
#: mission leadership and oversight"): what every API call made with a token of the profile
#: answers while the account's second factor is missing. ``refused``: 403, as its pages;
#: ``as session``: what the profile's session answers (the table's cells).
TOKEN_WITHOUT_SECOND_FACTOR: dict[str, str] = {
    "mil_staff":       "as session",
    "mil_liaison":     "as session",
    "force_commander": "refused",
    "police":          "as session",
    "civ_staff":       "as session",
    "srsg":            "refused",
    "oversight":       "refused",
    "civ_admin":       "refused",
    "mil_admin":       "refused",
    "trainer":         "as session",
    "cmcoord":         "as session",
    "ngo":             "as session",
    "host":            "as session",
    "community":       "as session",
}
# fmt: on

#: Profiles whose discussion events are also read through a real WebSocket.
WEBSOCKET_PROFILES = ("ngo", "mil_staff", "host")
SECOND_FACTOR_MESSAGE = "Your role requires a second factor"


@pytest.fixture
def _channels(settings: Any, tmp_path: Any) -> None:
    """Files under a temporary directory; pushes to the in-memory channel layer (no Redis needed)."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}




def test_the_rows_cover_every_profile_and_cell() -> None:
    assert set(TOKEN_WITHOUT_SECOND_FACTOR) == {p for p in READERS if p != "no_membership"}
    assert set(DISCUSSION_EVENTS) == {"F", "R", "N"}


# ---------------------------------------------------------------------------------------------
# Discussion and file events


def _discuss(matrix: Matrix, colleague: Actor | None) -> dict[uuid.UUID, str]:
    """On every record, through the services: a message, a file attached, another attached and removed.
    Returns each record's marker (in the message and the files' names and content)."""
    markers = {}
    for item in matrix.planted:
        marker = markers[item.pk] = f"D{matrix.run}{uuid.uuid4().hex}"
        poster = _poster(item, colleague)
        stream = item.record_type.key
        thread_services.post_message(poster, stream, item.pk, f"Discussed: {marker}")
        attachment_services.add_attachment(poster, stream, item.pk,
                                           SimpleUploadedFile(f"{marker}.txt", f"kept {marker}".encode()))
        removed = attachment_services.add_attachment(poster, stream, item.pk,
                                                     SimpleUploadedFile(f"{marker}-2.txt", marker.encode()))
        attachment_services.delete_attachment(poster, removed.pk)
    return markers


def _check_discussion_frames(frames: list[dict[str, Any]], matrix: Matrix, markers: dict[uuid.UUID, str],
                             channel: str, failures: list[str]) -> int:
    """Each record's discussion and file events against its cell's row."""
    everything = json.dumps(frames)
    for item in matrix.planted:
        where = f"{channel} {item.relation}/{item.level} (cell {item.expected})"
        mine = [f for f in frames if f.get("object_id") == str(item.pk)]
        discussion = sorted({f["kind"] for f in mine if f.get("kind") in DISCUSSION_KINDS})
        if discussion != sorted(DISCUSSION_EVENTS[item.expected]):
            failures.append(f"{where}: discussion and file events {discussion}, "
                            f"expected {sorted(DISCUSSION_EVENTS[item.expected])}")
        if item.expected == "R" and not any(f["type"] == "event" and f["reduced"] for f in mine):
            failures.append(f"{where}: the record's own events did not reach the reduced reader")
        if item.expected == "N" and (mine or str(item.pk) in everything):
            failures.append(f"{where}: a hidden record shows in the frames")
        if markers[item.pk] in everything:
            failures.append(f"{where}: a frame carries a message's or a file's text")
    return len(matrix.planted)


@pytest.mark.parametrize("profile", READERS)
@pytest.mark.parametrize("record_type", THREADED_TYPES, ids=lambda t: t.key)
def test_discussion_and_file_events_reach_exactly_the_full_readers(record_type: registry.RecordType, profile: str,
                                                                   _channels: None) -> None:
    reader = make_reader(profile)
    stream = record_type.key
    live_seen = events.Seen()
    live, _nothing = events.subscribe(reader.actor, [stream], None, live_seen)
    before = live.cursor
    matrix = plant_matrix(reader, record_type)
    colleague = (make_member(Component(reader.actor.component), org=reader.actor.organisation).actor
                 if reader.actor.membership else None)
    markers = _discuss(matrix, colleague)
    failures: list[str] = []

    _subscription, replayed = events.subscribe(reader.actor, [stream], before, events.Seen())
    count_access_cases(f"{stream}: discussion events, replay",
                       _check_discussion_frames(replayed, matrix, markers, "replay", failures))
    events.forget_batches()
    delivered: list[dict[str, Any]] = []
    more = True
    while more:
        frames, more = events.catch_up(reader.actor, live, live_seen)
        delivered += frames
    count_access_cases(f"{stream}: discussion events, delivery",
                       _check_discussion_frames(delivered, matrix, markers, "live", failures))
    if profile in WEBSOCKET_PROFILES:
        frames = websocket_replay(_client(reader.user), before, stream)
        count_access_cases(f"{stream}: discussion events, WebSocket",
                           _check_discussion_frames(frames, matrix, markers, "WebSocket", failures))
    assert not failures, "\n".join(failures)


# ---------------------------------------------------------------------------------------------
# Tokens whose account lost its second factor


def _set_up_second_factor(user: Any) -> None:
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    TOTP.activate(user, generate_totp_secret())


def _remove_second_factor(user: Any) -> None:
    from allauth.mfa.models import Authenticator

    Authenticator.objects.filter(user=user).delete()


def _operations() -> list[tuple[str, str]]:
    """Every (method, path template) of the API, from its OpenAPI schema."""
    from civmil.config.api import api

    schema = api.get_openapi_schema()
    return [(method, path) for path, operations in schema["paths"].items() for method in operations]


_PARAM = re.compile(r"\{([a-z_]+)\}")


def _calls(matrix: Matrix) -> list[tuple[str, str]]:
    """Every operation, with each record parameter taking every planted record's id in turn."""
    actor = matrix.reader.actor
    fixed = {"record_type": STREAM, "organisation_id": str(actor.organisation_id),
             "person_id": str(actor.person_id)}
    calls = []
    for method, template in _operations():
        names = _PARAM.findall(template)
        per_record = [n for n in names if n in ("entry_id", "pk")]
        ids = [str(item.pk) for item in matrix.planted] if per_record else [""]
        for record_id in ids:
            values = {n: fixed.get(n, record_id if n in per_record else str(uuid.uuid4())) for n in names}
            calls.append((method, _PARAM.sub(lambda m, v=values: v[m.group(1)], template)))  # type: ignore[misc]
    return calls


def _bodies(matrix: Matrix) -> dict[str, Any]:
    """Valid bodies, so that nothing but the token's account could refuse a write."""
    actor = matrix.reader.actor
    entry = {"occurred_at": "2025-03-01T09:30:00Z", "channel": "phone", "level": "mission",
             "summary": "written with a token", "organisations": [str(actor.organisation_id)]}
    return {"liaison-log": entry, "messages": {"body": "written with a token"},
            "releases": {"target_component": Component.CIVILIAN},
            "liaison-assignments": {"officer": str(actor.person_id), "level": "mission", "starts_on": "2025-03-01",
                                    "community": "Hilltop"}}


def _send(client: Client, method: str, path: str, bodies: dict[str, Any], **headers: str) -> Any:
    if method in ("get", "delete"):
        return getattr(client, method)(path, **headers)
    key = next((k for k in bodies if path.rstrip("/").endswith(k)), "liaison-log")
    return getattr(client, method)(path, json.dumps(bodies[key]), content_type="application/json", **headers)


def _state() -> tuple[int, ...]:
    return (LiaisonLogEntry.objects.count(), LiaisonAssignment.objects.count(), Message.objects.count(),
            Release.objects.filter(revoked_at__isnull=True).count(), Attachment.objects.count(),
            Notification.objects.filter(read_at__isnull=True).count(),
            sum(LiaisonLogEntry.objects.values_list("version", flat=True)))


@pytest.mark.parametrize("profile", [p for p in READERS if p != "no_membership"])
def test_a_token_whose_account_lost_its_second_factor(profile: str, mfa_on: None) -> None:
    reader = make_reader(profile)
    actor = reader.actor
    _set_up_second_factor(reader.user)
    matrix = plant_matrix(reader)
    _read, read_secret = accounts_services.create_token(actor, name="matrix-read", membership=actor.membership,
                                                        scope=TokenScope.READ)
    _rw, rw_secret = accounts_services.create_token(actor, name="matrix-rw", membership=actor.membership,
                                                    scope=TokenScope.READ_WRITE)
    _remove_second_factor(reader.user)
    script, session = Client(), _client(reader.user)
    markers = [m for item in matrix.planted for m in (item.summary_marker, item.follow_marker)]
    failures: list[str] = []
    row = TOKEN_WITHOUT_SECOND_FACTOR[profile]

    if row == "refused":
        bodies, before = _bodies(matrix), _state()
        calls = _calls(matrix)
        for method, path in calls:
            for scope, secret in (("read", read_secret), ("read-write", rw_secret)):
                by_token = _send(script, method, path, bodies, HTTP_AUTHORIZATION=f"Bearer {secret}")
                text = by_token.content.decode()
                if by_token.status_code != 403 or SECOND_FACTOR_MESSAGE not in by_token.json().get("detail", ""):
                    failures.append(f"{scope} token {method.upper()} {path}: {by_token.status_code} {text[:120]}")
                if any(m in text for m in markers):
                    failures.append(f"{scope} token {method.upper()} {path}: a marker in the refusal")
            if method == "get":  # the session is refused alike (its writes would also need CSRF)
                by_session = session.get(path)
                if (by_session.status_code, by_session.json()) != (by_token.status_code, by_token.json()):
                    failures.append(f"GET {path}: the token answers {by_token.status_code}, "
                                    f"the session {by_session.status_code}")
        if _state() != before:
            failures.append("a token whose account lacks its second factor changed something")
        count_access_cases(f"{STREAM}: token without second factor", 2 * len(calls))
        _set_up_second_factor(reader.user)  # set up again: the same tokens read again
        if script.get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {read_secret}").status_code != 200:
            failures.append("the token stays refused once the second factor is set up again")
    else:
        urls = ["/api/v1/me", "/api/v1/liaison-log?limit=200"] + [
            f"/api/v1/liaison-log/{item.pk}" for item in matrix.planted]
        for url in urls:
            by_session = session.get(url)
            by_token = script.get(url, HTTP_AUTHORIZATION=f"Bearer {read_secret}")
            if (by_token.status_code, by_token.json()) != (by_session.status_code, by_session.json()):
                failures.append(f"token {url}: {by_token.status_code}, the session {by_session.status_code}")
        count_access_cases(f"{STREAM}: token without second factor", len(urls))
    assert ApiToken.objects.filter(user_id=actor.user_id).count() == 2
    assert not failures, "\n".join(failures)

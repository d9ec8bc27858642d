"""Releasability on every channel: plant unique markers in records of each level, then look for
them on every channel that exists, as every reader profile.

The expected views come from the hand-written table in ``test_access_policy.py``. Each record
gets two markers: one in ``summary`` (a field an owner releases in a field release) and one in
``follow_ups`` (never released in a field release). A full view shows both, a reduced view only
the first, no view neither — and a record with no view answers exactly like a missing one.

``test_access_matrix_channels.py`` plants the same records (:func:`plant_matrix`) and reads them
on the other channels: live events and the WebSocket, search, discussions, attachments,
notifications and e-mail, and API tokens.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from civmil.actors import services as actor_services
from civmil.actors.models import LiaisonLogEntry
from civmil.core import services
from civmil.core.acting import Actor
from civmil.core.choices import Component, Level
from tests.conftest import count_access_cases
from tests.core.test_access_policy import EXPECTED, LEVELS, PROFILES
from tests.factories import make_member

#: The liaison log's levels (it allows neither PUBLIC nor OVERSIGHT).
LOG_LEVELS = [Level.MISSION, Level.HUMANITARIAN, Level.MILITARY, Level.RESTRICTED]
RELATIONS = ["none", "owner", "submitter", "released_org", "released_fields", "released_component", "named"]
#: Profiles that can sign in (anonymous visitors are checked separately).
READERS = [p for p in PROFILES if p != "anonymous"]
OWNER_COMPONENT = {Level.MISSION: Component.CIVILIAN, Level.HUMANITARIAN: Component.HUMANITARIAN,
                   Level.MILITARY: Component.MILITARY, Level.RESTRICTED: Component.CIVILIAN}


@dataclass
class Planted:
    relation: str
    level: str
    pk: uuid.UUID
    summary_marker: str
    follow_marker: str
    expected: str  # F, R or N
    #: Who recorded it (a member of the owning organisation, with the full view).
    author: Actor | None = None


def _expected(relation: str, profile: str, level: str) -> str:
    return EXPECTED[relation][profile].split()[LEVELS.index(level)]


def _markers(run: str) -> tuple[str, str]:
    """A fresh pair of markers; ``run`` starts every marker of one planting (searchable as a prefix)."""
    return f"S{run}{uuid.uuid4().hex}", f"F{run}{uuid.uuid4().hex}"


def _plant(reader_name: str, reader: Actor, owners: dict[str, Actor], run: str = "") -> list[Planted]:
    """Create, through the services, one record per (relation, level) that can exist."""
    planted = []
    for relation in RELATIONS:
        for level in LOG_LEVELS:
            cell = _expected(relation, reader_name, level)
            if cell == "-":
                continue
            author = owners[level]
            if relation == "owner":
                author = reader
            s_marker, f_marker = _markers(run)
            data = actor_services.LiaisonContact(
                occurred_at=timezone.now(), channel="meeting", summary=f"summary {s_marker}",
                follow_ups=f"follow {f_marker}", level=level, organisation_ids=[author.organisation_id],
            )
            entry = actor_services.record_liaison_contact(author, data)
            if relation == "submitter":
                # The reader wrote it for another organisation (e.g. a liaison officer's note).
                LiaisonLogEntry.objects.filter(pk=entry.pk).update(created_by=reader.person)
                services.refresh_audience(LiaisonLogEntry, [entry.pk])  # update() bypasses the services
            elif relation == "released_org":
                services.release_record(author, entry, organisation=reader.organisation)
            elif relation == "released_fields":
                services.release_record(author, entry, organisation=reader.organisation,
                                        fields=["summary", "channel"])
            elif relation == "released_component":
                services.release_record(author, entry, component=reader.component or "")
            elif relation == "named":
                services.release_record(author, entry, person=reader.person)
            planted.append(Planted(relation, level, entry.pk, s_marker, f_marker, cell, author))
    return planted


_VOLATILE = re.compile(rb'(name="csrfmiddlewaretoken" value=|name="next" value=|content=)"[^"]*"')


def _normalised(content: bytes, path: str) -> bytes:
    """A page's body without what differs on every request (CSRF token, the requested path)."""
    return _VOLATILE.sub(rb"\1\"\"", content).replace(path.encode(), b"PATH")


def _check(text: str, item: Planted, channel: str, failures: list[str]) -> None:
    want_summary = item.expected in ("F", "R")
    want_follow = item.expected == "F"
    got_summary, got_follow = item.summary_marker in text, item.follow_marker in text
    if (got_summary, got_follow) != (want_summary, want_follow):
        failures.append(f"{channel} {item.relation}/{item.level}: expected {item.expected}, "
                        f"summary shown={got_summary}, follow-ups shown={got_follow}")


@dataclass
class Reader:
    """A signed-in reader of one profile of the table."""

    profile: str
    user: Any
    actor: Actor


@dataclass
class Matrix:
    """The records planted for one reader: one per (relation, level) the table has for the profile."""

    reader: Reader
    owners: dict[str, Actor]
    planted: list[Planted]
    #: Starts every marker of this planting (after its "S" or "F").
    run: str


def make_reader(profile: str) -> Reader:
    component_role = PROFILES[profile]
    if component_role is None:  # no_membership: a signed-in person without a current membership
        lone = make_member(Component.CIVILIAN)
        lone.membership.delete()
        from civmil.core.acting import actor_for_user

        return Reader(profile, lone.user, actor_for_user(lone.user))
    m = make_member(component_role[0], role=component_role[1])
    return Reader(profile, m.user, m.actor)


def plant_matrix(reader: Reader) -> Matrix:
    """Plant, through the services, every record the table has for ``reader``'s profile.

    Shared by every channel of the matrix (``test_access_matrix_channels.py`` too), so all of
    them look for the same markers in the same records.
    """
    owners = _owners()
    run = uuid.uuid4().hex[:8]
    if reader.actor.membership:
        planted = _plant(reader.profile, reader.actor, owners, run)
    else:
        planted = _plant_without_membership(reader.profile, reader.actor, owners, run)
    return Matrix(reader, owners, planted, run)


def _owners() -> dict[str, Actor]:
    return {level: make_member(OWNER_COMPONENT[level]).actor for level in LOG_LEVELS}


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("profile", READERS)
def test_markers_appear_exactly_where_the_table_says(profile: str) -> None:
    matrix = plant_matrix(make_reader(profile))
    reader_user, planted = matrix.reader.user, matrix.planted
    client = _client(reader_user)
    failures: list[str] = []
    missing = {
        "page detail": client.get(reverse("actors:liaison-entry", args=[uuid.uuid4()])),
        "api detail": client.get(f"/api/v1/liaison-log/{uuid.uuid4()}"),
        "history": client.get(reverse("actors:liaison-history", args=[uuid.uuid4()])),
    }
    assert all(r.status_code == 404 for r in missing.values())

    pages = {
        "page list": client.get(reverse("actors:liaison-log")).content.decode(),
        "api list": client.get("/api/v1/liaison-log?limit=200").content.decode(),
        "csv export": _csv_text(client),
    }
    checks = 0
    for item in planted:
        for channel, text in pages.items():
            _check(text, item, channel, failures)
            checks += 1
        detail = client.get(reverse("actors:liaison-entry", args=[item.pk]))
        api_detail = client.get(f"/api/v1/liaison-log/{item.pk}")
        history = client.get(reverse("actors:liaison-history", args=[item.pk]))
        for channel, response in (("page detail", detail), ("api detail", api_detail), ("history", history)):
            checks += 1
            if item.expected == "N":
                same = (_normalised(response.content, response.request["PATH_INFO"])
                        == _normalised(missing[channel].content, missing[channel].request["PATH_INFO"]))
                if response.status_code != 404 or not same:
                    failures.append(f"{channel} {item.relation}/{item.level}: hidden record does not answer "
                                    f"like a missing one ({response.status_code})")
                continue
            if response.status_code != 200:
                failures.append(f"{channel} {item.relation}/{item.level}: status {response.status_code}")
                continue
            _check(response.content.decode(), item, channel, failures)
    count_access_cases("page, api, csv, history", checks)
    assert not failures, "\n".join(failures)


def _csv_text(client: Client) -> str:
    response = client.get(reverse("actors:liaison-export"))
    assert response.status_code == 200
    body = b"".join(response.streaming_content) if response.streaming else response.content  # type: ignore[attr-defined]
    text = body.decode("utf-8-sig")
    list(csv.reader(io.StringIO(text)))  # it parses as CSV
    return text


def _plant_without_membership(profile: str, reader: Actor, owners: dict[str, Actor], run: str = "") -> list[Planted]:
    """A reader without a membership can only be named or be the submitter."""
    planted = []
    for relation in ("none", "submitter", "named"):
        for level in LOG_LEVELS:
            cell = _expected(relation, profile, level)
            author = owners[level]
            s_marker, f_marker = _markers(run)
            entry = actor_services.record_liaison_contact(author, actor_services.LiaisonContact(
                occurred_at=timezone.now(), channel="phone", summary=f"summary {s_marker}",
                follow_ups=f"follow {f_marker}", level=level, organisation_ids=[author.organisation_id]))
            if relation == "submitter":
                LiaisonLogEntry.objects.filter(pk=entry.pk).update(created_by=reader.person)
                services.refresh_audience(LiaisonLogEntry, [entry.pk])  # update() bypasses the services
            elif relation == "named":
                services.release_record(author, entry, person=reader.person)
            planted.append(Planted(relation, level, entry.pk, s_marker, f_marker, cell, author))
    return planted


@pytest.mark.django_db
def test_anonymous_visitors_see_no_liaison_entry() -> None:
    owner = make_member(Component.CIVILIAN).actor
    entry = actor_services.record_liaison_contact(owner, actor_services.LiaisonContact(
        occurred_at=timezone.now(), channel="phone", summary="anon-marker", level=Level.MISSION,
        organisation_ids=[owner.organisation_id]))
    client = Client()
    for url in (reverse("actors:liaison-log"), reverse("actors:liaison-entry", args=[entry.pk]),
                reverse("actors:liaison-export"), reverse("actors:liaison-history", args=[entry.pk])):
        response = client.get(url)
        assert response.status_code in (302, 401, 404)
        assert b"anon-marker" not in response.content
    for url in ("/api/v1/liaison-log", f"/api/v1/liaison-log/{entry.pk}"):
        response = client.get(url)
        assert response.status_code == 401
        assert b"anon-marker" not in response.content
    count_access_cases("anonymous", 6)


@pytest.mark.django_db
@pytest.mark.parametrize("admin_component", [Component.MILITARY, Component.CIVILIAN])
def test_admin_site_shows_only_what_the_policy_shows(admin_component: str) -> None:
    from civmil.core.choices import Role

    admin = make_member(admin_component, role=Role.ADMINISTRATOR)
    owners = _owners()
    planted = []
    for level in LOG_LEVELS:
        author = owners[level]
        s_marker, f_marker = f"S{uuid.uuid4().hex}", f"F{uuid.uuid4().hex}"
        entry = actor_services.record_liaison_contact(author, actor_services.LiaisonContact(
            occurred_at=timezone.now(), channel="radio", summary=f"summary {s_marker}",
            follow_ups=f"follow {f_marker}", level=level, organisation_ids=[author.organisation_id]))
        planted.append(Planted("none", level, entry.pk, s_marker, f_marker,
                               _expected("none", "mil_admin" if admin_component == Component.MILITARY
                                         else "civ_admin", level)))
    client = _client(admin.user)
    changelist = client.get(reverse("admin:actors_liaisonlogentry_changelist"))
    assert changelist.status_code == 200
    failures: list[str] = []
    missing = client.get(reverse("admin:actors_liaisonlogentry_change", args=[uuid.uuid4()]))
    for item in planted:
        page = client.get(reverse("admin:actors_liaisonlogentry_change", args=[item.pk]))
        text = changelist.content.decode() + page.content.decode()
        if item.expected == "N":
            if item.summary_marker in text or item.follow_marker in text or str(item.pk) in changelist.content.decode():
                failures.append(f"admin {item.level}: hidden record shown")
            if (page.status_code, page.get("Location")) != (missing.status_code, missing.get("Location")):
                failures.append(f"admin {item.level}: hidden record answers {page.status_code}, "
                                f"a missing one {missing.status_code}")
        elif item.follow_marker not in page.content.decode():
            failures.append(f"admin {item.level}: visible record's content missing from its admin page")
    count_access_cases("admin", 2 * len(planted))
    assert not failures, "\n".join(failures)

"""The access matrix on the admin site: every list of every registered model, read by an
administrator of each component.

Administrators see content only as their own membership allows (DESIGN.md, "Releasability"), so
an administrator reads the hand-written table of ``test_access_policy.py`` at the row of their
component (``ADMIN_READERS``). The records of ``test_access_matrix.py`` are planted for them
(:func:`plant_matrix`); then, on the list of every model the admin site registers:

* hand-crafted filters through every relation of the model (each relation followed to the
  liaison log's text and ids where a path of a few steps reaches it, else to the first text of
  the record it reaches), carrying the markers and ids of the records the table hides from the
  reader and the markers of the fields it withholds, against random markers of the same shape:
  the answer (status, redirect, row counts, page) is the same;
* search (``q=``) for each such marker, also ordered by every column: the same answer as for a
  random marker;
* the same probes inside ``_changelist_filters`` and after ``?e=1``: the same answer;
* the liaison log's list and the ledger's list name exactly the records the table lets the
  reader see, and no answer carries a withheld marker.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from django.contrib import admin
from django.db import models
from django.test import Client
from django.urls import reverse

from civmil.actors.models import LiaisonLogEntry
from civmil.core.choices import Component, Role
from tests.conftest import count_access_cases
from tests.core.test_access_matrix import Matrix, Planted, Reader, _client, _normalised, make_reader, plant_matrix
from tests.factories import make_member

pytestmark = pytest.mark.django_db

#: An administrator reads the table's row of their component's staff (the table has rows of its
#: own for the civilian and military administrators).
ADMIN_READERS: dict[str, str] = {
    "mil_admin": Component.MILITARY,
    "civ_admin": Component.CIVILIAN,
    "ngo": Component.HUMANITARIAN,
    "police": Component.POLICE,
    "host": Component.HOST_NATION,
    "community": Component.COMMUNITY,
}
#: Steps a crafted filter takes at most to reach the liaison log from a relation of the model.
MAX_STEPS = 3


def admin_reader(profile: str) -> Reader:
    """A signed-in administrator of the profile's component."""
    if profile in ("mil_admin", "civ_admin"):
        return make_reader(profile)
    m = make_member(ADMIN_READERS[profile], role=Role.ADMINISTRATOR)
    return Reader(profile, m.user, m.actor)


# ---------------------------------------------------------------------------------------------
# What the reader may not learn


@dataclass
class Secrets:
    """The markers and ids of one planting that the table keeps from the reader."""

    summaries: list[tuple[Planted, str]] = field(default_factory=list)  # records with no view
    follow_ups: list[tuple[Planted, str]] = field(default_factory=list)  # no view, or reduced
    ids: list[tuple[Planted, str]] = field(default_factory=list)  # records with no view

    def markers(self) -> list[tuple[Planted, str]]:
        return self.summaries + self.follow_ups


def secrets_of(matrix: Matrix) -> Secrets:
    secrets = Secrets()
    for item in matrix.planted:
        if item.expected == "N":
            secrets.summaries.append((item, item.summary_marker))
            secrets.ids.append((item, str(item.pk)))
        if item.expected in ("N", "R"):
            secrets.follow_ups.append((item, item.follow_marker))
    return secrets


def _random_like(value: str, run: str) -> str:
    """A value of the same shape that matches nothing: a marker (same prefix and run) or an id."""
    try:
        uuid.UUID(value)
    except ValueError:
        return value[:1] + run + uuid.uuid4().hex
    return str(uuid.uuid4())


# ---------------------------------------------------------------------------------------------
# Crafted filters


def _relations(model: type[models.Model]) -> list[Any]:
    """Every relation a lookup may name on ``model``: forward and reverse, to one and to many."""
    return [f for f in model._meta.get_fields() if f.is_relation and f.related_model is not None]


def _path_to_log(first: Any) -> str | None:
    """The shortest lookup path starting with relation ``first`` that reaches the liaison log."""
    frontier: list[tuple[list[str], Any]] = [([first.name], first.related_model)]
    for _step in range(MAX_STEPS):
        for path, model in frontier:
            if model is LiaisonLogEntry:
                return "__".join(path)
        frontier = [([*path, r.name], r.related_model) for path, model in frontier for r in _relations(model)]
    return None


def _first_text(model: type[models.Model]) -> str | None:
    for f in model._meta.get_fields():
        if isinstance(f, (models.CharField, models.TextField, models.JSONField)):
            return str(f.name)
    return None


@dataclass
class Probe:
    """A query-string key and the secrets it carries (every value one alternative of the filter)."""

    key: str
    secrets: list[tuple[Planted, str]]


def crafted_filters(model: type[models.Model], secrets: Secrets) -> list[Probe]:
    """Filters through every relation of ``model``, and on the ids and texts an attacker would try."""
    probes: list[Probe] = [Probe("pk", secrets.ids), Probe("id__in", secrets.ids)]
    if model._meta.label_lower in ("core.ledgerentry", "core.release", "core.grant"):
        probes.append(Probe("object_id", secrets.ids))
    if model._meta.label_lower == "core.ledgerentry":
        probes += [Probe("change__data__icontains", secrets.markers()), Probe("object_id__in", secrets.ids)]
    if model is LiaisonLogEntry:
        probes += [Probe("summary__icontains", secrets.summaries), Probe("follow_ups__icontains", secrets.follow_ups)]
    seen: set[str] = set()
    for relation in _relations(model):
        if relation.name in seen:
            continue
        seen.add(relation.name)
        path = _path_to_log(relation)
        if path is not None:
            probes += [Probe(f"{path}__summary__icontains", secrets.summaries),
                       Probe(f"{path}__follow_ups__icontains", secrets.follow_ups),
                       Probe(f"{path}__id__exact", secrets.ids)]
            continue
        text = _first_text(relation.related_model)
        if text is not None:
            probes.append(Probe(f"{relation.name}__{text}__icontains", secrets.markers()))
    unique = {p.key: p for p in probes if p.secrets}
    return list(unique.values())


# ---------------------------------------------------------------------------------------------
# Answers


def _forms(value: str) -> list[bytes]:
    once = quote(value, safe="")
    return [value.encode(), once.encode(), quote(once, safe="").encode()]


def answer(client: Client, url: str, shown_values: list[str]) -> tuple[Any, ...]:
    """What a probe observes: the status and redirect target (the same target is the same page), or
    the row counts and the page, where the probe's own values (echoed in links) read PROBE."""
    response = client.get(url)
    if response.status_code in (301, 302):
        return response.status_code, response["Location"]
    try:
        cl = response.context["cl"]
    except (KeyError, TypeError):
        counts = None
    else:
        counts = (cl.result_count, cl.full_result_count)
    body = _normalised(response.content, response.request["PATH_INFO"])
    for value in sorted(shown_values, key=len, reverse=True):
        for form in _forms(value):
            body = body.replace(form, b"PROBE")
    return response.status_code, counts, body


@dataclass
class Run:
    client: Client
    run: str
    failures: list[str] = field(default_factory=list)
    cases: int = 0

    def same(self, where: str, base: str, params: list[tuple[str, str]], secrets: list[tuple[Planted, str]],
             wrap: str = "", fixed: tuple[tuple[str, str], ...] = ()) -> None:
        """The probe with the secrets (``params``, beside the ``fixed`` ones) answers as the probe with
        random values of the same shape."""
        randoms = [(key, _random_like(value, self.run)) for key, value in params]
        secret_values = [value for _key, value in params]
        urls = []
        for query in (params, randoms):
            qs = urlencode([*query, *fixed])
            if wrap == "changelist_filters":
                qs = urlencode({"_changelist_filters": qs})
            elif wrap == "error":
                qs = "e=1&" + qs
            urls.append(f"{base}?{qs}")
        got = answer(self.client, urls[0], secret_values)
        expected = answer(self.client, urls[1], [value for _key, value in randoms])
        if got != expected:
            shown = {item.relation + "/" + item.level for item, _value in secrets}
            self.failures.append(f"{where} {wrap} {params[0][0]}: a secret of {sorted(shown)} changes the answer "
                                 f"({got[:2]} against {expected[:2]})")
        self.cases += len(secrets)


def _changelist(model: type[models.Model]) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


@pytest.mark.parametrize("profile", list(ADMIN_READERS))
def test_no_admin_list_filter_search_or_count_reveals_what_the_table_hides(profile: str) -> None:
    matrix = plant_matrix(admin_reader(profile))
    client = _client(matrix.reader.user)
    assert client.get("/admin/").status_code == 200, "an administrator gets in"
    secrets = secrets_of(matrix)
    run = Run(client, matrix.run)
    for model in admin.site._registry:
        base = _changelist(model)
        where = f"{profile} {model._meta.label_lower}"
        listing = client.get(base)
        assert listing.status_code == 200, where
        for probe in crafted_filters(model, secrets):
            params = [(probe.key, value) for _item, value in probe.secrets]
            run.same(where, base, params, probe.secrets)
        columns = len(listing.context["cl"].list_display)
        every_column = ".".join(str(i) for i in range(columns))
        for item, marker in secrets.markers():
            run.same(where, base, [("q", marker)], [(item, marker)])
        if secrets.markers():
            item, marker = secrets.markers()[0]
            for order in (every_column, "-" + every_column.replace(".", ".-")):
                run.same(where, base, [("q", marker)], [(item, marker)], fixed=(("o", order),))
        first = next(iter(crafted_filters(model, secrets)), None)
        if first is not None:
            params = [(first.key, value) for _item, value in first.secrets]
            run.same(where, base, params, first.secrets, wrap="changelist_filters")
            run.same(where, base, params, first.secrets, wrap="error")
    _check_lists(matrix, client, run.failures)
    count_access_cases("admin filters, search and counts", run.cases)
    assert not run.failures, "\n".join(run.failures)


def _check_lists(matrix: Matrix, client: Client, failures: list[str]) -> None:
    """The liaison log's list and the ledger's list name exactly the records the table lets the reader see."""
    seen = {str(item.pk) for item in matrix.planted if item.expected in ("F", "R")}
    log = client.get(_changelist(LiaisonLogEntry) + "?all=")
    listed = {str(e.pk) for e in log.context["cl"].result_list}
    if listed != seen or log.context["cl"].result_count != len(seen):
        failures.append(f"{matrix.reader.profile} liaison log list: {len(listed)} listed, expected {len(seen)}")
    ledger = client.get(reverse("admin:core_ledgerentry_changelist") + "?object_type=actors.liaisonlogentry&all=")
    named = {e.object_id for e in ledger.context["cl"].result_list}
    if named != seen:
        failures.append(f"{matrix.reader.profile} ledger list names {len(named - seen)} records it should not, "
                        f"misses {len(seen - named)}")
    pages = log.content.decode() + ledger.content.decode()
    for item in matrix.planted:
        withheld = [m for m, hidden in ((item.summary_marker, item.expected == "N"),
                                        (item.follow_marker, item.expected in ("N", "R"))) if hidden]
        if (str(item.pk) in log.content.decode() and item.expected == "N") or any(m in pages for m in withheld):
            failures.append(f"{matrix.reader.profile} {item.relation}/{item.level}: shown in an admin list")
        if item.expected in ("F", "R") and item.summary_marker not in log.content.decode():
            failures.append(f"{matrix.reader.profile} {item.relation}/{item.level}: missing from the liaison list")
    count_access_cases("admin lists", 2 * len(matrix.planted))

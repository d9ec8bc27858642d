"""The access matrix on the admin site: every list of every registered model, read by an
administrator of each component, with records of every registered record type.

Administrators see content only as their own membership allows (DESIGN.md, "Releasability"), so
an administrator reads the hand-written table of ``test_access_policy.py`` at the row of their
component (``ADMIN_READERS``). The records of ``test_access_matrix.py`` are planted for them, of
every type with the kernel's pages (:func:`plant_matrix`, each type's own planting); then, on the
list of every model the admin site registers (each type's admin is derived from its declaration):

* hand-crafted filters through every relation of the model (each relation followed to each
  record type's marked fields and ids where a path of a few steps reaches it, else to the first
  text of the record it reaches), carrying the markers and ids of the records the table hides
  from the reader and the markers of the fields it withholds, against random markers of the same
  shape: the answer (status, redirect, row counts, page) is the same;
* search (``q=``) for each such marker, also ordered by every column: the same answer as for a
  random marker;
* the same probes inside ``_changelist_filters`` and after ``?e=1``: the same answer;
* each type's list and the ledger's list of the type name exactly the records the table lets the
  reader see, and no answer carries a withheld marker.

One administrator of each profile reads the records of every type at once: the site's lists are
walked once per profile, not once per (type, profile).
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

from civmil.core import registry
from civmil.core.choices import Component, Role
from tests.conftest import count_access_cases
from tests.core.test_access_matrix import (
    KERNEL_TYPES,
    Matrix,
    Planted,
    Reader,
    _client,
    _normalised,
    make_reader,
    plant_matrix,
)
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
#: Steps a crafted filter takes at most to reach a record type from a relation of the model.
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


def secrets_of(planted: list[Planted]) -> Secrets:
    secrets = Secrets()
    for item in planted:
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


def _path_to(first: Any, target: type[models.Model]) -> str | None:
    """The shortest lookup path starting with relation ``first`` that reaches ``target``."""
    frontier: list[tuple[list[str], Any]] = [([first.name], first.related_model)]
    for _step in range(MAX_STEPS):
        for path, model in frontier:
            if model is target:
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


def _type_probes(prefix: str, record_type: registry.RecordType, secrets: Secrets) -> list[Probe]:
    """Lookups (after ``prefix``) on the type's two marked fields and its id."""
    released, withheld = record_type.marked_fields()
    return [Probe(f"{prefix}{released}__icontains", secrets.summaries),
            Probe(f"{prefix}{withheld}__icontains", secrets.follow_ups),
            Probe(f"{prefix}id__exact", secrets.ids)]


def crafted_filters(model: type[models.Model], everything: Secrets,
                    by_type: dict[str, Secrets]) -> list[Probe]:
    """Filters through every relation of ``model``, and on the ids and texts an attacker would try:
    ``everything`` the secrets of every type, ``by_type`` each record type's own."""
    probes: list[Probe] = [Probe("pk", everything.ids), Probe("id__in", everything.ids)]
    if model._meta.label_lower == "core.ledgerentry":
        probes.append(Probe("object_id", everything.ids))
    elif model._meta.label_lower in ("core.release", "core.grant"):
        # A release or grant naming the reader is theirs to see (it is how the table's relation was
        # made); only the ids of records the reader is not the target of stay secret here.
        probes.append(Probe("object_id", [(item, value) for item, value in everything.ids
                                          if item.relation in ("none", "owner", "submitter")]))
    if model._meta.label_lower == "core.ledgerentry":
        probes += [Probe("change__data__icontains", everything.markers()), Probe("object_id__in", everything.ids)]
    types = [t for t in KERNEL_TYPES if t.key in by_type]
    for record_type in types:
        if model is record_type.model:
            probes += _type_probes("", record_type, by_type[record_type.key])[:2]
    seen: set[str] = set()
    for relation in _relations(model):
        if relation.name in seen:
            continue
        seen.add(relation.name)
        reached = False
        for record_type in types:
            path = _path_to(relation, record_type.model)
            if path is not None:
                probes += _type_probes(f"{path}__", record_type, by_type[record_type.key])
                reached = True
        if reached:
            continue
        text = _first_text(relation.related_model)
        if text is not None:
            probes.append(Probe(f"{relation.name}__{text}__icontains", everything.markers()))
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
    #: Cases checked, by record type.
    cases: dict[str, int] = field(default_factory=dict)

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
        for item, _value in secrets:
            self.cases[item.record_type.key] = self.cases.get(item.record_type.key, 0) + 1


def _changelist(model: type[models.Model]) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


@pytest.mark.parametrize("profile", list(ADMIN_READERS))
def test_no_admin_list_filter_search_or_count_reveals_what_the_table_hides(profile: str) -> None:
    reader = admin_reader(profile)
    matrices = [plant_matrix(reader, record_type) for record_type in KERNEL_TYPES]
    client = _client(reader.user)
    assert client.get("/admin/").status_code == 200, "an administrator gets in"
    secrets = secrets_of([item for matrix in matrices for item in matrix.planted])
    by_type = {matrix.record_type.key: secrets_of(matrix.planted) for matrix in matrices}
    run = Run(client, matrices[0].run)
    for model in admin.site._registry:
        base = _changelist(model)
        where = f"{profile} {model._meta.label_lower}"
        listing = client.get(base)
        assert listing.status_code == 200, where
        probes = crafted_filters(model, secrets, by_type)
        for probe in probes:
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
        first = next(iter(probes), None)
        if first is not None:
            params = [(first.key, value) for _item, value in first.secrets]
            run.same(where, base, params, first.secrets, wrap="changelist_filters")
            run.same(where, base, params, first.secrets, wrap="error")
    for matrix in matrices:
        _check_lists(matrix, client, run.failures)
    for key, n in run.cases.items():
        count_access_cases(f"{key}: admin filters, search and counts", n)
    assert not run.failures, "\n".join(run.failures)


def _check_lists(matrix: Matrix, client: Client, failures: list[str]) -> None:
    """The type's list and the ledger's list of the type name exactly the records the table lets
    the reader see."""
    record_type = matrix.record_type
    who = f"{matrix.reader.profile} {record_type.key}"
    seen = {str(item.pk) for item in matrix.planted if item.expected in ("F", "R")}
    log = client.get(_changelist(record_type.model) + "?all=")
    listed = {str(e.pk) for e in log.context["cl"].result_list}
    if listed != seen or log.context["cl"].result_count != len(seen):
        failures.append(f"{who} list: {len(listed)} listed, expected {len(seen)}")
    ledger = client.get(reverse("admin:core_ledgerentry_changelist") + f"?object_type={record_type.key}&all=")
    named = {e.object_id for e in ledger.context["cl"].result_list}
    if named != seen:
        failures.append(f"{who} ledger list names {len(named - seen)} records it should not, "
                        f"misses {len(seen - named)}")
    pages = log.content.decode() + ledger.content.decode()
    # The list shows the first marker where its field is a column (a field declared in the list).
    spec = record_type.field_spec(record_type.marked_fields()[0])
    listed_column = spec is None or spec.in_list
    for item in matrix.planted:
        withheld = [m for m, hidden in ((item.summary_marker, item.expected == "N"),
                                        (item.follow_marker, item.expected in ("N", "R"))) if hidden]
        if (str(item.pk) in log.content.decode() and item.expected == "N") or any(m in pages for m in withheld):
            failures.append(f"{who} {item.relation}/{item.level}: shown in an admin list")
        if item.expected in ("F", "R") and listed_column and item.summary_marker not in log.content.decode():
            failures.append(f"{who} {item.relation}/{item.level}: missing from the type's list")
    count_access_cases(f"{record_type.key}: admin lists", 2 * len(matrix.planted))

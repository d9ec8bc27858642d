"""Releasability on every channel, for every registered record type: plant unique markers in
records of each level the type allows, then look for them on every channel that exists, as every
reader profile.

The expected views come from the hand-written table in ``test_access_policy.py`` (with Person's
own rule, :func:`tests.core.test_access_policy.expected_view`). Each record gets two markers,
planted through the type's registration (``RecordType.plant``, by default the kernel's
:func:`civmil.core.kernel.planting.plant` through the type's own ``create``): one in a text field
an owner releases in a field release, one in a text field that release does not show
(``RecordType.marked_fields``). A full view shows both, a reduced view only the first, no view
neither — and a record with no view answers exactly like a missing one. A type with a derived face
gives readers without a view exactly its declared derived fields, never the record's id.

``test_access_matrix_channels.py`` plants the same records (:func:`plant_matrix`) and reads them
on the other channels: live events and the WebSocket, search, discussions, attachments,
notifications and e-mail, and API tokens.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from civmil.actors.models import LiaisonLogEntry
from civmil.core import access, registry, services
from civmil.core.acting import Actor
from civmil.core.choices import Component, Level, Role
from civmil.core.kernel import planting
from civmil.core.kernel.api import api_name
from civmil.core.kernel.maps import layer_path
from civmil.core.kernel.views import views_of
from civmil.core.models import Grant, Person, Release
from tests.conftest import count_access_cases
from tests.core.test_access_policy import PROFILES, expected_view
from tests.factories import make_member

RELATIONS = ["none", "owner", "submitter", "released_org", "released_fields", "released_component", "named",
             "granted"]
#: Profiles that can sign in (anonymous visitors are checked separately).
READERS = [p for p in PROFILES if p != "anonymous"]
OWNER_COMPONENT = {Level.PUBLIC: Component.CIVILIAN, Level.MISSION: Component.CIVILIAN,
                   Level.HUMANITARIAN: Component.HUMANITARIAN, Level.MILITARY: Component.MILITARY,
                   Level.RESTRICTED: Component.CIVILIAN, Level.OVERSIGHT: Component.CIVILIAN}
#: Every registered type with the kernel's pages and API (Person has pages of its own: below).
KERNEL_TYPES = [t for t in registry.all_types() if t.fields]
LOG = registry.get(LiaisonLogEntry)


@dataclass
class Planted:
    relation: str
    level: str
    pk: uuid.UUID
    #: In the field a field release shows, and in the field it does not.
    summary_marker: str
    follow_marker: str
    expected: str  # F, R or N
    #: Who recorded it (a member of the owning organisation, with the full view).
    author: Actor | None = None
    record_type: registry.RecordType = field(default_factory=lambda: LOG)


def _expected(relation: str, profile: str, level: str, record_type: registry.RecordType = LOG) -> str:
    return expected_view(record_type, relation, profile, level)


def _markers(run: str) -> tuple[str, str]:
    """A fresh pair of markers; ``run`` starts every marker of one planting (searchable as a prefix)."""
    return f"S{run}{uuid.uuid4().hex}", f"F{run}{uuid.uuid4().hex}"


def _author(record_type: registry.RecordType, relation: str, level: str, reader: Actor,
            owners: dict[str, Actor]) -> Actor:
    if relation != "owner":
        return owners[level]
    if level == Level.OVERSIGHT and reader.role != Role.OVERSIGHT:
        # Only oversight staff create OVERSIGHT records: a colleague of the reader's organisation.
        assert reader.organisation is not None
        return make_member(reader.organisation.component, role=Role.OVERSIGHT, org=reader.organisation).actor
    return reader


def _plant_one(record_type: registry.RecordType, author: Actor, level: str, run: str) -> tuple[Any, str, str]:
    released, withheld = record_type.marked_fields()
    s_marker, f_marker = _markers(run)
    record = planting.plant(record_type, author, level, {released: s_marker, withheld: f_marker})
    return record, s_marker, f_marker


def _link(record_type: registry.RecordType, relation: str, record: Any, author: Actor, reader: Actor) -> None:
    """Relate ``reader`` to ``record`` as ``relation`` says, through the services."""
    model = record_type.model
    if record.level == Level.OVERSIGHT and relation not in ("none", "owner", "submitter"):
        _link_oversight(relation, record, reader)
        return
    if relation == "submitter":
        # The reader wrote it for another organisation (e.g. a liaison officer's note).
        model._default_manager.filter(pk=record.pk).update(created_by=reader.person)
        services.refresh_audience(model, [record.pk])  # update() bypasses the services
    elif relation == "released_org":
        services.release_record(author, record, organisation=reader.organisation)
    elif relation == "released_fields":
        services.release_record(author, record, organisation=reader.organisation,
                                fields=[_field_released(record_type)])
    elif relation == "released_component":
        services.release_record(author, record, component=reader.component or "")
    elif relation == "named":
        services.release_record(author, record, person=reader.person)
    elif relation == "granted":
        services.grant_access(author, record, reader.person, "case review")


def _field_released(record_type: registry.RecordType) -> str:
    """The field a field release names: the first marker's (or, where every view shows that one,
    a person's name, the first releasable field)."""
    first = record_type.marked_fields()[0]
    return first if first in record_type.release_fields else record_type.release_fields[0]


def _link_oversight(relation: str, record: Any, reader: Actor) -> None:
    """No one may release or grant an OVERSIGHT record through the services (its owner does not
    see it; the oversight app's impartial assignment will grant): the release or grant is written
    as such an act would write it, and the table says what it opens."""
    target: dict[str, Any] = {
        "released_org": {"target_organisation_id": reader.organisation_id},
        "released_fields": {"target_organisation_id": reader.organisation_id,
                            "fields": [_field_released(registry.get(type(record)))]},
        "released_component": {"target_component": reader.component or ""},
        "named": {"target_person_id": reader.person_id},
    }.get(relation, {})
    if relation == "granted":
        Grant.objects.create(content_type=_content_type(type(record)), object_id=record.pk,
                             person_id=reader.person_id, purpose="case review")
    else:
        Release.objects.create(content_type=_content_type(type(record)), object_id=record.pk, **target)


def _content_type(model: Any) -> Any:
    from django.contrib.contenttypes.models import ContentType

    return ContentType.objects.get_for_model(model)


def _plant(reader_name: str, reader: Actor, owners: dict[str, Actor], run: str = "",
           record_type: registry.RecordType = LOG, relations: list[str] | None = None) -> list[Planted]:
    """Create, through the type's planting, one record per (relation, level) that can exist."""
    planted = []
    for relation in relations or RELATIONS:
        for level in record_type.levels:
            cell = _expected(relation, reader_name, level, record_type)
            if cell == "-":
                continue
            author = _author(record_type, relation, level, reader, owners)
            record, s_marker, f_marker = _plant_one(record_type, author, level, run)
            _link(record_type, relation, record, author, reader)
            planted.append(Planted(relation, level, record.pk, s_marker, f_marker, cell, author, record_type))
    return planted


_VOLATILE = re.compile(rb'(name="csrfmiddlewaretoken" value=|name="next" value=|content=)"[^"]*"')


def _normalised(content: bytes, path: str) -> bytes:
    """A page's body without what differs on every request (CSRF token, the requested path)."""
    return _VOLATILE.sub(rb"\1\"\"", content).replace(path.encode(), b"PATH")


def _check(text: str, item: Planted, channel: str, failures: list[str], *, lists_withheld: bool = True) -> None:
    """``lists_withheld`` false: the channel never shows the second marker's field (a list
    without that column), so only its absence where the view withholds it is checked."""
    want_summary = item.expected in ("F", "R")
    want_follow = item.expected == "F"
    got_summary, got_follow = item.summary_marker in text, item.follow_marker in text
    if not lists_withheld and not got_follow:
        want_follow = False
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
    record_type: registry.RecordType = field(default_factory=lambda: LOG)


def make_reader(profile: str) -> Reader:
    component_role = PROFILES[profile]
    if component_role is None:  # no_membership: a signed-in person without a current membership
        lone = make_member(Component.CIVILIAN)
        lone.membership.delete()
        from civmil.core.acting import actor_for_user

        return Reader(profile, lone.user, actor_for_user(lone.user))
    m = make_member(component_role[0], role=component_role[1])
    return Reader(profile, m.user, m.actor)


def plant_matrix(reader: Reader, record_type: registry.RecordType = LOG) -> Matrix:
    """Plant, through the type's planting, every record of ``record_type`` the table has for
    ``reader``'s profile.

    Shared by every channel of the matrix (``test_access_matrix_channels.py`` too), so all of
    them look for the same markers in the same records.
    """
    owners = _owners(record_type)
    run = uuid.uuid4().hex[:8]
    relations = None if reader.actor.membership else ["none", "submitter", "named", "granted"]
    planted = _plant(reader.profile, reader.actor, owners, run, record_type, relations)
    return Matrix(reader, owners, planted, run, record_type)


def _owners(record_type: registry.RecordType = LOG) -> dict[str, Actor]:
    return {level: make_member(OWNER_COMPONENT[level],
                               role=Role.OVERSIGHT if level == Level.OVERSIGHT else None).actor
            for level in record_type.levels}


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@dataclass(frozen=True)
class Urls:
    """Where a type's channels answer (from its registration: pages and API as mounted)."""

    record_type: registry.RecordType

    def page(self, name: str, pk: Any = None) -> str:
        url_name = views_of(self.record_type).url_names()[name]
        return reverse(url_name, args=[pk] if pk is not None else [])

    def api(self, pk: Any = None) -> str:
        detail = reverse(f"api:{api_name(self.record_type)}-history",
                         kwargs={"record_id": pk or uuid.uuid4()}).removesuffix("/history")
        return detail if pk is not None else detail.rsplit("/", 1)[0]


def _type_id(record_type: registry.RecordType) -> str:
    return record_type.key


@pytest.mark.django_db
@pytest.mark.parametrize("profile", READERS)
@pytest.mark.parametrize("record_type", KERNEL_TYPES, ids=_type_id)
def test_markers_appear_exactly_where_the_table_says(record_type: registry.RecordType, profile: str) -> None:
    matrix = plant_matrix(make_reader(profile), record_type)
    reader_user, planted = matrix.reader.user, matrix.planted
    urls = Urls(record_type)
    client = _client(reader_user)
    failures: list[str] = []
    missing = {
        "page detail": client.get(urls.page("detail", uuid.uuid4())),
        "api detail": client.get(urls.api(uuid.uuid4())),
        "history": client.get(urls.page("history", uuid.uuid4())),
    }
    assert all(r.status_code == 404 for r in missing.values())

    pages = {
        "page list": client.get(urls.page("list")).content.decode(),
        "api list": client.get(urls.api() + "?limit=200").content.decode(),
        "csv export": _csv_text(client, urls.page("export")),
    }
    listed = record_type.field_spec(record_type.marked_fields()[1])
    checks = 0
    for item in planted:
        for channel, text in pages.items():
            _check(text, item, channel, failures, lists_withheld=channel != "page list" or listed is None
                   or listed.in_list)
            checks += 1
        detail = client.get(urls.page("detail", item.pk))
        api_detail = client.get(urls.api(item.pk))
        history = client.get(urls.page("history", item.pk))
        for channel, response in (("page detail", detail), ("api detail", api_detail), ("history", history)):
            checks += 1
            _check_answer(response, missing[channel], item, channel, "record", failures)
        checks += _check_derived(matrix.reader.actor, item, failures)
    count_access_cases(f"{record_type.key}: page, api, csv, history", checks)
    if record_type.layer is not None:
        _check_map_layer(client, matrix, failures)
    assert not failures, "\n".join(failures)


def _check_answer(response: Any, missing: Any, item: Any, channel: str, what: str, failures: list[str]) -> None:
    """One page or API answer about a planted record: a hidden one answers exactly like a missing
    one (``missing``: the answer for an id that does not exist), a seen one shows what its view says."""
    if item.expected == "N":
        same = (_normalised(response.content, response.request["PATH_INFO"])
                == _normalised(missing.content, missing.request["PATH_INFO"]))
        if response.status_code != 404 or not same:
            failures.append(f"{channel} {item.relation}/{item.level}: hidden {what} does not answer "
                            f"like a missing one ({response.status_code})")
        return
    if response.status_code != 200:
        failures.append(f"{channel} {item.relation}/{item.level}: status {response.status_code}")
        return
    _check(response.content.decode(), item, channel, failures)


def _check_map_layer(client: Client, matrix: Matrix, failures: list[str]) -> None:
    """The type's map layer: a record is a feature exactly when it has a place and the reader's
    view shows it (planted field releases never name the place, so: the full view), and a
    feature carries what the record's API answer carries; nothing else of a record is in it."""
    record_type = matrix.record_type
    layer = client.get("/api/v1" + layer_path(record_type), {"limit": 1000})
    if layer.status_code != 200:
        failures.append(f"map layer: status {layer.status_code}")
        return
    body = layer.json()
    features = {f["id"]: f for f in body["features"]}
    text = layer.content.decode()
    # With a box the spatial index narrows first and the policy is checked on each record found
    # (access.visible_among): the whole world's box gives the very same features.
    boxed = client.get("/api/v1" + layer_path(record_type), {"limit": 1000, "bbox": "-180,-90,180,90"})
    if boxed.status_code != 200 or boxed.json()["features"] != body["features"]:
        failures.append(f"map layer with a box: status {boxed.status_code}, other features than without")
    model = record_type.model
    place = record_type.layer.point or ("geometry",)
    for item in matrix.planted:
        placed = model._default_manager.filter(pk=item.pk, **{f"{n}__isnull": False for n in place}).exists()
        want = placed and item.expected == "F"
        feature = features.get(str(item.pk))
        where = f"map layer {item.relation}/{item.level}: expected {item.expected}"
        if (feature is not None) != want:
            failures.append(f"{where}, placed={placed}, feature={feature is not None}")
        elif feature is not None:
            # A feature is lean (its place, title and style); its popup is the record's card as
            # the reader sees it, loaded from the card's URL.
            card = client.get(feature["properties"]["card"])
            if card.status_code != 200 or item.summary_marker not in card.content.decode():
                failures.append(f"{where}: the popup's card (status {card.status_code}) lacks the record's fields")
        if not want and (str(item.pk) in text or item.summary_marker in text or item.follow_marker in text):
            failures.append(f"{where}: the layer carries the record")
    count_access_cases(f"{record_type.key}: map layer", len(matrix.planted))


def _check_derived(reader: Actor, item: Planted, failures: list[str]) -> int:
    """A reader without a view of a type with a derived face gets that face: exactly the fields
    the declaration marks ``derived``, no marker, never the record's id."""
    record_type = item.record_type
    if record_type.derive is None or item.expected != "N":
        return 0
    record = record_type.model._default_manager.get(pk=item.pk)
    view = access.view_for(reader, record)
    if record.space_id != reader.space_id or view.kind == access.ViewKind.NONE:
        return 1
    face = record_type.derive(reader, record)
    declared = {f.name for f in record_type.fields if registry.DERIVED in f.views}
    text = repr(face)
    if (view.kind != access.ViewKind.DERIVED or set(face) != declared or str(item.pk) in text
            or item.summary_marker in text or item.follow_marker in text):
        failures.append(f"derived face {item.relation}/{item.level}: view {view.kind.name}, fields {sorted(face)} "
                        f"(declared {sorted(declared)}), shows the id or a marker: {text}")
    return 1


def _csv_text(client: Client, url: str | None = None) -> str:
    response = client.get(url or reverse("actors:liaison-export"))
    assert response.status_code == 200
    body = b"".join(response.streaming_content) if response.streaming else response.content  # type: ignore[attr-defined]
    text = body.decode("utf-8-sig")
    list(csv.reader(io.StringIO(text)))  # it parses as CSV
    return text


PERSON = registry.get(Person)


@pytest.mark.django_db
@pytest.mark.parametrize("profile", READERS)
def test_people_appear_exactly_where_the_table_and_persons_rule_say(profile: str) -> None:
    """Person's own rule: a person's level is the level of their contact details; readers of the
    mission's components below it still get the name (the reduced face), never the contacts."""
    matrix = plant_matrix(make_reader(profile), PERSON)
    client = _client(matrix.reader.user)
    failures: list[str] = []
    missing = {"page detail": client.get(reverse("actors:person", args=[uuid.uuid4()])),
               "api detail": client.get(reverse("api:person", args=[uuid.uuid4()]))}
    assert all(r.status_code == 404 for r in missing.values())
    checks = 0
    lists = {"page list": client.get(reverse("actors:people")).content.decode(),
             "api list": client.get(reverse("api:people") + "?limit=200").content.decode()}
    for item in matrix.planted:
        for channel, text in lists.items():
            _check(text, item, channel, failures, lists_withheld=channel != "page list")
            checks += 1
        for channel, url in (("page detail", reverse("actors:person", args=[item.pk])),
                             ("api detail", reverse("api:person", args=[item.pk]))):
            response = client.get(url)
            checks += 1
            _check_answer(response, missing[channel], item, channel, "person", failures)
    count_access_cases("core.person: pages, api", checks)
    assert not failures, "\n".join(failures)


PUBLIC_TYPES = [t for t in KERNEL_TYPES if Level.PUBLIC in t.levels]


@pytest.mark.django_db
@pytest.mark.parametrize("record_type", PUBLIC_TYPES, ids=_type_id)
def test_anonymous_visitors_read_public_records_and_nothing_else(record_type: registry.RecordType) -> None:
    """The row of anonymous visitors: PUBLIC records in full on every page, every other level
    answering like a missing record."""
    owners = _owners(record_type)
    run = uuid.uuid4().hex[:8]
    planted = []
    for level in record_type.levels:
        record, s_marker, f_marker = _plant_one(record_type, owners[level], level, run)
        planted.append(Planted("none", level, record.pk, s_marker, f_marker,
                               _expected("none", "anonymous", level, record_type), owners[level], record_type))
    urls, client, failures = Urls(record_type), Client(), []
    missing = client.get(urls.page("detail", uuid.uuid4()))
    pages = {"page list": client.get(urls.page("list")).content.decode(),
             "csv export": _csv_text(client, urls.page("export"))}
    listed = record_type.field_spec(record_type.marked_fields()[1])
    for item in planted:
        for channel, text in pages.items():
            _check(text, item, channel, failures, lists_withheld=channel != "page list" or listed is None
                   or listed.in_list)
        for channel in ("detail", "history"):
            response = client.get(urls.page(channel, item.pk))
            if item.expected == "N":
                if response.status_code != 404 or item.summary_marker in response.content.decode():
                    failures.append(f"{channel} {item.level}: hidden record answers {response.status_code}")
                continue
            assert missing.status_code == 404
            if response.status_code != 200:
                failures.append(f"{channel} {item.level}: status {response.status_code}")
                continue
            _check(response.content.decode(), item, channel, failures)
    count_access_cases(f"{record_type.key}: anonymous", 4 * len(planted))
    assert not failures, "\n".join(failures)


@pytest.mark.django_db
@pytest.mark.parametrize("record_type", [t for t in KERNEL_TYPES if Level.PUBLIC not in t.levels], ids=_type_id)
def test_anonymous_visitors_see_no_record_of_a_type_without_public_records(record_type: registry.RecordType) -> None:
    owner = make_member(Component.CIVILIAN).actor
    record, s_marker, _f = _plant_one(record_type, owner, Level.MISSION, "")
    urls, client = Urls(record_type), Client()
    for url in (urls.page("list"), urls.page("detail", record.pk), urls.page("export"),
                urls.page("history", record.pk)):
        response = client.get(url)
        assert response.status_code in (302, 401, 404)
        assert s_marker.encode() not in response.content
    for url in (urls.api(), urls.api(record.pk)):
        response = client.get(url)
        assert response.status_code == 401
        assert s_marker.encode() not in response.content
    count_access_cases(f"{record_type.key}: anonymous", 6)


@pytest.mark.django_db
@pytest.mark.parametrize("admin_component", [Component.MILITARY, Component.CIVILIAN])
@pytest.mark.parametrize("record_type", KERNEL_TYPES, ids=_type_id)
def test_admin_site_shows_only_what_the_policy_shows(record_type: registry.RecordType, admin_component: str) -> None:
    """Each type's admin (derived from its declaration): its list and a record's change page show
    what the administrator's own view shows, and a hidden record answers like a missing one."""
    admin = make_member(admin_component, role=Role.ADMINISTRATOR)
    profile = "mil_admin" if admin_component == Component.MILITARY else "civ_admin"
    owners = _owners(record_type)
    planted = []
    for level in record_type.levels:
        author = owners[level]
        record, s_marker, f_marker = _plant_one(record_type, author, level, "")
        planted.append(Planted("none", level, record.pk, s_marker, f_marker,
                               _expected("none", profile, level, record_type), author, record_type))
    opts = record_type.model._meta
    client = _client(admin.user)
    changelist = client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
    assert changelist.status_code == 200
    listed = changelist.content.decode()
    failures: list[str] = []
    missing = client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[uuid.uuid4()]))
    for item in planted:
        page = client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[item.pk]))
        text = listed + page.content.decode()
        if item.expected == "N":
            if item.summary_marker in text or item.follow_marker in text or str(item.pk) in listed:
                failures.append(f"admin {item.level}: hidden record shown")
            if (page.status_code, page.get("Location")) != (missing.status_code, missing.get("Location")):
                failures.append(f"admin {item.level}: hidden record answers {page.status_code}, "
                                f"a missing one {missing.status_code}")
        elif page.status_code != 200 or item.follow_marker not in page.content.decode():
            failures.append(f"admin {item.level}: visible record's content missing from its admin page "
                            f"({page.status_code})")
    count_access_cases(f"{record_type.key}: admin", 2 * len(planted))
    assert not failures, "\n".join(failures)

"""The access matrix on record history, for every registered type with the kernel's pages: who
made each change, and the people inside a change.

The records are those of ``test_access_matrix.py`` (planted by :func:`plant_matrix`, one per
relation and level the hand-written table of ``test_access_policy.py`` has for each reader
profile). On each record the reader may see, its author then edits it (the kernel's edit, as every
channel writes); where the type has a list of people (a many-to-many relation to people), the edit
adds two: a person of a third organisation (contact level MISSION) and a person of an exercise
space. The reader reads the history page and the history API:

* a change's author is named exactly where the reader may see that person, and "withheld"
  elsewhere; the people inside a change are named (page) or listed by id (API) only where the
  reader may see them, and are otherwise one "withheld" marker, never a name or an id;
* the ``people`` field itself appears only where the record's view shows it (the full view).

Whether the reader may see a person comes from the same hand-written table: people of another
organisation with contact level MISSION are seen (their face at least) by exactly the readers the
table gives a MISSION record of another organisation ("none" row, MISSION column). A person of an
exercise space is seen by no reader of the live mission.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from civmil.actors import services as actor_services
from civmil.core import access, registry, services
from civmil.core.choices import Component, Level, SpaceKind
from civmil.core.kernel.api import api_name
from civmil.core.models import Person, Space
from tests.conftest import count_access_cases
from tests.core.test_access_matrix import KERNEL_TYPES, READERS, Planted, Urls, _client, make_reader, plant_matrix
from tests.core.test_access_policy import EXPECTED, LEVELS
from tests.factories import make_member, make_org

pytestmark = pytest.mark.django_db

WITHHELD = "withheld"


def _sees_mission_people_of_others(profile: str) -> bool:
    """From the hand-written table: does ``profile`` see a MISSION record of another organisation?"""
    return EXPECTED["none"][profile].split()[LEVELS.index(Level.MISSION)] != "N"


def _named(person_id: Any, run: str) -> str:
    """Give a person a name no other text contains; return it."""
    name = f"N{run}{uuid.uuid4().hex}"
    Person.objects.filter(pk=person_id).update(full_name=name)
    return name


def _exercise_person(run: str) -> Person:
    exercise = Space.objects.create(kind=SpaceKind.EXERCISE, name="Exercise")
    return services.save_person(None, Person(full_name=f"N{run}{uuid.uuid4().hex}", owner=make_org(Component.CIVILIAN),
                                             level=Level.MISSION), space=exercise)


def _people_field(record_type: registry.RecordType) -> str | None:
    """The type's list of people (a many-to-many relation to people), if it has one."""
    return next((f.name for f in record_type.model._meta.get_fields()
                 if f.many_to_many and not f.auto_created and f.related_model is Person), None)


def _edit_action(record_type: registry.RecordType) -> str:
    return record_type.updated_action or f"{record_type.key}.edited"


def _edit(item: Planted, people: list[Any]) -> bool:
    """The record's author edits it (the kernel's edit, as every channel writes), adding ``people``
    to its list of people where it has one. An author who no longer sees their record (oversight
    staff of the owning organisation do not see its OVERSIGHT records) leaves it as it was: false."""
    assert item.author is not None
    record_type = item.record_type
    model = record_type.model
    record = model._default_manager.get(pk=item.pk)
    if access.view_for(item.author, record).kind != access.ViewKind.FULL:
        return False
    version = record.version
    field = _people_field(record_type)
    released, _withheld = record_type.marked_fields()
    changes = {} if field else {released: f"{item.summary_marker} edited"}
    services.update_record(item.author, model, item.pk, version, changes, action=_edit_action(record_type),
                           m2m={field: people} if field else None)
    return True


def _history_api(record_type: registry.RecordType, pk: Any) -> str:
    return reverse(f"api:{api_name(record_type)}-history", kwargs={"record_id": pk})


@pytest.mark.parametrize("profile", READERS)
@pytest.mark.parametrize("record_type", KERNEL_TYPES, ids=lambda t: t.key)
def test_history_names_only_the_people_the_reader_may_see(record_type: registry.RecordType, profile: str) -> None:
    reader = make_reader(profile)
    matrix = plant_matrix(reader, record_type)
    people_field = _people_field(record_type)
    urls = Urls(record_type)
    run = matrix.run
    # Every author gets a name of their own, so the page can be searched for it.
    author_names = {item.author.person_id: "" for item in matrix.planted if item.author is not None}
    for person_id in author_names:
        author_names[person_id] = _named(person_id, run)
    third = make_member(Component.CIVILIAN).person
    third_name = _named(third.pk, run)
    ghost = _exercise_person(run)
    sees_others = _sees_mission_people_of_others(profile)
    client = _client(reader.user)
    failures: list[str] = []
    checks = {"history authors": 0, **({"history people": 0} if people_field else {})}
    for item in matrix.planted:
        if item.expected == "N":
            continue  # the history answers like a missing record (test_access_matrix.py)
        edited_by_author = _edit(item, [third.pk, ghost.pk])
        where = f"{record_type.key} {item.relation}/{item.level}: expected {item.expected}"
        page = client.get(urls.page("history", item.pk))
        api = client.get(_history_api(record_type, item.pk))
        if page.status_code != 200 or api.status_code != 200:
            failures.append(f"{where}: history page {page.status_code}, api {api.status_code}")
            continue
        texts = {"page": page.content.decode(), "api": api.content.decode()}
        versions = api.json()

        # Authors: the reader's own entries are theirs; others' are named where the table says.
        assert item.author is not None
        author_seen = item.relation == "owner" or sees_others
        author_name = author_names[item.author.person_id]
        # A record whose own fields name its author (an officer assigning themself) carries the id
        # wherever its view shows those fields: only elsewhere would the id betray the author.
        carried = str(item.author.person_id) in client.get(urls.api(item.pk)).content.decode()
        for channel, text in texts.items():
            checks["history authors"] += 1
            if (author_name in text) != author_seen:
                failures.append(f"history {channel} {where}: author named={author_name in text}, "
                                f"expected {author_seen}")
            if str(item.author.person_id) in text and not carried:
                failures.append(f"history {channel} {where}: the author's id is shown")
        actors = {v["actor"] for v in versions}
        if actors != {author_name if author_seen else WITHHELD}:
            failures.append(f"history api {where}: authors {actors}")

        if people_field is None or not edited_by_author:
            continue
        # People inside the change: only in the full view, and only those the reader may see.
        shows_people = item.expected == "F"
        edited = [v for v in versions if v["action"] == _edit_action(record_type)]
        want = ([str(third.pk)] if sees_others else []) + [WITHHELD]
        got = [v["changes"].get(people_field) for v in edited]
        if got != [want if shows_people else None]:
            failures.append(f"history api {where}: people {got}, expected {want if shows_people else None}")
        for channel, text in texts.items():
            checks["history people"] += 1
            third_shown = shows_people and sees_others
            if (third_name in text) != (third_shown and channel == "page"):
                failures.append(f"history {channel} {where}: visible person named={third_name in text}")
            if (str(third.pk) in text) != (third_shown and channel == "api"):
                failures.append(f"history {channel} {where}: visible person's id shown={str(third.pk) in text}")
            if ghost.full_name in text or str(ghost.pk) in text:
                failures.append(f"history {channel} {where}: a hidden person is named or listed")
        if shows_people and "withheld" not in texts["page"]:
            failures.append(f"history page {where}: the hidden person is not marked withheld")
    for channel, n in checks.items():
        count_access_cases(f"{record_type.key}: {channel}", n)
    assert not failures, "\n".join(failures)


def test_a_hidden_authors_change_and_a_hidden_grantee_are_withheld() -> None:
    """A host-nation reader of an entry released to them; its owner grants access to a person
    the reader may not see. Only the owner's members read release and grant changes, so the
    grant is checked as an owner who may not see the grantee (a person of an exercise space)."""
    owner = make_member(Component.CIVILIAN)
    host = make_member(Component.HOST_NATION)
    entry = actor_services.record_liaison_contact(owner.actor, actor_services.LiaisonContact(
        occurred_at=timezone.now(), channel="meeting", summary="history of a released entry", level=Level.MISSION,
        organisation_ids=[owner.org.pk]))
    services.release_record(owner.actor, entry, organisation=host.org)
    ghost = _exercise_person("G")
    services.grant_access(owner.actor, entry, ghost, "case review")

    as_host = _client(host.user)
    versions = as_host.get(f"/api/v1/liaison-log/{entry.pk}/history").json()
    assert [v["actor"] for v in versions] == [WITHHELD]
    page = as_host.get(reverse("actors:liaison-history", args=[entry.pk])).content.decode()
    assert owner.person.full_name not in page and WITHHELD in page

    as_owner = _client(owner.user)
    versions = as_owner.get(f"/api/v1/liaison-log/{entry.pk}/history").json()
    grant = next(v for v in versions if v["action"] == "grant.added")
    assert grant["changes"]["person"] == WITHHELD and {v["actor"] for v in versions} == {owner.person.full_name}
    page = as_owner.get(reverse("actors:liaison-history", args=[entry.pk])).content.decode()
    assert str(ghost.pk) not in page and ghost.full_name not in page
    count_access_cases("actors.liaisonlogentry: history authors", 2)

"""The access policy against a hand-written table of expected outcomes.

The table below is written by hand from DESIGN.md's releasability section, not derived from
``civmil.core.access``. Each cell is the view a reader gets of a record at a level, for one
relation of the reader to the record:

    F = full view    R = reduced view (declared fields only)    N = none (the record is invisible)
    - = the combination cannot exist (e.g. an owner holding a level its component may not see)

Levels, in column order: PUBLIC MISSION HUMANITARIAN MILITARY RESTRICTED OVERSIGHT.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from civmil.actors.models import LiaisonLogEntry
from civmil.core import access, services
from civmil.core.acting import ANONYMOUS, Actor, actor_for_user
from civmil.core.choices import Component, Level, Role
from civmil.core.models import Grant, Organisation, Release, Space
from tests.conftest import count_access_cases
from tests.factories import make_member, make_org

LEVELS = [Level.PUBLIC, Level.MISSION, Level.HUMANITARIAN, Level.MILITARY, Level.RESTRICTED, Level.OVERSIGHT]

PROFILES: dict[str, tuple[str, str] | None] = {
    "mil_staff": (Component.MILITARY, Role.MILITARY_STAFF),
    "mil_liaison": (Component.MILITARY, Role.MILITARY_LIAISON),
    "force_commander": (Component.MILITARY, Role.LEADERSHIP),
    "police": (Component.POLICE, Role.POLICE),
    "civ_staff": (Component.CIVILIAN, Role.CIVILIAN_STAFF),
    "srsg": (Component.CIVILIAN, Role.LEADERSHIP),
    "oversight": (Component.CIVILIAN, Role.OVERSIGHT),
    "civ_admin": (Component.CIVILIAN, Role.ADMINISTRATOR),
    "mil_admin": (Component.MILITARY, Role.ADMINISTRATOR),
    "trainer": (Component.CIVILIAN, Role.TRAINER),
    "cmcoord": (Component.HUMANITARIAN, Role.CMCOORD),
    "ngo": (Component.HUMANITARIAN, Role.NGO_STAFF),
    "host": (Component.HOST_NATION, Role.HOST_NATION_LIAISON),
    "community": (Component.COMMUNITY, Role.COMMUNITY_LIAISON),
    "anonymous": None,
    "no_membership": None,
}

# fmt: off
EXPECTED: dict[str, dict[str, str]] = {
    # The record belongs to another organisation; no release, grant or submission links it.
    "none": {
        "mil_staff":       "F F N F N N",
        "mil_liaison":     "F F N F N N",
        "force_commander": "F F N F N N",
        "police":          "F F N F N N",
        "civ_staff":       "F F F N N N",
        "srsg":            "F F F F N N",
        "oversight":       "F F F N N N",
        "civ_admin":       "F F F N N N",
        "mil_admin":       "F F N F N N",
        "trainer":         "F F F N N N",
        "cmcoord":         "F F F N N N",
        "ngo":             "F F F N N N",
        "host":            "F N N N N N",
        "community":       "F N N N N N",
        "anonymous":       "F N N N N N",
        "no_membership":   "F N N N N N",
    },
    # The reader's organisation owns the record. Ownership never widens a level.
    "owner": {
        "mil_staff":       "F F - F F N",
        "mil_liaison":     "F F - F F N",
        "force_commander": "F F - F F N",
        "police":          "F F - F F N",
        "civ_staff":       "F F F - F N",
        "srsg":            "F F F - F N",
        "oversight":       "F F F - F N",
        "civ_admin":       "F F F - F N",
        "mil_admin":       "F F - F F N",
        "trainer":         "F F F - F N",
        "cmcoord":         "F F F - F N",
        "ngo":             "F F F - F N",
        "host":            "F - - - F N",
        "community":       "F - - - F N",
        "anonymous":       "- - - - - -",
        "no_membership":   "- - - - - -",
    },
    # The reader submitted the record for another organisation.
    "submitter": {
        "mil_staff":       "F F F F F N",
        "mil_liaison":     "F F F F F N",
        "force_commander": "F F F F F N",
        "police":          "F F F F F N",
        "civ_staff":       "F F F F F N",
        "srsg":            "F F F F F N",
        "oversight":       "F F F F F N",
        "civ_admin":       "F F F F F N",
        "mil_admin":       "F F F F F N",
        "trainer":         "F F F F F N",
        "cmcoord":         "F F F F F N",
        "ngo":             "F F F F F N",
        "host":            "F F F F F N",
        "community":       "F F F F F N",
        "anonymous":       "- - - - - -",
        "no_membership":   "F F F F F N",
    },
    # The owner released the whole record to the reader's organisation.
    "released_org": {
        "mil_staff":       "F F F F F N",
        "mil_liaison":     "F F F F F N",
        "force_commander": "F F F F F N",
        "police":          "F F F F F N",
        "civ_staff":       "F F F F F N",
        "srsg":            "F F F F F N",
        "oversight":       "F F F F F N",
        "civ_admin":       "F F F F F N",
        "mil_admin":       "F F F F F N",
        "trainer":         "F F F F F N",
        "cmcoord":         "F F F F F N",
        "ngo":             "F F F F F N",
        "host":            "F F F F F N",
        "community":       "F F F F F N",
        "anonymous":       "- - - - - -",
        "no_membership":   "- - - - - -",
    },
    # The owner released a declared set of fields to the reader's organisation.
    "released_fields": {
        "mil_staff":       "F F R F R N",
        "mil_liaison":     "F F R F R N",
        "force_commander": "F F R F R N",
        "police":          "F F R F R N",
        "civ_staff":       "F F F R R N",
        "srsg":            "F F F F R N",
        "oversight":       "F F F R R N",
        "civ_admin":       "F F F R R N",
        "mil_admin":       "F F R F R N",
        "trainer":         "F F F R R N",
        "cmcoord":         "F F F R R N",
        "ngo":             "F F F R R N",
        "host":            "F R R R R N",
        "community":       "F R R R R N",
        "anonymous":       "- - - - - -",
        "no_membership":   "- - - - - -",
    },
    # The owner released the record to the reader's whole component.
    "released_component": {
        "mil_staff":       "F F F F F N",
        "mil_liaison":     "F F F F F N",
        "force_commander": "F F F F F N",
        "police":          "F F F F F N",
        "civ_staff":       "F F F F F N",
        "srsg":            "F F F F F N",
        "oversight":       "F F F F F N",
        "civ_admin":       "F F F F F N",
        "mil_admin":       "F F F F F N",
        "trainer":         "F F F F F N",
        "cmcoord":         "F F F F F N",
        "ngo":             "F F F F F N",
        "host":            "F F F F F N",
        "community":       "F F F F F N",
        "anonymous":       "- - - - - -",
        "no_membership":   "- - - - - -",
    },
    # The reader is named on the record (released to them as a person).
    "named": {
        "mil_staff":       "F F F F F N",
        "mil_liaison":     "F F F F F N",
        "force_commander": "F F F F F N",
        "police":          "F F F F F N",
        "civ_staff":       "F F F F F N",
        "srsg":            "F F F F F N",
        "oversight":       "F F F F F N",
        "civ_admin":       "F F F F F N",
        "mil_admin":       "F F F F F N",
        "trainer":         "F F F F F N",
        "cmcoord":         "F F F F F N",
        "ngo":             "F F F F F N",
        "host":            "F F F F F N",
        "community":       "F F F F F N",
        "anonymous":       "- - - - - -",
        "no_membership":   "F F F F F N",
    },
    # The reader holds an active grant for the record. Only oversight staff open OVERSIGHT.
    "granted": {
        "mil_staff":       "F F F F F N",
        "mil_liaison":     "F F F F F N",
        "force_commander": "F F F F F N",
        "police":          "F F F F F N",
        "civ_staff":       "F F F F F N",
        "srsg":            "F F F F F N",
        "oversight":       "F F F F F F",
        "civ_admin":       "F F F F F N",
        "mil_admin":       "F F F F F N",
        "trainer":         "F F F F F N",
        "cmcoord":         "F F F F F N",
        "ngo":             "F F F F F N",
        "host":            "F F F F F N",
        "community":       "F F F F F N",
        "anonymous":       "- - - - - -",
        "no_membership":   "F F F F F N",
    },
    # A grant that was revoked, or from which the holder recused, opens nothing.
    "grant_ended": {
        "mil_staff":       "F F N F N N",
        "mil_liaison":     "F F N F N N",
        "force_commander": "F F N F N N",
        "police":          "F F N F N N",
        "civ_staff":       "F F F N N N",
        "srsg":            "F F F F N N",
        "oversight":       "F F F N N N",
        "civ_admin":       "F F F N N N",
        "mil_admin":       "F F N F N N",
        "trainer":         "F F F N N N",
        "cmcoord":         "F F F N N N",
        "ngo":             "F F F N N N",
        "host":            "F N N N N N",
        "community":       "F N N N N N",
        "anonymous":       "- - - - - -",
        "no_membership":   "F N N N N N",
    },
}
# fmt: on

#: Person's own rule, written by hand like the table: a person's level is the level of their contact
#: details, and readers of the mission's components who may not see those still get the person's
#: name, title and organisations (the reduced face) — where the table says they get nothing.
PERSON_FACE_PROFILES = frozenset(
    name for name, profile in PROFILES.items()
    if profile is not None and profile[0] in (Component.MILITARY, Component.POLICE, Component.CIVILIAN,
                                              Component.HUMANITARIAN))


def expected_view(record_type: Any, relation: str, profile: str, level: str) -> str:
    """The table's cell for a record of ``record_type`` (a registered type): ``-`` where the type
    does not allow the level, and Person's own rule on top of the table."""
    if level not in record_type.levels:
        return "-"
    cell = EXPECTED[relation][profile].split()[LEVELS.index(level)]
    if record_type.key == "core.person" and cell == "N" and profile in PERSON_FACE_PROFILES:
        return "R"
    return cell


KIND = {"F": access.ViewKind.FULL, "R": access.ViewKind.REDUCED, "N": access.ViewKind.NONE}
#: An owner for records of each level that no reader profile belongs to.
OWNER_COMPONENT = {
    Level.PUBLIC: Component.CIVILIAN, Level.MISSION: Component.CIVILIAN,
    Level.HUMANITARIAN: Component.HUMANITARIAN, Level.MILITARY: Component.MILITARY,
    Level.RESTRICTED: Component.CIVILIAN, Level.OVERSIGHT: Component.CIVILIAN,
}


def _cells(relation: str) -> list[tuple[str, str, str]]:
    return [
        (relation, profile, level)
        for profile, row in EXPECTED[relation].items()
        for level, cell in zip(LEVELS, row.split(), strict=True)
        if cell != "-"
    ]


ALL_CELLS = [cell for relation in EXPECTED for cell in _cells(relation)]


def _readers() -> dict[str, Actor]:
    readers: dict[str, Actor] = {"anonymous": ANONYMOUS}
    for name, profile in PROFILES.items():
        if profile is not None:
            readers[name] = make_member(profile[0], role=profile[1], username=name).actor
    lone = make_member(Component.CIVILIAN, username="no_membership")
    lone.membership.delete()
    readers["no_membership"] = actor_for_user(lone.user)
    assert readers["no_membership"].membership is None
    return readers


def _record(owner: Organisation, level: str, created_by: Any = None) -> LiaisonLogEntry:
    # Built directly (not through a service) so the table can reach levels and owners the
    # liaison log itself refuses; the policy must still answer for them.
    return LiaisonLogEntry.objects.create(
        space=Space.live(), owner=owner, level=level, created_by=created_by,
        occurred_at=timezone.now(), channel="phone", summary=f"marker-{uuid.uuid4()}",
    )


def _link(relation: str, record: LiaisonLogEntry, reader: Actor) -> None:
    ct = ContentType.objects.get_for_model(LiaisonLogEntry)
    if relation == "released_org":
        Release.objects.create(content_type=ct, object_id=record.pk, target_organisation_id=reader.organisation_id)
    elif relation == "released_fields":
        Release.objects.create(content_type=ct, object_id=record.pk, target_organisation_id=reader.organisation_id,
                               fields=["summary", "channel"])
    elif relation == "released_component":
        Release.objects.create(content_type=ct, object_id=record.pk, target_component=reader.component)
    elif relation == "named":
        Release.objects.create(content_type=ct, object_id=record.pk, target_person_id=reader.person_id)
    elif relation in ("granted", "grant_ended"):
        grant = Grant.objects.create(content_type=ct, object_id=record.pk, person_id=reader.person_id,
                                     purpose="case review")
        if relation == "grant_ended":
            Grant.objects.filter(pk=grant.pk).update(revoked_at=timezone.now())
            services.refresh_audience(LiaisonLogEntry, [record.pk])  # an update() bypasses the services


def _facts_row(record: LiaisonLogEntry) -> Any:
    return LiaisonLogEntry.objects.filter(pk=record.pk).values_list(
        "pk", "space_id", "level", "owner_id", "created_by_id", named=True).get()


@pytest.mark.django_db
@pytest.mark.parametrize("relation", list(EXPECTED))
def test_policy_matches_the_table(relation: str) -> None:
    readers = _readers()
    owners = {level: make_org(OWNER_COMPONENT[level]) for level in LEVELS}
    failures = []
    cells = _cells(relation)
    for _relation, profile, level in cells:
        reader = readers[profile]
        if relation == "owner":
            assert reader.organisation is not None
            record = _record(reader.organisation, level)
        elif relation == "submitter":
            record = _record(owners[level], level, created_by=reader.person)
        else:
            record = _record(owners[level], level)
            _link(relation, record, reader)
        expected = KIND[EXPECTED[relation][profile].split()[LEVELS.index(level)]]
        view = access.view_for(reader, record)
        listed = access.visible(reader, LiaisonLogEntry.objects.filter(pk=record.pk)).exists()
        # The live fan-out decides from releases and grants loaded once for every subscriber.
        from_facts = access.view_from_facts(reader, record, access.access_facts(LiaisonLogEntry, [record.pk]))
        # A page (a map layer) decides its views in one batch from rows of the policy's facts.
        [from_row] = access.views_for(reader, LiaisonLogEntry, [_facts_row(record)])
        if (view.kind != expected or listed != (expected != access.ViewKind.NONE) or from_facts != view
                or from_row != view):
            failures.append(f"{relation}/{profile}/{level}: expected {expected.name}, "
                            f"got view {view.kind.name}, listed={listed}, from loaded facts {from_facts}, "
                            f"from a row {from_row}")
        if expected == access.ViewKind.REDUCED:
            shown = access.Shown(record, view)
            assert shown.summary == record.summary and shown.channel == "phone"
            assert not shown.follow_ups and shown.place_name is access.WITHHELD
    count_access_cases("policy", len(cells))
    assert not failures, "\n".join(failures)


def test_table_covers_every_profile_relation_and_level() -> None:
    assert set(PROFILES) == set(EXPECTED["none"])
    assert all(set(rows) == set(PROFILES) for rows in EXPECTED.values())
    assert all(len(row.split()) == len(LEVELS) for rows in EXPECTED.values() for row in rows.values())
    assert {p[1] for p in PROFILES.values() if p} >= set(Role.values) - {Role.HOST_NATION_LIAISON} | {
        Role.HOST_NATION_LIAISON}
    assert {p[0] for p in PROFILES.values() if p} == set(Component.values)
    assert len(ALL_CELLS) > 500


@pytest.mark.django_db
def test_other_space_sees_nothing() -> None:
    reader = make_member(Component.CIVILIAN).actor
    other = Space.objects.create(kind="exercise", name="Exercise")
    record = _record(reader.organisation, Level.PUBLIC)  # type: ignore[arg-type]
    exercise_reader = Actor(reader.user_id, reader.person, reader.membership, space_id=other.pk)
    assert access.view_for(exercise_reader, record).kind == access.ViewKind.NONE
    assert access.views_for(exercise_reader, LiaisonLogEntry, [_facts_row(record)]) == [access.NO_VIEW]
    assert not access.visible(exercise_reader, LiaisonLogEntry.objects.all()).exists()


@pytest.mark.django_db
def test_superuser_flag_opens_nothing() -> None:
    reader = make_member(Component.MILITARY, role=Role.ADMINISTRATOR)
    reader.user.is_superuser = True
    reader.user.is_staff = True
    reader.user.save()
    record = _record(make_org(Component.HUMANITARIAN), Level.HUMANITARIAN)
    assert access.view_for(reader.actor, record).kind == access.ViewKind.NONE

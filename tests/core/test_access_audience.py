"""The audience filter (``access.visible``, and ``access.visible_among``) against the rule it
replaced, written out here as Q objects over records, releases and grants (the oracle): same
records, each once, same count, over generated records, releases, grants and readers."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from civmil.actors import services as actor_services
from civmil.actors.models import LiaisonLogEntry
from civmil.core import access, registry, services
from civmil.core.acting import ANONYMOUS, Actor, actor_for_user
from civmil.core.choices import Component, Level, Role
from civmil.core.models import Grant, Person, Release, Space
from civmil.core.models.records import Audience
from tests.factories import make_member, make_org

READERS: dict[str, tuple[str, str]] = {
    "mil_staff": (Component.MILITARY, Role.MILITARY_STAFF),
    "force_commander": (Component.MILITARY, Role.LEADERSHIP),
    "police": (Component.POLICE, Role.POLICE),
    "civ_staff": (Component.CIVILIAN, Role.CIVILIAN_STAFF),
    "srsg": (Component.CIVILIAN, Role.LEADERSHIP),
    "oversight": (Component.CIVILIAN, Role.OVERSIGHT),
    "cmcoord": (Component.HUMANITARIAN, Role.CMCOORD),
    "ngo": (Component.HUMANITARIAN, Role.NGO_STAFF),
    "host": (Component.HOST_NATION, Role.HOST_NATION_LIAISON),
    "community": (Component.COMMUNITY, Role.COMMUNITY_LIAISON),
}


# -- the rule as it was written before the audience table: the oracle -----------------------------


def oracle(actor: Actor, qs: models.QuerySet[Any]) -> models.QuerySet[Any]:
    """Which records ``actor`` may know exist: levels, floor, owner, submitter, releases, grants."""
    model = qs.model
    record_type = registry.get(model)
    qs = qs.filter(space_id=actor.space_id)
    if not actor.is_authenticated:
        return qs.filter(level=Level.PUBLIC)
    content_type = ContentType.objects.get_for_model(model)
    not_oversight = ~models.Q(level=Level.OVERSIGHT)
    levels = [lvl for lvl in Level.values if lvl == Level.PUBLIC or (
        actor.component is not None and (actor.component in access.LEVEL_AUDIENCE[lvl]
                                         or actor.role in access.LEVEL_ROLES.get(lvl, ())))]
    q = models.Q(level__in=levels)
    if actor.component in record_type.floor_components:
        q |= not_oversight
    if actor.organisation_id is not None:
        q |= models.Q(owner_id=actor.organisation_id) & not_oversight
    if actor.person_id is not None:
        q |= models.Q(created_by_id=actor.person_id) & not_oversight
    targets = models.Q(pk__in=[])
    if actor.person_id is not None:
        targets = models.Q(target_person_id=actor.person_id)
    if actor.membership is not None:
        targets |= models.Q(target_organisation_id=actor.organisation_id) | models.Q(target_component=actor.component)
    released = Release.objects.filter(targets, content_type=content_type, revoked_at__isnull=True)
    q |= models.Q(pk__in=released.values("object_id")) & not_oversight
    grants = Grant.objects.filter(content_type=content_type, person_id=actor.person_id, revoked_at__isnull=True,
                                  recused_at__isnull=True).values("object_id")
    q |= models.Q(pk__in=grants) & (models.Q() if actor.role == Role.OVERSIGHT else not_oversight)
    return qs.filter(q)


# -- generated worlds ------------------------------------------------------------------------------


@pytest.fixture
def world() -> dict[str, Any]:
    members = {name: make_member(component, role=role, username=f"aud_{name}")
               for name, (component, role) in READERS.items()}
    readers: dict[str, Actor] = {name: m.actor for name, m in members.items()}
    readers["anonymous"] = ANONYMOUS
    lone = make_member(Component.CIVILIAN, username="aud_lone")
    lone.membership.delete()
    readers["no_membership"] = actor_for_user(lone.user)
    orgs = [m.org for m in members.values()] + [make_org(Component.CIVILIAN), make_org(Component.MILITARY)]
    people = [m.person for m in members.values()] + [lone.person]
    return {"readers": readers, "orgs": orgs, "people": people}


record_st = st.tuples(st.sampled_from(Level.values), st.integers(0, 11), st.one_of(st.none(), st.integers(0, 10)),
                      st.booleans())
release_st = st.tuples(st.integers(0, 29), st.sampled_from(["organisation", "component", "person"]),
                       st.integers(0, 11), st.sampled_from(Component.values), st.booleans(), st.booleans())
grant_st = st.tuples(st.integers(0, 29), st.integers(0, 10), st.sampled_from(["active", "revoked", "recused"]))


def _plant(world: dict[str, Any], records: list[Any], releases: list[Any], grants: list[Any],
           changes: list[Any]) -> list[Any]:
    orgs, people = world["orgs"], world["people"]
    exercise = Space.objects.create(kind="exercise", name=f"Exercise {uuid.uuid4()}")
    planted: list[Any] = []
    for i, (level, owner, submitter, in_exercise) in enumerate(records):
        space = exercise if in_exercise else Space.live()
        submitted_by = people[submitter] if submitter is not None else None
        if i % 3 == 2:  # every third is a person record (the type with a floor)
            planted.append(Person.objects.create(space=space, owner=orgs[owner], level=level,
                                                 created_by=submitted_by, full_name=f"Person {i}"))
        else:
            planted.append(LiaisonLogEntry.objects.create(
                space=space, owner=orgs[owner], level=level, created_by=submitted_by,
                occurred_at=timezone.now(), channel="phone", summary=f"entry {i}"))
    if not planted:
        return planted
    for index, kind, target, component, revoked, some_fields in releases:
        record = planted[index % len(planted)]
        release = Release.objects.create(
            content_type=ContentType.objects.get_for_model(record), object_id=record.pk,
            target_organisation=orgs[target] if kind == "organisation" else None,
            target_component=component if kind == "component" else "",
            target_person=people[target % len(people)] if kind == "person" else None,
            fields=["summary"] if some_fields and isinstance(record, LiaisonLogEntry) else None)
        if revoked:
            release.revoked_at = timezone.now()
            release.save()
    for index, person, state in grants:
        record = planted[index % len(planted)]
        grant = Grant.objects.create(content_type=ContentType.objects.get_for_model(record), object_id=record.pk,
                                     person=people[person], purpose="review")
        if state == "revoked":
            Grant.objects.filter(pk=grant.pk).update(revoked_at=timezone.now())
            services.refresh_audience(type(record), [record.pk])
        elif state == "recused":
            grant.recused_at = timezone.now()
            grant.save()
    for index, level, owner in changes:  # level and owner changed after the fact, through save()
        record = planted[index % len(planted)]
        record.level, record.owner = level, orgs[owner]
        record.save()
    return planted


@pytest.mark.django_db
@given(records=st.lists(record_st, min_size=12, max_size=30), releases=st.lists(release_st, min_size=6, max_size=16),
       grants=st.lists(grant_st, min_size=2, max_size=8),
       changes=st.lists(st.tuples(st.integers(0, 29), st.sampled_from(Level.values), st.integers(0, 11)),
                        max_size=4))
def test_visible_agrees_with_the_rule_it_replaced(world: dict[str, Any], records: list[Any], releases: list[Any],
                                                   grants: list[Any], changes: list[Any]) -> None:
    with transaction.atomic():
        _plant(world, records, releases, grants, changes)
        for name, reader in world["readers"].items():
            for model in (LiaisonLogEntry, Person):
                expected = set(oracle(reader, model.objects.all()).values_list("pk", flat=True))
                got = list(access.visible(reader, model.objects.all()).values_list("pk", flat=True))
                assert len(got) == len(set(got)), f"{name} gets a {model.__name__} twice"
                assert set(got) == expected, f"{name}, {model.__name__}: {set(got) ^ expected}"
                assert access.visible(reader, model.objects.all()).count() == len(expected), name
                # The same records checked one by one (a map layer's, after its spatial index).
                among = list(access.visible_among(reader, model.objects.all()).values_list("pk", flat=True))
                assert len(among) == len(set(among)) and set(among) == expected, f"{name}, {model.__name__}"
                for level in Level.values:  # and those at one level, as the caller's filter keeps them
                    at_level = set(access.visible_among(reader, model.objects.all(), level).values_list(
                        "pk", flat=True))
                    assert at_level == set(oracle(reader, model.objects.filter(level=level)).values_list(
                        "pk", flat=True)), f"{name}, {model.__name__} at {level}"
                # The same with a filter of the caller's after the policy's (the count then reads records).
                by_level = access.visible(reader, model.objects.all()).filter(level__in=[Level.MISSION, Level.PUBLIC])
                assert by_level.count() == len(oracle(reader, model.objects.filter(
                    level__in=[Level.MISSION, Level.PUBLIC]))), name
                # Every record listed has a view, as the one-record door says.
                for shown in access.show_all(reader, access.visible(reader, model.objects.all())):
                    assert shown.view.kind not in (access.ViewKind.NONE, access.ViewKind.DERIVED), name
        transaction.set_rollback(True)


def _audience(obj: Any) -> set[str]:
    return set(Audience.objects.filter(content_type=ContentType.objects.get_for_model(obj), object_id=obj.pk,
                                       space_id=obj.space_id).values_list("key", flat=True))


@pytest.mark.django_db
def test_the_services_keep_each_audience_as_the_record_releases_and_grants_say() -> None:
    author = make_member(Component.CIVILIAN)
    soldier = make_member(Component.MILITARY)
    ngo = make_member(Component.HUMANITARIAN)
    entry = actor_services.record_liaison_contact(author.actor, actor_services.LiaisonContact(
        occurred_at=timezone.now(), channel="phone", summary="audience", level=Level.RESTRICTED,
        organisation_ids=[author.org.pk]))

    def expected() -> set[str]:
        return access.audience_of(LiaisonLogEntry, [LiaisonLogEntry.objects.get(pk=entry.pk)])[entry.pk]

    assert _audience(entry) == {f"l:{Level.RESTRICTED}", f"o:{author.org.pk}", f"p:{author.person.pk}"}
    assert not access.visible(soldier.actor, LiaisonLogEntry.objects.filter(pk=entry.pk)).exists()

    release = services.release_record(author.actor, entry, organisation=soldier.org)
    assert _audience(entry) == expected() and f"o:{soldier.org.pk}" in _audience(entry)
    assert access.visible(soldier.actor, LiaisonLogEntry.objects.filter(pk=entry.pk)).exists()
    services.revoke_release(author.actor, release)
    assert _audience(entry) == expected() and f"o:{soldier.org.pk}" not in _audience(entry)
    assert not access.visible(soldier.actor, LiaisonLogEntry.objects.filter(pk=entry.pk)).exists()

    grant = services.grant_access(author.actor, entry, ngo.person, "review")
    assert access.visible(ngo.actor, LiaisonLogEntry.objects.filter(pk=entry.pk)).exists()
    services.recuse(ngo.actor, grant, "conflict of interest")
    assert not access.visible(ngo.actor, LiaisonLogEntry.objects.filter(pk=entry.pk)).exists()
    grant = services.grant_access(author.actor, entry, ngo.person, "review again")
    services.revoke_grant(author.actor, grant)
    assert _audience(entry) == expected()
    assert not access.visible(ngo.actor, LiaisonLogEntry.objects.filter(pk=entry.pk)).exists()

    services.update_record(author.actor, LiaisonLogEntry, entry.pk, entry.version, {"level": Level.MISSION},
                           action="liaison.updated")
    assert _audience(entry) == expected() and f"l:{Level.MISSION}" in _audience(entry)
    assert access.visible(soldier.actor, LiaisonLogEntry.objects.filter(pk=entry.pk)).exists()
    assert access.visible(ngo.actor, LiaisonLogEntry.objects.all()).count() == len(
        oracle(ngo.actor, LiaisonLogEntry.objects.all()))

    person = services.save_person(author.actor, Person(full_name="Someone", owner=author.org, level=Level.RESTRICTED))
    assert _audience(person) == {f"l:{Level.RESTRICTED}", f"o:{author.org.pk}", f"p:{author.person.pk}"}
    person.level = Level.MISSION
    services.save_person(author.actor, person)
    assert f"l:{Level.MISSION}" in _audience(person) and f"l:{Level.RESTRICTED}" not in _audience(person)

    entry.delete()
    assert not Audience.objects.filter(object_id=entry.pk).exists()


@pytest.mark.django_db
def test_an_oversight_grant_opens_only_to_its_holder_in_the_oversight_role() -> None:
    investigator = make_member(Component.CIVILIAN, role=Role.OVERSIGHT)
    same_person_other_role = make_member(Component.CIVILIAN)
    owner = make_org(Component.CIVILIAN)
    case = LiaisonLogEntry.objects.create(space=Space.live(), owner=owner, level=Level.OVERSIGHT,
                                          created_by=same_person_other_role.person, occurred_at=timezone.now(),
                                          channel="phone", summary="case")
    ct = ContentType.objects.get_for_model(LiaisonLogEntry)
    for member in (investigator, same_person_other_role):
        Grant.objects.create(content_type=ct, object_id=case.pk, person=member.person, purpose="case")
    assert access.visible(investigator.actor, LiaisonLogEntry.objects.all()).count() == 1
    # The submitter and a grantee not acting in the oversight role see nothing of it.
    assert access.visible(same_person_other_role.actor, LiaisonLogEntry.objects.all()).count() == 0
    assert not access.visible(same_person_other_role.actor, LiaisonLogEntry.objects.all()).exists()


def test_one_function_for_each_side_of_the_rule() -> None:
    owner, person, other = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    assert access.audience_keys(Level.MILITARY, owner, person, [(None, Component.HUMANITARIAN, None)], [other]) == {
        "l:military", f"o:{owner}", f"p:{person}", "c:humanitarian", f"p:{other}"}
    assert access.audience_keys(Level.OVERSIGHT, owner, person, [(owner, "", None)], [other]) == {
        "l:oversight", f"g:{other}"}
    assert access.reader_keys(ANONYMOUS, registry.get(Person)) == access.ReaderKeys((Level.PUBLIC,), ())


@pytest.mark.django_db(transaction=True)
def test_level_counters_change_only_under_the_ledgers_lock() -> None:
    """On PostgreSQL a level counter is a row every writer of that type and level locks. A writer
    takes the ledger's lock before it, as every other writer does before its ledger entry: no two
    writers can wait for each other in a circle (an import holding the ledger's lock between two
    rows, a person creating a record at the same level)."""
    from django.db import connection

    from civmil.core.ledger.chain import _PG_LOCK_KEY

    if connection.vendor != "postgresql":
        pytest.skip("advisory locks are PostgreSQL's; SQLite serialises writers itself")
    content_type = ContentType.objects.get_for_model(LiaisonLogEntry)

    def holding_the_ledger_lock() -> bool:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
                           " AND granted AND objid = %s", [_PG_LOCK_KEY & 0xFFFFFFFF])
            return bool(cursor.fetchone()[0])

    with transaction.atomic():
        assert not holding_the_ledger_lock()
        services.count_levels(content_type, {(Space.live().pk, Level.MISSION): 1})
        assert holding_the_ledger_lock()
        transaction.set_rollback(True)


@pytest.mark.django_db
def test_saving_a_record_loaded_before_someone_changed_its_level_keeps_its_audience_in_step() -> None:
    """core.services.save_person(None, person) with a Person loaded before another save changed
    its level (any save of a stale instance): the row goes back to the old level, and its audience
    must go back with it, not stay at the level the other save wrote."""
    owner = make_member(Component.CIVILIAN)
    reader = make_member(Component.COMMUNITY)  # sees people by their level alone (no floor)
    person = services.save_person(None, Person(full_name="Amina", owner=owner.org, level=Level.PUBLIC))
    stale = Person.objects.get(pk=person.pk)
    fresh = Person.objects.get(pk=person.pk)
    fresh.level = Level.RESTRICTED
    services.save_person(None, fresh)
    assert not access.visible(reader.actor, Person.objects.filter(pk=person.pk)).exists()

    stale.title = "Coordinator"
    services.save_person(None, stale)
    assert Person.objects.get(pk=person.pk).level == Level.PUBLIC
    # A PUBLIC person is open to every reader: visible() must agree with view_for().
    assert access.view_for(reader.actor, Person.objects.get(pk=person.pk))
    assert access.visible(reader.actor, Person.objects.filter(pk=person.pk)).exists()

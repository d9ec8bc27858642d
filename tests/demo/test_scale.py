"""``civmil demo scale``: made-up records of every registered type, written by the kernel's bulk
path, leave the ledger, the audience, the level counts and the indexes as the services would."""

from __future__ import annotations

import io
from collections import Counter
from typing import Any

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from civmil.comms import search
from civmil.comms.models import SearchDocument
from civmil.core import access, bulk, ledger, registry, spatial
from civmil.core.acting import ANONYMOUS, Actor, actor_for_user
from civmil.core.choices import Component, Level
from civmil.core.errors import Forbidden
from civmil.core.geometry import Bounds
from civmil.core.kernel.maps import features_query
from civmil.core.models import LedgerEntry, Membership, Person, Release, User
from civmil.core.models.records import Audience, AudienceCount
from civmil.demo import data, scale

pytestmark = pytest.mark.django_db

N = 40


@pytest.fixture
def scaled(demo: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Any]]:
    """``civmil demo scale --records N`` on the demo; the records it added, by type key. Their
    search rows reach SQLite's FTS5 table, and their places its spatial index, as a large load's
    do (a few statements per batch)."""
    monkeypatch.setattr(search, "FTS_BULK_ROWS", 1)
    monkeypatch.setattr(spatial, "BULK_ROWS", 1)
    before = {t.key: set(t.model._default_manager.values_list("pk", flat=True)) for t in registry.all_types()}
    out = io.StringIO()
    call_command("demo", "scale", "--records", str(N), stdout=out)
    for t in registry.all_types():
        assert t.key in out.getvalue()
    return {t.key: list(t.model._default_manager.exclude(pk__in=before[t.key]).order_by("pk"))
            for t in registry.all_types()}


def _readers() -> dict[str, Actor]:
    """One demo login per component (its first membership of that component), and nobody signed in."""
    readers: dict[str, Actor] = {"anonymous": ANONYMOUS}
    for m in (Membership.objects.current().filter(person__user__username__in=data.LOGINS, status="active")
              .select_related("organisation", "person__user").order_by("person__user__username", "created_at")):
        component = str(m.organisation.component)
        if component not in readers:
            readers[component] = actor_for_user(m.person.user, m.pk)
    return readers


def test_adds_n_records_of_every_type_spread_over_levels_owners_and_releases(scaled: dict[str, list[Any]]) -> None:
    for key, records in scaled.items():
        record_type = registry.by_key(key)
        assert len(records) == N, key
        levels = {str(r.level) for r in records}
        assert levels <= {str(lv) for lv in record_type.levels}
        assert len(levels) > 1, key
        assert len({r.owner_id for r in records}) > 1, key
        for r in records:
            assert access.creation_refused(_writer(r), record_type.model, r.owner, r.level) is None
    released = Release.objects.filter(object_id__in=[r.pk for rs in scaled.values() for r in rs]).count()
    assert 0 < released < len(scaled) * N / 2


def _writer(record: Any) -> Actor:
    """The member who wrote ``record`` (its submitter), acting for its owner."""
    membership = Membership.objects.current().get(person_id=record.created_by_id, organisation_id=record.owner_id)
    return Actor(user_id=membership.person.user_id, person=membership.person, membership=membership)


def test_the_ledger_verifies_with_one_entry_per_record_and_per_release(scaled: dict[str, list[Any]]) -> None:
    out = io.StringIO()
    call_command("ledger", "verify", stdout=out)
    assert "intact" in out.getvalue()
    assert ledger.verify().ok
    for key, records in scaled.items():
        record_type = registry.by_key(key)
        action = record_type.created_action or f"{key}.created"
        for r in records:
            entries = list(LedgerEntry.objects.filter(object_type=key, object_id=str(r.pk)).order_by("seq"))
            releases = Release.objects.filter(object_id=r.pk).count()
            assert [e.action for e in entries] == [action] + ["release.added"] * releases
            membership = Membership.objects.get(person_id=r.created_by_id, organisation_id=r.owner_id)
            assert entries[0].actor_membership_id == membership.pk
            assert entries[0].change.data["level"] == r.level
            assert entries[0].change.data["owner"] == str(r.owner_id)


def test_each_audience_is_what_the_services_write(scaled: dict[str, list[Any]]) -> None:
    for key, records in scaled.items():
        model = registry.by_key(key).model
        ct = ContentType.objects.get_for_model(model)
        expected = access.audience_of(model, records)
        stored: dict[Any, set[str]] = {}
        for object_id, audience_key, level, space_id in Audience.objects.filter(
                content_type=ct, object_id__in=[r.pk for r in records]).values_list("object_id", "key", "level",
                                                                                       "space_id"):
            stored.setdefault(object_id, set()).add(audience_key)
            record = next(r for r in records if r.pk == object_id)
            assert (level, space_id) == (record.level, record.space_id)
        assert stored == expected, key


def test_a_record_created_through_the_services_gets_the_same_audience(scaled: dict[str, list[Any]]) -> None:
    from civmil.actors import services as actor_services

    entry = scaled["actors.liaisonlogentry"][0]
    copy = actor_services.record_liaison_contact(_writer(entry), actor_services.LiaisonContact(
        occurred_at=entry.occurred_at, channel=entry.channel, summary=entry.summary, level=entry.level,
        organisation_ids=list(entry.organisations.values_list("pk", flat=True))))
    ct = ContentType.objects.get_for_model(type(entry))

    def keys(pk: Any) -> set[str]:
        return set(Audience.objects.filter(content_type=ct, object_id=pk).values_list("key", flat=True))

    assert keys(copy.pk) == access.audience_keys(entry.level, entry.owner_id, entry.created_by_id)
    if not Release.objects.filter(object_id=entry.pk).exists():
        assert keys(copy.pk) == keys(entry.pk)


def test_level_counts_match_the_records(scaled: dict[str, list[Any]]) -> None:
    for t in registry.all_types():
        ct = ContentType.objects.get_for_model(t.model)
        counted = {(space, level): n for space, level, n in AudienceCount.objects.filter(content_type=ct)
                   .values_list("space_id", "level", "records") if n}
        actual = Counter(t.model._default_manager.values_list("space_id", "level"))
        assert counted == dict(actual), t.key


def test_records_are_visible_exactly_as_the_policy_says(scaled: dict[str, list[Any]]) -> None:
    readers = _readers()
    assert set(readers) >= {"anonymous", Component.MILITARY, Component.HUMANITARIAN, Component.HOST_NATION}
    for key, records in scaled.items():
        model = registry.by_key(key).model
        ids = [r.pk for r in records]
        for name, reader in readers.items():
            seen = set(access.visible(reader, model._default_manager.filter(pk__in=ids)).values_list("pk", flat=True))
            # Knowing that a record exists is a reduced or full view; a derived face comes without it.
            assert seen == {r.pk for r in records if access.view_for(reader, r).kind > access.ViewKind.DERIVED}, (
                key, name)


def test_the_map_layers_find_the_placed_records(scaled: dict[str, list[Any]]) -> None:
    """Through each layer's query: the spatial index for a Placed type, the place columns otherwise."""
    found: Counter[str] = Counter()
    for key, records in scaled.items():
        record_type = registry.by_key(key)
        layer = record_type.layer
        if layer is None:
            continue
        for r in records:
            if layer.point is not None:
                lat, lon = (getattr(r, name) for name in layer.point)
                if lat is None:
                    continue
                box = Bounds(lon - 0.01, lat - 0.01, lon + 0.01, lat + 0.01)
            elif r.west is None:
                continue
            else:
                box = Bounds(r.west - 0.01, r.south - 0.01, r.east + 0.01, r.north + 0.01)
            writer = _writer(r)
            if access.view_for(writer, r).kind != access.ViewKind.FULL:
                continue  # an OVERSIGHT record: its writer too sees it only through a case grant
            qs, _looked_at, _custom = features_query(writer, record_type, {}, box, None, None)
            assert qs.filter(pk=r.pk).exists(), (key, r.pk)
            found[key] += 1
    assert set(found) == {t.key for t in registry.all_types() if t.layer is not None}


def test_the_spatial_index_holds_each_placed_record_as_its_trigger_puts_it(scaled: dict[str, list[Any]]) -> None:
    """On SQLite, one R*Tree entry per new record with a place (its box, its time in seconds, as
    32-bit floats rounded outward), under the record's key, and the insert trigger is back: a
    record written afterwards is indexed too."""
    if connection.vendor != "sqlite":
        pytest.skip("the R*Tree and its triggers are SQLite's")
    from civmil.actors import services as actor_services

    placed = [t for t in registry.all_types() if getattr(t.model, "spatial_index", False)]
    assert placed
    for record_type in placed:
        model, table = record_type.model, record_type.model._meta.db_table
        time = spatial.time_fields(model)
        with connection.cursor() as cursor:
            cursor.execute(f'SELECT k.record, r.west, r.east, r.south, r.north{", r.starts, r.ends" if time else ""} '  # noqa: S608
                           f'FROM "{table}_rtree" r JOIN "{table}_place_key" k ON k.key = r.id')
            entries = {row[0]: row[1:] for row in cursor.fetchall()}
        records = scaled[record_type.key]
        assert any(r.west is not None for r in records)
        for r in records:
            if r.west is None:
                assert r.pk.hex not in entries
                continue
            box = entries[r.pk.hex][:4]
            assert box[0] <= r.west <= r.east <= box[1] and box[2] <= r.south <= r.north <= box[3]
            assert max(abs(a - b) for a, b in zip(box, (r.west, r.east, r.south, r.north), strict=True)) < 1e-4
            if time:
                first, last = (int(getattr(r, name).timestamp()) for name in time)
                starts, ends = entries[r.pk.hex][4:]  # 32-bit floats, rounded outward
                assert first - 256 <= starts <= first and last <= ends <= last + 256
    entry = next(r for r in scaled["actors.liaisonlogentry"] if r.west is not None)
    copy = actor_services.record_liaison_contact(_writer(entry), actor_services.LiaisonContact(
        occurred_at=entry.occurred_at, channel=entry.channel, summary="Placed after the load", level=entry.level,
        organisation_ids=[entry.owner_id], latitude=entry.south, longitude=entry.west))
    with connection.cursor() as cursor:
        cursor.execute('SELECT COUNT(*) FROM "actors_liaisonlogentry_rtree" r JOIN "actors_liaisonlogentry_place_key" '
                       "k ON k.key = r.id WHERE k.record = %s", [copy.pk.hex])
        assert cursor.fetchone()[0] == 1


def test_search_finds_the_records_text(scaled: dict[str, list[Any]]) -> None:
    for key, records in scaled.items():
        fields = search.indexed_fields(registry.by_key(key).model)
        for r in records[:5]:
            indexed = dict(SearchDocument.objects.filter(object_type=key, object_id=str(r.pk))
                           .values_list("field", "body"))
            assert indexed == {f: str(getattr(r, f)).strip() for f in fields if str(getattr(r, f) or "").strip()}


def test_search_finds_the_records_by_their_words_and_the_index_stays_whole(scaled: dict[str, list[Any]]) -> None:
    from civmil.actors import services as actor_services
    from civmil.comms.queries.search import search_records

    searched: Counter[str] = Counter()
    for key, records in scaled.items():
        fields = search.indexed_fields(registry.by_key(key).model)
        for r in records[:5]:
            writer = _writer(r)
            if access.view_for(writer, r).kind != access.ViewKind.FULL:
                continue  # an OVERSIGHT record: its writer too sees it only through a case grant
            body = next((str(getattr(r, f)) for f in fields if str(getattr(r, f) or "").strip()), "")
            if not body:
                continue
            searched[key] += 1
            words = search.fold(body).split()[-search.MAX_TERMS:]
            found = search_records(writer, " ".join(words))
            assert str(r.pk) in {x.object_id for x in found.results}, (key, words)
    assert set(searched) == {key for key in scaled if search.indexed_fields(registry.by_key(key).model)}
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:  # the FTS5 table holds exactly the index rows' words
            cursor.execute("INSERT INTO comms_search_fts(comms_search_fts) VALUES ('integrity-check')")
        # Its trigger is back: a record written by a service afterwards is found at once.
        entry = scaled["actors.liaisonlogentry"][0]
        copy = actor_services.record_liaison_contact(_writer(entry), actor_services.LiaisonContact(
            occurred_at=entry.occurred_at, channel=entry.channel, summary="Quokkabulk crossing reopened",
            level=entry.level, organisation_ids=[entry.owner_id]))
        assert [x.object_id for x in search_records(_writer(entry), "quokkabulk").results] == [str(copy.pk)]


def test_a_failed_batch_leaves_the_search_index_and_its_trigger_as_they_were(demo: Any,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch that fails while its search rows go in (here: a row already there) leaves nothing."""
    monkeypatch.setattr(search, "FTS_BULK_ROWS", 1)
    record_type, now = registry.by_key("core.person"), timezone.now()
    first = next(scale.planned(record_type, 30, scale.mission_for(11, now)))[0]
    field = next(f for f in search.indexed_fields(record_type.model) if first.values.get(f))
    SearchDocument.objects.create(object_type=record_type.key, object_id=str(first.values["id"]), field=field,
                                  body="taken", terms="taken")
    documents, people = SearchDocument.objects.count(), Person.objects.count()
    with pytest.raises(IntegrityError):
        scale.scale(30, [record_type], seed=11, now=now)
    assert (SearchDocument.objects.count(), Person.objects.count()) == (documents, people)
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND name = 'comms_search_ai'")
            assert cursor.fetchone()[0] == 1
            cursor.execute("INSERT INTO comms_search_fts(comms_search_fts) VALUES ('integrity-check')")
    assert search.match(["taken"], None)


def test_the_assignments_meet_their_rules(scaled: dict[str, list[Any]]) -> None:
    for a in scaled["actors.liaisonassignment"]:
        assert a.to_organisation_id or a.community
        assert a.ends_on is None or a.ends_on >= a.starts_on
        assert a.from_organisation_id == a.owner_id
        assert Membership.objects.current().filter(person_id=a.officer_id, organisation_id=a.owner_id).exists()


def test_the_same_seed_makes_the_same_records(demo: Any) -> None:
    now = timezone.now()

    def values(seed: int) -> list[Any]:
        with transaction.atomic():
            before = set(Person.objects.values_list("pk", flat=True))
            scale.scale(5, scale.record_types(["core.person"]), seed=seed, now=now)
            made = list(Person.objects.exclude(pk__in=before).order_by("pk").values_list(
                "pk", "full_name", "level", "owner_id"))
            transaction.set_rollback(True)
        return made

    assert values(7) == values(7)
    assert values(7) != values(8)


def test_made_up_records_have_time_ordered_ids_after_those_of_an_earlier_run(demo: Any) -> None:
    made: list[set[Any]] = []
    for _run in range(2):
        before = set(Person.objects.values_list("pk", flat=True))
        scale.scale(20, scale.record_types(["core.person"]))
        made.append(set(Person.objects.exclude(pk__in=before).values_list("pk", flat=True)))
    first, second = made
    assert {pk.version for pk in first | second} == {7}
    assert max(first) < min(second)


@pytest.mark.parametrize("records", ["0", "-5", str(scale.MOST + 1)])
def test_refuses_a_number_of_records_out_of_range(demo: Any, records: str) -> None:
    with pytest.raises(CommandError, match="between 1 and"):
        call_command("demo", "scale", "--records", records, stdout=io.StringIO())


def test_refuses_without_a_number_or_with_an_unknown_type(demo: Any) -> None:
    with pytest.raises(CommandError, match="--records N"):
        call_command("demo", "scale", stdout=io.StringIO())
    with pytest.raises(CommandError, match=r"actors\.nothing"):
        call_command("demo", "scale", "--records", "5", "--types", "actors.nothing", stdout=io.StringIO())


def test_the_bulk_path_refuses_what_the_policy_refuses(demo: Any) -> None:
    military = next(a for a in _readers().values() if a.component == Component.MILITARY)
    from civmil.actors.models import LiaisonLogEntry

    with pytest.raises(Forbidden):
        bulk.create_records(LiaisonLogEntry, [bulk.PlannedRecord(actor=military, level=Level.HUMANITARIAN, values={
            "occurred_at": User.objects.first().date_joined, "channel": "meeting", "summary": "x"})],
            action="liaison.recorded", fields=["summary", "level", "owner"])

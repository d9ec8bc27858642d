"""The three-way merge of stale edits (civmil.core.merge): the rule, and the base read from the ledger."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from civmil.actors import services
from civmil.actors.models import LiaisonLogEntry
from civmil.core import ledger, merge
from civmil.core.choices import Component, Level, Role
from civmil.core.errors import StaleEdit
from civmil.core.models import LedgerEntry
from tests.factories import Member, make_member, make_org

WHEN = dt.datetime(2025, 1, 10, 9, 30, tzinfo=dt.UTC)


# ---------------------------------------------------------------------------------------------
# The rule, on plain values


def outcomes(base: dict[str, Any] | None, mine: dict[str, Any], theirs: dict[str, Any]) -> dict[str, str]:
    result = merge.three_way(base, mine, theirs, base_version=1, current_version=2)
    return {name: f.outcome for name, f in result.fields.items()}


def test_each_field_is_decided_on_its_own() -> None:
    base = {"a": "x", "b": "x", "c": "x", "d": "x", "e": "x"}
    mine = {"a": "x", "b": "mine", "c": "mine", "d": "same", "e": "x"}
    theirs = {"a": "theirs", "b": "x", "c": "theirs", "d": "same", "e": "x"}
    assert outcomes(base, mine, theirs) == {
        "a": "theirs",     # only they changed it: theirs, never reverted
        "b": "mine",       # only I changed it: mine
        "c": "conflict",   # both, differently: the editor chooses
        "d": "same",       # both, to the same value
        "e": "same",       # nobody
    }


def test_an_unknown_base_asks_whenever_the_sides_differ() -> None:
    assert outcomes(None, {"a": "x", "b": "mine"}, {"a": "x", "b": "theirs"}) == {"a": "same", "b": "conflict"}
    assert outcomes({"a": "x"}, {"a": "x", "b": "mine"}, {"a": "x", "b": "theirs"}) == {
        "a": "same", "b": "conflict"}


def test_sets_compare_as_sets_and_empty_text_as_none() -> None:
    base = {"orgs": ["1", "2"], "text": None}
    mine = {"orgs": ["2", "1"], "text": ""}
    theirs = {"orgs": ["1", "2", "3"], "text": None}
    assert outcomes(base, mine, theirs) == {"orgs": "theirs", "text": "same"}


def test_times_compare_as_instants_whatever_their_offset() -> None:
    mine = {"when": dt.datetime(2025, 1, 10, 11, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))}
    assert outcomes({"when": "2025-01-10T09:30:00Z"}, mine, {"when": "2025-01-10T10:00:00Z"}) == {
        "when": "theirs"}


def test_merged_values_need_a_choice_for_each_conflict() -> None:
    result = merge.three_way({"a": 1, "b": 1, "c": 1}, {"a": 1, "b": 2, "c": 2}, {"a": 3, "b": 1, "c": 3},
                             base_version=1, current_version=2)
    assert result.conflicts == ["c"]
    assert result.merged() == {"a": 3, "b": 2}
    assert result.merged({"c": "theirs"}) == {"a": 3, "b": 2, "c": 3}
    assert result.merged({"c": "mine"}) == {"a": 3, "b": 2, "c": 2}
    assert [(f.name, f.changed_by) for f in result.differing] == [("a", "them"), ("b", "you"), ("c", "both")]
    with pytest.raises(ValueError, match="choose"):
        result.fields["c"].value()


def test_a_remerge_can_pack_fields_and_compare_its_own_way() -> None:
    result = merge.three_way({"lat": 1.0, "lon": 1.0, "t": "a"}, {"lat": 1.0, "lon": 2.0, "t": "A"},
                             {"lat": 3.0, "lon": 1.0, "t": "a"}, base_version=1, current_version=2)
    assert result.conflicts == []  # field by field: lat theirs, lon mine - a point nobody entered

    def pack(side: dict[str, Any]) -> dict[str, Any]:
        return {"point": (side.get("lat"), side.get("lon")), "t": side["t"]}

    again = result.remerge(pack=pack, same=lambda n, a, b: merge.same_value(n, a, b) if n != "t"
                           else str(a).lower() == str(b).lower())
    assert {n: f.outcome for n, f in again.fields.items()} == {"point": "conflict", "t": "same"}


# ---------------------------------------------------------------------------------------------
# The base, from the ledger


def _entry(m: Member, **extra: Any) -> LiaisonLogEntry:
    return services.record_liaison_contact(m.actor, services.LiaisonContact(
        occurred_at=extra.pop("occurred_at", WHEN), channel="meeting", summary=extra.pop("summary", "v1"),
        level=Level.MISSION, organisation_ids=extra.pop("organisation_ids", [m.org.pk]), **extra))


def _edit(m: Member, entry: LiaisonLogEntry, version: int, **changes: Any) -> LiaisonLogEntry:
    entry.refresh_from_db()
    data = {"occurred_at": entry.occurred_at, "channel": entry.channel, "summary": entry.summary,
            "level": entry.level, "organisation_ids": [o.pk for o in entry.organisations.all()],
            "person_ids": [p.pk for p in entry.people.all()], "follow_ups": entry.follow_ups,
            "geometry": entry.geometry, "place_name": entry.place_name}
    data.update(changes)
    return services.edit_liaison_contact(m.actor, entry.pk, version, services.LiaisonContact(**data))


@pytest.mark.django_db
def test_version_values_replay_the_ledger_up_to_the_version() -> None:
    m = make_member(Component.CIVILIAN)
    other = make_org(Component.HUMANITARIAN)
    entry = _entry(m)
    _edit(m, entry, 1, summary="v2", organisation_ids=[m.org.pk, other.pk])
    _edit(m, entry, 2, summary="v3", place_name="Kaya")
    entry.refresh_from_db()
    fields = ["summary", "organisations", "place_name", "occurred_at"]
    assert merge.version_values(entry, 1, fields) == {
        "summary": "v1", "organisations": [str(m.org.pk)], "place_name": "", "occurred_at": "2025-01-10T09:30:00Z"}
    assert merge.version_values(entry, 2, fields)["organisations"] == sorted([str(m.org.pk), str(other.pk)])
    assert merge.version_values(entry, 2, fields)["summary"] == "v2"
    assert merge.version_values(entry, 3, fields) == ledger.snapshot(entry, fields)
    assert merge.version_values(entry, 9, fields) == {}  # never existed: unknown


@pytest.mark.django_db
def test_an_erased_change_makes_the_base_unknown_until_a_later_full_write() -> None:
    m = make_member(Component.CIVILIAN)
    admin = make_member(Component.CIVILIAN, role=Role.ADMINISTRATOR)
    approver = make_member(Component.CIVILIAN, role=Role.ADMINISTRATOR)
    entry = _entry(m)
    _edit(m, entry, 1, summary="v2")
    _edit(m, entry, 2, summary="v3")
    _edit(m, entry, 3, summary="v4")
    seq = LedgerEntry.objects.filter(object_id=str(entry.pk), action="liaison.edited").order_by("seq").first()
    assert seq is not None
    ledger.erase_change(admin.actor, seq.seq, "test", approver.actor)
    entry.refresh_from_db()
    assert merge.version_values(entry, 2, ["summary"]) == {}
    assert merge.version_values(entry, 3, ["summary"]) == {"summary": "v3"}


@pytest.mark.django_db
def test_a_stale_edit_carries_its_merge() -> None:
    a = make_member(Component.CIVILIAN)
    b = make_member(org=a.org)
    entry = _entry(a, summary="Original", place_name="Kaya")
    _edit(a, entry, 1, summary="A's summary")
    with pytest.raises(StaleEdit) as caught:
        _edit(b, entry, 1, summary="Original", place_name="Kaya market", follow_ups="Call back")
    result = caught.value.merge
    assert caught.value.current_version == 2 and result.base_version == 1 and result.current_version == 2
    assert result.outcome("summary") == "theirs"
    assert result.outcome("place_name") == "mine"
    assert result.outcome("follow_ups") == "mine"
    assert result.outcome("occurred_at") == "same"
    assert result.conflicts == []
    entry.refresh_from_db()
    assert (entry.summary, entry.place_name, entry.version) == ("A's summary", "Kaya", 2)


@pytest.mark.django_db
def test_a_stale_edit_of_a_field_both_changed_is_a_conflict() -> None:
    a = make_member(Component.CIVILIAN)
    entry = _entry(a, summary="Original", occurred_at=timezone.now() - dt.timedelta(days=1))
    _edit(a, entry, 1, summary="Theirs")
    with pytest.raises(StaleEdit) as caught:
        _edit(a, entry, 1, summary="Mine")
    assert caught.value.merge.conflicts == ["summary"]
    field = caught.value.merge.fields["summary"]
    assert (field.base, field.mine, field.theirs) == ("Original", "Mine", "Theirs")

"""The kernel's bulk path and what it rests on: canonical JSON, the ledger's batched append."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import random
import uuid
from types import SimpleNamespace
from typing import Any

import pytest
import rfc8785
from django.core.management import CommandError, call_command
from django.db import transaction
from hypothesis import example, given
from hypothesis import strategies as st

from civmil.core import bulk, ledger
from civmil.core.ledger.chain import _jsonable, canonical, entry_fields, entry_hash
from civmil.core.models import LedgerEntry

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**60), max_value=2**60)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


def _rfc8785(value: Any) -> bytes | type[Exception]:
    try:
        return bytes(rfc8785.dumps(_jsonable(value)))
    except rfc8785.CanonicalizationError as exc:
        return type(exc)


def _ours(value: Any) -> bytes | type[Exception]:
    try:
        return canonical(value)
    except rfc8785.CanonicalizationError as exc:
        return type(exc)


@given(JSON)
@example({"b": 1.0, "a": [1e-7, 1e21, 123456789.125, -0.0, 5.5]})
@example({"é": 1, "\ue000": 2, "\U0001f600": 3})
@example(["\ud800", "tab\there", 'quote" and \\ and \x01'])
@example(2**53)
def test_canonical_json_is_rfc_8785(value: Any) -> None:
    """The quick path of canonical JSON writes every value exactly as RFC 8785 does (or refuses it)."""
    assert _ours(value) == _rfc8785(value)


@pytest.mark.django_db
def test_a_batched_append_chains_as_appends_one_by_one() -> None:
    with transaction.atomic():
        ledger.append(None, "test.one", "core.test", 1, {"n": 1})
        last = ledger.append_many([(None, "test.many", "core.test", i, {"n": i, "x": 0.5}) for i in range(2, 6)])
        after = ledger.append(None, "test.after", "core.test", 6, {"n": 6})
    assert after.seq == last + 1
    seqs = list(LedgerEntry.objects.filter(object_type="core.test").order_by("seq").values_list("seq", "action"))
    assert [a for _s, a in seqs] == ["test.one", *["test.many"] * 4, "test.after"]
    assert ledger.verify().ok


TRICKY = ["liaison.recorded", "é.créé", 'quote " and \\ back', "tab\there\x01", "\U0001f600", "line\u2028sep", ""]


@pytest.mark.django_db
def test_a_batched_entry_hashes_its_fields_as_one_append_would() -> None:
    """Each entry's hash is that of its fields in canonical JSON, whatever text its action, type
    and object id hold and whoever acts (a member, nobody, an actor without a user)."""
    space, membership = uuid.uuid4(), uuid.uuid4()
    member = SimpleNamespace(space_id=space, membership_id=membership, user_id=7)
    userless = SimpleNamespace(space_id=space, membership_id=None, user_id=None)
    when = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    planned: list[Any] = [(actor, text, TRICKY[-1 - i], other, {"at": when, "x": 0.5, "n": i})
                          for i, text in enumerate(TRICKY) for actor in (member, None, userless)
                          for other in (uuid.uuid4(), text, i)]
    with transaction.atomic():
        last = ledger.append_many(planned)
    entries = list(LedgerEntry.objects.filter(seq__gt=last - len(planned)).order_by("seq"))
    assert [(e.action, e.object_type) for e in entries] == [(p[1], p[2]) for p in planned]
    for entry in entries:
        assert entry.entry_hash == entry_hash(entry_fields(entry))
        assert entry.change_hash == hashlib.sha256(canonical(entry.change.data)).hexdigest()
    assert ledger.verify().ok


def test_time_ordered_ids_sort_in_the_order_made_and_repeat_with_the_seed() -> None:
    now = dt.datetime(2026, 12, 4, 21, 30, 15, 123456, tzinfo=dt.UTC)
    ids = bulk.TimeOrderedIds(random.Random(5), now)
    made = [ids() for _ in range(3000)]
    assert made == sorted(made) and len(set(made)) == len(made)
    assert {(u.version, u.variant) for u in made} == {(7, uuid.RFC_4122)}
    assert {u.int >> 80 for u in made} == {int(now.timestamp() * 1000)}  # the milliseconds of now
    again = bulk.TimeOrderedIds(random.Random(5), now)
    assert [again() for _ in range(3000)] == made
    other = bulk.TimeOrderedIds(random.Random(6), now)
    assert [other() for _ in range(3000)] != made
    later = bulk.TimeOrderedIds(random.Random(5), now + dt.timedelta(milliseconds=1))
    assert later() > made[-1]


@pytest.mark.django_db
def test_demo_scale_refuses_a_database_without_the_demo() -> None:
    with pytest.raises(CommandError, match="demo mission is not loaded"):
        call_command("demo", "scale", "--records", "10", stdout=io.StringIO())

"""Full-text search: found only by what the reader's view shows, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from civmil.actors import services as actor_services
from civmil.actors.models import Area
from civmil.actors.services import LiaisonContact
from civmil.comms import search
from civmil.comms.models import SearchDocument
from civmil.comms.queries.search import search_records
from civmil.comms.search import QueryError
from civmil.core import ledger, services
from civmil.core.choices import Component, Level, Role
from civmil.core.models import Organisation, Person
from tests.comms.urls import SEARCH_API
from tests.factories import Member, make_member, make_org

pytestmark = [pytest.mark.django_db(transaction=False), pytest.mark.urls("tests.comms.urls")]

WITHHELD_MARK = "zanzibarwithheld"
RELEASED_MARK = "quokkareleased"


def make_entry(m: Member, summary: str, level: str = Level.MISSION, **extra: Any) -> Any:
    data = LiaisonContact(occurred_at=dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC), channel="meeting",
                          summary=summary, level=level, organisation_ids=[m.org.pk], **extra)
    return actor_services.record_liaison_contact(m.actor, data)


def page(client: Client, m: Member, q: str) -> Any:
    client.force_login(m.user)
    return client.get(reverse("comms:search"), {"q": q})


def api(client: Client, m: Member, q: str) -> Any:
    client.force_login(m.user)
    return client.get(SEARCH_API, {"q": q})


def test_a_full_reader_finds_an_entry_by_its_summary(client: Client) -> None:
    author = make_member(Component.CIVILIAN)
    entry = make_entry(author, "Convoy to Kaya water point delayed by flooding")
    reader = make_member(Component.HUMANITARIAN)

    response = page(client, reader, "kaya flood")
    assert response.status_code == 200
    body = response.content.decode()
    assert reverse("actors:liaison-entry", kwargs={"pk": entry.pk}) in body
    assert "<mark>Kaya</mark>" in body and "<mark>flooding</mark>" in body

    data = api(client, reader, "convoy").json()
    assert data["count"] == 1
    assert data["items"][0]["id"] == str(entry.pk)
    assert data["items"][0]["field"] == "summary"
    assert "Convoy" in data["items"][0]["snippet"]


def test_a_reader_without_a_view_sees_nothing_and_it_is_not_counted(client: Client) -> None:
    military = make_member(Component.MILITARY)
    make_entry(military, "Patrol route north of Bambari secretpatrol", level=Level.MILITARY)
    make_entry(military, "Open meeting at Bambari market", level=Level.MISSION)
    humanitarian = make_member(Component.HUMANITARIAN)

    assert api(client, humanitarian, "secretpatrol").json()["count"] == 0
    data = api(client, humanitarian, "bambari").json()
    assert data["count"] == 1
    assert "market" in data["items"][0]["snippet"]
    assert "secretpatrol" not in page(client, humanitarian, "bambari").content.decode()
    assert 'class="card search-result"' not in page(client, humanitarian, "secretpatrol").content.decode()
    # The military reader sees both.
    assert api(client, military, "bambari").json()["count"] == 2


def test_a_reduced_reader_finds_only_by_released_fields_and_snippets_never_show_withheld_text(
        client: Client) -> None:
    military = make_member(Component.MILITARY)
    entry = make_entry(military, f"Summary names {RELEASED_MARK} and the escort", level=Level.MILITARY,
                       follow_ups=f"Follow-up {WITHHELD_MARK} and {RELEASED_MARK} again")
    humanitarian = make_member(Component.HUMANITARIAN)
    services.release_record(military.actor, entry, organisation=humanitarian.org, fields=["summary"])

    by_withheld = api(client, humanitarian, WITHHELD_MARK).json()
    assert by_withheld["count"] == 0
    assert 'class="card search-result"' not in page(client, humanitarian, WITHHELD_MARK).content.decode()

    found = api(client, humanitarian, RELEASED_MARK).json()
    assert found["count"] == 1
    item = found["items"][0]
    assert item["field"] == "summary"
    assert WITHHELD_MARK not in str(found)
    html = page(client, humanitarian, RELEASED_MARK).content.decode()
    assert RELEASED_MARK in html and WITHHELD_MARK not in html and "Follow-up" not in html

    # The owner finds it by the follow-up too.
    assert api(client, military, WITHHELD_MARK).json()["count"] == 1


def test_people_are_found_by_name_and_by_contact_details_only_with_the_full_view(client: Client) -> None:
    host = make_org(Component.HOST_NATION, name="Prefecture of Kemo")
    person = services.save_person(None, Person(
        full_name="Amadou Wabiletti", owner=host, level=Level.RESTRICTED, email="wabiletti.private@example.org"))
    reader = make_member(Component.CIVILIAN)

    by_name = api(client, reader, "wabiletti").json()
    assert [i["id"] for i in by_name["items"]] == [str(person.pk)]
    assert by_name["items"][0]["field"] == "full_name"
    assert "private" not in str(by_name)
    assert api(client, reader, "private").json()["count"] == 0

    host_member = make_member(Component.HOST_NATION, org=host)
    assert api(client, host_member, "wabiletti private").json()["count"] == 1


def test_organisations_and_areas_are_searchable(client: Client) -> None:
    make_org(Component.HUMANITARIAN, name="Relief Waterworks International", description="Boreholes in Ouaka")
    square = {"type": "Polygon", "coordinates": [[[17, 6], [18, 6], [18, 7], [17, 7], [17, 6]]]}
    actor_services.save_area(None, Area(name="Ouham-Pendé", pcode="CF63"), square)
    reader = make_member(Component.MILITARY)

    orgs = api(client, reader, "waterworks").json()
    assert [i["type"] for i in orgs["items"]] == ["core.organisation"]
    assert api(client, reader, "boreholes").json()["count"] == 1
    areas = api(client, reader, "CF63").json()
    assert [i["title"] for i in areas["items"]] == ["Ouham-Pendé (CF63)"]
    assert api(client, reader, "pende").json()["count"] == 1  # diacritics folded


def test_the_index_follows_edits_and_deletes() -> None:
    org = make_org(Component.CIVILIAN, name="Mission Section Alpha")
    reader = make_member(Component.CIVILIAN)
    org.name = "Mission Section Omega"
    services.save_organisation(None, org, expected_version=org.version)
    assert search_records(reader.actor, "alpha").count == 0
    assert search_records(reader.actor, "omega").count == 1
    Organisation.objects.filter(pk=org.pk).delete()
    assert search_records(reader.actor, "omega").count == 0


@pytest.mark.parametrize("q", [
    '"unbalanced', "kaya AND", "kaya OR OR", "NEAR(kaya water)", "kaya*", "*", "(kaya", "kaya)", "-kaya",
    "kaya NOT", "^kaya", "col:kaya", "'; DROP TABLE comms_searchdocument; --", "kaya & | ! :*",
    "\\", "{kaya}", "kaya\x00", "العربية", "kaya" + " water" * 7,
])
def test_odd_queries_give_results_or_a_clear_message_never_a_server_error(client: Client, q: str) -> None:
    author = make_member(Component.CIVILIAN)
    make_entry(author, "Kaya water point")
    response = page(client, author, q)
    assert response.status_code in (200, 422)
    if response.status_code == 422:
        assert 'id="search-q-error"' in response.content.decode()
    api_response = api(client, author, q)
    assert api_response.status_code in (200, 422)
    if api_response.status_code == 422:
        assert api_response.json()["detail"]


@given(q=st.text(max_size=250))
def test_any_text_is_searched_or_refused_with_a_reason(q: str) -> None:
    reader = _hypothesis_reader()
    try:
        found = search_records(reader.actor, q)
    except QueryError as exc:
        assert exc.message and exc.status == 422
    else:
        assert found.count >= 0


_READER: list[Member] = []


def _hypothesis_reader() -> Member:
    # One reader per test (the database is rolled back after the test, not after each example).
    if not _READER or not Organisation.objects.filter(pk=_READER[0].org.pk).exists():
        _READER[:] = [make_member(Component.CIVILIAN)]
        make_entry(_READER[0], "Kaya water point (north) — “quoted” AND NEAR * text")
    return _READER[0]


def test_operator_words_are_searched_as_words(client: Client) -> None:
    author = make_member(Component.CIVILIAN)
    make_entry(author, "Kaya water point")
    assert api(client, author, "kaya AND water").json()["count"] == 0  # "and" is a word the entry lacks
    assert api(client, author, '"kaya" (water*').json()["count"] == 1


def test_too_long_and_empty_queries_are_refused_with_a_reason(client: Client) -> None:
    reader = make_member(Component.CIVILIAN)
    long_response = page(client, reader, "kaya " * 100)
    assert long_response.status_code == 422
    assert "too long" in long_response.content.decode()
    assert api(client, reader, "kaya " * 100).status_code == 422
    assert api(client, reader, "!!! ***").status_code == 422
    with pytest.raises(QueryError):
        search_records(reader.actor, "   ")
    assert page(client, reader, "").status_code == 200  # the empty form


def test_search_needs_a_signed_in_user(client: Client) -> None:
    response = client.get(reverse("comms:search"), {"q": "kaya"})
    assert response.status_code == 302
    assert client.get(SEARCH_API, {"q": "kaya"}).status_code == 401


def test_reindex_rebuilds_everything() -> None:
    author = make_member(Component.CIVILIAN)
    make_entry(author, "Kaya water point")
    SearchDocument.objects.all().delete()
    assert search_records(author.actor, "kaya").count == 0
    call_command("reindex", stdout=io.StringIO())
    assert search_records(author.actor, "kaya").count == 1
    assert search_records(author.actor, author.org.name.split()[0]).count >= 1


def test_erasing_a_change_purges_the_index_rows_of_its_record() -> None:
    author = make_member(Component.CIVILIAN)
    entry = make_entry(author, "Informant Kaya-Seven reported")
    admin = make_member(Component.CIVILIAN, role=Role.ADMINISTRATOR)
    approver = make_member(Component.CIVILIAN, role=Role.LEADERSHIP)
    assert search_records(author.actor, "informant").count == 1
    seq = ledger_seq_of(entry)
    ledger.erase_change(admin.actor, seq, "protect the informant", approver.actor)
    assert search_records(author.actor, "informant").count == 0
    assert not SearchDocument.objects.filter(object_id=str(entry.pk)).exists()


def ledger_seq_of(entry: Any) -> int:
    from civmil.core.models import LedgerEntry

    return int(LedgerEntry.objects.filter(object_id=str(entry.pk), action="liaison.recorded").get().seq)


def test_snippets_are_escaped_and_only_matches_are_marked(client: Client) -> None:
    author = make_member(Component.CIVILIAN)
    make_entry(author, '<script>alert("kaya")</script> <b>bold</b> kaya')
    html = page(client, author, "kaya").content.decode()
    assert "<script>alert" not in html and "<b>bold</b>" not in html
    assert "&lt;script&gt;" in html and "<mark>kaya</mark>" in html


FORGED = "kaya \ue000decoy\ue001 and \ue000<b>forged</b>\ue001 \U000f0000text\U0010fffd kaya"


def _no_forged_marks(html: str) -> None:
    assert "<mark>kaya</mark>" in html
    assert "<mark>decoy" not in html and "<mark>&lt;b&gt;" not in html and "<b>forged" not in html
    assert html.count("<mark>") == html.count("</mark>") == 2
    assert not any("\ue000" <= c <= "\uf8ff" or ord(c) >= 0xF0000 for c in html)


def test_private_use_characters_in_stored_text_cannot_forge_highlights(client: Client) -> None:
    author = make_member(Component.CIVILIAN)
    entry = make_entry(author, FORGED)
    body = SearchDocument.objects.get(object_id=str(entry.pk), field="summary").body
    assert body == "kaya decoy and <b>forged</b> text kaya"  # the index holds no private-use character
    html = page(client, author, "kaya").content.decode()
    _no_forged_marks(html.split('class="snippet"', 1)[1].split("</p>", 1)[0])
    item = api(client, author, "kaya").json()["items"][0]
    _no_forged_marks(item["highlighted"])
    assert item["snippet"] == "kaya decoy and <b>forged</b> text kaya"


def test_an_index_row_stored_before_the_cleaning_cannot_forge_highlights_either(client: Client) -> None:
    author = make_member(Component.CIVILIAN)
    entry = make_entry(author, "kaya plain")
    SearchDocument.objects.filter(object_id=str(entry.pk), field="summary").update(body=FORGED)  # as stored before
    html = page(client, author, "kaya").content.decode()
    _no_forged_marks(html.split('class="snippet"', 1)[1].split("</p>", 1)[0])
    _no_forged_marks(api(client, author, "kaya").json()["items"][0]["highlighted"])


def test_the_snippet_builder_drops_private_use_characters() -> None:
    # PostgreSQL's path: the snippet is cut in Python from the stored body.
    cut = search.snippet(FORGED, ["kaya"])
    assert cut.count(search.MARK_START) == cut.count(search.MARK_END) == 2
    assert search.MARK_START + "decoy" not in cut and "\U000f0000" not in cut
    assert search.mark_matches("\ue000x\ue001 kaya", ["kaya"]) == f"x {search.MARK_START}kaya{search.MARK_END}"


# ---------------------------------------------------------------------------------------------
# Hidden matches take no place among the candidates and are not counted

TRUNCATION_NOTICE = "Very many records match"
SMALL = 5  # the result limit and the candidate batch, as monkeypatched below


@pytest.fixture
def small_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search, "RESULT_LIMIT", SMALL)
    monkeypatch.setattr(search, "CANDIDATE_BATCH", SMALL)
    monkeypatch.setattr(search, "MAX_CANDIDATE_BATCH", SMALL)


def _raw_order(m: Member, word: str) -> list[str]:
    """Every index row matching ``word``, best first, whoever may see them."""
    return [row.object_id for row in search.match([word], m.actor.space_id, limit=1000)]


LONG_TAIL = " ".join(f"filler{n}" for n in range(40))  # a long field ranks below a short one


@pytest.mark.usefixtures("small_limits")
def test_matches_the_reader_may_not_see_neither_crowd_out_nor_reveal_themselves(client: Client) -> None:
    civilian = make_member(Component.CIVILIAN)
    hidden = [make_entry(civilian, f"Zebrafish hatchery survey {n}", level=Level.HUMANITARIAN)
              for n in range(SMALL + 2)]
    military = make_member(Component.MILITARY)
    visible = make_entry(military, f"Joint visit; the zebrafish ponds were dry. {LONG_TAIL}", level=Level.MISSION)
    raw = _raw_order(military, "zebrafish")
    assert set(raw[:-1]) == {str(e.pk) for e in hidden} and raw[-1] == str(visible.pk)  # ranked last

    reader = make_member(Component.MILITARY)
    data = api(client, reader, "zebrafish").json()
    assert data["count"] == 1 and data["truncated"] is False
    assert [i["id"] for i in data["items"]] == [str(visible.pk)]
    html = page(client, reader, "zebrafish").content.decode()
    assert reverse("actors:liaison-entry", kwargs={"pk": visible.pk}) in html
    assert TRUNCATION_NOTICE not in html
    assert not any(reverse("actors:liaison-entry", kwargs={"pk": e.pk}) in html for e in hidden)

    # A reader who may see them all gets the best few and is told more match.
    everyone = make_member(Component.CIVILIAN)
    data = api(client, everyone, "zebrafish").json()
    assert data["count"] == SMALL and data["truncated"] is True
    assert TRUNCATION_NOTICE in page(client, everyone, "zebrafish").content.decode()


@pytest.mark.usefixtures("small_limits")
def test_matches_in_withheld_fields_neither_crowd_out_nor_reveal_themselves(client: Client) -> None:
    military = make_member(Component.MILITARY)
    humanitarian = make_member(Component.HUMANITARIAN)
    withheld = [make_entry(military, f"Escort note {n}", level=Level.MILITARY, follow_ups="Zebrafish")
                for n in range(SMALL + 2)]
    shown = make_entry(military, f"Escort passed the zebrafish ponds. {LONG_TAIL}", level=Level.MILITARY)
    for entry in (*withheld, shown):
        services.release_record(military.actor, entry, organisation=humanitarian.org, fields=["summary"])
    raw = _raw_order(military, "zebrafish")
    assert set(raw[:-1]) == {str(e.pk) for e in withheld} and raw[-1] == str(shown.pk)  # ranked last

    data = api(client, humanitarian, "zebrafish").json()
    assert data["count"] == 1 and data["truncated"] is False
    assert [(i["id"], i["field"]) for i in data["items"]] == [(str(shown.pk), "summary")]
    html = page(client, humanitarian, "zebrafish").content.decode()
    assert reverse("actors:liaison-entry", kwargs={"pk": shown.pk}) in html
    assert TRUNCATION_NOTICE not in html
    # The owner finds every one of them, and is told more match than are listed.
    data = api(client, military, "zebrafish").json()
    assert data["count"] == SMALL and data["truncated"] is True


def test_a_result_is_headed_in_mission_time_as_the_reader_sees_it(client: Client) -> None:
    """Search headed liaison entries with the stored UTC time and no zone, where every other page
    uses mission time: it now uses the kernel's title line (time in the mission's zone, summary)."""
    from civmil.core.models import MissionSettings
    from civmil.core.models.spaces import LIVE_SPACE_ID

    MissionSettings.objects.filter(space_id=LIVE_SPACE_ID).update(time_zone="Africa/Juba")
    author = make_member(Component.CIVILIAN)
    make_entry(author, "Borehole repairs at kilometre nine")
    client.force_login(author.user)
    page = client.get(reverse("comms:search"), {"q": "borehole"}).content.decode()
    assert "1 March 2026, 11:30 CAT · Borehole repairs at kilometre nine" in page
    assert "09:30" not in page
    api = client.get(SEARCH_API, {"q": "borehole"}).json()
    assert api["items"][0]["title"] == "1 March 2026, 11:30 CAT · Borehole repairs at kilometre nine"

"""Map layers: which features each reader gets, cut to their view, and the layer's filters."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

import orjson
import pytest

from civmil.actors import services as actor_services
from civmil.actors.models import LiaisonLogEntry
from civmil.core import access, registry
from civmil.core import services as core_services
from civmil.core.choices import Component, Level
from civmil.core.geometry import Bounds
from civmil.core.kernel import maps
from tests.api.conftest import record_entry
from tests.factories import Member, make_member, make_org

pytestmark = pytest.mark.django_db

LAYER = "/map/layers/actors.liaisonassignment"


def _assign(m: Any, *, level: str = Level.MISSION, lat: float | None = 10.5, lon: float | None = 30.5,
            starts: dt.date = dt.date(2025, 1, 10), ends: dt.date | None = None, community: str = "Hilltop",
            **extra: Any) -> Any:
    return actor_services.assign_liaison(m.actor, actor_services.Assignment(
        officer_id=m.person.pk, starts_on=starts, ends_on=ends, level=level, community=community,
        latitude=lat, longitude=lon, **extra))


def _ids(r: Any) -> set[str]:
    assert r.status_code == 200, r.content
    return {f["id"] for f in r.json()["features"]}


def test_the_layers_list_names_the_assignment_layer_with_its_legend(signed_in) -> None:
    r = signed_in(make_member(Component.HUMANITARIAN)).get("/map/layers")
    assert r.status_code == 200, r.content
    layer = next(x for x in r.json() if x["key"] == "actors.liaisonassignment")
    assert layer["url"] == "/api/v1" + LAYER and layer["style_field"] == "status"
    assert {i["value"] for i in layer["legend"]} == {"pending", "confirmed", "refused"}


def test_map_layers_list_offers_a_layer_to_a_reader_who_may_see_records_of_it_by_release(signed_in) -> None:
    """GET /api/v1/map/layers as a host-nation member whose organisation was released a liaison
    log entry: the layer's own route gives them the feature, so the list (what the map offers)
    names the layer although no level of the type opens to host-nation readers."""
    soldier = make_member(Component.MILITARY)
    local = make_member(Component.HOST_NATION)
    reader = signed_in(local)
    assert "actors.liaisonlogentry" not in [layer["key"] for layer in reader.get("/map/layers").json()]
    entry = record_entry(soldier, level=Level.MISSION, latitude=10.5, longitude=30.5)
    core_services.release_record(soldier.actor, entry, organisation=local.org)

    features = reader.get("/map/layers/actors.liaisonlogentry").json()["features"]
    assert [f["id"] for f in features] == [str(entry.pk)]
    assert "actors.liaisonlogentry" in [layer["key"] for layer in reader.get("/map/layers").json()]


def test_each_reader_gets_the_features_their_level_opens(signed_in) -> None:
    cimic = make_member(Component.MILITARY)
    hum = make_member(Component.HUMANITARIAN)
    mission = _assign(cimic, community="Mission")
    military = _assign(cimic, level=Level.MILITARY, community="Military")
    humanitarian = _assign(hum, level=Level.HUMANITARIAN, community="Humanitarian")
    _assign(cimic, lat=None, lon=None, community="No place")

    assert _ids(signed_in(cimic).get(LAYER)) == {str(mission.pk), str(military.pk)}
    seen = signed_in(hum).get(LAYER).json()
    assert {f["id"] for f in seen["features"]} == {str(mission.pk), str(humanitarian.pk)}
    feature = next(f for f in seen["features"] if f["id"] == str(humanitarian.pk))
    assert feature["geometry"] == {"type": "Point", "coordinates": [30.5, 10.5]}
    props = feature["properties"]
    assert props["colour"] == "#2ca02c" and props["status"] == "confirmed" and props["withheld"] == []
    assert props["view"] == "full" and props["level"] == "humanitarian" and props["starts_on"] == "2025-01-10"
    assert props["title"] == f"Liaison assignment ({hum.org.label})"
    assert props["url"].endswith(f"{humanitarian.pk}/")
    # The popup is the record's card, loaded when the feature is clicked.
    card = signed_in(hum).client.get(props["card"])
    assert card.status_code == 200 and "Humanitarian" in card.content.decode()
    assert seen["truncated"] is False


def test_a_reduced_view_without_the_place_is_no_feature_and_one_with_it_withholds_the_rest(signed_in) -> None:
    cimic = make_member(Component.MILITARY)
    hum = make_member(Component.HUMANITARIAN)
    assignment = _assign(cimic, level=Level.MILITARY, community="Bridge")
    core_services.release_record(cimic.actor, assignment, organisation=hum.org, fields=["community"])
    entry = record_entry(cimic, level=Level.MILITARY, summary="Ford", latitude=10.5, longitude=30.5)
    core_services.release_record(cimic.actor, entry, organisation=hum.org, fields=["geometry"])
    reader = signed_in(hum)

    assert _ids(reader.get(LAYER)) == set()
    seen = reader.get("/map/layers/actors.liaisonlogentry").json()["features"]
    assert [f["id"] for f in seen] == [str(entry.pk)]
    props = seen[0]["properties"]
    assert seen[0]["geometry"]["coordinates"] == [30.5, 10.5]
    assert props["view"] == "reduced" and {"summary", "channel", "occurred_at"} <= set(props["withheld"])
    assert not {"summary", "channel", "occurred_at", "colour"} & set(props)
    # Its popup, the card, is cut to the same view.
    card = reader.client.get(props["card"])
    assert card.status_code == 200 and "Ford" not in card.content.decode()
    # A time window looks at the time, which this view withholds: the record is not revealed by it.
    assert _ids(reader.get("/map/layers/actors.liaisonlogentry", {"time_from": "2000-01-01T00:00:00Z"})) == set()
    assert _ids(signed_in(cimic).get("/map/layers/actors.liaisonlogentry",
                                     {"time_from": "2000-01-01T00:00:00Z"})) == {str(entry.pk)}


def test_the_log_layer_answers_with_the_features_its_records_make(signed_in) -> None:
    """GET /api/v1/map/layers/actors.liaisonlogentry?bbox=...: the layer reads rows lean (the
    stored geometry put in the answer as it is, shared values converted once); its features are
    those the records themselves make (:func:`maps.features` on model instances), the same JSON:
    seen in full by level, by ownership, reduced by a release of the place, with a style value the
    declaration lists and one it does not."""
    cimic = make_member(Component.MILITARY)
    hum = make_member(Component.HUMANITARIAN)
    entries = [record_entry(cimic, level=Level.MISSION, channel="phone", latitude=10.5, longitude=30.5),
               record_entry(hum, level=Level.HUMANITARIAN, channel="radio", latitude=10.25, longitude=30.75),
               record_entry(cimic, level=Level.MILITARY, summary="Ford", latitude=10.75, longitude=30.25),
               record_entry(cimic, level=Level.MISSION, latitude=10.125, longitude=30.875)]
    core_services.release_record(cimic.actor, entries[2], organisation=hum.org, fields=["geometry", "occurred_at"])
    LiaisonLogEntry.objects.filter(pk=entries[3].pk).update(channel="email")  # written before the choices changed
    record_type = registry.get(LiaisonLogEntry)
    views = {}
    for reader in (hum, cimic):
        answer = signed_in(reader).get("/map/layers/actors.liaisonlogentry", {"bbox": "30,10,31,11"}).json()
        records = list(access.visible(reader.actor, LiaisonLogEntry.objects.order_by("pk")))
        made = json.loads(orjson.dumps(maps.features(reader.actor, record_type, records, set(), []),
                                       option=orjson.OPT_UTC_Z))
        for got, expected in zip(answer["features"], made, strict=True):
            assert got == expected
        views[reader.org.pk] = {f["id"]: f["properties"]["view"] for f in answer["features"]}
        colours = {f["id"]: f["properties"].get("colour") for f in answer["features"]}
        assert colours[str(entries[3].pk)] == maps.PALETTE[-1]
    full, reduced = "full", "reduced"
    assert views[hum.org.pk] == {str(entries[0].pk): full, str(entries[1].pk): full, str(entries[2].pk): reduced,
                          str(entries[3].pk): full}
    assert views[cimic.org.pk] == {str(entries[0].pk): full, str(entries[2].pk): full, str(entries[3].pk): full}


def test_bbox_time_window_and_filters_narrow_the_layer(signed_in) -> None:
    cimic = make_member(Component.MILITARY)
    reader = signed_in(cimic)
    inside = _assign(cimic, lat=10.5, lon=30.5, starts=dt.date(2025, 1, 10), ends=dt.date(2025, 3, 1))
    outside = _assign(cimic, lat=12.0, lon=35.0, starts=dt.date(2025, 1, 10))
    old = _assign(cimic, lat=10.6, lon=30.6, starts=dt.date(2020, 1, 1), ends=dt.date(2020, 6, 1))
    open_ended = _assign(cimic, lat=10.7, lon=30.7, starts=dt.date(2019, 1, 1))

    box = {"bbox": "30,10,31,11"}
    assert _ids(reader.get(LAYER, box)) == {str(inside.pk), str(old.pk), str(open_ended.pk)}
    assert _ids(reader.get(LAYER, {"bbox": "34.9,11.9,35.1,12.1"})) == {str(outside.pk)}
    window = {**box, "time_from": "2025-02-01T00:00:00Z", "time_to": "2025-02-28T00:00:00Z"}
    assert _ids(reader.get(LAYER, window)) == {str(inside.pk), str(open_ended.pk)}
    assert _ids(reader.get(LAYER, {**box, "starts_on_from": "2024-01-01"})) == {str(inside.pk)}
    assert _ids(reader.get(LAYER, {**box, "current": "true"})) == {str(open_ended.pk)}
    assert _ids(reader.get(LAYER, {**box, "level": "military"})) == set()


def test_the_limit_says_when_the_answer_is_truncated(signed_in) -> None:
    cimic = make_member(Component.MILITARY)
    for i in range(3):
        _assign(cimic, lat=10 + i / 10, community=f"Place {i}")
    r = signed_in(cimic).get(LAYER, {"limit": 2}).json()
    assert len(r["features"]) == 2 and r["truncated"] is True and r["limit"] == 2
    assert signed_in(cimic).get(LAYER, {"limit": 3}).json()["truncated"] is False


def test_map_layer_truncated_flag_and_limit_count_only_the_features_the_reader_gets(signed_in) -> None:
    """GET /api/v1/map/layers/actors.liaisonassignment?bbox=30,10,31,11&limit=1 as a humanitarian
    reader who sees military assignments only through a release of ``community`` (their place is
    withheld): ``truncated`` must not say whether such a record lies in the box (moving the box
    locates it), and the reader's own feature in the box must not be crowded out by them."""
    soldier = make_member(Component.MILITARY)
    aid = make_member(Component.HUMANITARIAN)
    for i in range(3):
        hidden = _assign(soldier, level=Level.MILITARY, lat=10.5, lon=30.5, community=f"Camp {i}",
                         to_organisation_id=make_org(Component.CIVILIAN).pk)
        core_services.release_record(soldier.actor, hidden, organisation=aid.org, fields=["community"])
    own = _assign(aid, level=Level.HUMANITARIAN, lat=10.5, lon=30.5, to_organisation_id=make_org(Component.CIVILIAN).pk)
    reader = signed_in(aid)

    near = reader.get(LAYER, {"bbox": "30,10,31,11", "limit": 1})
    far = reader.get(LAYER, {"bbox": "35,12,36,13", "limit": 1})
    assert near.status_code == far.status_code == 200
    assert far.json()["truncated"] is False
    assert near.json()["truncated"] is False  # the only feature the reader may see here is their own
    assert [f["id"] for f in near.json()["features"]] == [str(own.pk)]
    # A filter on a withheld field is counted the same way.
    assert reader.get(LAYER, {"bbox": "30,10,31,11", "limit": 1, "status": "pending"}).json()["truncated"] is False


def test_map_layer_leaves_out_records_without_a_feature_however_many_come_first(signed_in) -> None:
    """GET /api/v1/map/layers/actors.liaisonassignment?bbox=...&limit=2 as a humanitarian reader
    for whom many records in the box are seen only through a release of ``community`` (no place):
    whichever order the ids fall in, the page holds exactly the reader's own features, and
    ``truncated`` says whether more of those (and only those) matched."""
    soldier = make_member(Component.MILITARY)
    aid = make_member(Component.HUMANITARIAN)
    for i in range(12):
        hidden = _assign(soldier, level=Level.MILITARY, lat=10.5, lon=30.5, community=f"Camp {i}",
                         to_organisation_id=make_org(Component.CIVILIAN).pk)
        core_services.release_record(soldier.actor, hidden, organisation=aid.org, fields=["community"])
    own = {str(_assign(aid, level=Level.HUMANITARIAN, lat=10.5, lon=30.5, community=f"Own {i}",
                       to_organisation_id=make_org(Component.CIVILIAN).pk).pk) for i in range(3)}
    reader = signed_in(aid)

    two = reader.get(LAYER, {"bbox": "30,10,31,11", "limit": 2}).json()
    assert len(two["features"]) == 2 and {f["id"] for f in two["features"]} <= own and two["truncated"] is True
    assert two["features"] == sorted(two["features"], key=lambda f: f["id"])
    three = reader.get(LAYER, {"bbox": "30,10,31,11", "limit": 3}).json()
    assert {f["id"] for f in three["features"]} == own and three["truncated"] is False


def test_the_log_layer_popup_is_the_entry_card_as_the_reader_sees_it(signed_in) -> None:
    """GET /api/v1/map/layers/actors.liaisonlogentry: each feature names its card (the popup), which
    shows the entry to its readers and answers 404 to a reader who may not see it."""
    soldier = make_member(Component.MILITARY)
    entry = record_entry(soldier, level=Level.MILITARY, summary="Convoy at the ford", latitude=10.5, longitude=30.5)
    reader = signed_in(soldier)

    [feature] = reader.get("/map/layers/actors.liaisonlogentry").json()["features"]
    props = feature["properties"]
    assert feature["id"] == str(entry.pk) and props["channel"] == "meeting" and "summary" not in props
    assert "occurred_at" in props and props["card"] != props["url"]
    card = reader.client.get(props["card"])
    assert card.status_code == 200 and "Convoy at the ford" in card.content.decode()
    assert signed_in(make_member(Component.HUMANITARIAN)).client.get(props["card"]).status_code == 404


def _coarse_log_type() -> registry.RecordType:
    """The liaison log's declaration with its place coarsened to whole degrees in a reduced view."""
    base = registry.get(LiaisonLogEntry)

    def whole(value: Any) -> Any:
        if value is None:
            return None
        lon, lat = value["coordinates"]
        return {"type": "Point", "coordinates": [float(round(lon)), float(round(lat))]}

    def first_word(value: str) -> str:
        return value.split()[0] if value else value

    coarsen = {"geometry": whole, "place_name": first_word}
    fields = tuple(dataclasses.replace(f, coarsen=coarsen[f.name]) if f.name in coarsen else f for f in base.fields)
    return dataclasses.replace(base, fields=fields)


def _released_place(owner: Member, reader: Member) -> LiaisonLogEntry:
    entry = record_entry(owner, level=Level.MILITARY, summary="Ford", latitude=10.4321, longitude=30.6789,
                         place_name="Ford crossing")
    core_services.release_record(owner.actor, entry, organisation=reader.org, fields=["geometry", "place_name"])
    return entry


def test_map_feature_of_a_reduced_view_carries_the_coarsened_place() -> None:
    """A type whose declaration coarsens its place in a reduced view (FieldSpec.coarsen): the
    feature's properties are coarsened, and so is its GeoJSON geometry (maps._geometry)."""
    soldier = make_member(Component.MILITARY)
    aid = make_member(Component.HUMANITARIAN)
    entry = _released_place(soldier, aid)
    coarse = _coarse_log_type()

    [feature] = maps.features(aid.actor, coarse, [LiaisonLogEntry.objects.get(pk=entry.pk)], set(), [])
    assert feature["geometry"]["coordinates"] == [31.0, 10.0]
    assert "10.4321" not in json.dumps(feature, default=str) and "30.6789" not in json.dumps(feature, default=str)
    [full] = maps.features(soldier.actor, coarse, [LiaisonLogEntry.objects.get(pk=entry.pk)], set(), [])
    assert full["geometry"]["coordinates"] == [30.6789, 10.4321]


def test_the_box_meets_the_coarsened_place_of_a_reduced_view_never_the_exact_one() -> None:
    """maps.features_query (behind the layer's ``bbox``) for a reader whose view coarsens the
    place: a box around the exact point alone must not find the record (shrinking the box would
    locate it); a box around the coarsened point finds it, and a filter on a coarsened field does
    not (it looked at the exact value)."""
    soldier = make_member(Component.MILITARY)
    aid = make_member(Component.HUMANITARIAN)
    entry = _released_place(soldier, aid)
    coarse = _coarse_log_type()

    def found(actor: Any, box: Bounds | None, values: dict[str, Any] | None = None) -> list[Any]:
        return list(maps.features_query(actor, coarse, values or {}, box, None, None)[0].values_list("pk", flat=True))

    exact = Bounds(west=30.67, south=10.43, east=30.68, north=10.44)
    coarsened = Bounds(west=30.9, south=9.9, east=31.1, north=10.1)
    assert found(soldier.actor, exact) == [entry.pk] and found(soldier.actor, coarsened) == []
    assert found(aid.actor, exact) == []
    assert found(aid.actor, coarsened) == [entry.pk]
    assert found(aid.actor, None, {"place_name": "Ford crossing"}) == []
    assert found(soldier.actor, None, {"place_name": "Ford crossing"}) == [entry.pk]


@pytest.mark.parametrize(("params", "named"), [
    ({"bbox": "30,10,31"}, "bbox"),
    ({"bbox": "31,10,30,11"}, "bbox"),
    ({"bbox": "30,10,31,95"}, "bbox"),
    ({"bbox": "west,10,31,11"}, "bbox"),
    ({"time_from": "yesterday"}, "time_from"),
    ({"time_from": "2025-03-01T00:00:00Z", "time_to": "2025-01-01T00:00:00Z"}, "time_to"),
    ({"limit": "0"}, "limit"),
    ({"status": "lost"}, "status"),
    ({"starts_on_from": "2025-13-01"}, "starts_on_from"),
])
def test_bad_parameters_are_refused_naming_the_parameter(signed_in, params: dict[str, str], named: str) -> None:
    r = signed_in(make_member(Component.MILITARY)).get(LAYER, params)
    assert 400 <= r.status_code < 500, r.content
    assert named in r.json()["errors"], r.json()


def test_signed_out_readers_get_no_layer(anonymous) -> None:
    assert anonymous.get(LAYER).status_code == 401
    assert anonymous.get("/map/layers").status_code == 401


SQUARE = {"type": "Polygon", "coordinates": [[[30.0, 10.0], [30.1, 10.0], [30.1, 10.1], [30.0, 10.1], [30.0, 10.0]]]}


def test_a_placed_layer_gives_its_geometry_to_the_views_that_show_it(signed_in) -> None:
    """GET /api/v1/map/layers/kernel_proof.observation (a Placed type found through its spatial
    index, whose geometry only a full view keeps): its owner's component gets the polygon, with
    the style colour and the time; a reader released its category alone gets no feature of it
    (not even through ``truncated``); a reader with no view of it gets nothing."""
    from civmil.core.kernel.planting import plant
    from tests.kernel_proof.models import Observation

    record_type = registry.get(Observation)
    soldier = make_member(Component.MILITARY)
    aid = make_member(Component.HUMANITARIAN)
    observation = plant(record_type, soldier.actor, Level.MILITARY, {"title": "Roadblock at the bridge"})
    placed = Observation.objects.get(pk=observation.pk)
    placed.geometry, placed.category, placed.observed_on = SQUARE, "roadblock", dt.date(2025, 2, 1)
    placed.save()
    core_services.release_record(soldier.actor, placed, organisation=aid.org, fields=["category"])
    url, box = "/map/layers/kernel_proof.observation", {"bbox": "29.9,9.9,30.05,10.05"}

    found = signed_in(soldier).get(url, box).json()
    [feature] = found["features"]
    assert feature["id"] == str(observation.pk) and feature["geometry"] == SQUARE
    props = feature["properties"]
    assert props["category"] == "roadblock" and props["observed_on"] == "2025-02-01" and props["colour"]
    assert props["view"] == "full" and props["withheld"] == [] and "Roadblock" not in json.dumps(props)
    assert signed_in(soldier).get(url, {"bbox": "31,11,31.1,11.1"}).json()["features"] == []
    for reader in (aid, make_member(Component.HOST_NATION)):
        seen = signed_in(reader).get(url, {**box, "limit": 1}).json()
        assert seen["features"] == [] and seen["truncated"] is False


def test_the_log_layer_narrows_by_box_and_window_through_its_index_edges_included(signed_in) -> None:
    """GET /api/v1/map/layers/actors.liaisonlogentry?bbox=...&time_from=...&time_to=...: the log's
    spatial index has the time of the contact; an entry at either edge of the window is in it, one
    a second outside, or in the window elsewhere, is not, and an entry moved in time moves with it."""
    cimic = make_member(Component.MILITARY)
    reader = signed_in(cimic)
    starts, ends = dt.datetime(2025, 2, 1, tzinfo=dt.UTC), dt.datetime(2025, 2, 28, 12, tzinfo=dt.UTC)
    second = dt.timedelta(seconds=1)

    def entry(when: dt.datetime, lon: float = 30.5) -> LiaisonLogEntry:
        return record_entry(cimic, occurred_at=when, latitude=10.5, longitude=lon)

    first, last, middle = entry(starts), entry(ends), entry(starts + dt.timedelta(days=10))
    entry(starts - second), entry(ends + second), entry(starts + dt.timedelta(days=10), lon=35)
    moved = entry(dt.datetime(2024, 6, 1, tzinfo=dt.UTC))
    window = {"bbox": "30,10,31,11", "time_from": starts.isoformat(), "time_to": ends.isoformat()}
    assert _ids(reader.get("/map/layers/actors.liaisonlogentry", window)) == {str(first.pk), str(last.pk),
                                                                           str(middle.pk)}
    LiaisonLogEntry.objects.filter(pk=moved.pk).update(occurred_at=starts + dt.timedelta(days=3))
    assert str(moved.pk) in _ids(reader.get("/map/layers/actors.liaisonlogentry", window))

"""Boundary import: the parser and planner on small hand-written files, the all-or-nothing
service, parent linking, re-import by P-code, and the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from civmil.actors import boundaries, queries
from civmil.actors import services as actor_services
from civmil.actors.models import Area
from civmil.core.choices import Component, Role
from civmil.core.errors import Forbidden, Invalid
from civmil.core.models import LedgerChange, LedgerEntry
from civmil.interop import codab
from tests.factories import make_member

# ---------------------------------------------------------------------------------------------
# Fixtures written here: small squares near 0,0 (one degree apart, side 0.9 degree).


def square(x: float, y: float, size: float = 0.9) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]]}


def feature(pcode: Any = None, name: Any = None, geometry: Any = None, *, parent: Any = None,
            alt: Any = None, level: int = 1, **extra: Any) -> dict[str, Any]:
    props: dict[str, Any] = {}
    if pcode is not None:
        props[f"ADM{level}_PCODE"] = pcode
    if name is not None:
        props[f"ADM{level}_EN"] = name
    if alt is not None:
        props[f"ADM{level}_FR"] = alt
    if parent is not None:
        props[f"ADM{level - 1}_PCODE"] = parent
    props.update(extra)
    return {"type": "Feature", "properties": props, "geometry": geometry if geometry is not None else square(0, 0)}


def collection(*features: Any) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": list(features)}).encode()


def opts(level: int = 1, *, parent: bool = False, alt: bool = False) -> boundaries.ImportOptions:
    return boundaries.ImportOptions.cod(level, parent_field=f"ADM{level - 1}_PCODE" if parent else "",
                                        alt_name_field=f"ADM{level}_FR" if alt else "")


def plan(data: bytes, options: boundaries.ImportOptions | None = None,
         existing: dict[str, boundaries.ExistingArea] | None = None) -> boundaries.BoundaryPlan:
    return boundaries.plan_import(data, options or opts(), existing or {})


def reasons(p: boundaries.BoundaryPlan) -> dict[int, str]:
    return {r.index: r.reason for r in p.rejected}


STATES = collection(
    feature("XX01", "North", square(0, 0), alt="Nord"),
    feature("XX02", "South", square(0, -1), alt="Sud"),
)


# ---------------------------------------------------------------------------------------------
# The whole file


@pytest.mark.parametrize(("data", "expected"), [
    (b"{not json", "not valid JSON"),
    (b"", "empty"),
    (b"\x80\x81 not utf-8", "not text in UTF-8"),
    (b'{"type": "FeatureCollection", "features": [NaN]}', "not valid JSON"),
    (b'{"type": "FeatureCollection", "features": [], "n": Infinity}', "not valid JSON"),
    (b'{"type": "FeatureCollection", "features": [], "n": ' + b"9" * 5000 + b"}", "not valid JSON"),
    (b"[" * 200_000 + b"]" * 200_000, "too deeply"),
    (b"[1, 2]", "not a GeoJSON FeatureCollection"),
    (json.dumps(feature("XX01", "North")).encode(), "single Feature"),
    (json.dumps(square(0, 0)).encode(), "single Polygon"),
    (b'{"type": "Topology", "objects": {}}', "not a GeoJSON FeatureCollection"),
    (b'{"type": "FeatureCollection"}', "no \"features\" list"),
    (b'{"type": "FeatureCollection", "features": {}}', "no \"features\" list"),
    (b'{"type": "FeatureCollection", "features": []}', "no features"),
])
def test_a_file_that_is_not_a_feature_collection_is_refused_whole(data: bytes, expected: str) -> None:
    p = plan(data)
    assert expected in p.error
    assert p.areas == [] and p.rejected == []


def test_a_file_over_the_size_cap_is_refused_with_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(codab, "MAX_FILE_BYTES", 1024 * 1024)
    p = plan(STATES + b" " * (1024 * 1024))
    assert "the limit is 1 MB" in p.error
    assert p.areas == []


def test_too_many_features_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(codab, "MAX_FEATURES", 1)
    assert "the limit is 1" in plan(STATES).error


def test_a_utf8_byte_order_mark_is_accepted() -> None:
    assert [a.pcode for a in plan(b"\xef\xbb\xbf" + STATES).areas] == ["XX01", "XX02"]


def test_bad_options_are_refused() -> None:
    assert boundaries.ImportOptions.cod(12).problems().keys() == {"level"}
    same = boundaries.ImportOptions(level=1, pcode_field="P", name_field="N", parent_field="P")
    assert "parent_field" in same.problems()
    assert "P-code" in plan(STATES, same).error
    with pytest.raises(Invalid):
        boundaries.ImportOptions(level=1, pcode_field="", name_field="N").check()


# ---------------------------------------------------------------------------------------------
# Each feature


def test_a_clean_file_plans_every_area() -> None:
    p = plan(STATES, opts(alt=True))
    assert p.clean and p.rejected == [] and p.feature_count == 2
    north = p.areas[0]
    assert (north.index, north.pcode, north.name, north.name_alt) == (1, "XX01", "North", "Nord")
    assert north.action == "create"
    assert north.geometry["type"] == "Polygon"


def test_every_bad_feature_is_named_with_its_index_pcode_and_reason() -> None:
    bowtie = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}
    unclosed = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]}
    out_of_range = square(179.5, 0)
    data = collection(
        feature("XX01", "Good", square(0, 0)),                              # 1 fine
        feature(None, "No code"),                                          # 2 missing P-code
        feature("XX03", None),                                             # 3 missing name
        feature("XX04", "A point", {"type": "Point", "coordinates": [0, 0]}),  # 4 not a polygon
        feature("XX05", "Unclosed", unclosed),                             # 5 not closed
        feature("XX06", "Bowtie", bowtie),                                 # 6 self-intersecting
        feature("XX07", "Far east", out_of_range),                         # 7 out of range
        feature("XX08", "Twin", square(2, 0)),                             # 8 duplicate P-code
        feature("XX08", "Twin again", square(3, 0)),                       # 9 duplicate P-code
        {"type": "Feature", "properties": {"ADM1_PCODE": "XX10", "ADM1_EN": "Nothing"}, "geometry": None},  # 10
        "not a feature",                                                   # 11
        {"type": "Feature", "properties": ["a"], "geometry": square(0, 0)},  # 12 properties not an object
        feature("X" * 40, "Long code"),                                    # 13 P-code too long
        feature({"a": 1}, "Object code"),                                  # 14 P-code not text
        feature("XX15", True),                                             # 15 name not text
        feature("XX16", "Nested", {"type": "Feature", "geometry": square(0, 0)}),  # 16 not a geometry
        feature("XX17", "Text", json.dumps(square(0, 0))),                  # 17 geometry as a string
    )
    p = plan(data)
    assert [a.pcode for a in p.areas] == ["XX01"]
    why = reasons(p)
    assert sorted(why) == list(range(2, 18))
    assert "P-code is missing" in why[2] and "ADM1_PCODE" in why[2]
    assert "name is missing" in why[3]
    assert "geometry is a Point; boundaries must be a Polygon or a MultiPolygon" in why[4]
    assert "not closed" in why[5]
    assert "not valid" in why[6] and "intersect" in why[6].lower()
    assert "out of range" in why[7]
    assert "XX08 appears in features 8, 9" in why[8] and why[8] == why[9]
    assert "no geometry" in why[10]
    assert "not a GeoJSON Feature" in why[11]
    assert "properties" in why[12]
    assert "longer than 32" in why[13]
    assert "not text" in why[14] and "not text" in why[15]
    assert "geometry is a Feature" in why[16] and "not a GeoJSON geometry object" in why[17]
    by_index = {r.index: r for r in p.rejected}
    assert by_index[7].pcode == "XX07" and by_index[2].pcode == ""
    assert by_index[7].describe().startswith("Feature 7 (P-code XX07): ")


def test_features_that_break_rfc7946_are_rejected_not_imported() -> None:
    # Modelled on the geojson/schema project's invalid fixtures: before these checks a MultiPolygon
    # with "bbox": 42 was planned for import, and a bad "id" or a missing "properties" went unseen.
    two_squares = {"type": "MultiPolygon", "coordinates": [square(2, 2)["coordinates"], square(0, 0)["coordinates"]]}
    data = collection(
        feature("XX01", "Good", square(4, 4)),                                            # 1 fine
        feature("XX02", "Bad bbox", {**two_squares, "bbox": 42}),                         # 2 geometry bbox
        {**feature("XX03", "Bad id", square(6, 6)), "id": False},                        # 3 boolean id
        {**feature("XX04", "Object id", square(8, 8)), "id": {"foo": "bar"}},            # 4 object id
        {"type": "Feature", "geometry": square(10, 10)},                                  # 5 no properties
        {**feature("XX06", "Short bbox", square(12, 12)), "bbox": [12, 12, 12.9]},        # 6 feature bbox
    )
    p = plan(data)
    assert [a.pcode for a in p.areas] == ["XX01"]
    why = reasons(p)
    assert sorted(why) == [2, 3, 4, 5, 6]
    assert '"bbox" must be an array of 4 numbers' in why[2] and '"bbox" must be' in why[6]
    assert '"id" of a Feature must be a string or a number' in why[3] and '"id"' in why[4]
    assert 'needs a "properties" member' in why[5]


def test_a_bad_bbox_on_the_collection_refuses_the_whole_file() -> None:
    data = json.dumps({"type": "FeatureCollection", "bbox": [0, 0], "features": [feature("XX01", "North")]}).encode()
    p = plan(data)
    assert '"bbox" must be' in p.error and "FeatureCollection" in p.error
    assert p.areas == [] and p.rejected == []


def test_ids_bboxes_and_heights_that_rfc7946_allows_are_imported() -> None:
    data = collection(
        {**feature("XX01", "North", {**square(0, 0), "bbox": [0, 0, 0.9, 0.9]}), "id": 42, "bbox": [0, 0, 0.9, 0.9]},
        {**feature("XX02", "South", square(0, -1)), "id": "adm1.2"},
    )
    p = plan(data)
    assert p.clean and [a.pcode for a in p.areas] == ["XX01", "XX02"]


def test_numeric_pcodes_and_untidy_whitespace_are_read_as_text() -> None:
    p = plan(collection(feature(12, "  North \n Province ")))
    assert (p.areas[0].pcode, p.areas[0].name) == ("12", "North Province")


def test_three_dimensional_boundaries_are_stored_flat() -> None:
    cube = {"type": "MultiPolygon", "coordinates": [[[[0, 0, 5], [1, 0, 5], [1, 1, 5], [0, 1, 5], [0, 0, 5]]]]}
    geometry = plan(collection(feature("XX01", "Hills", cube))).areas[0].geometry
    assert geometry["type"] == "MultiPolygon"
    assert all(len(pos) == 2 for pos in geometry["coordinates"][0][0])


def test_a_property_missing_everywhere_gets_a_hint_listing_what_the_file_has() -> None:
    p = plan(STATES, boundaries.ImportOptions.cod(1, name_field="NAME_1"))
    assert len(p.rejected) == 2
    assert any("No feature has a property named NAME_1" in n and "ADM1_EN" in n for n in p.notes)
    level_mismatch = plan(STATES, boundaries.ImportOptions.cod(2, pcode_field="ADM1_PCODE", name_field="ADM1_EN"))
    assert any("level" in n and "ADM1_PCODE" in n for n in level_mismatch.notes)


# ---------------------------------------------------------------------------------------------
# Parents


def test_parents_in_the_same_file_come_first_and_unknown_parents_are_rejected() -> None:
    data = collection(
        feature("XX0101", "Town", square(0, 0, 0.4), level=2, parent="XX01"),
        feature("XX01", "North", square(0, 0), level=2, parent=""),
        feature("XX0102", "Village", square(0.5, 0.5, 0.4), level=2, parent="ZZ99"),
    )
    p = plan(data, opts(2, parent=True))
    assert [a.pcode for a in p.areas] == ["XX01", "XX0101"]
    assert "parent P-code ZZ99 is unknown" in reasons(p)[3]


def test_a_parent_already_stored_is_accepted() -> None:
    existing = {"XX01": boundaries.ExistingArea("XX01", admin_level=1)}
    p = plan(collection(feature("XX0101", "Town", level=2, parent="XX01")), opts(2, parent=True), existing)
    assert p.clean and p.areas[0].parent_pcode == "XX01"


def test_a_rejected_parent_rejects_its_children() -> None:
    data = collection(
        feature("XX01", "North", {"type": "Point", "coordinates": [0, 0]}, level=2),
        feature("XX0101", "Town", square(0, 0, 0.4), level=2, parent="XX01"),
        feature("XX010101", "Hamlet", square(0, 0, 0.2), level=2, parent="XX0101"),
    )
    p = plan(data, opts(2, parent=True))
    assert p.areas == []
    why = reasons(p)
    assert "parent XX01 is rejected in this file (feature 1)" in why[2]
    assert "parent XX0101 is rejected in this file (feature 2)" in why[3]


def test_parent_loops_and_self_parents_are_rejected() -> None:
    data = collection(
        feature("XX01", "A", square(0, 0), level=2, parent="XX02"),
        feature("XX02", "B", square(1, 0), level=2, parent="XX01"),
        feature("XX03", "C", square(2, 0), level=2, parent="XX03"),
    )
    why = reasons(plan(data, opts(2, parent=True)))
    assert "loop" in why[1] and "loop" in why[2]
    assert "itself as its parent" in why[3]
    # A loop through an area already stored is caught too.
    existing = {"XX09": boundaries.ExistingArea("XX09", admin_level=1, parent_pcode="XX05")}
    looped = plan(collection(feature("XX05", "E", level=2, parent="XX09")), opts(2, parent=True), existing)
    assert "loop" in reasons(looped)[1]


def test_known_pcodes_plan_updates() -> None:
    p = plan(STATES, existing={"XX02": boundaries.ExistingArea("XX02", admin_level=1)})
    assert [(a.pcode, a.action) for a in p.areas] == [("XX01", "create"), ("XX02", "update")]
    assert len(p.to_create) == 1 and len(p.to_update) == 1


def test_lengths_match_the_area_model() -> None:
    assert Area._meta.get_field("pcode").max_length == codab.PCODE_MAX_LENGTH
    assert Area._meta.get_field("name").max_length == codab.NAME_MAX_LENGTH
    assert Area._meta.get_field("name_alt").max_length == codab.NAME_MAX_LENGTH
    assert Area._meta.get_field("source").max_length == codab.SOURCE_MAX_LENGTH


# ---------------------------------------------------------------------------------------------
# The service: all or nothing


@pytest.fixture
def admin(db: Any) -> Any:
    return make_member(Component.CIVILIAN, role=Role.ADMINISTRATOR)


def _area_writes() -> int:
    return LedgerEntry.objects.filter(object_type="actors.area").count()


def test_with_a_rejected_feature_nothing_is_imported_until_confirmed(admin: Any) -> None:
    data = collection(feature("XX01", "North", square(0, 0)), feature("XX02", None, square(0, -1)),
                      feature("XX03", "East", square(1, 0)))
    p = queries.boundary_plan(admin.actor, data, opts())
    with pytest.raises(Invalid) as refused:
        actor_services.import_boundaries(admin.actor, p)
    assert "nothing was imported" in refused.value.message
    assert refused.value.errors["features"] == ["Feature 2 (P-code XX02): the name is missing (property ADM1_EN is "
                                                "absent or empty)."]
    assert Area.objects.count() == 0 and _area_writes() == 0

    result = actor_services.import_boundaries(admin.actor, p, confirm=True)
    assert (result.created, result.updated, [r.index for r in result.skipped]) == (2, 0, [2])
    assert sorted(Area.objects.values_list("pcode", flat=True)) == ["XX01", "XX03"]
    summary = LedgerEntry.objects.get(action="areas.imported")
    change = LedgerChange.objects.get(entry=summary).data
    assert change["skipped"] == [[2, "XX02"]] and change["created"] == 2 and change["sha256"] == p.sha256
    assert LedgerEntry.objects.filter(action="area.created").count() == 2


def test_a_file_level_error_imports_nothing_even_when_confirmed(admin: Any) -> None:
    p = queries.boundary_plan(admin.actor, b"{oops", opts())
    with pytest.raises(Invalid, match="not valid JSON"):
        actor_services.import_boundaries(admin.actor, p, confirm=True)
    assert _area_writes() == 0


def test_only_administrators_import(admin: Any) -> None:
    staff = make_member(Component.MILITARY)
    p = queries.boundary_plan(staff.actor, STATES, opts())
    with pytest.raises(Forbidden):
        actor_services.import_boundaries(staff.actor, p)
    assert Area.objects.count() == 0


def test_levels_link_to_their_parents(admin: Any) -> None:
    actor_services.import_boundaries(admin.actor, queries.boundary_plan(admin.actor, STATES, opts()))
    districts = collection(
        feature("XX0101", "Town", square(0, 0, 0.4), level=2, parent="XX01"),
        feature("XX0201", "Port", square(0, -1, 0.4), level=2, parent="XX02"),
    )
    p = queries.boundary_plan(admin.actor, districts, opts(2, parent=True))
    assert p.clean
    actor_services.import_boundaries(admin.actor, p)
    town = Area.objects.get(pcode="XX0101")
    assert town.parent is not None and town.parent.pcode == "XX01" and town.admin_level == 2
    assert (town.west, town.south, town.east, town.north) == (0, 0, 0.4, 0.4)
    assert [a.pcode for a in queries.areas_at(admin.actor, 0.2, 0.2)] == ["XX01", "XX0101"]


def test_reimport_updates_by_pcode_and_leaves_unchanged_areas_alone(admin: Any) -> None:
    actor_services.import_boundaries(admin.actor, queries.boundary_plan(admin.actor, STATES, opts(alt=True)))
    north = Area.objects.get(pcode="XX01")
    writes = _area_writes()
    renamed = collection(
        feature("XX01", "North", square(0, 0), alt="Nord"),
        feature("XX02", "Southern", square(0, -1, 0.5), alt="Sud"),
        feature("XX04", "West", square(-1, 0), alt="Ouest"),
    )
    p = queries.boundary_plan(admin.actor, renamed, opts(alt=True))
    assert [(a.pcode, a.action) for a in p.areas] == [("XX01", "update"), ("XX02", "update"), ("XX04", "create")]
    result = actor_services.import_boundaries(admin.actor, p)
    assert (result.created, result.updated, result.unchanged) == (1, 1, 1)
    assert Area.objects.count() == 3
    south = Area.objects.get(pcode="XX02")
    assert (south.name, south.version, south.north) == ("Southern", 2, -0.5)
    assert Area.objects.get(pcode="XX01").version == north.version == 1
    assert LedgerEntry.objects.filter(action="area.updated").count() == 1
    # Two area writes (one update, one create) plus the import's own entry.
    assert _area_writes() == writes + 3


def test_an_import_without_a_parent_property_keeps_existing_parents(admin: Any) -> None:
    actor_services.import_boundaries(admin.actor, queries.boundary_plan(admin.actor, STATES, opts()))
    town = collection(feature("XX0101", "Town", square(0, 0, 0.4), level=2, parent="XX01"))
    actor_services.import_boundaries(admin.actor, queries.boundary_plan(admin.actor, town, opts(2, parent=True)))
    renamed = collection(feature("XX0101", "Big town", square(0, 0, 0.4), level=2))
    actor_services.import_boundaries(admin.actor, queries.boundary_plan(admin.actor, renamed, opts(2)))
    area = Area.objects.get(pcode="XX0101")
    assert area.name == "Big town" and area.parent is not None and area.parent.pcode == "XX01"


# ---------------------------------------------------------------------------------------------
# The command line


def _write(tmp_path: Path, data: bytes) -> str:
    path = tmp_path / "adm1.geojson"
    path.write_bytes(data)
    return str(path)


@pytest.mark.django_db
def test_command_refuses_rejections_without_yes_and_names_each(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, collection(feature("XX01", "North"), feature("XX02", None, square(0, -1))))
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_boundaries", path, "--level", "1")
    assert "Feature 2 (P-code XX02): the name is missing" in capsys.readouterr().err
    assert Area.objects.count() == 0
    call_command("import_boundaries", path, "--level", "1", "--yes")
    assert list(Area.objects.values_list("pcode", "source")) == [("XX01", "adm1.geojson")]
    assert LedgerEntry.objects.filter(action="areas.imported", actor_user_id=None).exists()


@pytest.mark.django_db
def test_command_dry_run_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, STATES)
    call_command("import_boundaries", path, "--level", "1", "--pcode-field", "ADM1_PCODE", "--name-field", "ADM1_EN",
                 "--alt-name-field", "ADM1_FR", "--dry-run")
    assert "2 to create" in capsys.readouterr().out
    assert Area.objects.count() == 0 and not LedgerEntry.objects.filter(object_type="actors.area").exists()


@pytest.mark.django_db
def test_command_dry_run_refuses_a_feature_with_a_bad_bbox(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, collection(feature("XX01", "North", {**square(0, 0), "bbox": 42})))
    with pytest.raises(CommandError, match="1 feature"):
        call_command("import_boundaries", path, "--level", "1", "--dry-run")
    assert 'Feature 1 (P-code XX01): Geometry: "bbox" must be' in capsys.readouterr().err


@pytest.mark.django_db
def test_command_refuses_a_broken_file(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="not valid JSON"):
        call_command("import_boundaries", _write(tmp_path, b"{"), "--level", "1")
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_boundaries", str(tmp_path / "missing.geojson"), "--level", "1")

"""The offline basemap: `civmil basemap build` writes a PMTiles archive every map can read, and
civmil serves it to signed-in readers with the byte ranges the browser's reader asks for."""

from __future__ import annotations

import gzip
import io
import json
import re
from pathlib import Path
from typing import Any

import mapbox_vector_tile
import mercantile
import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from pmtiles.reader import MmapSource, Reader
from pmtiles.tile import Compression, TileType

from civmil.actors import services as actor_services
from civmil.actors.models import Area
from civmil.core.choices import Component
from civmil.demo import geography, world
from tests.factories import make_member

pytestmark = pytest.mark.django_db

LUSENNA = world.build().place("Lusenna")


def build(tmp_path: Path, *args: str) -> tuple[Path, str]:
    output = tmp_path / "basemap.pmtiles"
    out = io.StringIO()
    call_command("basemap", "build", "--output", str(output), *args, stdout=out)
    return output, out.getvalue()


def tile_at(path: Path, lon: float, lat: float, zoom: int) -> dict[str, Any]:
    with path.open("rb") as stream:
        archive = Reader(MmapSource(stream))
        where = mercantile.tile(lon, lat, zoom)
        data = archive.get(zoom, where.x, where.y)
    assert data is not None, f"no tile at zoom {zoom} over {lon}, {lat}"
    return dict(mapbox_vector_tile.decode(gzip.decompress(data)))


@pytest.fixture
def province(db: Any) -> Area:
    """One of the demo's provinces, as the directory holds it."""
    spec = world.build().area("KV02")
    return actor_services.save_area(None, Area(name=spec.name, pcode=spec.pcode, admin_level=1), spec.geojson())


# ---- building ------------------------------------------------------------------------------------


def test_builds_a_pmtiles_archive_of_the_demo_geography_and_the_areas(tmp_path: Path, province: Area) -> None:
    path, said = build(tmp_path, "--from", str(geography.FOLDER), "--min-zoom", "4", "--max-zoom", "9")
    assert f"Wrote the basemap {path}" in said and "zooms 4 to 9" in said and "towns 22" in said
    with path.open("rb") as stream:
        archive = Reader(MmapSource(stream))
        header, metadata = archive.header(), archive.metadata()
    assert header["version"] == 3
    assert (header["tile_type"], header["tile_compression"]) == (TileType.MVT, Compression.GZIP)
    assert (header["min_zoom"], header["max_zoom"]) == (4, 9)
    assert header["min_lon_e7"] < LUSENNA.lon * 1e7 < header["max_lon_e7"]
    assert header["min_lat_e7"] < LUSENNA.lat * 1e7 < header["max_lat_e7"]
    assert {"towns", "roads", "rivers", "water", "boundaries", "areas", "area_lines", "area_labels"} == {
        layer["id"] for layer in metadata["vector_layers"]}

    tile = tile_at(path, LUSENNA.lon, LUSENNA.lat, 9)
    towns = {f["properties"]["name"]: f["properties"] for f in tile["towns"]["features"]}
    assert towns["Lusenna"]["kind"] == "capital"
    assert {f["properties"]["kind"] for f in tile["roads"]["features"]} >= {"major"}
    assert "Tamsadi" in {f["properties"]["name"] for f in tile["areas"]["features"]}
    assert {f["properties"]["admin_level"] for f in tile["area_lines"]["features"]} == {1}


def test_small_features_wait_for_their_zoom(tmp_path: Path) -> None:
    """Villages and sites are left out of the country-wide view, the capital is not."""
    path, _ = build(tmp_path, "--from", str(geography.FOLDER), "--no-areas", "--min-zoom", "5", "--max-zoom", "9")
    site = world.build().place("Lusenna airstrip")
    at_five = {f["properties"]["name"] for f in tile_at(path, site.lon, site.lat, 5)["towns"]["features"]}
    at_nine = {f["properties"]["name"] for f in tile_at(path, site.lon, site.lat, 9)["towns"]["features"]}
    assert "Lusenna" in at_five and "Lusenna airstrip" not in at_five
    assert "Lusenna airstrip" in at_nine


def _source(tmp_path: Path, layer: str, content: Any) -> Path:
    folder = tmp_path / "source"
    folder.mkdir(exist_ok=True)
    text = content if isinstance(content, str) else json.dumps(content)
    (folder / f"{layer}.geojson").write_text(text, encoding="utf-8")
    return folder


def _collection(*geometries: dict[str, Any]) -> dict[str, Any]:
    return {"type": "FeatureCollection",
            "features": [{"type": "Feature", "geometry": g, "properties": {"name": "x"}} for g in geometries]}


@pytest.mark.parametrize(("layer", "content", "message"), [
    ("towns", "{not json", "towns.geojson is not JSON"),
    ("towns", {"type": "Feature"}, "towns.geojson is not a GeoJSON FeatureCollection"),
    ("roads", _collection({"type": "Point", "coordinates": [28, 4]}),
     "roads.geojson, feature 1: a roads file takes LineString, MultiLineString geometries, not Point"),
    ("towns", _collection({"type": "Point", "coordinates": [28, 4]}, {"type": "Point", "coordinates": [4, 95]}),
     "towns.geojson, feature 2: its coordinates are not longitude, latitude in degrees"),
    ("water", _collection({"type": "Polygon", "coordinates": [[[28, 4]]]}),
     "water.geojson, feature 1: its coordinates cannot be read"),
    ("rivers", {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}}]},
     "rivers.geojson, feature 1: it has no geometry"),
])
def test_bad_source_files_are_refused_naming_the_file_and_feature(tmp_path: Path, layer: str, content: Any,
                                                                   message: str) -> None:
    folder = _source(tmp_path, layer, content)
    with pytest.raises(CommandError, match="^" + re.escape(f"{folder}/{message}")):
        build(tmp_path, "--from", str(folder))
    assert not (tmp_path / "basemap.pmtiles").exists()


def test_a_missing_or_empty_source_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match=r"is not a folder\. Give the folder that holds the basemap.s GeoJSON files"):
        build(tmp_path, "--from", str(tmp_path / "nowhere"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(CommandError, match=r"holds none of the basemap's GeoJSON files \(towns.geojson, roads"):
        build(tmp_path, "--from", str(tmp_path / "empty"))


def test_nothing_to_draw_and_bad_zooms_are_refused(tmp_path: Path, province: Area) -> None:
    Area.objects.all().delete()
    with pytest.raises(CommandError, match="There is nothing to draw"):
        build(tmp_path)
    with pytest.raises(CommandError, match="The zooms must run from 0 to 14, the smallest first"):
        build(tmp_path, "--from", str(geography.FOLDER), "--min-zoom", "9", "--max-zoom", "4")


def test_a_rebuild_replaces_the_file_whole(tmp_path: Path, settings: Any, province: Area) -> None:
    """Written beside the served file and moved over it: no half-written basemap, no leftovers."""
    settings.CIVMIL_BASEMAP = tmp_path / "basemap.pmtiles"
    call_command("basemap", "build", "--max-zoom", "6", stdout=io.StringIO())
    first = settings.CIVMIL_BASEMAP.read_bytes()
    call_command("basemap", "build", "--from", str(geography.FOLDER), "--max-zoom", "6", stdout=io.StringIO())
    assert settings.CIVMIL_BASEMAP.read_bytes() != first
    assert [p.name for p in tmp_path.iterdir()] == ["basemap.pmtiles"]


# ---- serving -------------------------------------------------------------------------------------


@pytest.fixture
def served(tmp_path: Path, settings: Any) -> bytes:
    settings.CIVMIL_BASEMAP, _ = build(tmp_path, "--from", str(geography.FOLDER), "--no-areas", "--max-zoom", "7")
    return bytes(settings.CIVMIL_BASEMAP.read_bytes())


@pytest.fixture
def reader(db: Any) -> Client:
    client = Client()
    client.force_login(make_member(Component.HUMANITARIAN).user)
    return client


URL = "/directory/areas/basemap.pmtiles"


def test_the_url(db: Any) -> None:
    assert reverse("actors:basemap") == URL


@pytest.mark.parametrize(("asked", "first", "last"), [
    ("bytes=0-126", 0, 126),  # the PMTiles header
    ("bytes=127-2047", 127, 2047),  # the start of the root directory
    ("bytes=-100", -100, -1),  # the last hundred bytes
    ("bytes=1000-", 1000, -1),  # to the end
    ("bytes=0-99999999", 0, -1),  # past the end: up to the end
])
def test_a_byte_range_is_answered_206_with_those_bytes(served: bytes, reader: Client, asked: str, first: int,
                                                       last: int) -> None:
    size = len(served)
    begin, end = first % size, last % size
    response = reader.get(URL, headers={"Range": asked})
    assert response.status_code == 206
    assert b"".join(response.streaming_content if response.streaming else [response.content]) == \
        served[begin:end + 1]
    assert response["Content-Range"] == f"bytes {begin}-{end}/{size}"
    assert response["Content-Length"] == str(end - begin + 1)
    assert response["Content-Type"] == "application/vnd.pmtiles"
    assert response["Accept-Ranges"] == "bytes" and response["ETag"]


@pytest.mark.parametrize("asked", ["bytes=" + "9" * 5000 + "-", "bytes=-" + "9" * 5000, "bytes=²-5"])
def test_a_range_no_file_can_have_is_answered_with_the_whole_file(served: bytes, reader: Client, asked: str) -> None:
    """A number longer than any size, or digits that are not ASCII: not a range, so the whole file
    (RFC 9110), where Python's integer limit made it a 500."""
    response = reader.get(URL, headers={"Range": asked})
    assert response.status_code == 200 and b"".join(response.streaming_content) == served


def test_the_whole_file_without_a_range_and_416_past_its_end(served: bytes, reader: Client) -> None:
    whole = reader.get(URL)
    assert whole.status_code == 200 and b"".join(whole.streaming_content) == served
    assert whole["Accept-Ranges"] == "bytes"
    beyond = reader.get(URL, headers={"Range": f"bytes={len(served)}-"})
    assert beyond.status_code == 416 and beyond["Content-Range"] == f"bytes */{len(served)}"
    changed = reader.get(URL, headers={"Range": "bytes=0-9", "If-Range": '"an-older-file"'})
    assert changed.status_code == 200  # the file changed since: the reader gets it whole


def test_anonymous_readers_are_refused(served: bytes, client: Client) -> None:
    response = client.get(URL, headers={"Range": "bytes=0-126"})
    assert response.status_code == 401
    assert b"PMTiles" not in response.content


def test_no_basemap_answers_404_and_pages_draw_the_areas_alone(reader: Client, settings: Any,
                                                              tmp_path: Path) -> None:
    settings.CIVMIL_BASEMAP = tmp_path / "none.pmtiles"
    assert reader.get(URL).status_code == 404
    page = reader.get(reverse("actors:areas")).content.decode()
    assert 'id="civmil-map-sources" hidden data-basemap-url="" data-areas-url="/directory/areas.geojson?level=1' in page


def test_pages_name_the_basemap_when_there_is_one(served: bytes, reader: Client) -> None:
    page = reader.get(reverse("actors:areas")).content.decode()
    assert f'data-basemap-url="{URL}"' in page


def test_a_large_range_is_streamed_with_the_same_bytes(served: bytes, reader: Client, monkeypatch: Any) -> None:
    from civmil.actors.views import basemap as basemap_views

    monkeypatch.setattr(basemap_views, "SMALL_RANGE", 16)
    response = reader.get(URL, headers={"Range": "bytes=100-4099"})
    assert response.status_code == 206 and response.streaming
    assert b"".join(response.streaming_content) == served[100:4100]
    assert response["Content-Length"] == "4000" and response["Content-Range"] == f"bytes 100-4099/{len(served)}"

"""The maps in a real browser: a record page's map draws the offline basemap under the record and
the areas in a pane of real width; the form's map does too; without a basemap they draw the
areas alone, with no error."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from civmil.actors import services as actor_services
from civmil.actors.models import Area
from civmil.core.choices import Component, Level
from civmil.demo import geography, world
from tests.factories import make_member, make_org

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

LUSENNA = world.build().place("Lusenna")


@pytest.fixture
def provinces(transactional_db: Any) -> list[Area]:
    return [actor_services.save_area(None, Area(name=p.name, pcode=p.pcode, admin_level=1), p.geojson())
            for p in world.build().provinces]


@pytest.fixture
def basemap(provinces: list[Area], settings: Any, tmp_path: Path) -> Path:
    settings.CIVMIL_BASEMAP = tmp_path / "basemap.pmtiles"
    call_command("basemap", "build", "--from", str(geography.FOLDER), "--max-zoom", "9", stdout=io.StringIO())
    return Path(settings.CIVMIL_BASEMAP)


def _entry_page(signed_in_page: Any) -> tuple[Any, Any]:
    section = make_org(Component.CIVILIAN, name="Civil Affairs Section")
    author = make_member(Component.CIVILIAN, org=section)
    entry = actor_services.record_liaison_contact(author.actor, actor_services.LiaisonContact(
        occurred_at=timezone.now() - dt.timedelta(hours=2), channel="meeting", summary="Met the market committee",
        level=Level.MISSION, organisation_ids=[section.pk], person_ids=[], follow_ups="",
        geometry={"type": "Point", "coordinates": [LUSENNA.lon, LUSENNA.lat]}, place_name="Lusenna market"))
    page = signed_in_page(author)
    page.goto(f"/directory/liaison/{entry.pk}/")
    page.wait_for_selector("div.map[data-map-state=ready]")
    return page, entry


def _map_state(page: Any) -> dict[str, Any]:
    return dict(page.evaluate("""() => {
        const map = document.querySelector('div.map');
        const areas = map.querySelector('.leaflet-areas-pane svg');
        const tiles = [...map.querySelectorAll('.leaflet-tile-pane canvas')];
        // A tile drawn by the basemap has pixels other than the land colour: a road, a town, a name.
        const drawn = tiles.filter((c) => {
          const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          for (let i = 0; i < data.length; i += 4) {
            if (data[i] !== data[0] || data[i + 1] !== data[1] || data[i + 2] !== data[2]) return true;
          }
          return false;
        });
        return {basemap: map.dataset.basemapState || '', tiles: tiles.length, drawnTiles: drawn.length,
                areasWidth: areas ? areas.getBoundingClientRect().width : 0,
                areaPaths: map.querySelectorAll('.leaflet-areas-pane path').length,
                areaLabels: [...map.querySelectorAll('.area-label')].map((l) => l.textContent)};
    }"""))


def test_a_record_page_map_draws_the_basemap_and_the_areas(basemap: Path, signed_in_page: Any) -> None:
    page, _ = _entry_page(signed_in_page)
    page.wait_for_selector("div.map[data-basemap-state=ready] .leaflet-tile-pane canvas")
    page.wait_for_function("""() => [...document.querySelectorAll('div.map .leaflet-tile-pane canvas')]
        .some((c) => c.classList.contains('leaflet-tile-loaded'))""")
    page.wait_for_load_state("networkidle")
    state = _map_state(page)
    assert state["basemap"] == "ready" and state["tiles"] > 0 and state["drawnTiles"] > 0, state
    # The areas' SVG is as wide as the map (civmil.css once shrank it to nothing) and holds the provinces.
    map_width = page.locator("div.map").bounding_box()["width"]
    assert state["areasWidth"] >= map_width and state["areaPaths"] == 3, state
    assert state["areaLabels"] == []  # the basemap names the areas itself
    assert not page.problems, page.problems


def test_the_form_map_draws_the_basemap(basemap: Path, signed_in_page: Any) -> None:
    page = signed_in_page(make_member(Component.CIVILIAN))
    page.goto("/directory/liaison/new/")
    page.wait_for_selector(".geometry-input[data-geometry-state=ready]")
    page.wait_for_selector("div.map[data-basemap-state=ready] .leaflet-tile-pane canvas.leaflet-tile-loaded")
    page.wait_for_load_state("networkidle")
    state = _map_state(page)
    assert state["drawnTiles"] > 0 and state["areaPaths"] == 3 and state["areasWidth"] > 0, state
    assert not page.problems, page.problems


def test_without_a_basemap_the_maps_draw_the_named_areas(provinces: list[Area], settings: Any, tmp_path: Path,
                                                         signed_in_page: Any) -> None:
    settings.CIVMIL_BASEMAP = tmp_path / "none.pmtiles"
    page, _ = _entry_page(signed_in_page)
    page.wait_for_function("() => document.querySelectorAll('div.map .leaflet-areas-pane path').length === 3")
    state = _map_state(page)
    assert state["basemap"] == "" and state["tiles"] == 0, state
    assert state["areasWidth"] > 0
    assert sorted(state["areaLabels"]) == sorted(p.name for p in world.build().provinces)
    assert not page.problems, page.problems

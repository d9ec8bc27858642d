"""Drawing a place on the map of a geometry field: leaflet-geoman loads under the CSP, what is drawn
reaches the server as GeoJSON, and a refused geometry comes back on the form with the reason."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e.conftest import describe

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.fixture
def form_page(page: Any, settings: Any) -> Any:
    settings.ROOT_URLCONF = "tests.e2e.geometry_form_urls"
    page.goto("/test-geometry/")
    page.wait_for_selector(".geometry-input[data-geometry-state=ready]")
    return page


def test_a_drawn_polygon_is_saved_as_geojson(form_page: Any, axe: Any) -> None:
    page = form_page
    assert not axe(page), describe(axe(page))
    assert page.get_by_role("button", name="Draw Polygons").is_visible()
    page.locator(".leaflet-pm-icon-polygon").click()
    box = page.locator(".map-draw").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    for dx, dy in ((-60, -40), (60, -40), (60, 40), (-60, 40)):
        page.mouse.click(x + dx, y + dy)
    page.mouse.click(x - 60, y - 40)  # back on the first vertex: the ring is closed
    drawn = json.loads(page.locator("#id_place").input_value())
    assert drawn["type"] == "Polygon" and len(drawn["coordinates"][0]) == 5
    page.get_by_role("button", name="Save").click()
    saved = json.loads(page.locator("#saved").inner_text())
    assert saved["type"] == "Polygon"
    assert saved["coordinates"][0][0] == saved["coordinates"][0][-1]
    assert saved["coordinates"] == json.loads(json.dumps(drawn["coordinates"]))
    assert not page.problems, page.problems  # no script error, no CSP refusal, no failed request


def test_a_typed_point_and_a_refusal_on_the_form(form_page: Any) -> None:
    page = form_page
    page.locator("#id_place_location").fill("95N, 1.5W")
    page.get_by_role("button", name="Save").click()
    page.wait_for_selector(".field-errors")
    assert "out of range" in page.locator(".field-errors").inner_text()
    assert page.locator("#id_place_location").input_value() == "95N, 1.5W"
    page.wait_for_selector(".geometry-input[data-geometry-state=ready]")
    page.locator("#id_place_location").fill("31U DQ 48252 11954")
    page.get_by_role("button", name="Save").click()
    lon, lat = json.loads(page.locator("#saved").inner_text())["coordinates"]
    assert abs(lat - 48.8584) < 1e-4 and abs(lon - 2.2945) < 1e-4
    assert not page.problems, page.problems

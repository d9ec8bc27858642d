"""Text stays text: markup, event handlers, ``meta refresh`` and bidi overrides in every name and
place shown on a map (liaison places, officers' names and titles, area names and P-codes) appear
literally in tooltips, popups, cards and live rows; no element is made of them, no script runs, the
page goes nowhere, the CSP reports nothing, and a right-to-left override stays inside its text."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from civmil.core.choices import Component, Level

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

IMG = '<img src=x onerror="window.__pwned=1">'
META = '<meta http-equiv="refresh" content="0;url=/navigated-away/">'
BOLD = "<b>bold</b>"
RLO = "\u202etxet\u202c"  # RIGHT-TO-LEFT OVERRIDE ... POP DIRECTIONAL FORMATTING
PLACE = f"Well {IMG} {META} {BOLD} {RLO}"
OFFICER = f"Officer {META} {BOLD} {RLO}"
TITLE = IMG
AREA = f"District {IMG} {META} {BOLD} {RLO}"
PCODE = "<b>CF9</b>"
SQUARE = {"type": "Polygon", "coordinates": [[[18.5, 4.3], [18.6, 4.3], [18.6, 4.4], [18.5, 4.4], [18.5, 4.3]]]}

WATCH = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sample}`);
});
"""

#: Elements the payloads would make if they were parsed as HTML.
FORBIDDEN = 'img[src="x"], meta[http-equiv], .leaflet-container b, bdi b, [dir="auto"] b, .card b, td b'

OPEN_EVERYTHING = """async () => {
  const texts = [];
  for (const el of document.querySelectorAll("div.map")) {
    const map = el.civmilMap;
    if (!map) continue;
    const layers = [];
    map.eachLayer((layer) => layers.push(layer));
    for (const layer of layers) {
      if (layer.getTooltip && layer.getTooltip()) {
        layer.openTooltip();
        texts.push(["tooltip", layer.getTooltip().getElement().textContent]);
      }
      if (layer.getPopup && layer.getPopup()) {
        layer.openPopup();
        texts.push(["popup", layer.getPopup().getElement().textContent]);
        layer.closePopup();
      }
    }
  }
  await new Promise((resolve) => setTimeout(resolve, 300));
  return texts;
}"""

#: For each text node holding U+202E outside head/script: is it inside an element that isolates
#: its direction (computed unicode-bidi), and is that element made of user text only?
ISOLATION = """(scope) => {
  const out = [];
  const root = scope ? document.querySelector(scope) : document.body;
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!node.data.includes("\\u202e") || node.parentElement.closest("script, template, head")) continue;
    let el = node.parentElement;
    while (el && !["isolate", "plaintext", "isolate-override"].includes(getComputedStyle(el).unicodeBidi)) {
      el = el.parentElement;
    }
    out.push({text: node.data, isolatedBy: el ? el.tagName.toLowerCase() + (el.dir ? `[dir=${el.dir}]` : "") : null,
              isolatedText: el ? el.textContent : null});
  }
  return out;
}"""


def _cast() -> dict[str, Any]:
    from civmil.actors import services as actor_services
    from civmil.actors.choices import AreaKind
    from civmil.actors.models import Area
    from civmil.core import services
    from civmil.core.models import Person
    from tests.factories import make_member, make_org

    unit = make_org(Component.CIVILIAN, name="Civil Affairs Kaya")
    viewer = make_member(Component.CIVILIAN, org=unit)
    partner = make_org(Component.HUMANITARIAN, name="Water NGO")
    # An officer as the directory import would store one (full name and title straight from a CSV).
    officer = services.save_person(None, Person(full_name=OFFICER, title=TITLE, owner=unit, level=Level.MISSION,
                                                email="officer@example.org"))
    services.add_membership(None, person=officer, organisation=unit, role=viewer.membership.role)
    entry = actor_services.record_liaison_contact(viewer.actor, actor_services.LiaisonContact(
        occurred_at=timezone.now() - dt.timedelta(hours=2), channel="meeting", summary=f"Met at {PLACE}",
        level=Level.MISSION, organisation_ids=[partner.pk], person_ids=[officer.pk], place_name=PLACE,
        location="4.3612, 18.5550"))
    assignment = actor_services.assign_liaison(viewer.actor, actor_services.Assignment(
        officer_id=officer.pk, starts_on=dt.date.today(), level=Level.MISSION, to_organisation_id=partner.pk,
        location="4.3700, 18.5600"))
    # An area as the boundary import would store one (its name and P-code from a GeoJSON file).
    area = actor_services.save_area(None, Area(kind=AreaKind.RESPONSIBILITY, name=AREA, pcode=PCODE,
                                               responsible=unit), SQUARE)
    return {"viewer": viewer, "unit": unit, "entry": entry, "assignment": assignment, "area": area}


def _watched_page(page: Any, signed_in_page: Any, viewer: Any) -> tuple[Any, list[str]]:
    page.add_init_script(WATCH)
    away: list[str] = []
    page.on("request", lambda request: away.append(request.url) if "navigated-away" in request.url else None)
    page.on("framenavigated", lambda frame: away.append(frame.url)
            if frame == page.main_frame and "navigated-away" in frame.url else None)
    signed_in_page(viewer)
    return page, away


def _check_map_page(page: Any, url: str, expected: list[str], away: list[str]) -> list[tuple[str, str]]:
    page.goto(url)
    page.locator("div.map[data-map-state=ready]").first.wait_for()
    # A person's way first: hover and click every marker and shape, then every layer through Leaflet.
    shapes = page.locator("div.map path.leaflet-interactive")
    for n in range(shapes.count()):
        shapes.nth(n).hover(force=True)
        shapes.nth(n).click(force=True)
    texts: list[tuple[str, str]] = [tuple(t) for t in page.evaluate(OPEN_EVERYTHING)]
    page.wait_for_timeout(1_200)  # a meta refresh of 0 seconds would have gone by now
    assert page.evaluate(f"document.querySelectorAll('{FORBIDDEN}').length") == 0, url
    assert page.evaluate("window.__pwned") is None, url
    assert page.evaluate("window.__csp") == [], url
    assert not away, (url, away)
    assert page.url.endswith(url), (url, page.url)
    shown = " ".join(text for _kind, text in texts)
    for literal in expected:
        assert literal in shown, (url, literal, texts)
    # The tooltips' and popups' text is direction-isolated too.
    for item in page.evaluate(ISOLATION, ".leaflet-container"):
        assert item["isolatedBy"] in ("span[dir=auto]", "strong[dir=auto]", "a[dir=auto]", "div[dir=auto]"), item
    return texts


def test_names_and_places_on_every_map_stay_text(page: Any, signed_in_page: Any) -> None:
    cast = _cast()
    page, away = _watched_page(page, signed_in_page, cast["viewer"])
    entry_url = f"/directory/liaison/{cast['entry'].pk}/"
    texts = _check_map_page(page, entry_url, [PLACE], away)
    assert ("tooltip", PLACE) in texts and any(kind == "popup" and PLACE in text for kind, text in texts)
    _check_map_page(page, f"/directory/assignments/{cast['assignment'].pk}/", [f"{TITLE} {OFFICER}"], away)
    texts = _check_map_page(page, f"/directory/areas/{cast['area'].pk}/", [AREA, PCODE], away)
    assert ("tooltip", AREA) in texts
    _check_map_page(page, "/directory/areas/?q=District", [AREA, PCODE], away)
    _check_map_page(page, f"/directory/organisations/{cast['unit'].pk}/", [AREA], away)
    _check_map_page(page, "/directory/areas/lookup/?location=4.35%2C18.55", [AREA, PCODE], away)
    assert not page.problems, page.problems  # no request for "x", no console error


def test_a_right_to_left_override_in_a_name_stays_inside_it(page: Any, signed_in_page: Any) -> None:
    cast = _cast()
    page, away = _watched_page(page, signed_in_page, cast["viewer"])
    page.goto(f"/directory/liaison/{cast['entry'].pk}/")
    found = page.evaluate(ISOLATION, "section.card")
    assert len(found) >= 3, found  # the place, the officer named, the summary
    for item in found:
        assert item["isolatedBy"] in ("bdi", "div[dir=auto]"), item
        assert RLO in item["isolatedText"] and "Place" not in item["isolatedText"], item  # not the label beside it
    # The line after an isolated override reads left to right as before: the label and the value
    # are laid out in their own order (the label stays left of the place name).
    label, value = page.locator("section.card dt", has_text="Place"), page.locator("section.card dd bdi").filter(
        has_text="Well").first
    assert label.bounding_box()["x"] < value.bounding_box()["x"]
    page.goto("/directory/people/")
    for item in page.evaluate(ISOLATION, "main table"):
        assert item["isolatedBy"] == "bdi", item
    assert page.evaluate(f"document.querySelectorAll('{FORBIDDEN}').length") == 0
    assert page.evaluate("window.__csp") == [] and not away


def test_a_live_row_shows_its_text_inert_and_isolated(page: Any, signed_in_page: Any) -> None:
    from civmil.actors import services as actor_services

    cast = _cast()
    page, away = _watched_page(page, signed_in_page, cast["viewer"])
    page.goto("/directory/liaison/")
    page.wait_for_function("() => document.querySelector('[data-live-status]')?.dataset.liveState === 'online'")
    fresh = actor_services.record_liaison_contact(cast["viewer"].actor, actor_services.LiaisonContact(
        occurred_at=timezone.now() - dt.timedelta(minutes=5), channel="phone", summary=f"Live {BOLD} {IMG}",
        level=Level.MISSION, organisation_ids=[cast["unit"].pk], place_name=f"Live place {META} {RLO}"))
    row = page.locator(f'tr[data-live-id="{fresh.pk}"][data-live-fresh]')
    row.wait_for(timeout=10_000)
    assert f"Live place {META} {RLO}" in row.inner_text()
    assert f"Live {BOLD} {IMG}" in row.inner_text()
    page.wait_for_timeout(1_200)
    for item in page.evaluate(ISOLATION, f'tr[data-live-id="{fresh.pk}"]'):
        assert item["isolatedBy"] == "bdi", item
    assert page.evaluate(f"document.querySelectorAll('{FORBIDDEN}').length") == 0
    assert page.evaluate("window.__pwned") is None and page.evaluate("window.__csp") == [] and not away
    assert not page.problems, page.problems


#: A map of the liaison log's layer, as a page that draws map layers adds one.
LAYER_MAP = """async () => {
  const el = document.createElement("div");
  el.className = "map";
  el.id = "layer-map";
  el.style.height = "320px";
  el.dataset.map = "view";
  el.dataset.geojsonUrl = "/api/v1/map/layers/actors.liaisonlogentry";
  document.querySelector("main").append(el);
  const { initMap } = await import(document.querySelector('script[type="module"][src*="map.js"]').src);
  initMap(el);
}"""


def test_a_map_layer_popup_loads_the_card_and_keeps_its_text_inert(page: Any, signed_in_page: Any) -> None:
    """A feature of /api/v1/map/layers/actors.liaisonlogentry opens a popup that loads the entry's
    card (its place and summary as the reader sees them): text, never markup."""
    cast = _cast()
    page, away = _watched_page(page, signed_in_page, cast["viewer"])
    page.goto(f"/directory/liaison/{cast['entry'].pk}/")
    page.locator("div.map[data-map-state=ready]").first.wait_for()
    page.evaluate(LAYER_MAP)
    page.locator("#layer-map[data-map-state=ready]").wait_for()
    page.locator("#layer-map path.leaflet-interactive").first.click(force=True)
    card = page.locator("#layer-map .leaflet-popup .map-card section.card")
    card.wait_for()
    assert f"Met at {PLACE}" in card.inner_text() and PLACE in card.inner_text()
    assert page.locator("#layer-map .leaflet-popup a").first.get_attribute("href").endswith(
        f"/directory/liaison/{cast['entry'].pk}/")
    page.wait_for_timeout(1_200)
    assert page.evaluate(f"document.querySelectorAll('{FORBIDDEN}').length") == 0
    assert page.evaluate("window.__pwned") is None and page.evaluate("window.__csp") == [] and not away
    assert not page.problems, page.problems

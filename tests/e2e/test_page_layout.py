"""Layout that holds: every main page, at a laptop's width and a phone's, keeps its content inside
the viewport (wide tables scroll in their own box) and never squeezes a text column below twelve
characters (the area page's properties once wrapped one character per line)."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from civmil.core import registry
from civmil.core.choices import Component, Level
from civmil.core.kernel import planting
from tests.e2e.conftest import describe
from tests.factories import make_member

WIDTHS = (1366, 390)

#: In the page: the elements of <main> that reach past the viewport outside a box that scrolls or
#: clips them, and the text cells narrower than twelve characters of their own font.
MEASURE = """() => {
  const width = document.documentElement.clientWidth;
  const clipped = (el) => {
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      const x = getComputedStyle(a).overflowX;
      if (x === "auto" || x === "scroll" || x === "hidden" || x === "clip") return true;
    }
    return false;
  };
  const visible = (el) => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  const name = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
    (el.className && typeof el.className === "string" ? "." + el.className.trim().split(/\\s+/).join(".") : "");
  const overflowing = [];
  for (const el of document.querySelectorAll("main *")) {
    if (!visible(el)) continue;
    const r = el.getBoundingClientRect();
    if ((r.right > width + 1 || r.left < -1) && !clipped(el)) {
      overflowing.push(`${name(el)} ${Math.round(r.left)}..${Math.round(r.right)}`);
    }
  }
  const canvas = document.createElement("canvas").getContext("2d");
  const narrow = [];
  for (const el of document.querySelectorAll("main td, main th, main dd, main dt, main p, main li, main label")) {
    if (!visible(el)) continue;
    const text = (el.innerText || "").trim();
    if (text.length < 12 || !/[A-Za-z]{4}/.test(text)) continue;  // short values may sit in narrow columns
    const style = getComputedStyle(el);
    if (style.display.startsWith("inline") && style.display !== "inline-block") continue;  // flows with its text
    canvas.font = style.font;
    // Twelve characters of the element's own font: the width of an average lower-case letter.
    const twelve = canvas.measureText("abcdefghijklmnopqrstuvwxyz").width / 26 * 12;
    const inner = el.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    // Squeezed: narrower than twelve characters, and so wrapping its text onto several lines.
    const line = parseFloat(style.lineHeight) || parseFloat(style.fontSize) * 1.5;
    const height = el.getBoundingClientRect().height - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom);
    if (inner + 0.5 < twelve && height > line * 1.5) {
      narrow.push(`${name(el)} ${Math.round(inner)}px < ${Math.round(twelve)}px: ${text.slice(0, 40)}`);
    }
  }
  return {scrollWidth: document.documentElement.scrollWidth, width, overflowing: overflowing.slice(0, 10),
          narrow: narrow.slice(0, 10)};
}"""


def _pages(member: Any) -> list[str]:
    """The list, a record page and the form of every registered record type, and the other main pages."""
    from civmil.actors.models import Area
    from civmil.actors.services import save_area

    area = save_area(None, Area(name="Northern Province", pcode="TL01", admin_level=1, source="Survey 2024"),
                     {"type": "Polygon", "coordinates": [[[30, 2], [34, 2], [34, 4], [30, 4], [30, 2]]]})
    urls = ["/", reverse("actors:index"), reverse("actors:areas"), reverse("actors:area", args=[area.pk]),
            reverse("actors:area-lookup") + "?location=not+a+place",
            reverse("actors:organisation", args=[member.org.pk]),
            reverse("comms:search") + "?q=water", reverse("comms:notifications"), reverse("core:tokens")]
    for record_type in registry.all_types():
        if not record_type.fields or not record_type.detail_url_name:
            continue
        record = planting.plant(record_type, member.actor, Level.MISSION,
                                {name: "Water point at the northern market" for name in record_type.marked_fields()})
        names = {"list": record_type.list_url, "new": f"{record_type.detail_url_name}-new"}
        if record_type.key == "actors.liaisonlogentry":
            names = {"list": "actors:liaison-log", "new": "actors:liaison-new"}
        urls += [reverse(names["list"]), reverse(record_type.detail_url_name, kwargs={"pk": record.pk}),
                 reverse(names["new"])]
    return urls


def _each_page(signed_in_page: Any, check: Any) -> list[dict[str, Any]]:
    """Sign a member in, open every page at each width, and gather what ``check(page)`` finds
    wrong there (a dict, empty when nothing is)."""
    member = make_member(Component.CIVILIAN)
    urls = _pages(member)
    page = signed_in_page(member)
    found = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        for url in urls:
            page.goto(url)
            page.wait_for_load_state("networkidle")
            wrong = check(page)
            if wrong:
                found.append({"width": width, "page": url, **wrong})
    return found


def _layout_problems(page: Any) -> dict[str, Any]:
    measured = page.evaluate(MEASURE)
    wrong = measured["scrollWidth"] > measured["width"] + 1 or measured["overflowing"] or measured["narrow"]
    return measured if wrong else {}


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_main_pages_fit_a_laptop_and_a_phone(signed_in_page: Any) -> None:
    problems = _each_page(signed_in_page, _layout_problems)
    assert not problems, describe(problems)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_main_pages_have_no_serious_accessibility_violation_at_either_width(signed_in_page: Any, axe: Any) -> None:
    """axe-core on the same pages, with their widgets (pickers, maps, history tables) in place."""
    found = _each_page(signed_in_page, lambda page: {"violations": v} if (v := axe(page)) else {})
    assert not found, describe(found)

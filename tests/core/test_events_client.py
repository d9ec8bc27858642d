"""The live-events client (static/civmil/js/live.js) in a real Chromium, against a scripted socket.

The page and its row fragments are served by Playwright routes; ``WebSocket`` is replaced by a
stand-in the test drives (open, message, close), and the page clock is fake, so back-off delays
are checked without waiting for them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
LIVE_JS = Path(__file__).resolve().parents[2] / "src" / "civmil" / "static" / "civmil" / "js" / "live.js"
ORIGIN = "http://civmil.test"
STREAM = "actors.liaisonlogentry"
ZERO = "00000000-0000-0000-0000-000000000000"
CLOCK_START = 1_767_225_600_000  # 2026-01-01T00:00:00Z, in ms

FAKE_SOCKET = """
window.__sockets = [];
class ScriptedSocket extends EventTarget {
  constructor(url) { super(); this.url = url; this.readyState = 0; this.sent = []; window.__sockets.push(this); }
  send(data) { this.sent.push(JSON.parse(data)); }
  close() {}
  open() { this.readyState = 1; this.dispatchEvent(new Event("open")); }
  message(obj) { this.dispatchEvent(new MessageEvent("message", {data: JSON.stringify(obj)})); }
  shut(code) { this.readyState = 3; this.dispatchEvent(new CloseEvent("close", {code})); }
}
window.WebSocket = ScriptedSocket;
window.__live = [];
document.addEventListener("civmil:live", (e) => {
  window.__live.push({target: e.target.id, detail: e.detail});
  if (e.detail.object_id === "kept-by-the-page") { e.preventDefault(); }
});
"""


def page_html(after: str | None = "41", status: bool = False) -> str:
    after_attr = f' data-live-after="{after}"' if after is not None else ""
    status_el = '<p id="status" data-live-status hidden></p>' if status else ""
    return f"""<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>t</title></head><body><main>{status_el}
<div id="civmil-i18n" hidden data-live-offline="Hors ligne" data-live-signed-out="Déconnecté"
     data-live-actor-changed="Autre rôle" data-live-too-many="Trop de pages" data-live-reload="Recharger"></div>
<table><tbody id="log" data-live-stream="{STREAM}"{after_attr} data-live-seen="signed-token"
       data-live-row-url-template="/directory/liaison/{ZERO}/row/">
  <tr data-live-id="rendered-row"><td>rendered</td></tr>
  <tr data-live-id="kept-by-the-page"><td>kept</td></tr>
</tbody></table>
<script type="module" src="/static/civmil/js/live.js"></script></main></body></html>"""


class Site:
    def __init__(self) -> None:
        self.html = page_html()
        self.row_requests: list[dict[str, str]] = []
        #: Row ids the server answers 204 for (outside the page's filters).
        self.filtered_out: set[str] = set()


@pytest.fixture
def live_page(browser: Any) -> Iterator[tuple[Any, Site]]:
    site = Site()
    context = browser.new_context()
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    def serve(route: Any) -> None:
        path = route.request.url[len(ORIGIN):]
        if path == "/static/civmil/js/live.js":
            route.fulfill(body=LIVE_JS.read_text(encoding="utf-8"), content_type="text/javascript")
        elif path.startswith("/directory/liaison/") and path.endswith("/row/"):
            object_id = path.split("/")[3]
            site.row_requests.append({"id": object_id, "hx": route.request.headers.get("hx-request", "")})
            if object_id == "hidden-now":
                route.fulfill(status=404, body="Not found", content_type="text/html")
            elif object_id == "not-html":  # what a server error page or a proxy could answer
                route.fulfill(body=f'<tr data-live-id="{object_id}"><td><img src=x></td></tr>',
                              content_type="text/plain")
            elif object_id in site.filtered_out:
                route.fulfill(status=204, body="")
            else:
                route.fulfill(body=f'<tr data-live-id="{object_id}"><td>row {object_id}</td></tr>',
                              content_type="text/html")
        else:
            route.fulfill(body=site.html, content_type="text/html")

    page.route(f"{ORIGIN}/**", serve)
    page.add_init_script(FAKE_SOCKET)
    # The page's timers run only when a test advances the clock (run_for), never on their own: on a
    # busy machine a real second may pass between two steps of a test.
    page.clock.install(time=CLOCK_START)
    page.clock.pause_at(CLOCK_START + 1000)
    yield page, site
    assert not errors, errors
    page.unroute_all(behavior="ignoreErrors")
    context.close()


def until(page: Any, expression: str, timeout: float = 10.0) -> None:
    """Wait for a JavaScript condition, polling from here (the fake clock stops the page's timers)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout} s: {expression}")
        time.sleep(0.02)


def sockets(page: Any) -> int:
    return int(page.evaluate("window.__sockets.length"))


def socket(page: Any, index: int = -1) -> Any:
    return SocketHandle(page, index)


class SocketHandle:
    def __init__(self, page: Any, index: int) -> None:
        self.page, self.index = page, index

    def _call(self, method: str, arg: Any = None) -> Any:
        return self.page.evaluate(
            f"([i, a]) => window.__sockets.at(i).{method}(a)", [self.index, arg])

    def open(self) -> None:
        self._call("open")

    def message(self, frame: dict[str, Any]) -> None:
        self._call("message", frame)

    def shut(self, code: int) -> None:
        self._call("shut", code)

    @property
    def sent(self) -> list[dict[str, Any]]:
        sent: list[dict[str, Any]] = self.page.evaluate("(i) => window.__sockets.at(i).sent", self.index)
        return sent

    @property
    def url(self) -> str:
        return str(self.page.evaluate("(i) => window.__sockets.at(i).url", self.index))


def event(event_id: int, object_id: str, kind: str = "liaison.recorded") -> dict[str, Any]:
    return {"type": "event", "id": event_id, "kind": kind, "object_type": STREAM, "object_id": object_id,
            "reduced": False, "view": {"summary": "s"}}


def stored_id(page: Any) -> str | None:
    value: str | None = page.evaluate(f"sessionStorage.getItem('civmil.live.last.{STREAM}')")
    return value


def dispatched(page: Any) -> list[dict[str, Any]]:
    live: list[dict[str, Any]] = page.evaluate("window.__live")
    return live


def test_it_subscribes_to_the_page_streams_and_applies_events_and_removals(live_page: tuple[Any, Site]) -> None:
    page, site = live_page
    page.goto(f"{ORIGIN}/log/")
    until(page, "window.__sockets.length === 1")
    ws = socket(page)
    assert ws.url == "ws://civmil.test/ws/events/"
    ws.open()
    assert ws.sent == [{"type": "subscribe", "streams": [STREAM], "after": 41, "seen": ["signed-token"]}]
    ws.message({"type": "subscribed", "streams": [STREAM]})

    ws.message(event(42, "new-row"))
    until(page, "document.querySelector('#log tr[data-live-id=\"new-row\"]') !== null")
    assert page.locator("#log tr").first.get_attribute("data-live-id") == "new-row"  # newest first
    assert site.row_requests == [{"id": "new-row", "hx": "true"}]
    assert stored_id(page) == "42"
    assert dispatched(page)[-1] == {"target": "log", "detail": event(42, "new-row")}

    ws.message(event(42, "new-row"))  # the same event again (a replay overlap): ignored
    assert len(dispatched(page)) == 1

    ws.message(event(43, "new-row", kind="liaison.edited"))  # an edit replaces the row in place
    until(page, "document.querySelectorAll('#log tr[data-live-id=\"new-row\"]').length === 1 "
                           "&& window.__live.length === 2")
    for _ in range(250):  # the row's fetch may still be on its way to the route handler
        if len(site.row_requests) == 2:
            break
        page.wait_for_timeout(20)
    assert len(site.row_requests) == 2

    ws.message({"type": "removed", "id": 44, "object_type": STREAM, "object_id": "rendered-row"})
    until(page, "document.querySelector('tr[data-live-id=\"rendered-row\"]') === null")
    assert dispatched(page)[-1]["detail"]["type"] == "removed"
    assert stored_id(page) == "44"

    ws.message(event(45, "hidden-now"))  # the row URL answers 404: the reader may no longer see it
    until(page, "window.__live.length === 4")
    assert page.locator('tr[data-live-id="hidden-now"]').count() == 0

    ws.message(event(46, "kept-by-the-page"))  # a listener called preventDefault(): no refresh
    until(page, "window.__live.length === 5")
    assert all(r["id"] != "kept-by-the-page" for r in site.row_requests)

    site.filtered_out.add("new-row")  # edited so that it no longer matches the page's filters: 204
    ws.message(event(47, "new-row", kind="liaison.edited"))
    until(page, "document.querySelector('tr[data-live-id=\"new-row\"]') === null")
    assert page.locator('tr[data-live-id="kept-by-the-page"]').count() == 1


def test_only_html_rendered_by_the_server_is_inserted_as_a_row(live_page: tuple[Any, Site]) -> None:
    page, site = live_page
    page.goto(f"{ORIGIN}/log/")
    until(page, "window.__sockets.length === 1")
    ws = socket(page)
    ws.open()
    ws.message({"type": "subscribed", "streams": [STREAM]})
    ws.message(event(42, "not-html"))
    for _ in range(250):
        if site.row_requests:
            break
        page.wait_for_timeout(20)
    page.wait_for_timeout(200)
    assert site.row_requests and page.locator('tr[data-live-id="not-html"]').count() == 0
    assert page.locator("img").count() == 0
    ws.message(event(43, "new-row"))  # an HTML row still comes in
    until(page, "document.querySelector('#log tr[data-live-id=\"new-row\"]') !== null")


def test_it_shows_that_it_is_offline_and_reconnects_with_backoff_from_the_last_id(
        live_page: tuple[Any, Site]) -> None:
    page, _site = live_page
    page.goto(f"{ORIGIN}/log/")
    until(page, "window.__sockets.length === 1")
    ws = socket(page)
    ws.open()
    ws.message({"type": "subscribed", "streams": [STREAM]})
    ws.message({"type": "removed", "id": 50, "object_type": STREAM, "object_id": "rendered-row"})
    ws.shut(1006)
    status = page.locator("[data-live-status]")
    assert status.get_attribute("role") == "status"
    assert status.is_visible() and "Hors ligne" in status.inner_text()
    page.clock.run_for(400)
    assert sockets(page) == 1  # the first retry waits between 0.5 and 1 s
    page.clock.run_for(700)
    assert sockets(page) == 2
    retry = socket(page)
    retry.shut(1006)  # still down: the next wait is longer
    page.clock.run_for(900)
    assert sockets(page) == 2
    page.clock.run_for(1200)
    assert sockets(page) == 3
    again = socket(page)
    again.open()
    assert again.sent[-1]["after"] == 50  # resumes after the last id it received
    again.message({"type": "subscribed", "streams": [STREAM]})
    assert status.is_hidden()


def test_signed_out_stops_reconnecting_and_says_why(live_page: tuple[Any, Site]) -> None:
    page, site = live_page
    site.html = page_html(status=True)
    page.goto(f"{ORIGIN}/log/")
    until(page, "window.__sockets.length === 1")
    ws = socket(page)
    ws.open()
    ws.shut(4401)
    status = page.locator("#status")
    assert status.is_visible() and "Déconnecté" in status.inner_text()
    assert status.get_by_role("button", name="Recharger").is_visible()
    page.clock.run_for(120_000)
    assert sockets(page) == 1


def test_closed_as_the_oldest_of_too_many_pages_it_stays_closed_and_offers_a_reload(
        live_page: tuple[Any, Site]) -> None:
    page, site = live_page
    site.html = page_html(status=True)
    page.goto(f"{ORIGIN}/log/")
    until(page, "window.__sockets.length === 1")
    ws = socket(page)
    ws.open()
    ws.message({"type": "subscribed", "streams": [STREAM]})
    ws.shut(4429)
    status = page.locator("#status")
    assert status.is_visible() and "Trop de pages" in status.inner_text()
    assert status.get_by_role("button", name="Recharger").is_visible()
    # Reconnecting would close another page of the session, which would reconnect in turn.
    page.clock.run_for(120_000)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    assert sockets(page) == 1


def test_another_membership_reopens_at_once_and_the_page_says_what_it_shows_is_stale(
        live_page: tuple[Any, Site]) -> None:
    page, site = live_page
    site.html = page_html(status=True)
    page.goto(f"{ORIGIN}/log/")
    until(page, "window.__sockets.length === 1")
    ws = socket(page)
    ws.open()
    ws.message({"type": "subscribed", "streams": [STREAM]})
    ws.shut(4409)
    assert sockets(page) == 2  # reopened at once, under the membership the session now acts for
    again = socket(page)
    again.open()
    assert again.sent[-1]["type"] == "subscribe"
    again.message({"type": "subscribed", "streams": [STREAM]})
    # The rows were rendered for the former membership and this list has no refresh URL: the page
    # keeps saying so (and offers to reload) even though the connection is back.
    status = page.locator("#status")
    assert status.is_visible() and "Autre rôle" in status.inner_text()
    assert status.get_by_role("button", name="Recharger").is_visible()
    again.message(event(60, "new-row"))
    until(page, "document.querySelector('#log tr[data-live-id=\"new-row\"]') !== null")


def test_without_a_page_id_it_resumes_from_the_id_kept_for_the_tab(live_page: tuple[Any, Site]) -> None:
    page, site = live_page
    page.goto(f"{ORIGIN}/log/")
    until(page, "window.__sockets.length === 1")
    ws = socket(page)
    ws.open()
    ws.message({"type": "reset", "last_id": 7})  # a resume point from the future was corrected
    assert stored_id(page) == "7"
    site.html = page_html(after=None)
    page.goto(f"{ORIGIN}/log/other")
    until(page, "window.__sockets.length === 1")
    ws = socket(page)
    ws.open()
    assert ws.sent[0]["after"] == 7


def test_reload_without_a_refresh_url_offers_to_reload_the_page(live_page: tuple[Any, Site]) -> None:
    page, _site = live_page
    page.goto(f"{ORIGIN}/log/")
    until(page, "window.__sockets.length === 1")
    ws = socket(page)
    ws.open()
    ws.message({"type": "reload", "last_id": 900})
    assert stored_id(page) == "900"
    assert page.locator("[data-live-status]").get_by_role("button").is_visible()


def test_backoff_grows_with_jitter_and_is_capped(live_page: tuple[Any, Site]) -> None:
    page, _site = live_page
    page.goto(f"{ORIGIN}/log/")
    delays = page.evaluate("""async () => {
        const {backoffDelay} = await import("/static/civmil/js/live.js");
        return [0, 1, 2, 3, 10, 40].map((n) => [backoffDelay(n, () => 0), backoffDelay(n, () => 0.999999)]);
    }""")
    assert [low for low, _ in delays] == [500, 1000, 2000, 4000, 15000, 15000]
    assert [high for _, high in delays] == [1000, 2000, 4000, 8000, 30000, 30000]


def notice_page() -> str:
    return """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>t</title></head><body><main>
<span id="badge" data-live-notice="notifications">3</span><span id="other" data-live-notice="other">x</span>
<script>window.__notices = [];
document.addEventListener("civmil:notice", (e) => window.__notices.push([e.target.id, e.detail.topic]));</script>
<script type="module" src="/static/civmil/js/live.js"></script></main></body></html>"""


def test_a_page_without_streams_follows_its_notices_and_refreshes_them_after_a_drop(
        live_page: tuple[Any, Site]) -> None:
    page, site = live_page
    site.html = notice_page()
    page.goto(f"{ORIGIN}/any/")
    until(page, "window.__sockets.length === 1")
    ws = socket(page)
    ws.open()
    assert ws.sent == []  # nothing to subscribe to
    assert page.evaluate("window.__notices") == []  # the page was just rendered: nothing to fetch
    ws.message({"type": "notice", "topic": "notifications"})
    until(page, "window.__notices.length === 1")
    assert page.evaluate("window.__notices") == [["badge", "notifications"]]
    ws.shut(1006)  # dropped: a notice may be lost, so each element refreshes once it is back
    page.clock.run_for(1100)
    socket(page).open()
    until(page, "window.__notices.length === 3")
    assert sorted(map(tuple, page.evaluate("window.__notices")[1:])) == [("badge", "notifications"),
                                                                         ("other", "other")]

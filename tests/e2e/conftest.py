"""Browser fixtures: Playwright (sync API) driving the system Chromium against pytest-django's live server.

- ``page``: a fresh browser page that records console errors, page errors and failed requests
  (``page.problems``); tests assert it stays empty.
- ``signed_in_page(member)``: signs a test member in through the real sign-in form.
- ``axe(page)``: runs axe-core in the page and returns the serious and critical violations.

The live server serves static files through the staticfiles finders (tests/conftest.py stores
them without hashed names, so no ``collectstatic`` is needed).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import CHROMIUM, CHROMIUM_ARGS  # noqa: F401 - re-exported for the tests

AXE_JS = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
TIMEOUT_MS = 15_000


class Problems(list[str]):
    """What went wrong in the page: console errors, uncaught exceptions, failed requests."""


@pytest.fixture
def page(browser: Any, asgi_server: str) -> Iterator[Any]:
    """A browser page on the ASGI server (every signed-in page holds a live connection)."""
    context = browser.new_context(base_url=asgi_server, locale="en-GB")
    context.set_default_timeout(TIMEOUT_MS)
    pg = context.new_page()
    problems = Problems()
    pg.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
    pg.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    # ERR_ABORTED is a request the page itself gave up, e.g. by navigating away.
    pg.on("requestfailed", lambda req: problems.append(f"request failed: {req.url} {req.failure}")
          if "ERR_ABORTED" not in (req.failure or "") else None)
    pg.on("response", lambda resp: problems.append(f"HTTP {resp.status}: {resp.url}") if resp.status >= 400 else None)
    pg.problems = problems
    yield pg
    # Requests still in flight (a map fetching its layers after "load") would reach the live server
    # while the database is being emptied for the next test: let the page go quiet first.
    pg.wait_for_load_state("networkidle")
    pg.unroute_all(behavior="wait")
    context.close()


@pytest.fixture
def signed_in_page(page: Any) -> Callable[[Any], Any]:
    """``signed_in_page(member)`` -> the page, signed in as that member through the sign-in form."""
    from tests.factories import PASSWORD

    def sign_in(member: Any) -> Any:
        page.goto("/accounts/login/")
        page.get_by_role("textbox", name="Login", exact=True).fill(member.user.username)
        page.get_by_role("textbox", name="Password", exact=True).fill(PASSWORD)
        page.locator("main form").get_by_role("button", name="Sign In").click()
        page.wait_for_url(lambda url: "/accounts/login/" not in url)
        return page

    return sign_in


def _axe_source() -> str:
    if not AXE_JS.exists():
        pytest.fail(f"{AXE_JS} is missing: run `npm ci` in the project root")
    return AXE_JS.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def axe() -> Callable[[Any], list[dict[str, Any]]]:
    """``axe(page)`` -> the serious and critical axe-core violations of the page as it is now."""
    source = _axe_source()

    def run(pg: Any) -> list[dict[str, Any]]:
        # Injected through the DevTools protocol (a function body), not a <script>: a strict CSP stays on.
        pg.evaluate("() => {" + source + "\n}")
        result = pg.evaluate(
            """async () => {
                const r = await window.axe.run(document, {resultTypes: ["violations"]});
                return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                               nodes: v.nodes.map(n => n.target.join(" ")).slice(0, 5)}));
            }"""
        )
        return [v for v in result if v["impact"] in ("serious", "critical")]

    return run


def describe(violations: list[dict[str, Any]]) -> str:
    return json.dumps(violations, indent=2)


@pytest.fixture
def asgi_server(transactional_db: Any) -> Iterator[str]:
    """The ASGI application (HTTP and WebSockets) served by uvicorn in a thread, on the test
    database: what `civmil serve` runs, for tests that need live updates."""
    import socket
    import threading
    import time

    import uvicorn

    from civmil.config.asgi import application

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(application, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the ASGI test server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)

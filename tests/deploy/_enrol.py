"""Run by tests/deploy/test_guide.py in a child process (its own Playwright, apart from the suite's
shared browser): a first administrator signs in through nginx over HTTPS and enrols TOTP in
Chromium, then opens the home page. Prints one JSON line: what the browser saw.

The TOTP code is computed with allauth's own helpers, the deployment's settings loaded from its
environment. Arguments: base URL (https://civmil.mission.example:PORT), username, password. Chromium resolves
the mission's name to 127.0.0.1 (--host-resolver-rules), as the mission's DNS would. It is not
given the internal CA (the test's own HTTPS client checks the chain against it), so certificate
errors are ignored here.
"""

from __future__ import annotations

import json
import sys
import time
from urllib.parse import urlsplit

import django

django.setup()  # allauth's TOTP helpers read the settings (the deployment's environment)

from allauth.mfa import app_settings as totp_settings  # noqa: E402
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from tests.browser import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

TIMEOUT_MS = 20_000


def code(secret: str) -> str:
    return format_hotp_value(hotp_value(secret, int(time.time()) // totp_settings.TOTP_PERIOD))


def main(base: str, username: str, password: str) -> dict[str, object]:
    host = urlsplit(base).hostname
    seen: dict[str, object] = {"pages": [], "problems": [], "responses": []}
    problems: list[str] = seen["problems"]  # type: ignore[assignment]
    responses: list[str] = seen["responses"]  # type: ignore[assignment]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=[*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {host} 127.0.0.1"])
        context = browser.new_context(base_url=base, locale="en-GB", ignore_https_errors=True)
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
        page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url} {r.failure}")
                if "ERR_ABORTED" not in (r.failure or "") else None)
        page.on("response", lambda r: responses.append(f"{r.status} {r.url}"))
        pages: list[str] = seen["pages"]  # type: ignore[assignment]

        page.goto("/")
        page.wait_for_url(lambda url: "/accounts/login/" in url)
        pages.append(page.url)
        page.get_by_role("textbox", name="Login", exact=True).fill(username)
        page.get_by_role("textbox", name="Password", exact=True).fill(password)
        page.locator("main form").get_by_role("button", name="Sign In").click()
        page.wait_for_url(lambda url: "/accounts/login/" not in url)
        pages.append(page.url)
        if "reauthenticate" in page.url:  # allauth asks for the password once more before a new factor
            page.get_by_role("textbox", name="Password", exact=True).fill(password)
            page.locator("main form button[type=submit]").first.click()
            page.wait_for_url(lambda url: "/2fa/totp/activate" in url)
            pages.append(page.url)
        secret = page.locator("#authenticator_secret").input_value()
        seen["secret_fields"] = page.locator("#authenticator_secret").count()  # 1: the page is not nested
        page.get_by_role("textbox", name="Authenticator code").fill(code(secret))
        page.locator("main form button[type=submit]").first.click()
        page.wait_for_url(lambda url: "/2fa/totp/activate" not in url)
        pages.append(page.url)
        page.goto("/")
        page.wait_for_load_state("networkidle")
        pages.append(page.url)
        seen["notifications"] = page.locator("header").get_by_text("Notifications").count()
        cookies = {c["name"]: c["value"] for c in context.cookies()}
        seen["cookies"] = cookies
        context.close()
        browser.close()
    return seen


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:4])))

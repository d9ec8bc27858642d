"""Content-Security-Policy: every page carries it, and no template needs inline script to work."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

import civmil

SRC = Path(civmil.__file__).resolve().parent
TAG = re.compile(r"<([a-zA-Z][\w:-]*)((?:[^<>\"']|\"[^\"]*\"|'[^']*')*)>", re.DOTALL)
HANDLER = re.compile(r"(?:^|[\s\"'])on[a-z]+\s*=", re.IGNORECASE)
SCRIPT_SRC = re.compile(r"(?:^|\s)src\s*=", re.IGNORECASE)
JSON_TYPE = re.compile(r"""(?:^|\s)type\s*=\s*["']?application/(?:ld\+)?json["']?""", re.IGNORECASE)
JS_URL = re.compile(r"""(?:href|src|action)\s*=\s*["']?\s*javascript:""", re.IGNORECASE)


def directives(header: str) -> dict[str, list[str]]:
    parsed: dict[str, list[str]] = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            parsed[words[0]] = words[1:]
    return parsed


def problems(text: str) -> list[str]:
    """Inline scripts (no ``src``, not a JSON data block), ``on*=`` handlers and ``javascript:`` URLs."""
    found = []
    for match in TAG.finditer(text):
        name, attrs = match.group(1).lower(), match.group(2) or ""
        if name == "script" and not SCRIPT_SRC.search(attrs) and not JSON_TYPE.search(attrs):
            found.append(f"inline <script{attrs}>")
        if HANDLER.search(attrs):
            found.append(f"event handler in <{name}{attrs}>")
        if JS_URL.search(attrs):
            found.append(f"javascript: URL in <{name}{attrs}>")
    return found


def all_templates() -> list[Path]:
    return sorted(p for p in SRC.glob("**/templates/**/*") if p.is_file() and p.suffix in {".html", ".htm", ".svg"})


def test_the_scanner_catches_what_the_policy_would_block() -> None:
    assert problems('<script>alert(1)</script>')
    assert problems('<script type="text/javascript">x()</script>')
    assert problems('<button class="btn" onclick="go()">')
    assert problems('<body\n  onload="init()">')
    assert problems('<a href="javascript:void(0)">')
    assert not problems('<script src="{% static \'civmil/js/map.js\' %}" type="module"></script>')
    assert not problems('<script id="data" type="application/json">{"a": 1}</script>')
    assert not problems('<p class="notice">Conditions apply</p><input data-online="1" name="onward">')


def test_no_template_has_inline_script_or_event_handlers() -> None:
    templates = all_templates()
    assert len(templates) > 20  # the scan really reads the project's templates
    offenders = {str(p.relative_to(SRC)): found for p in templates if (found := problems(p.read_text("utf-8")))}
    assert offenders == {}


@pytest.fixture
def signed_in(member: Any, client: Client, settings: Any) -> Client:
    settings.CIVMIL_MFA_REQUIRED = False
    client.force_login(member().user)
    return client


def test_pages_carry_a_policy_without_inline_script(client: Client, db: None) -> None:
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    header = response.get("Content-Security-Policy")
    assert header, "the Content-Security-Policy header is missing"
    policy = directives(header)
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["img-src"] == ["'self'"]
    assert "'self'" in policy["connect-src"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert "'unsafe-inline'" not in header and "'unsafe-eval'" not in header


@pytest.mark.parametrize("path", ["/", "/core/tokens/", "/directory/", "/api/v1/me", "/no-such-page/"])
def test_every_kind_of_answer_carries_the_policy(signed_in: Client, path: str) -> None:
    response = signed_in.get(path)
    assert "frame-ancestors 'none'" in response.get("Content-Security-Policy", "")


def test_rendered_pages_have_no_inline_script(signed_in: Client) -> None:
    for path in ("/", "/core/tokens/", "/core/tokens/new/", "/directory/"):
        response = signed_in.get(path)
        assert response.status_code == 200
        assert problems(response.content.decode()) == [], path

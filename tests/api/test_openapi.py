"""The published OpenAPI document matches the real endpoints, and the docs page works offline."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import pytest
import schemathesis
from django.urls import URLPattern, URLResolver, get_resolver, resolve

from civmil.actors.records import LIAISON_LEVELS
from civmil.actors.schemas import LiaisonLevel
from tests.api.conftest import API

pytestmark = pytest.mark.django_db

#: URL names under /api/v1/ that are not API operations.
NOT_OPERATIONS = {"openapi-json", "openapi-view", "api-root", "not-found"}


def _document(anonymous: Any) -> dict[str, Any]:
    r = anonymous.get("/openapi.json")
    assert r.status_code == 200 and r["Content-Type"].startswith("application/json")
    doc: dict[str, Any] = r.json()
    return doc


def _api_routes() -> set[str]:
    """Every route of the URLconf under /api/v1/, as an OpenAPI path template."""
    found: set[str] = set()

    def walk(patterns: list[Any], prefix: str) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern) and p.name not in NOT_OPERATIONS:
                route = "/" + prefix + str(p.pattern)
                if route.startswith(f"{API}/"):
                    found.add(re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route))

    walk(get_resolver().url_patterns, "")
    return found


def test_the_document_is_valid_openapi(anonymous) -> None:
    doc = _document(anonymous)
    assert doc["openapi"].startswith("3.")
    schemathesis.openapi.from_dict(doc).validate()


def test_every_api_route_is_documented_and_every_documented_path_is_routed(anonymous) -> None:
    documented = set(_document(anonymous)["paths"])
    routes = _api_routes()
    assert routes, "no API routes found in the URLconf"
    assert routes == documented
    for path in documented:
        concrete = re.sub(r"\{[^}]+\}", "00000000-0000-4000-8000-000000000000", path)
        assert resolve(concrete).url_name not in NOT_OPERATIONS, path


def test_every_operation_has_its_own_id(anonymous) -> None:
    """Clients generated from the document name each operation by its id: the kernel's routers,
    one per record type, must not share them."""
    ids = [op["operationId"] for item in _document(anonymous)["paths"].values() for op in item.values()]
    assert len(ids) > 30 and len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)


def test_every_operation_documents_its_errors(anonymous) -> None:
    doc = _document(anonymous)
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            for status in ("401", "422"):
                response = operation["responses"][status]
                ref = response["content"]["application/json"]["schema"]["$ref"]
                assert ref == "#/components/schemas/ErrorOut", (method, path, status)
            assert operation["security"], (method, path)
    assert doc["paths"][f"{API}/liaison-log/{{entry_id}}"]["put"]["responses"]["409"]["content"][
        "application/json"]["schema"]["$ref"] == "#/components/schemas/LiaisonStaleOut"
    stale = doc["components"]["schemas"]["LiaisonStaleOut"]
    assert {"detail", "errors", "current_version", "differences"} <= set(stale["required"])


def test_withheld_fields_are_optional_in_the_document(anonymous) -> None:
    schemas = _document(anonymous)["components"]["schemas"]
    entry = schemas["LiaisonEntryOut"]
    assert "summary" in entry["properties"] and "summary" not in entry["required"]
    assert {"id", "level", "owner", "view", "withheld", "may_edit"} <= set(entry["required"])
    person = schemas["PersonOut"]
    assert "email" in person["properties"] and "email" not in person["required"]
    assert "default" not in entry["properties"]["summary"]


def test_schema_enums_follow_the_registry() -> None:
    assert list(LiaisonLevel.__args__) == [str(level) for level in LIAISON_LEVELS]


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts: list[str] = []
        self.handlers: list[str] = []
        self._script_type: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.handlers += [name for name, _v in attrs if name.startswith("on")]
        for name in ("src", "href"):
            if values.get(name):
                self.urls.append(str(values[name]))
        if tag == "script":
            self._script_type = values.get("type") or "text/javascript" if not values.get("src") else None

    def handle_data(self, data: str) -> None:
        if self._script_type and self._script_type != "application/json" and data.strip():
            self.inline_scripts.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._script_type = None


def test_the_docs_page_works_offline(signed_in) -> None:
    from tests.factories import make_member

    api = signed_in(make_member())
    r = api.client.get(f"{API}/docs")
    assert r.status_code == 200
    page = _Assets()
    page.feed(r.content.decode())
    assert page.urls, "the docs page references no assets"
    assert not [u for u in page.urls if "//" in u], "the docs page must not load anything from another host"
    assert page.inline_scripts == [] and page.handlers == []
    for url in page.urls:
        asset = api.client.get(url)
        assert asset.status_code == 200, url
        body = b"".join(asset.streaming_content) if asset.streaming else asset.content
        asset.close()
        assert body, url
    assert any(u.endswith(".js") for u in page.urls) and any(u.endswith(".css") for u in page.urls)


def test_the_introduction_explains_tokens_as_well_as_sessions(anonymous) -> None:
    """Someone writing a script reads the docs page first: it must say how to get and send a token,
    link the page that makes one, and offer the bearer scheme to the Authorize button."""
    doc = _document(anonymous)
    intro = doc["info"]["description"]
    assert "Authorization: Bearer civmil_" in intro
    assert "](/core/tokens/)" in intro and "docs/api.md" in intro
    assert "X-CSRFToken" in intro  # sessions stay explained
    schemes = doc["components"]["securitySchemes"].values()
    assert {"type": "http", "scheme": "bearer"} in [{k: s[k] for k in ("type", "scheme") if k in s} for s in schemes]

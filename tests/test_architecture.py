"""The import rules of DESIGN.md: arrows point down, nothing points up."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "civmil"

DOMAIN = {"situation", "coordination", "deconfliction", "oversight", "training", "effectiveness"}
ALLOWED: dict[str, set[str] | None] = {
    "config": None,  # may import anything
    "demo": None,
    "effectiveness": None,
    "oversight": {"deconfliction", "coordination", "situation", "actors", "comms", "core", "interop"},
    "training": {"deconfliction", "coordination", "situation", "actors", "comms", "core", "interop"},
    "deconfliction": {"situation", "actors", "comms", "core", "interop"},
    "coordination": {"actors", "comms", "core", "interop"},
    "situation": {"actors", "comms", "core", "interop"},
    "actors": {"comms", "core", "interop"},
    "comms": {"core"},
    "core": set(),
    "interop": set(),
}


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "civmil" and len(parts) > 1:
                found.add(parts[1])
    return found


def test_apps_import_only_downwards() -> None:
    violations = []
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC).parts
        if len(rel) < 2:
            continue
        app = rel[0]
        allowed = ALLOWED.get(app, set())
        if allowed is None:
            continue
        for imported in _imports(path) - {app}:
            if imported not in allowed:
                violations.append(f"{path.relative_to(SRC)} imports civmil.{imported}")
    assert not violations, "\n".join(sorted(violations))


def test_every_app_has_a_rule() -> None:
    apps = {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert apps <= set(ALLOWED), apps - set(ALLOWED)


def test_the_rule_catches_an_upward_import(tmp_path: Path) -> None:
    module = tmp_path / "bad.py"
    module.write_text("from civmil.actors.models import Area\nimport civmil.comms\n")
    assert _imports(module) == {"actors", "comms"}

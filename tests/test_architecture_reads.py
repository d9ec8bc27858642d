"""One door for every read (DESIGN.md, "Services write, queries read").

Views, the API, admin classes, consumers, template tags, forms and commands never read a
registered protected model's manager themselves: they call their app's ``queries`` (or a
service), whose reads pass the access policy. This test walks those modules' syntax trees and
fails on any ``<ProtectedModel>.objects`` or ``<anything>._default_manager`` outside the
allow-list below, where each entry says why that read is safe. ``Model.objects.none()`` reads
nothing and is always allowed (a form field whose choices are set per reader).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from civmil.core import registry

SRC = Path(__file__).resolve().parents[1] / "src" / "civmil"

#: (module, enclosing function) -> why the read is safe. Keep it short; every entry is a door.
ALLOWED: dict[tuple[str, str], str] = {
    ("core/admin/base.py", "PolicyAdmin._limit_protected"):
        "generic admin choices: the queryset is passed through access.visible on the same line",
    ("core/management/commands/createuser.py", "Command.handle"):
        "the console operator acts in no membership (the policy's actor is None): finds the person by the "
        "e-mail the operator typed, to attach the new account",
    ("core/management/commands/erase_person.py", "Command.handle"):
        "the console operator names the person by id; the erasure itself needs a second person's approval "
        "with their password and second factor",
}


def _is_reader_module(rel: Path) -> bool:
    """The modules that present or take input: views, API, admin, consumers, template tags, forms, commands."""
    parts = rel.parts
    name = rel.name
    return (
        name.startswith(("views", "api", "admin", "consumers", "forms"))
        or any(p in {"views", "templatetags"} for p in parts[:-1])
        or ("management" in parts and "commands" in parts)
    )


def _protected_names() -> set[str]:
    return {t.model.__name__ for t in registry.all_types()}


class _Finder(ast.NodeVisitor):
    def __init__(self, protected: set[str]) -> None:
        self.protected = protected
        self.scope: list[str] = []
        self.found: list[tuple[str, int, str]] = []
        self._parents: dict[ast.AST, ast.AST] = {}

    def visit(self, node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            self._parents[child] = node
        super().visit(node)

    def _scoped(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        self.scope.append(node.name)
        self.generic_visit(node)
        self.scope.pop()

    visit_FunctionDef = _scoped
    visit_AsyncFunctionDef = _scoped
    visit_ClassDef = _scoped

    def visit_Attribute(self, node: ast.Attribute) -> None:
        manager = (node.attr == "_default_manager"
                   or (node.attr == "objects" and isinstance(node.value, ast.Name) and node.value.id in self.protected))
        if manager and not self._reads_nothing(node):
            self.found.append((".".join(self.scope), node.lineno, ast.unparse(node)))
        self.generic_visit(node)

    def _reads_nothing(self, node: ast.Attribute) -> bool:
        parent = self._parents.get(node)
        return isinstance(parent, ast.Attribute) and parent.attr == "none"


def _violations(path: Path, protected: set[str]) -> Iterator[tuple[str, str, int, str]]:
    finder = _Finder(protected)
    finder.visit(ast.parse(path.read_text(), str(path)))
    rel = str(path.relative_to(SRC))
    for scope, line, text in finder.found:
        if (rel, scope) not in ALLOWED:
            yield rel, scope, line, text


def test_presenting_code_reads_protected_records_only_through_queries_or_services() -> None:
    protected = _protected_names()
    assert {"Person", "LiaisonLogEntry", "LiaisonAssignment"} <= protected
    found = [v for path in sorted(SRC.rglob("*.py")) if _is_reader_module(path.relative_to(SRC))
             for v in _violations(path, protected)]
    assert not found, "\n".join(f"{rel}:{line} in {scope or '<module>'}: {text}" for rel, scope, line, text in found)


def test_every_allowed_door_still_exists_and_says_why() -> None:
    protected = _protected_names()
    for (rel, scope), reason in ALLOWED.items():
        assert len(reason) > 20, (rel, scope)
        finder = _Finder(protected)
        finder.visit(ast.parse((SRC / rel).read_text()))
        assert any(s == scope for s, _line, _text in finder.found), f"stale allow-list entry {rel} {scope}"


@pytest.mark.parametrize("source", [
    "def view(request):\n    return Person.objects.filter(pk=1).first()\n",
    "class A:\n    def get(self, model):\n        return model._default_manager.all()\n",
])
def test_the_rule_catches_a_direct_read(tmp_path: Path, source: str) -> None:
    finder = _Finder({"Person"})
    finder.visit(ast.parse(source))
    assert finder.found


def test_an_empty_choice_set_reads_nothing() -> None:
    finder = _Finder({"Person"})
    finder.visit(ast.parse("field = forms.ModelChoiceField(queryset=Person.objects.none())\n"))
    assert not finder.found

"""A server process freezes its long-lived objects once more after its first requests, once."""

from __future__ import annotations

import pytest

from civmil.core import memory


def test_the_warm_up_freeze_comes_once_after_the_first_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    frozen: list[int] = []
    monkeypatch.setattr(memory, "_requests", 0)
    monkeypatch.setattr(memory, "freeze", lambda: frozen.append(memory._requests))
    for _ in range(memory.WARM_UP_REQUESTS - 1):
        memory.request_finished()
    assert frozen == []
    for _ in range(memory.WARM_UP_REQUESTS * 2):
        memory.request_finished()
    assert frozen == [memory.WARM_UP_REQUESTS]

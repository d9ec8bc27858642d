"""The scale-out test and bench/live_hold.py count a server's error lines with stack.ERROR_LINE:
it must catch what a failing server writes, in the plain and the JSON log formats, and nothing a
healthy one writes."""

from __future__ import annotations

import pytest

from tests.scale.stack import ERROR_LINE


@pytest.mark.parametrize("line", [
    "2026-12-03T18:24:03.816+00:00 ERROR uvicorn.error [-] Exception in ASGI application",
    "ERROR:    Exception in ASGI application",
    "Traceback (most recent call last):",
    "redis.exceptions.TimeoutError: Timeout reading from 127.0.0.1:6379",
    "TimeoutError",
    '{"time": "2026-12-03T18:24:03Z", "level": "error", "logger": "civmil.core.live", "message": "x"}',
    '{"levelname": "CRITICAL", "message": "x"}',
])
def test_a_failure_is_an_error_line(line: str) -> None:
    assert ERROR_LINE.search(line)


@pytest.mark.parametrize("line", [
    "2026-12-03T18:41:31.134+00:00 INFO uvicorn.error [-] Started server process [12933]",
    '2026-12-03T18:41:37.893+00:00 INFO uvicorn.error [-] 127.0.0.1:60194 - "WebSocket /ws/events/" [accepted]',
    "INFO:     connection open",
    '{"level": "info", "logger": "uvicorn.error", "message": "connection closed"}',
    "civmil is serving at http://127.0.0.1:38121/ with 1 processes (Ctrl+C stops it).",
    "warning: civmil.W001: something to look at",
])
def test_a_healthy_server_writes_no_error_line(line: str) -> None:
    assert not ERROR_LINE.search(line)

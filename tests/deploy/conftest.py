"""Fixtures of the deployment tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.deploy.services import scratch_services


@pytest.fixture
def services() -> Iterator[tuple[str, str]]:
    """The database URL and Redis URL of a scratch deployment."""
    with scratch_services() as urls:
        yield urls

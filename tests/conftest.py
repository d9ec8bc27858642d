from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=40, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.register_profile("dev", max_examples=20, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


@pytest.fixture
def member(db):  # type: ignore[no-untyped-def]
    """Factory: ``member("humanitarian", role=...)`` -> a signed-in-able person with one membership."""
    from tests.factories import make_member

    return make_member


@pytest.fixture
def org(db):  # type: ignore[no-untyped-def]
    from tests.factories import make_org

    return make_org

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.demo.support import LoadedDemo, loaded_demo


@pytest.fixture(scope="package")
def demo(django_db_setup: Any, django_db_blocker: Any) -> Iterator[LoadedDemo]:
    """The demo mission, loaded once for the tests of this package (twice, to compare the loads).

    Package scope, not session scope: the demo is rolled back when the package's tests are done,
    so no test elsewhere ever sees it.
    """
    with loaded_demo(django_db_blocker, twice=True) as loaded:
        yield loaded

"""/health/live and /health/ready: what an operator's proxy and units ask before sending traffic."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from civmil.config.env import redis_channel_layer

pytestmark = pytest.mark.django_db


def test_live_answers_without_signing_in_and_is_never_cached() -> None:
    response = Client().get("/health/live")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert "no-store" in response["Cache-Control"]


def test_ready_answers_ok_when_every_check_passes() -> None:
    response = Client().get("/health/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok", "static": "ok",
                                                          "signing_key": "ok"}}


def _ready() -> tuple[int, dict[str, str]]:
    response = Client().get("/health/ready")
    return response.status_code, response.json()["checks"]


def test_an_unapplied_migration_makes_it_unready() -> None:
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM django_migrations WHERE app = 'core' AND name = '0011_approvals_and_windows'")
    status, checks = _ready()
    assert status == 503 and checks["database"] == "1 migration(s) not applied"


def test_an_unreachable_redis_makes_it_unready(settings: Any) -> None:
    settings.CHANNEL_LAYERS = {"default": redis_channel_layer("redis://127.0.0.1:1/0")}
    status, checks = _ready()
    assert status == 503 and checks["redis"] == "failed (ConnectionError)"
    assert checks["database"] == "ok"


def test_a_missing_static_manifest_makes_it_unready(settings: Any, tmp_path: Path) -> None:
    settings.STATIC_ROOT = str(tmp_path)
    settings.STORAGES = {**settings.STORAGES,
                         "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"}}
    status, checks = _ready()
    assert status == 503 and "collectstatic" in checks["static"]


def test_an_unreadable_signing_key_makes_it_unready_without_showing_it(settings: Any) -> None:
    settings.CIVMIL_LEDGER_SIGNING_KEY = "not-a-hex-seed-SECRETISH"
    status, checks = _ready()
    assert status == 503 and checks["signing_key"] == "failed (ImproperlyConfigured)"
    assert "SECRETISH" not in Client().get("/health/ready").content.decode()

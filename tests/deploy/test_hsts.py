"""HSTS preload is off in production unless the operator asks for it (CIVMIL_HSTS_PRELOAD=true):
a preloaded domain stays HTTPS-only in browsers long after a mission leaves it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

STRONG_KEY = "q8Vb3_Zt-Lm0pXw7RkYc2NfHdJ9sGa4TuE1oWiQy6BvCn5KrMzPe"


def _hsts(tmp_path: Path, **extra: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CIVMIL_", "DJANGO_"))}
    env.update(CIVMIL_ENV="production", SECRET_KEY=STRONG_KEY, CIVMIL_VAR_DIR=str(tmp_path),
               ALLOWED_HOSTS="civmil.mission.example", EMAIL_URL="smtp://127.0.0.1:25",
               CIVMIL_EMAIL_FROM="civmil <no-reply@mission.example>", DJANGO_SETTINGS_MODULE="civmil.config.settings",
               **extra)
    code = ("from django.conf import settings as s; "
            "print(s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_HSTS_PRELOAD)")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


def test_preload_is_off_by_default_and_on_when_asked(tmp_path: Path) -> None:
    assert _hsts(tmp_path) == "31536000 True False"
    assert _hsts(tmp_path, CIVMIL_HSTS_PRELOAD="true") == "31536000 True True"


def test_a_value_that_is_not_a_yes_or_no_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="CIVMIL_HSTS_PRELOAD: must be true or false"):
        _hsts(tmp_path, CIVMIL_HSTS_PRELOAD="maybe")

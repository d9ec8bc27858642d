"""One cache for all the processes of the site: limits on guessing passwords and codes, and the
TOTP codes already used, hold whichever process answers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from django.core.cache.backends.filebased import FileBasedCache


def _caches(tmp_path: Path, **extra: str) -> dict[str, dict[str, object]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CIVMIL_", "DJANGO_", "REDIS_URL"))}
    env.update(CIVMIL_VAR_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="civmil.config.settings", **extra)
    code = "import json; from django.conf import settings as s; print(json.dumps(s.CACHES))"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    caches: dict[str, dict[str, object]] = json.loads(done.stdout)
    return caches


def test_the_cache_is_redis_when_there_is_one_and_files_of_the_host_otherwise(tmp_path: Path) -> None:
    shared = _caches(tmp_path)["default"]
    assert shared["BACKEND"] == "django.core.cache.backends.filebased.FileBasedCache"
    assert shared["LOCATION"] == str(tmp_path / "cache")
    redis = _caches(tmp_path, REDIS_URL="redis://127.0.0.1:6379/3")["default"]
    assert redis["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    assert redis["LOCATION"] == "redis://127.0.0.1:6379/3"


def test_two_processes_on_one_host_count_the_same_failures(tmp_path: Path) -> None:
    """What one process writes (a failed sign-in counted by allauth), another reads."""
    first = FileBasedCache(str(tmp_path / "cache"), {})
    second = FileBasedCache(str(tmp_path / "cache"), {})
    first.set("allauth:rl:login_failed:key:victim", [1.0, 2.0, 3.0], 300)
    assert second.get("allauth:rl:login_failed:key:victim") == [1.0, 2.0, 3.0]

"""The wheel and sdist ``make dist`` makes, built once for the tests that need them.

Built with the same command as ``make dist`` (``python -m build``) into
``var/dist-test/<digest>/``, where the digest covers everything the build reads (the package's
sources, the build configuration, package-lock.json): a later session with the same sources
reuses the build. A file lock lets several xdist workers ask at once while one builds.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / "var" / "dist-test"
_SKIPPED_PARTS = {"__pycache__", "vendor"}


@dataclass(frozen=True)
class Built:
    wheel: Path
    sdist: Path


def _inputs() -> list[Path]:
    files = [ROOT / name for name in ("setup.py", "pyproject.toml", "MANIFEST.in", "package-lock.json", "README.md")]
    for path in sorted((ROOT / "src" / "civmil").rglob("*")):
        relative = path.relative_to(ROOT / "src" / "civmil")
        if path.is_file() and path.suffix not in (".mo", ".pyc") and not _SKIPPED_PARTS & set(relative.parts):
            files.append(path)
    files += [ROOT / "docs" / name for name in ("deploy.md", "operations.md", "backup.md", "upgrade.md",  # MANIFEST.in
                                                "basemap.md")]
    files += sorted(p for p in (ROOT / "docs" / "deploy").glob("*") if p.is_file())
    return files


def digest() -> str:
    h = hashlib.sha256()
    for path in _inputs():
        if path.exists():
            h.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def built() -> Built:
    """The wheel and sdist of the current sources, built now unless an identical build exists."""
    CACHE.mkdir(parents=True, exist_ok=True)
    key = digest()
    out = CACHE / key
    with (CACHE / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not (out / ".complete").exists():
                for old in CACHE.iterdir():
                    if old.is_dir():
                        shutil.rmtree(old, ignore_errors=True)
                done = subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
                                      capture_output=True, text=True, timeout=600, check=False)
                assert done.returncode == 0, f"python -m build failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
                (out / ".complete").touch()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    wheels, sdists = sorted(out.glob("civmil-*.whl")), sorted(out.glob("civmil-*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, f"expected one wheel and one sdist in {out}"
    return Built(wheel=wheels[0], sdist=sdists[0])

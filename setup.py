"""civmil's build steps; the project itself is described in pyproject.toml.

A wheel or sdist of civmil must run on a server with no Node and no source tree, so before
setuptools collects the package files (``build_py``) or the sdist's files (``sdist``):

- the distributed folders of the front-end libraries (``VENDOR_ASSETS`` in
  src/civmil/config/vendor.py) are copied from ``node_modules`` (run ``npm ci`` first) into
  ``src/civmil/vendor/`` (gitignored). An unpacked sdist has no node_modules but carries the copy;
- each ``.po`` catalogue under src/civmil is compiled into its ``.mo`` (GNU ``msgfmt``, from
  Debian's ``gettext`` package) when the ``.mo`` is missing or older. An sdist carries the ``.mo``
  files, so building a wheel from it needs no ``msgfmt``.

An editable install (``pip install -e .``, used by ``make run`` and ``make test``) skips both:
settings read node_modules directly there, and ``make messages`` compiles the catalogues.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

ROOT = Path(__file__).resolve().parent
PACKAGE = ROOT / "src" / "civmil"


def _vendor_module():  # type: ignore[no-untyped-def]
    """civmil.config.vendor, loaded by path (its package imports Django, not installed here)."""
    spec = importlib.util.spec_from_file_location("_civmil_vendor", PACKAGE / "config" / "vendor.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and annotations look the module up by name
    spec.loader.exec_module(module)
    return module


def copy_vendor_assets() -> None:
    vendor = _vendor_module()
    node_modules, packaged = ROOT / "node_modules", PACKAGE / "vendor"
    missing = []
    for dist in vendor.VENDOR_ASSETS:
        source, target = node_modules / dist, packaged / dist
        if source.is_dir():
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(source, target)
        elif not target.is_dir():
            missing.append(dist)
    if missing:
        raise SystemExit(f"civmil build: the front-end files {', '.join(missing)} are missing from {node_modules}; "
                         "run `npm ci` in the project root first (Node is needed on the build machine only).")


def compile_catalogues() -> None:
    for po in sorted(PACKAGE.rglob("*.po")):
        mo = po.with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        msgfmt = shutil.which("msgfmt")
        if msgfmt is None:
            raise SystemExit(f"civmil build: {po.relative_to(ROOT)} needs compiling and `msgfmt` is not installed "
                             "(Debian: apt install gettext).")
        done = subprocess.run([msgfmt, "--check-format", "-o", str(mo), str(po)],  # noqa: S603
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"civmil build: msgfmt refused {po.relative_to(ROOT)}:\n{done.stderr}")


def prepare() -> None:
    copy_vendor_assets()
    compile_catalogues()


class BuildPy(build_py):
    def run(self) -> None:
        if not getattr(self, "editable_mode", False):
            prepare()
        super().run()


class Sdist(sdist):
    def run(self) -> None:
        prepare()
        super().run()


setup(cmdclass={"build_py": BuildPy, "sdist": Sdist})

"""The wheel and sdist of ``make dist`` carry what a server without Node or a source tree needs:
the front-end libraries' files and the compiled French catalogue; and settings find those files
inside the installed package when there is no node_modules.

Built once (tests/deploy/build.py); installing the wheel and serving it is tests/deploy/test_guide.py.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

from civmil.config import vendor
from tests.deploy.build import ROOT, Built, built

NODE_MODULES = ROOT / "node_modules"
CATALOGUES = sorted((ROOT / "src" / "civmil").rglob("*.po"))


@pytest.fixture(scope="module")
def dist() -> Built:
    if not NODE_MODULES.is_dir():
        pytest.fail(f"{NODE_MODULES} is missing: run `npm ci` (make dev-install does)")
    return built()


def _vendor_files(dist_folder: str) -> set[str]:
    base = NODE_MODULES / dist_folder
    return {str(p.relative_to(base)) for p in base.rglob("*") if p.is_file()}


def _wheel_names(dist: Built) -> set[str]:
    with zipfile.ZipFile(dist.wheel) as wheel:
        return set(wheel.namelist())


def _sdist_names(dist: Built) -> set[str]:
    with tarfile.open(dist.sdist) as sdist:
        top = sdist.getnames()[0].split("/")[0]
        return {name.removeprefix(f"{top}/") for name in sdist.getnames() if sdist.getmember(name).isfile()}


def test_the_wheel_carries_every_front_end_folder_file_for_file(dist: Built) -> None:
    names = _wheel_names(dist)
    for folder in vendor.VENDOR_ASSETS:
        expected = {f"civmil/vendor/{folder}/{f}" for f in _vendor_files(folder)}
        assert expected, f"node_modules/{folder} is empty"
        assert expected <= names, f"missing from the wheel: {sorted(expected - names)[:5]}"
    served = tuple(f"civmil/vendor/{folder}/" for folder in vendor.VENDOR_ASSETS)
    extra = [n for n in names if n.startswith("civmil/vendor/") and not n.startswith(served)]
    assert extra == [], "only the listed folders of node_modules are packaged"
    assert not [n for n in names if "node_modules" in n]


def test_the_sdist_carries_them_too_so_a_wheel_builds_from_it_without_node(dist: Built) -> None:
    names = _sdist_names(dist)
    for folder in vendor.VENDOR_ASSETS:
        expected = {f"src/civmil/vendor/{folder}/{f}" for f in _vendor_files(folder)}
        assert expected <= names, f"missing from the sdist: {sorted(expected - names)[:5]}"
    assert {"setup.py", "pyproject.toml", "docs/deploy.md"} <= names
    assert not [n for n in names if n.startswith(("node_modules/", "var/", "tests/", ".venv/"))]


def test_both_carry_the_demo_geography_its_basemap_is_built_from(dist: Built) -> None:
    files = {f"civmil/demo/geography/{layer}.geojson" for layer in ("towns", "roads", "rivers", "water", "boundaries")}
    assert files <= _wheel_names(dist)
    assert {f"src/{f}" for f in files} | {"docs/basemap.md"} <= _sdist_names(dist)


@pytest.mark.skipif(shutil.which("msgfmt") is None, reason="needs msgfmt (apt install gettext)")
def test_both_carry_each_catalogue_compiled_from_its_current_po(dist: Built, tmp_path: Path) -> None:
    assert CATALOGUES, "no .po catalogue found"
    with zipfile.ZipFile(dist.wheel) as wheel, tarfile.open(dist.sdist) as sdist:
        top = sdist.getnames()[0].split("/")[0]
        for po in CATALOGUES:
            fresh = tmp_path / "fresh.mo"
            subprocess.run(["msgfmt", "--check-format", "-o", str(fresh), str(po)], check=True)
            relative = po.with_suffix(".mo").relative_to(ROOT / "src")
            assert wheel.read(str(relative)) == fresh.read_bytes(), f"{relative} in the wheel is not the current .po"
            member = sdist.extractfile(f"{top}/src/{relative}")
            assert member is not None and member.read() == fresh.read_bytes()


def test_settings_take_node_modules_in_a_checkout_and_the_packaged_copy_when_installed(tmp_path: Path) -> None:
    node_modules, packaged = tmp_path / "node_modules", tmp_path / "civmil" / "vendor"
    first, second, *rest = vendor.VENDOR_ASSETS
    (node_modules / first).mkdir(parents=True)
    (packaged / first).mkdir(parents=True)
    (packaged / second).mkdir(parents=True)

    dirs = dict(vendor.static_dirs(node_modules, packaged))
    assert dirs == {f"vendor/{first}": node_modules / first, f"vendor/{second}": packaged / second}
    assert vendor.missing(node_modules, packaged) == rest

    # An installed wheel: no node_modules at all.
    for folder in vendor.VENDOR_ASSETS:
        (packaged / folder).mkdir(parents=True, exist_ok=True)
    assert dict(vendor.static_dirs(tmp_path / "absent", packaged)) == {
        f"vendor/{folder}": packaged / folder for folder in vendor.VENDOR_ASSETS}

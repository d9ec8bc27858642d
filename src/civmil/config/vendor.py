"""The front-end libraries civmil serves from its own static files, and where they are found.

In a source checkout they come from ``node_modules`` (``npm ci``). A built package (wheel or sdist)
carries a copy in ``civmil/vendor/``, made at build time by ``setup.py``, so an installed civmil
needs neither Node nor a source tree. This module imports nothing but the standard library:
``setup.py`` reads it before any dependency is installed.
"""

from __future__ import annotations

from pathlib import Path

#: The distributed folders of the pinned front-end packages (package.json), served under
#: ``/static/vendor/<folder>/``; nothing else of node_modules is served or packaged.
VENDOR_ASSETS = (
    "leaflet/dist",
    "leaflet.markercluster/dist",
    "@geoman-io/leaflet-geoman-free/dist",
    "milsymbol/dist",
    "pmtiles/dist",
    "protomaps-leaflet/dist",
    "chart.js/dist",
    "htmx.org/dist",
    "htmx-ext-ws/dist",
    "tom-select/dist/js",
    "tom-select/dist/css",
)

PACKAGE_DIR = Path(__file__).resolve().parent.parent
#: The copy a built package carries (gitignored in a checkout, where the build fills it).
PACKAGED = PACKAGE_DIR / "vendor"
#: ``node_modules`` of a source checkout (src/civmil/config/vendor.py -> the checkout's root).
NODE_MODULES = PACKAGE_DIR.parent.parent / "node_modules"


def static_dirs(node_modules: Path = NODE_MODULES, packaged: Path = PACKAGED) -> list[tuple[str, Path]]:
    """``(prefix, folder)`` for each folder of :data:`VENDOR_ASSETS`, for ``STATICFILES_DIRS``.

    ``node_modules`` wins where it exists (a checkout, kept current by ``npm ci``); otherwise the
    package's own copy (an installed wheel). A folder found in neither is left out.
    """
    found: list[tuple[str, Path]] = []
    for dist in VENDOR_ASSETS:
        for root in (node_modules, packaged):
            if (root / dist).is_dir():
                found.append((f"vendor/{dist}", root / dist))
                break
    return found


def missing(node_modules: Path = NODE_MODULES, packaged: Path = PACKAGED) -> list[str]:
    """The folders of :data:`VENDOR_ASSETS` found in neither place."""
    have = {prefix for prefix, _ in static_dirs(node_modules, packaged)}
    return [dist for dist in VENDOR_ASSETS if f"vendor/{dist}" not in have]

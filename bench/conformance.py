"""Conformance: civmil's readers against files written by other projects (``make conformance``).

The corpus is not part of the project. Its folder comes from ``CIVMIL_CONFORMANCE_DIR``
(default: ``../shared/conformance`` beside the repository); without it the run prints
``SKIPPED`` and exits 0. Nothing from it is copied into the project.

What runs, in a scratch SQLite database (no area or organisation stored, so nothing matches):

* ``geojson/fixtures/{valid,invalid}/<type>/*.json``, two checks each:

  - ``validate``: civmil's own GeoJSON validation. A FeatureCollection is read by
    :func:`civmil.actors.boundaries.read_feature_collection` and each feature checked by
    :func:`civmil.core.geo.validate_geometry`; anything else (a Feature, a geometry, or an
    object without a known ``type``) goes to :func:`~civmil.core.geo.validate_geometry` whole.
  - ``import``: the boundary import's dry run (:func:`civmil.actors.queries.boundary_plan`, then
    ``civmil import_boundaries FILE --level 1 --dry-run``, which must agree). The importer only
    takes a FeatureCollection, so the runner wraps: a FeatureCollection, or an object without
    ``type`` that has ``features``, goes as it is; a Feature goes in a one-feature collection;
    anything else becomes the geometry of one Feature. The runner adds a P-code and a name
    (``ADM1_PCODE``, ``ADM1_EN``) to a Feature's ``properties`` when those are an object or
    null, so that what is judged is the GeoJSON, not the COD-AB layout; a Feature without
    ``properties`` is left without (that is the fixture's fault, for the importer to find).

* ``hxl/*.csv``, ``*.tsv``, ``*.hxl``: the directory import's dry run for organisations and for
  people (:func:`civmil.actors.directory_csv.plan_file`, then ``civmil import_directory FILE
  --kind K --dry-run``). None of them is a directory file: each must be refused, clearly.

The expected verdict comes from the folder (``valid`` or ``invalid``). civmil is stricter than
RFC 7946 in a few deliberate ways; each valid file it refuses on purpose is listed in
:data:`EXPECTED_REFUSALS` with the rule, and shown as such. The run fails (exit 1) when a check
crashes (any exception but civmil's own refusal) or runs over :data:`TIMEOUT_SECONDS`, when an
invalid file is accepted, when a valid file is refused and not listed (or listed and accepted:
the list must stay true), when a refusal's message is not clear (empty, over
:data:`MAX_MESSAGE`, on several lines, or leaking Python), or when the command disagrees with
the plan.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from types import FrameType

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DEFAULT_CORPUS = ROOT.parent / "shared" / "conformance"
TIMEOUT_SECONDS = 30
MAX_MESSAGE = 600
LEVEL = 1
PCODE = "XC01"

VALIDATE = "validate"
IMPORT = "import"
DIRECTORY = "directory ({kind})"

NOT_AN_AREA = "boundaries are areas: a Polygon or a MultiPolygon, nothing else"
NO_COLLECTIONS = "civmil stores a single geometry or multi-geometry, not a GeometryCollection"
NO_EMPTY = "an empty geometry locates nothing, so civmil refuses it (RFC 7946 allows it)"
NO_NULL = "a location or boundary needs a geometry (RFC 7946 allows an unlocated Feature)"
NO_FEATURES = "a FeatureCollection with no features has nothing to import"

#: Valid files (by check and path under geojson/fixtures/) that civmil refuses on purpose, and why.
EXPECTED_REFUSALS: dict[tuple[str, str], str] = {
    (VALIDATE, "valid/feature/empty-polygon.json"): NO_EMPTY,
    (VALIDATE, "valid/feature/null-geometry.json"): NO_NULL,
    (VALIDATE, "valid/featurecollection/empty.json"): NO_FEATURES,
    (VALIDATE, "valid/geometrycollection/3d.json"): NO_COLLECTIONS,
    (VALIDATE, "valid/geometrycollection/basic.json"): NO_COLLECTIONS,
    (VALIDATE, "valid/geometrycollection/bbox.json"): NO_COLLECTIONS,
    (IMPORT, "valid/feature/basic.json"): NOT_AN_AREA,
    (IMPORT, "valid/feature/empty-polygon.json"): NO_EMPTY,
    (IMPORT, "valid/feature/null-geometry.json"): NO_NULL,
    (IMPORT, "valid/feature/with-number-id.json"): NOT_AN_AREA,
    (IMPORT, "valid/feature/with-string-id.json"): NOT_AN_AREA,
    (IMPORT, "valid/featurecollection/basic.json"): NOT_AN_AREA,
    (IMPORT, "valid/featurecollection/empty.json"): NO_FEATURES,
    (IMPORT, "valid/geometrycollection/3d.json"): NOT_AN_AREA,
    (IMPORT, "valid/geometrycollection/basic.json"): NOT_AN_AREA,
    (IMPORT, "valid/geometrycollection/bbox.json"): NOT_AN_AREA,
    **{(IMPORT, f"valid/{kind}/{name}.json"): NOT_AN_AREA
       for kind in ("point", "multipoint", "linestring", "multilinestring")
       for name in ("basic", "bbox", "3d")},
    (IMPORT, "valid/point/extended.json"): NOT_AN_AREA,
}

_UNCLEAR = re.compile(r"Traceback|\bNone\b|Error\(|object at 0x|[\x00-\x1f\x7f]")


@dataclass
class Result:
    file: str
    check: str
    expected: str
    verdict: str
    message: str
    ok: bool
    seconds: float


class _Timeout(Exception):
    pass


@contextlib.contextmanager
def _time_limit(seconds: int) -> Iterator[None]:
    """Stop a check that runs too long (main thread, POSIX)."""
    def _stop(signum: int, frame: FrameType | None) -> None:
        raise _Timeout

    previous = signal.signal(signal.SIGALRM, _stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _unclear(message: str) -> str:
    """Why a refusal's message would not help the person who sent the file ("" when it would)."""
    if not message.strip():
        return "the message is empty"
    if len(message) > MAX_MESSAGE:
        return f"the message has {len(message)} characters"
    found = _UNCLEAR.search(message)
    if found:
        return f"the message holds {found.group()!r}"
    return ""


# ---------------------------------------------------------------------------------------------
# The checks: each returns (accepted, message) or raises; Invalid / CommandError are refusals.


def _validate(data: bytes) -> tuple[bool, str]:
    from civmil.actors import boundaries
    from civmil.core import geo

    try:
        value = json.loads(data)
    except ValueError:
        value = None  # civmil's reader says why
    if isinstance(value, dict) and value.get("type") == "FeatureCollection":
        features = boundaries.read_feature_collection(data)
        for n, feature in enumerate(features, start=1):
            geo.validate_geometry(feature, where=f"Feature {n}")
        return True, f"{len(features)} feature(s) valid"
    geom = geo.validate_geometry(data)
    return True, f"valid {geom.geom_type}"


def _wrap(data: bytes, name: str) -> bytes:
    """What the boundary importer is given for one fixture (see the module's docstring)."""
    try:
        value = json.loads(data)
    except ValueError:
        return data  # civmil's reader says why
    if not isinstance(value, dict):
        return data
    kind = value.get("type")
    if kind == "FeatureCollection" or (kind is None and "features" in value):
        return data
    feature = dict(value) if kind == "Feature" else {"type": "Feature", "properties": None, "geometry": value}
    if "properties" in feature and (feature["properties"] is None or isinstance(feature["properties"], dict)):
        feature["properties"] = {f"ADM{LEVEL}_PCODE": PCODE, f"ADM{LEVEL}_EN": name,
                                 **(feature["properties"] or {})}
    return json.dumps({"type": "FeatureCollection", "features": [feature]}).encode()


def _command(name: str, *args: str) -> tuple[bool, str]:
    from django.core.management import CommandError, call_command

    try:
        call_command(name, *args, stdout=io.StringIO(), stderr=io.StringIO())
    except CommandError as exc:
        return False, str(exc)
    return True, ""


def _import(data: bytes, name: str, scratch: Path) -> tuple[bool, str]:
    from civmil.actors import boundaries, queries

    wrapped = _wrap(data, name)
    options = boundaries.ImportOptions.cod(LEVEL, source="conformance")
    plan = queries.boundary_plan(None, wrapped, options)
    if plan.error:
        accepted, message = False, plan.error
    elif plan.rejected:
        accepted, message = False, " ".join(r.describe() for r in plan.rejected)
    else:
        accepted = plan.clean
        message = f"{len(plan.to_create)} area(s) to create" if accepted else "nothing to import"
    path = scratch / "boundaries.geojson"
    path.write_bytes(wrapped)
    by_command, why = _command("import_boundaries", str(path), "--level", str(LEVEL), "--dry-run")
    if by_command != accepted:
        raise AssertionError(f"civmil import_boundaries --dry-run {'accepts' if by_command else 'refuses'} "
                             f"what the plan {'accepts' if accepted else 'refuses'}: {why}")
    return accepted, message


def _directory(data: bytes, kind: str, path: Path) -> tuple[bool, str]:
    from civmil.actors import directory_csv

    plan = directory_csv.plan_file(None, kind, data)
    if plan.error:
        accepted, message = False, plan.error
    elif plan.rejected:
        accepted, message = False, " ".join(r.describe() for r in plan.rejected)
    else:
        accepted, message = bool(plan.rows), f"{len(plan.rows)} row(s) to import"
    by_command, why = _command("import_directory", str(path), "--kind", kind, "--dry-run")
    if by_command != accepted:
        raise AssertionError(f"civmil import_directory --dry-run {'accepts' if by_command else 'refuses'} "
                             f"what the plan {'accepts' if accepted else 'refuses'}: {why}")
    return accepted, message


def _judge(file: str, check: str, expected: str, run: Callable[[], tuple[bool, str]],
           rule: str | None = None) -> Result:
    from django.core.management import CommandError

    from civmil.core.errors import Invalid

    start = time.perf_counter()
    try:
        with _time_limit(TIMEOUT_SECONDS):
            accepted, message = run()
    except _Timeout:
        seconds = time.perf_counter() - start
        return Result(file, check, expected, "HANG", f"no answer after {TIMEOUT_SECONDS} s", False, seconds)
    except (Invalid, CommandError) as exc:
        accepted, message = False, getattr(exc, "message", str(exc))
    except Exception as exc:  # a crash is what this run looks for
        seconds = time.perf_counter() - start
        where = traceback.extract_tb(exc.__traceback__)[-1]
        return Result(file, check, expected, "CRASH",
                      _one_line(f"{type(exc).__name__}: {exc} ({Path(where.filename).name}:{where.lineno})"),
                      False, seconds)
    seconds = time.perf_counter() - start
    shown = _one_line(message)
    if accepted:
        if expected == "valid" and rule is None:
            return Result(file, check, expected, "accepted", shown, True, seconds)
        if rule is not None:
            return Result(file, check, expected, "WRONG: accepted",
                          f"listed as refused by civmil's rule ({rule}); update the list. {shown}", False, seconds)
        return Result(file, check, expected, "WRONG: accepted", shown, False, seconds)
    unclear = _unclear(message)
    if unclear:
        return Result(file, check, expected, "UNCLEAR refusal", f"{unclear}: {shown}", False, seconds)
    if expected == "valid":
        if rule is None:
            return Result(file, check, expected, "WRONG: refused", shown, False, seconds)
        return Result(file, check, expected, f"refused as expected by civmil's rule: {rule}", shown, True, seconds)
    return Result(file, check, expected, "refused", shown, True, seconds)


def run(corpus: Path) -> list[Result]:
    from django.utils import translation

    results: list[Result] = []
    fixtures = corpus / "geojson" / "fixtures"
    with translation.override("en"), tempfile.TemporaryDirectory(prefix="civmil-conformance-") as tmp:
        scratch = Path(tmp)
        for path in sorted(fixtures.glob("*/*/*.json")):
            rel = path.relative_to(fixtures).as_posix()
            expected = rel.split("/", 1)[0]
            data = path.read_bytes()
            name = rel.removesuffix(".json")
            results.append(_judge(rel, VALIDATE, expected, partial(_validate, data),
                                  EXPECTED_REFUSALS.get((VALIDATE, rel))))
            results.append(_judge(rel, IMPORT, expected, partial(_import, data, name, scratch),
                                  EXPECTED_REFUSALS.get((IMPORT, rel))))
        hxl = corpus / "hxl"
        tables = sorted(p for pattern in ("*.csv", "*.tsv", "*.hxl") for p in hxl.glob(pattern))
        from civmil.actors import directory_csv

        for path in tables:
            rel = f"hxl/{path.name}"
            data = path.read_bytes()
            for kind in (directory_csv.ORGANISATIONS, directory_csv.PEOPLE):
                results.append(_judge(rel, DIRECTORY.format(kind=kind), "not a directory file",
                                      partial(_directory, data, kind, path)))
    return results


def _style(result: Result) -> str:
    if not result.ok:
        return "bold red"
    return "yellow" if result.verdict.startswith("refused as expected") else ""


def report(results: list[Result], corpus: Path) -> None:
    console = Console(width=max(Console().width, 160))
    table = Table(title=f"Conformance: civmil against {corpus}", show_lines=False)
    for col in ("file", "check", "expected", "civmil's verdict", "message"):
        table.add_column(col, overflow="fold")
    for r in results:
        table.add_row(r.file, r.check, r.expected, r.verdict, r.message, style=_style(r))
    console.print(table)
    summary = Table(title="Counts")
    for col in ("check", "files", "accepted", "refused", "refused by civmil's rule", "wrong", "unclear",
                "crash or hang"):
        summary.add_column(col, justify="right")
    by_check: dict[str, Counter[str]] = {}
    for r in results:
        count = by_check.setdefault(r.check, Counter())
        count["files"] += 1
        if r.verdict == "accepted":
            count["accepted"] += 1
        elif r.verdict == "refused":
            count["refused"] += 1
        elif r.verdict.startswith("refused as expected"):
            count["rule"] += 1
        elif r.verdict.startswith("WRONG"):
            count["wrong"] += 1
        elif r.verdict.startswith("UNCLEAR"):
            count["unclear"] += 1
        else:
            count["crash"] += 1
    for check, count in by_check.items():
        summary.add_row(check, *(str(count[k]) for k in ("files", "accepted", "refused", "rule", "wrong", "unclear",
                                                         "crash")))
    console.print(summary)
    slowest = max(results, key=lambda r: r.seconds, default=None)
    if slowest is not None:
        console.print(f"slowest check: {slowest.file} ({slowest.check}) {slowest.seconds * 1000:.0f} ms")


def main() -> int:
    corpus = Path(os.environ.get("CIVMIL_CONFORMANCE_DIR") or DEFAULT_CORPUS).resolve()
    if not (corpus / "geojson").is_dir() and not (corpus / "hxl").is_dir():
        print(f"SKIPPED: no conformance corpus at {corpus} (set CIVMIL_CONFORMANCE_DIR).")
        return 0
    tmp = tempfile.mkdtemp(prefix="civmil-conformance-db-")
    os.environ["DATABASE_URL"] = f"sqlite:///{tmp}/conformance.sqlite3"
    os.environ.setdefault("CIVMIL_VAR_DIR", tmp)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "civmil.config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    results = run(corpus)
    report(results, corpus)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "conformance.json"
    out.write_text(json.dumps([asdict(r) for r in results], indent=2, ensure_ascii=False))
    failed = [r for r in results if not r.ok]
    print(f"\nresults written to {out}")
    if failed:
        print(f"FAIL: {len(failed)} of {len(results)} checks went wrong (crash, hang, wrong verdict or unclear "
              "message); see the rows in red.")
        return 1
    print(f"OK: {len(results)} checks, every verdict as expected.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

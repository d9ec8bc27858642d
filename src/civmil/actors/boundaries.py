"""Administrative boundaries from a GeoJSON FeatureCollection (the COD-AB layout): plan an import.

The file is read by :mod:`civmil.interop.codab` (pure: the layout, the properties, the reasons
a feature cannot be used); the geometry is checked here with :mod:`civmil.core.geo`. The user
says which level the file is and which property holds the P-code, the name, the alternative
name and the parent P-code (:class:`ImportOptions`).

This module knows nothing of the database. :func:`plan_import` turns the file's bytes and the
P-codes that exist already into a :class:`BoundaryPlan`: the areas it would create or update,
parents first, and every rejected feature with its position in the file, its P-code and why.
:func:`civmil.actors.queries.boundary_plan` builds a plan against the areas that exist now, and
:func:`civmil.actors.services.import_boundaries` writes one, all or nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import shapely
import shapely.geometry
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from civmil.core import geo
from civmil.core.errors import Invalid
from civmil.core.formats import megabytes
from civmil.interop import codab
from civmil.interop.codab import MAX_LEVEL, SOURCE_MAX_LENGTH

CREATE = "create"
UPDATE = "update"

_PROPERTY_NAME = re.compile(r"^[^\x00-\x1f]{1,100}$")


@dataclass(frozen=True)
class ImportOptions:
    """What the user says about the file: its level and which property holds what."""

    level: int
    pcode_field: str
    name_field: str
    alt_name_field: str = ""
    parent_field: str = ""
    source: str = ""

    @classmethod
    def cod(cls, level: int, *, pcode_field: str = "", name_field: str = "", alt_name_field: str = "",
            parent_field: str = "", source: str = "") -> ImportOptions:
        """Options with the COD-AB property names of ``level`` wherever none is given."""
        return cls(
            level=level,
            pcode_field=(pcode_field or f"ADM{level}_PCODE").strip(),
            name_field=(name_field or f"ADM{level}_EN").strip(),
            alt_name_field=alt_name_field.strip(),
            parent_field=parent_field.strip(),
            source=source.strip()[:SOURCE_MAX_LENGTH],
        )

    def problems(self) -> dict[str, list[str]]:
        """Why these options cannot be used, by option name (empty when they can)."""
        errors: dict[str, list[str]] = {}
        if isinstance(self.level, bool) or not isinstance(self.level, int) or not 0 <= self.level <= MAX_LEVEL:
            errors["level"] = [_("The admin level must be a whole number from 0 to %(max)s.") % {"max": MAX_LEVEL}]
        for name, value, required in (
            ("pcode_field", self.pcode_field, True),
            ("name_field", self.name_field, True),
            ("alt_name_field", self.alt_name_field, False),
            ("parent_field", self.parent_field, False),
        ):
            if not value and not required:
                continue
            if not value:
                errors[name] = [_("Name the property that holds this value.")]
            elif not _PROPERTY_NAME.match(value):
                errors[name] = [_("A property name has 1 to 100 characters and no control characters.")]
        if self.parent_field and self.parent_field == self.pcode_field:
            errors["parent_field"] = [_("The parent P-code must come from another property than the P-code.")]
        return errors

    @property
    def properties(self) -> codab.Properties:
        """Which property holds what, as the reader of the file takes them."""
        return codab.Properties(pcode=self.pcode_field, name=self.name_field, alt_name=self.alt_name_field,
                                parent=self.parent_field)

    def check(self) -> None:
        """Raise :class:`Invalid` when the options cannot be used."""
        errors = self.problems()
        if errors:
            raise Invalid(_("The import options have errors; see each field."), errors=errors)


@dataclass(frozen=True)
class ExistingArea:
    """What the plan needs to know of an area already stored."""

    pcode: str
    admin_level: int | None = None
    parent_pcode: str = ""


@dataclass(frozen=True)
class PlannedArea:
    """One feature that will become (or update) an area. ``index`` counts features from 1."""

    index: int
    pcode: str
    name: str
    name_alt: str
    parent_pcode: str
    geometry: dict[str, Any]
    action: str

    @property
    def creates(self) -> bool:
        return self.action == CREATE


@dataclass(frozen=True)
class RejectedFeature:
    """One feature left out, with its position in the file (from 1), its P-code if any, and why."""

    index: int
    pcode: str
    reason: str

    def describe(self) -> str:
        if self.pcode:
            return _("Feature %(n)s (P-code %(pcode)s): %(reason)s") % {
                "n": self.index, "pcode": self.pcode, "reason": self.reason}
        return _("Feature %(n)s: %(reason)s") % {"n": self.index, "reason": self.reason}


@dataclass
class BoundaryPlan:
    """What an import of one file would do. ``error`` refuses the whole file."""

    options: ImportOptions
    areas: list[PlannedArea] = field(default_factory=list)
    rejected: list[RejectedFeature] = field(default_factory=list)
    error: str = ""
    feature_count: int = 0
    properties_seen: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sha256: str = ""

    @property
    def to_create(self) -> list[PlannedArea]:
        return [a for a in self.areas if a.action == CREATE]

    @property
    def to_update(self) -> list[PlannedArea]:
        return [a for a in self.areas if a.action == UPDATE]

    @property
    def clean(self) -> bool:
        """Nothing refused: the file imports as it is."""
        return not self.error and not self.rejected and bool(self.areas)

    def fingerprint(self) -> str:
        """Changes when what the plan would do changes (not with the language of its reasons)."""
        data = {
            "sha256": self.sha256,
            "error": bool(self.error),
            "areas": [[a.index, a.pcode, a.action, a.parent_pcode] for a in self.areas],
            "rejected": [[r.index, r.pcode] for r in self.rejected],
        }
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def _check_bbox(bbox: Any) -> None:
    geo.check_bbox(bbox, where=_("The FeatureCollection"))


def read_feature_collection(data: bytes) -> list[Any]:
    """The ``features`` of a GeoJSON FeatureCollection (:func:`civmil.interop.codab.read_feature_collection`,
    with a malformed ``bbox`` refused too), or :class:`Invalid` saying why not."""
    try:
        return codab.read_feature_collection(data, check_bbox=_check_bbox, megabytes=megabytes)
    except codab.FormatError as exc:
        raise Invalid(exc.message) from exc


def _check_feature(feature: Any) -> None:
    try:
        geo.check_feature(feature, where=_("GeoJSON object"))
    except Invalid as exc:
        raise codab.FormatError(exc.message) from exc


def _clean_geometry(geometry: dict[str, Any]) -> dict[str, Any]:
    try:
        shape = geo.validate_geometry(geometry, where=_("Geometry"), allowed=("Polygon", "MultiPolygon"))
    except Invalid as exc:
        raise codab.FormatError(exc.message) from exc
    # Keep the file's own coordinates (no second copy of a large file in memory) unless they carry
    # heights, which are dropped.
    return (geo.to_geojson(shapely.force_2d(shape)) if shape.has_z
            else {"type": geometry["type"], "coordinates": geometry["coordinates"]})


def _read_feature(index: int, feature: Any, options: ImportOptions) -> codab.FeatureRead:
    return codab.read_feature(index, feature, options.properties, check_feature=_check_feature,
                              clean_geometry=_clean_geometry)


def _join(indexes: list[int]) -> str:
    return ", ".join(str(i) for i in indexes)


def _drop_orphans(valid: dict[str, codab.FeatureRead], rejected_in_file: dict[str, codab.FeatureRead],
                  by_pcode: dict[str, list[codab.FeatureRead]], existing: Mapping[str, ExistingArea]) -> None:
    """Reject areas whose parent neither exists nor is imported; rejecting one cascades to its children."""
    changed = True
    while changed:
        changed = False
        for pcode, cand in list(valid.items()):
            parent = cand.parent_pcode
            if not parent or parent in valid or parent in existing:
                continue
            if parent in rejected_in_file:
                cand.reasons.append(_("its parent %(parent)s is rejected in this file (feature %(n)s).")
                                    % {"parent": parent, "n": rejected_in_file[parent].index})
            elif parent in by_pcode:
                cand.reasons.append(_("its parent %(parent)s is rejected in this file (features %(list)s).")
                                    % {"parent": parent, "list": _join([c.index for c in by_pcode[parent]])})
            else:
                cand.reasons.append(
                    _("the parent P-code %(parent)s is unknown: import the parent level first, or include it "
                      "in this file.") % {"parent": parent})
            rejected_in_file[pcode] = cand
            del valid[pcode]
            changed = True


def plan_import(data: bytes, options: ImportOptions, existing: Mapping[str, ExistingArea]) -> BoundaryPlan:
    """Plan the import of ``data`` given the areas that exist (by P-code). Writes nothing.

    Every feature either becomes a :class:`PlannedArea` (``create`` or ``update`` by P-code) or a
    :class:`RejectedFeature` naming why: not a feature, members RFC 7946 does not allow (no
    ``properties``, an ``id`` that is neither a string nor a number, a malformed ``bbox``), missing
    or over-long P-code or name, a P-code repeated in the file (every occurrence is rejected: which
    one is right cannot be guessed), a geometry that is missing, not a Polygon or MultiPolygon, unclosed,
    self-intersecting or out of range, an unknown or rejected parent, or a parent loop. Planned
    areas come parents first.
    """
    plan = BoundaryPlan(options=options, sha256=hashlib.sha256(data).hexdigest())
    problems = options.problems()
    if problems:
        plan.error = " ".join(m for msgs in problems.values() for m in msgs)
        return plan
    try:
        features = read_feature_collection(data)
    except Invalid as exc:
        plan.error = exc.message
        return plan
    plan.feature_count = len(features)

    seen: dict[str, None] = {}
    for feature in features:
        props = feature.get("properties") if isinstance(feature, dict) else None
        if isinstance(props, dict) and len(seen) < 200:
            for key in props:
                if isinstance(key, str) and len(seen) < 200:
                    seen.setdefault(key[:100], None)
    plan.properties_seen = list(seen)

    candidates = [_read_feature(i, f, options) for i, f in enumerate(features, start=1)]

    by_pcode: dict[str, list[codab.FeatureRead]] = {}
    for cand in candidates:
        if cand.pcode:
            by_pcode.setdefault(cand.pcode, []).append(cand)
    for pcode, group in by_pcode.items():
        if len(group) > 1:
            for cand in group:
                cand.reasons.append(_("P-code %(pcode)s appears in features %(list)s; each P-code may appear once.")
                                    % {"pcode": pcode, "list": _join([c.index for c in group])})

    valid = {c.pcode: c for c in candidates if not c.reasons}
    rejected_in_file = {c.pcode: c for c in candidates if c.reasons and c.pcode and len(by_pcode[c.pcode]) == 1}

    _drop_orphans(valid, rejected_in_file, by_pcode, existing)
    # No loops: the file's parents, laid over the stored ones, must lead to a top.
    parents = {pcode: a.parent_pcode for pcode, a in existing.items()}
    parents.update({pcode: c.parent_pcode for pcode, c in valid.items()})
    for pcode, cand in list(valid.items()):
        node, steps = parents.get(pcode, ""), 0
        while node and steps <= len(parents):
            if node == pcode:
                cand.reasons.append(_("its parent chain leads back to itself (a loop of parents)."))
                rejected_in_file[pcode] = cand
                del valid[pcode]
                break
            node, steps = parents.get(node, ""), steps + 1
    _drop_orphans(valid, rejected_in_file, by_pcode, existing)

    depth: dict[str, int] = {}

    def _depth(pcode: str) -> int:
        chain = []
        node = pcode
        while node in valid and node not in depth:
            chain.append(node)
            node = valid[node].parent_pcode
        base = depth.get(node, -1) if node in valid else -1
        for item in reversed(chain):
            base += 1
            depth[item] = base
        return depth[pcode]

    ordered = sorted(valid.values(), key=lambda c: (_depth(c.pcode), c.index))
    plan.areas = [
        PlannedArea(index=c.index, pcode=c.pcode, name=c.name, name_alt=c.name_alt, parent_pcode=c.parent_pcode,
                    geometry=c.geometry or {}, action=UPDATE if c.pcode in existing else CREATE)
        for c in ordered
    ]
    plan.rejected = [
        RejectedFeature(index=c.index, pcode=c.pcode or codab.pcode_hint(features[c.index - 1], options.pcode_field),
                        reason=" ".join(dict.fromkeys(c.reasons)))
        for c in candidates if c.reasons
    ]
    plan.notes = _notes(plan, options, existing)
    return plan


def _notes(plan: BoundaryPlan, options: ImportOptions, existing: Mapping[str, ExistingArea]) -> list[str]:
    """Hints that help fix a wrong choice of properties or level."""
    notes: list[str] = []
    seen = set(plan.properties_seen)
    listed = ", ".join(plan.properties_seen[:40]) or _("none")
    for name in (options.pcode_field, options.name_field, options.alt_name_field, options.parent_field):
        if name and name not in seen:
            notes.append(_("No feature has a property named %(p)s. Properties in this file: %(list)s.")
                         % {"p": name, "list": listed})
    match = codab.COD_LEVEL.match(options.pcode_field)
    if match and int(match.group(1)) != options.level:
        notes.append(_("You chose admin level %(level)s but the P-code property is %(p)s: check the level.")
                     % {"level": options.level, "p": options.pcode_field})
    parent_guess = f"ADM{options.level - 1}_PCODE"
    if not options.parent_field and options.level > 0 and parent_guess in seen:
        notes.append(_("The file has %(p)s: give it as the parent P-code property to link each area to its "
                       "parent.") % {"p": parent_guess})
    moved = sum(1 for a in plan.to_update
                if existing[a.pcode].admin_level is not None and existing[a.pcode].admin_level != options.level)
    if moved:
        notes.append(ngettext(
            "%(n)s existing area has another admin level; the import will change it to %(level)s.",
            "%(n)s existing areas have another admin level; the import will change them to %(level)s.",
            moved) % {"n": moved, "level": options.level})
    return notes


def same_geometry(stored: Any, planned: Any) -> bool:
    """Do two GeoJSON geometries have exactly the same vertices, in the same order?"""
    try:
        return bool(shapely.equals_exact(shapely.geometry.shape(stored), shapely.geometry.shape(planned), 0.0))
    except (ValueError, TypeError, AttributeError, shapely.errors.GEOSException):
        return False

"""Planning a directory import: each row creates, updates, changes nothing, or is rejected (nothing is written here)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.utils.translation import gettext as _

from civmil.actors.directory_csv.parsing import ORGANISATIONS, PEOPLE, parse
from civmil.core import access, registry
from civmil.core.choices import PRIVILEGED_ROLES, Component, Level, MembershipStatus, OrganisationKind, Role
from civmil.core.models import Membership, Organisation, Person

if TYPE_CHECKING:
    from django.db import models

    from civmil.core.acting import Actor


CREATE = "create"
UPDATE = "update"
UNCHANGED = "unchanged"


@dataclass
class PlannedRow:
    number: int
    action: str
    label: str
    #: Cleaned values to write (only the non-empty cells).
    values: dict[str, Any]
    target_id: Any = None
    target_version: int | None = None
    #: Organisations: the parent's name when the parent is another row of the file.
    parent_in_file: str = ""
    #: People: the membership to add (organisation id, role, position), if any.
    membership: tuple[Any, str, str] | None = None
    changes: list[str] = field(default_factory=list)


@dataclass
class RejectedRow:
    number: int
    label: str
    reasons: list[str]

    def describe(self) -> str:
        return _("Row %(n)s (%(label)s): %(reasons)s") % {
            "n": self.number, "label": self.label or "-", "reasons": " ".join(self.reasons)}


@dataclass
class DirectoryPlan:
    kind: str
    sha256: str
    rows: list[PlannedRow] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)
    error: str = ""

    @property
    def to_create(self) -> list[PlannedRow]:
        return [r for r in self.rows if r.action == CREATE]

    @property
    def to_update(self) -> list[PlannedRow]:
        return [r for r in self.rows if r.action == UPDATE]

    @property
    def unchanged(self) -> list[PlannedRow]:
        return [r for r in self.rows if r.action == UNCHANGED]

    def fingerprint(self) -> str:
        """Changes when anything the user was shown would differ."""
        summary = [[r.number, r.action, str(r.target_id), r.target_version] for r in self.rows]
        summary += [[r.number, "reject", *r.reasons] for r in self.rejected]
        return hashlib.sha256(json.dumps(summary, default=str).encode()).hexdigest()


def _choice(value: str, choices: Iterable[tuple[str, Any]]) -> str | None:
    """A choice by its stored value or its label, case-insensitive."""
    wanted = value.strip().casefold()
    for stored, label in choices:
        if wanted in (str(stored).casefold(), str(label).casefold()):
            return str(stored)
    return None


def _max_length(model: type[models.Model], name: str) -> int | None:
    length: int | None = model._meta.get_field(name).max_length  # type: ignore[union-attr]
    return length


def _check_lengths(model: type[models.Model], values: dict[str, str], names: Sequence[str],
                   reasons: list[str]) -> None:
    for name in names:
        limit = _max_length(model, name)
        if limit and len(values.get(name, "")) > limit:
            reasons.append(_("%(column)s is longer than %(max)s characters.") % {"column": name, "max": limit})


def _check_email(value: str, column: str, reasons: list[str]) -> None:
    if value:
        try:
            validate_email(value)
        except ValidationError:
            reasons.append(_("%(column)s %(value)s is not a valid e-mail address.") % {
                "column": column, "value": value})


class _OrgIndex:
    """Organisations by name and by acronym (case-insensitive)."""

    def __init__(self) -> None:
        self.by_name: dict[str, Organisation] = {}
        self.by_acronym: dict[str, list[Organisation]] = {}
        for org in Organisation.objects.all():
            self.by_name[org.name.casefold()] = org
            if org.acronym:
                self.by_acronym.setdefault(org.acronym.casefold(), []).append(org)

    def find(self, ref: str) -> tuple[Organisation | None, str]:
        """The organisation named (or abbreviated) ``ref``, or why there is none."""
        key = ref.strip().casefold()
        if key in self.by_name:
            return self.by_name[key], ""
        found = self.by_acronym.get(key, [])
        if len(found) == 1:
            return found[0], ""
        if len(found) > 1:
            return None, _("the acronym %(ref)s belongs to several organisations; use the full name.") % {"ref": ref}
        return None, ""


def plan_organisations(data: bytes) -> DirectoryPlan:
    """Plan an organisations file against the stored directory (reference data)."""
    plan = DirectoryPlan(ORGANISATIONS, hashlib.sha256(data).hexdigest())
    parsed = parse(data, ORGANISATIONS)
    if parsed.error:
        plan.error = parsed.error
        return plan
    plan.rejected.extend(RejectedRow(n, "", reasons) for n, reasons in parsed.bad_rows.items())
    index = _OrgIndex()
    in_file: dict[str, int] = {}
    in_file_acronyms: dict[str, str] = {}
    for row in parsed.rows:
        name = row.values["name"].casefold()
        if name and name not in in_file:
            in_file[name] = row.number
            if row.values["acronym"]:
                in_file_acronyms.setdefault(row.values["acronym"].casefold(), row.values["name"])
    parents_in_file: dict[str, str] = {}
    url_ok = URLValidator(schemes=["http", "https"])
    for row in parsed.rows:
        v = row.values
        reasons: list[str] = []
        name = v["name"]
        current = index.by_name.get(name.casefold()) if name else None
        if not name:
            reasons.append(_("The name is empty."))
        elif in_file.get(name.casefold()) != row.number:
            reasons.append(_("Duplicate in the file: row %(n)s has the same name.") % {"n": in_file[name.casefold()]})
        values: dict[str, Any] = {}
        for col in ("name", "acronym", "contact_phone", "description"):
            if v[col]:
                values[col] = v[col]
        _check_lengths(Organisation, v, ("name", "acronym", "contact_phone", "contact_email", "website"), reasons)
        if v["component"]:
            component = _choice(v["component"], Component.choices)
            if component is None:
                reasons.append(_("Unknown component %(value)s; use one of: %(allowed)s.") % {
                    "value": v["component"], "allowed": ", ".join(Component.values)})
            elif current is not None and component != current.component:
                reasons.append(_("The component of an existing organisation cannot change by import."))
            else:
                values["component"] = component
        elif current is None:
            reasons.append(_("The component is empty."))
        if v["kind"]:
            kind = _choice(v["kind"], OrganisationKind.choices)
            if kind is None:
                reasons.append(_("Unknown kind %(value)s; use one of: %(allowed)s.") % {
                    "value": v["kind"], "allowed": ", ".join(OrganisationKind.values)})
            else:
                values["kind"] = kind
        elif current is None:
            reasons.append(_("The kind is empty."))
        if v["country"]:
            if len(v["country"]) != 2 or not v["country"].isalpha() or not v["country"].isascii():
                reasons.append(_("Country %(value)s is not a two-letter ISO 3166 code.") % {"value": v["country"]})
            else:
                values["country"] = v["country"].upper()
        _check_email(v["contact_email"], "contact_email", reasons)
        if v["contact_email"]:
            values["contact_email"] = v["contact_email"]
        if v["website"]:
            try:
                url_ok(v["website"])
                values["website"] = v["website"]
            except ValidationError:
                reasons.append(_("Website %(value)s is not a web address (http:// or https://).") % {
                    "value": v["website"]})
        parent_in_file = ""
        if v["parent"]:
            ref = v["parent"].casefold()
            parent, why = index.find(v["parent"])
            if parent is not None:
                if (current is not None and parent.pk == current.pk) or parent.name.casefold() == name.casefold():
                    reasons.append(_("An organisation cannot be its own parent."))
                values["parent_id"] = parent.pk
            elif ref in in_file or ref in in_file_acronyms:
                parent_in_file = ref if ref in in_file else in_file_acronyms[ref].casefold()
                if parent_in_file == name.casefold():
                    reasons.append(_("An organisation cannot be its own parent."))
                parents_in_file[name.casefold()] = parent_in_file
            else:
                reasons.append(why or _("Unknown parent %(ref)s: no organisation has that name or acronym, here "
                                        "or in the file.") % {"ref": v["parent"]})
        if reasons:
            plan.rejected.append(RejectedRow(row.number, name, reasons))
            continue
        planned = PlannedRow(row.number, CREATE, name, values, parent_in_file=parent_in_file)
        if current is not None:
            values.pop("name", None)  # the match key: a difference in case alone is no change
            planned.target_id = current.pk
            planned.target_version = current.version
            planned.changes = [k.removesuffix("_id") for k, val in values.items()
                               if getattr(current, k) != val]
            planned.action = UPDATE if planned.changes or parent_in_file else UNCHANGED
        plan.rows.append(planned)
    _reject_parent_loops(plan, parents_in_file)
    return plan


def _reject_parent_loops(plan: DirectoryPlan, parents: dict[str, str]) -> None:
    """Rows whose parent chain within the file goes round in a loop, or through a rejected row."""
    accepted = {r.label.casefold() for r in plan.rows}
    bad: dict[str, str] = {}
    for start in parents:
        seen = [start]
        node = start
        while node in parents:
            node = parents[node]
            if node in seen:
                bad[start] = _("Its parent chain in the file makes a loop.")
                break
            if node not in accepted:
                bad[start] = _("Its parent (row of the file) is rejected.")
                break
            seen.append(node)
    if not bad:
        return
    keep = []
    for r in plan.rows:
        why = bad.get(r.label.casefold())
        if why:
            plan.rejected.append(RejectedRow(r.number, r.label, [why]))
        else:
            keep.append(r)
    plan.rows = keep
    plan.rejected.sort(key=lambda r: r.number)


def _default_level(owner: Organisation) -> str:
    return str(Level.MISSION) if owner.component not in (Component.HOST_NATION, Component.COMMUNITY) \
        else str(Level.RESTRICTED)


def _match_person(actor: Actor | None, email: str, name: str,
                  org: Organisation | None) -> tuple[Person | None, list[str]]:
    """The stored person a row updates, and why it cannot match.

    By e-mail among the people whose e-mail the importer's view shows, else by full name and
    organisation among the people they may see (the name and organisation are on every view).
    Everything else answers as if it did not exist, so a row matching a hidden person (or a
    withheld e-mail) reads exactly as a new person's. The import writes nothing about such a
    person either (a write would show as a gap in the ledger's numbering): administrators who
    see both people find the pair in the "possible duplicates" of their approvals page
    (:func:`civmil.core.approvals.possible_duplicates`). ``actor`` ``None`` (the console
    operator) sees everyone.
    """
    reasons: list[str] = []
    current: Person | None = None
    if email:
        matches = _through_view(actor, Person.objects.filter(email__iexact=email), "email")
        if len(matches) > 1:
            reasons.append(_("Several people have this e-mail; fix the directory first."))
        current = matches[0] if matches else None
    if current is None and name and org is not None:
        matches = _through_view(actor, Person.objects.filter(full_name__iexact=name, owner=org), "full_name")
        if len(matches) > 1:
            reasons.append(_("Several people of this organisation have this name; add their e-mail."))
        elif matches:
            found = matches[0]
            # A different e-mail makes it another person, when the importer may see the e-mail; an
            # e-mail they may not see is not compared (the answer would tell it).
            seen_email = actor is None or access.view_for(actor, found).shows("email")
            if not (email and seen_email and found.email and found.email.casefold() != email.casefold()):
                current = found
    return current, reasons


def _through_view(actor: Actor | None, candidates: models.QuerySet[Person], field_name: str) -> list[Person]:
    """The ``candidates`` whose ``field_name`` the importer's view shows (at most two: more answer
    "several" anyway). Those hidden from the importer, or seen with ``field_name`` withheld, are
    no match."""
    if actor is None:
        return list(candidates[:2])
    visible = access.visible(actor, candidates)
    return [s.record for s in access.show_all(actor, visible.order_by("pk")) if s.view.shows(field_name)][:2]


def plan_people(actor: Actor | None, data: bytes) -> DirectoryPlan:
    """Plan a people file. ``actor`` is the importing administrator (``None``: the console operator).

    People are matched by e-mail, else by full name and organisation. A person the importer
    may not fully see cannot be updated (the row is rejected).
    """
    plan = DirectoryPlan(PEOPLE, hashlib.sha256(data).hexdigest())
    parsed = parse(data, PEOPLE)
    if parsed.error:
        plan.error = parsed.error
        return plan
    plan.rejected.extend(RejectedRow(n, "", reasons) for n, reasons in parsed.bad_rows.items())
    index = _OrgIndex()
    seen_email: dict[str, int] = {}
    seen_name: dict[tuple[str, Any], int] = {}
    contact_levels = [(lv, Level(lv).label) for lv in registry.get(Person).levels]
    for row in parsed.rows:
        v = row.values
        reasons: list[str] = []
        name = v["full_name"]
        if not name:
            reasons.append(_("The full name is empty."))
        _check_lengths(Person, v, ("full_name", "title", "email", "phone", "radio_call_sign", "messaging",
                                  "languages"),
                       reasons)
        _check_lengths(Membership, v, ("position",), reasons)
        _check_email(v["email"], "email", reasons)
        org: Organisation | None = None
        if not v["organisation"]:
            reasons.append(_("The organisation is empty."))
        else:
            org, why = index.find(v["organisation"])
            if org is None:
                reasons.append(why or _("Unknown organisation %(ref)s.") % {"ref": v["organisation"]})
        role = ""
        if v["role"]:
            role = _choice(v["role"], Role.choices) or ""
            if not role:
                reasons.append(_("Unknown role %(value)s; use one of: %(allowed)s.") % {
                    "value": v["role"], "allowed": ", ".join(Role.values)})
        elif v["position"]:
            reasons.append(_("A position needs a role."))
        level = ""
        if v["contact_level"]:
            level = _choice(v["contact_level"], contact_levels) or ""
            if not level:
                reasons.append(_("Unknown contact level %(value)s; use one of: %(allowed)s.") % {
                    "value": v["contact_level"], "allowed": ", ".join(lv for lv, _l in contact_levels)})
        # Duplicates in the file.
        email_key = v["email"].casefold()
        name_key = (name.casefold(), org.pk if org else v["organisation"].casefold())
        if email_key and email_key in seen_email:
            reasons.append(_("Duplicate in the file: row %(n)s has the same e-mail.") % {"n": seen_email[email_key]})
        elif not email_key and name and name_key in seen_name:
            reasons.append(_("Duplicate in the file: row %(n)s has the same name and organisation.") % {
                "n": seen_name[name_key]})
        if email_key:
            seen_email.setdefault(email_key, row.number)
        if name:
            seen_name.setdefault(name_key, row.number)
        # Match, through the importer's view: a person they may not see, or whose e-mail they may
        # not see, is matched by nothing they cannot see, so the row reads as for a new person.
        current, match_problems = _match_person(actor, v["email"], name, org)
        reasons.extend(match_problems)
        if current is not None and actor is not None and access.view_for(actor, current).kind != access.ViewKind.FULL:
            reasons.append(_("You may not see this person's contact details, so you may not update them."))
        owner = current.owner if current is not None else org
        if owner is not None:
            check = level or (None if current is not None else _default_level(owner))
            if check:
                level_problem = access.level_allowed_for_owner(Person, owner, check)
                if level_problem:
                    reasons.append(level_problem)
        membership: tuple[Any, str, str] | None = None
        if role and org is not None:
            existing = None
            if current is not None:
                existing = Membership.objects.filter(
                    person=current, organisation=org, role=role,
                    status__in=[MembershipStatus.ACTIVE, MembershipStatus.PENDING]).current().first()
            if existing is None:
                if role in PRIVILEGED_ROLES:
                    reasons.append(_("The role %(role)s is privileged and needs a second administrator's approval; "
                                     "grant it in the application, not by import.") % {"role": Role(role).label})
                else:
                    membership = (org.pk, role, v["position"])
            elif v["position"] and existing.position != v["position"]:
                reasons.append(_("Changing the position of an existing membership is done in the application."))
        if reasons:
            plan.rejected.append(RejectedRow(row.number, name, reasons))
            continue
        assert owner is not None
        values: dict[str, Any] = {c: v[c] for c in ("full_name", "title", "email", "phone", "radio_call_sign",
                                                    "messaging", "languages") if v[c]}
        values["level"] = level or (current.level if current is not None else _default_level(owner))
        planned = PlannedRow(row.number, CREATE, name, values, membership=membership)
        if current is None:
            planned.values["owner_id"] = owner.pk
        else:
            if current.email.casefold() == values.get("email", "").casefold():
                values.pop("email", None)  # the match key: a difference in case alone is no change
            planned.target_id = current.pk
            planned.target_version = current.version
            planned.changes = [k for k, val in values.items() if getattr(current, k) != val]
            if membership:
                planned.changes.append("membership")
            planned.action = UPDATE if planned.changes else UNCHANGED
        plan.rows.append(planned)
    plan.rejected.sort(key=lambda r: r.number)
    return plan


def plan_file(actor: Actor | None, kind: str, data: bytes) -> DirectoryPlan:
    if kind == ORGANISATIONS:
        return plan_organisations(data)
    return plan_people(actor, data)

"""Kernel services: the only code that writes identity, releases, grants and settings.

Every function runs in a transaction, checks the access policy, writes, and appends to the
ledger. Domain apps build their own services on :func:`create_record` and
:func:`update_record`.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.signals import request_started
from django.db import models, transaction
from django.db.models.signals import post_delete, post_save, pre_save
from django.utils import timezone
from django.utils.translation import gettext as _

from civmil.core import access, events, ledger, registry
from civmil.core.choices import PRIVILEGED_ROLES, Component, Level, MembershipStatus, Role
from civmil.core.errors import Forbidden, Invalid, NotFound, StaleEdit, validation_errors
from civmil.core.models import (
    Grant,
    Membership,
    MissionSettings,
    Organisation,
    Person,
    Release,
    SavedFilter,
    Space,
    User,
)

if TYPE_CHECKING:
    from civmil.core.acting import Actor

R = TypeVar("R", bound=models.Model)

ORGANISATION_FIELDS = (
    "name", "acronym", "component", "kind", "parent", "country", "description", "contact_email",
    "contact_phone", "website", "security_focal_point", "is_active",
)
PERSON_FIELDS = (
    "full_name", "title", "email", "phone", "radio_call_sign", "messaging", "languages", "is_active",
    "level", "owner",
)
SETTINGS_FIELDS = (
    "mission_name", "mission_acronym", "time_zone", "time_zone_label", "projection", "map_center_lat",
    "map_center_lon", "map_zoom", "earliest_year", "years_ahead", "session_idle_minutes", "session_max_hours",
)


def object_type(obj: models.Model | type[models.Model]) -> str:
    return f"{obj._meta.app_label}.{obj._meta.model_name}"


def _clean(obj: models.Model, exclude: Iterable[str] = ()) -> None:
    try:
        obj.full_clean(exclude=list(exclude))
    except ValidationError as exc:
        raise Invalid(_("Some fields are not valid."), errors=validation_errors(exc)) from exc


def is_administrator(actor: Actor) -> bool:
    return actor.role == Role.ADMINISTRATOR


def _require_admin(actor: Actor | None) -> None:
    """``None`` is the operator at the console, who may manage reference data."""
    if actor is not None and not is_administrator(actor):
        raise Forbidden(_("Only administrators may change the directory and mission settings."))


# ---------------------------------------------------------------------------------------------
# Protected records (used by every domain app)


def write_audience(model: type[models.Model], objs: Iterable[Any], *, new: bool = False) -> None:
    """Write the audience of records ``objs`` of ``model`` (:func:`civmil.core.access.audience_keys`),
    replacing what was there, and the level counts with it. Call it inside the transaction that
    changed the records, their releases or their grants. ``new`` records have no releases, grants
    nor audience yet."""
    from civmil.core.models.records import Audience

    objs = list(objs)
    if not objs:
        return
    content_type = ContentType.objects.get_for_model(model)
    counts: Counter[tuple[Any, str]] = Counter((o.space_id, str(o.level)) for o in objs)
    if new:
        keys = {o.pk: access.audience_keys(str(o.level), o.owner_id, o.created_by_id) for o in objs}
    else:
        keys = access.audience_of(model, objs)
        counts.subtract(_forget_audience(content_type, list(keys)))
    Audience.objects.bulk_create([
        Audience(content_type=content_type, object_id=o.pk, space_id=o.space_id, key=key, level=o.level)
        for o in objs for key in sorted(keys[o.pk])
    ])
    count_levels(content_type, counts)


def _forget_audience(content_type: ContentType, ids: list[Any]) -> Counter[tuple[Any, str]]:
    """Delete the audience of records ``ids``; how many of them were at each (space, level)."""
    from civmil.core.models.records import Audience

    rows = Audience.objects.filter(content_type=content_type, object_id__in=ids)
    was = Counter(rows.filter(key__startswith=access.LEVEL_KEY).values_list("space_id", "level"))
    rows.delete()
    return was


def count_levels(content_type: ContentType, changes: Mapping[tuple[Any, str], int]) -> None:
    """Add ``changes`` (records per (space id, level)) to the level counts of a record type."""
    from civmil.core.ledger.chain import lock_writes
    from civmil.core.models.records import AudienceCount

    if any(changes.values()):
        # The ledger's lock before the counter rows: a writer holding the ledger's lock (an import
        # between two of its rows) and one holding a counter row would otherwise wait on each other.
        lock_writes()
    for (space_id, level), n in sorted(changes.items(), key=lambda kv: (str(kv[0][0]), kv[0][1])):
        if n:
            row, _created = AudienceCount.objects.get_or_create(content_type=content_type, space_id=space_id,
                                                                level=level)
            AudienceCount.objects.filter(pk=row.pk).update(records=models.F("records") + n)


def refresh_audience(model: type[models.Model], ids: Iterable[Any]) -> None:
    """Rewrite the audience of ``model`` records ``ids`` from what the database holds now."""
    write_audience(model, model._default_manager.filter(pk__in=list(ids)))


def _record_saving(sender: type[models.Model], instance: Any, raw: bool = False, **_kw: Any) -> None:
    """Before a registered record's row is overwritten: what its stored audience was written from
    is what the row holds now, not what the instance held when it was loaded (someone may have
    saved another copy since), so :func:`_record_saved` compares with the row."""
    if raw or instance._state.adding or instance.pk is None:
        return
    try:
        registry.get(sender)
    except LookupError:
        return
    stored = sender._default_manager.filter(pk=instance.pk).values_list(*instance.AUDIENCE_FIELDS).first()
    instance._audience_basis = tuple(stored) if stored is not None else None


def _record_saved(sender: type[models.Model], instance: Any, created: bool, raw: bool = False, **_kw: Any) -> None:
    """Every save of a registered record (the services', and any other) that changes what its
    audience follows rewrites it in the same transaction; a queryset ``update()`` of level, owner
    or submitter must call :func:`refresh_audience` itself."""
    if raw:
        return
    try:
        registry.get(sender)
    except LookupError:
        return
    basis = instance.audience_basis()
    if not created and getattr(instance, "_audience_basis", None) == basis:
        return  # saved over a row with the same level, owner, submitter and space (_record_saving)
    write_audience(sender, [instance], new=created)
    instance._audience_basis = basis


def _access_saved(sender: type[models.Model], instance: Any, raw: bool = False, **_kw: Any) -> None:
    """A release or grant saved (added, revoked, recused) changes its record's audience."""
    if raw:
        return
    model = ContentType.objects.get_for_id(instance.content_type_id).model_class()
    if model is not None:
        refresh_audience(model, [instance.object_id])


def _record_deleted(sender: type[models.Model], instance: Any, **_kw: Any) -> None:
    try:
        registry.get(sender)
    except LookupError:
        return
    content_type = ContentType.objects.get_for_model(sender)
    count_levels(content_type, {k: -n for k, n in _forget_audience(content_type, [instance.pk]).items()})


pre_save.connect(_record_saving, dispatch_uid="civmil.core.services.record_audience_basis")
post_save.connect(_record_saved, dispatch_uid="civmil.core.services.record_audience")
post_delete.connect(_record_deleted, dispatch_uid="civmil.core.services.record_audience_deleted")
post_save.connect(_access_saved, sender=Release, dispatch_uid="civmil.core.services.release_audience")
post_save.connect(_access_saved, sender=Grant, dispatch_uid="civmil.core.services.grant_audience")



def create_record(
    actor: Actor,
    record: R,
    *,
    action: str,
    fields: Iterable[str],
    m2m: Mapping[str, Iterable[Any]] | None = None,
    after_save: Callable[[R], None] | None = None,
) -> R:
    """Create a protected record for ``actor``'s organisation after policy and validation."""
    reason = access.creation_refused(actor, type(record), record.owner, record.level)  # type: ignore[attr-defined]
    if reason:
        raise Forbidden(reason, errors={"level": [reason]})
    record.space_id = actor.space_id  # type: ignore[attr-defined]
    record.created_by = actor.person  # type: ignore[attr-defined]
    _clean(record, exclude=["space", "created_by"])
    with transaction.atomic():
        record.save(force_insert=True)  # its audience is written on saving (_record_saved)
        for name, values in (m2m or {}).items():
            getattr(record, name).set(values)
        if after_save:
            after_save(record)
        ledger.append(actor, action, object_type(record), record.pk,
                      {"version": 1, **ledger.snapshot(record, [*fields, *(m2m or {})])})
        events.publish(action, record)
    return record


def get_for_update(actor: Actor, model: type[R], pk: Any) -> R:
    """Lock and return a record ``actor`` may edit; a hidden record is :class:`NotFound`."""
    obj = access.fetch(actor, model, pk, derived=True, for_update=True).record
    if not access.may(actor, access.Action.EDIT, obj):
        raise Forbidden(_("You may read this record but not edit it."))
    return obj  # type: ignore[no-any-return]


def update_record(
    actor: Actor,
    model: type[R],
    pk: Any,
    expected_version: int,
    changes: dict[str, Any],
    *,
    action: str,
    m2m: Mapping[str, Iterable[Any]] | None = None,
) -> R:
    """Apply ``changes`` if the record is still at ``expected_version``; else :class:`StaleEdit`."""
    with transaction.atomic():
        obj = get_for_update(actor, model, pk)
        if obj.version != expected_version:  # type: ignore[attr-defined]
            # Nothing is written; the error carries the three-way merge of the edit (the base from
            # the ledger), so every channel can show the fields that differ and who changed them.
            from civmil.core.merge import stale_merge

            raise StaleEdit(
                _(
                    "This record was changed by someone else (now version %(now)s, you edited "
                    "version %(yours)s). Reload it, check their changes and apply yours again."
                )
                % {"now": obj.version, "yours": expected_version},  # type: ignore[attr-defined]
                current_version=obj.version,  # type: ignore[attr-defined]
                merge=stale_merge(obj, expected_version, changes, m2m),
            )
        for name, value in changes.items():
            setattr(obj, name, value)
        if "level" in changes or "owner" in changes:
            reason = access.level_allowed_for_owner(model, obj.owner, obj.level)  # type: ignore[attr-defined]
            if reason:
                raise Forbidden(reason, errors={"level": [reason]})
        _clean(obj, exclude=["space", "created_by"])
        obj.version += 1  # type: ignore[attr-defined]
        obj.save()  # and its audience with it (_record_saved)
        for name, values in (m2m or {}).items():
            getattr(obj, name).set(values)
        ledger.append(actor, action, object_type(obj), obj.pk,
                      {"version": obj.version, **ledger.snapshot(obj, [*changes, *(m2m or {})])})  # type: ignore[attr-defined]
        events.publish(action, obj)
    return obj


def _target_kwargs(organisation: Organisation | None, component: str, person: Person | None) -> dict[str, Any]:
    given = [x for x in (organisation, component, person) if x]
    if len(given) != 1:
        raise Invalid(_("A release needs exactly one target: an organisation, a component or a person."),
                      errors={"target": [_("Choose exactly one target.")]})
    if component and component not in Component.values:
        raise Invalid(_("Unknown component."), errors={"target_component": [_("Unknown component.")]})
    return {"target_organisation": organisation, "target_component": component or "",
            "target_person": person}


def release_record(
    actor: Actor,
    obj: models.Model,
    *,
    organisation: Organisation | None = None,
    component: str = "",
    person: Person | None = None,
    fields: list[str] | None = None,
) -> Release:
    """Release ``obj`` (fully, or a declared set of fields) to one target. Owners only."""
    record_type = registry.get(type(obj))
    view = access.view_for(actor, obj)
    if not view:
        raise NotFound(_("No such record."))
    if not access.may(actor, access.Action.RELEASE, obj, view):
        raise Forbidden(_("Only members of the owning organisation may release this record."))
    if obj.level == Level.OVERSIGHT:  # type: ignore[attr-defined]
        raise Forbidden(_("Oversight records are opened only by case grants, never by releases."))
    if fields is not None:
        unknown = sorted(set(fields) - set(record_type.release_fields))
        if unknown or not fields:
            raise Invalid(
                _("These fields cannot be released one by one: %(f)s. Releasable: %(ok)s.")
                % {"f": ", ".join(unknown) or "-", "ok": ", ".join(record_type.release_fields)},
                errors={"fields": [_("Choose fields among the releasable ones.")]},
            )
        fields = sorted(set(fields))
    target = _target_kwargs(organisation, component, person)
    with transaction.atomic():
        release = Release.objects.create(
            content_type=ContentType.objects.get_for_model(obj), object_id=obj.pk, fields=fields,
            released_by=actor.person, **target,
        )
        ledger.append(actor, "release.added", object_type(obj), obj.pk, {
            "release": release.pk, "fields": fields,
            "target_organisation": organisation.pk if organisation else None,
            "target_component": component or None, "target_person": person.pk if person else None,
        })
        events.publish("release.added", obj)
    return release


def revoke_release(actor: Actor, release: Release) -> Release:
    obj = release.content_type.get_object_for_this_type(pk=release.object_id)
    if not access.may(actor, access.Action.RELEASE, obj):
        raise NotFound(_("No such release."))
    with transaction.atomic():
        Release.objects.filter(pk=release.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        write_audience(type(obj), [obj])
        ledger.append(actor, "release.revoked", object_type(obj), obj.pk, {"release": release.pk})
        events.publish("release.revoked", obj)
    release.refresh_from_db()
    return release


def grant_access(actor: Actor, obj: models.Model, person: Person, purpose: str) -> Grant:
    """Give one person access to one record for a purpose."""
    if not purpose.strip():
        raise Invalid(_("Say why the grant is given."), errors={"purpose": [_("This field is required.")]})
    if not access.may(actor, access.Action.GRANT, obj):
        raise NotFound(_("No such record."))
    with transaction.atomic():
        grant = Grant.objects.create(content_type=ContentType.objects.get_for_model(obj), object_id=obj.pk,
                                     person=person, purpose=purpose.strip()[:300], granted_by=actor.person)
        ledger.append(actor, "grant.added", object_type(obj), obj.pk,
                      {"grant": grant.pk, "person": person.pk, "purpose": grant.purpose})
    return grant


def revoke_grant(actor: Actor, grant: Grant) -> Grant:
    obj = grant.content_type.get_object_for_this_type(pk=grant.object_id)
    if not access.may(actor, access.Action.GRANT, obj):
        raise NotFound(_("No such grant."))
    with transaction.atomic():
        Grant.objects.filter(pk=grant.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        write_audience(type(obj), [obj])
        ledger.append(actor, "grant.revoked", object_type(obj), obj.pk, {"grant": grant.pk})
        events.publish("grant.revoked", obj)
    grant.refresh_from_db()
    return grant


def recuse(actor: Actor, grant: Grant, reason: str) -> Grant:
    """The holder of a grant steps aside; the grant stops opening the record at once."""
    if grant.person_id != actor.person_id:
        raise NotFound(_("No such grant."))
    with transaction.atomic():
        Grant.objects.filter(pk=grant.pk, recused_at__isnull=True).update(
            recused_at=timezone.now(), recusal_reason=reason.strip()[:300])
        refresh_audience(grant.content_type.model_class(), [grant.object_id])  # type: ignore[arg-type]
        ledger.append(actor, "grant.recused", f"{grant.content_type.app_label}.{grant.content_type.model}",
                      grant.object_id, {"grant": grant.pk, "reason": reason.strip()[:300]})
    grant.refresh_from_db()
    return grant


# ---------------------------------------------------------------------------------------------
# Identity


def save_organisation(actor: Actor | None, org: Organisation, expected_version: int | None = None) -> Organisation:
    """Create or update an organisation (administrators, or the operator at the console)."""
    _require_admin(actor)
    _clean(org)
    if org.parent_id and org.pk and org.parent_id == org.pk:
        raise Invalid(_("An organisation cannot be its own parent."), errors={"parent": [_("Choose another parent.")]})
    if org.parent is not None and org.pk and any(a.pk == org.pk for a in org.parent.ancestors()):
        raise Invalid(_("That parent would make a loop in the hierarchy."),
                      errors={"parent": [_("Choose a parent outside this organisation's own branch.")]})
    with transaction.atomic():
        creating = org._state.adding
        if not creating:
            current = Organisation.objects.select_for_update().get(pk=org.pk)
            if expected_version is not None and current.version != expected_version:
                raise StaleEdit(_("This organisation was changed by someone else; reload it and try again."),
                                current_version=current.version)
            org.version = current.version + 1
        org.save(force_insert=creating)
        ledger.append(actor, "organisation.created" if creating else "organisation.updated",
                      object_type(org), org.pk, {"version": org.version, **ledger.snapshot(org, ORGANISATION_FIELDS)})
    return org


def save_person(actor: Actor | None, person: Person, expected_version: int | None = None,
                space: Space | None = None) -> Person:
    """Create or update a person record (administrators, the operator, or the person's own organisation)."""
    if actor is not None and not is_administrator(actor) and person.owner_id != actor.organisation_id:
        raise Forbidden(_("Only administrators or the person's own organisation may change this person."))
    reason = access.level_allowed_for_owner(Person, person.owner, person.level)
    if reason:
        raise Forbidden(reason, errors={"level": [reason]})
    if not person.space_id:
        person.space = space or Space.live()
    _clean(person, exclude=["created_by", "user"])
    with transaction.atomic():
        creating = person._state.adding
        if not creating:
            current = Person.objects.select_for_update().get(pk=person.pk)
            if actor is not None and not access.view_for(actor, current).kind == access.ViewKind.FULL:
                raise Forbidden(_("You may not see this person's contact details, so you may not edit them."))
            if expected_version is not None and current.version != expected_version:
                raise StaleEdit(_("This person was changed by someone else; reload and try again."),
                                current_version=current.version)
            person.version = current.version + 1
        elif actor is not None:
            person.created_by = actor.person
        person.save(force_insert=creating)  # and its audience with it (_record_saved)
        ledger.append(actor, "person.created" if creating else "person.updated", object_type(person),
                      person.pk, {"version": person.version, **ledger.snapshot(person, PERSON_FIELDS)})
    return person


def add_membership(
    actor: Actor | None,
    *,
    person: Person,
    organisation: Organisation,
    role: str,
    position: str = "",
    starts_on: dt.date | None = None,
    ends_on: dt.date | None = None,
) -> Membership:
    """Add a membership.

    Two kinds wait for a second administrator's approval (:func:`decide_membership`): any
    membership of a privileged role, and any membership an administrator adds for themselves,
    in any role (it would widen their own view). The console (``actor`` None) is the operator's.
    """
    _require_admin(actor)
    requested_by = User.objects.get(pk=actor.user_id) if actor and actor.user_id else None
    for_themselves = actor is not None and (
        (actor.person_id is not None and person.pk == actor.person_id)
        or (actor.user_id is not None and person.user_id == actor.user_id))
    waits = actor is not None and (role in PRIVILEGED_ROLES or for_themselves)
    membership = Membership(
        person=person, organisation=organisation, role=role, position=position,
        starts_on=starts_on or timezone.localdate(), ends_on=ends_on,
        status=MembershipStatus.PENDING if waits else MembershipStatus.ACTIVE,
        requested_by=requested_by,
    )
    _clean(membership)
    with transaction.atomic():
        membership.save(force_insert=True)
        ledger.append(actor, "membership.requested" if membership.status == MembershipStatus.PENDING
                      else "membership.added", object_type(membership), membership.pk, _membership_change(membership))
    return membership


def _membership_change(m: Membership) -> dict[str, Any]:
    return ledger.snapshot(m, ("person", "organisation", "role", "position", "starts_on", "ends_on", "status"))


def decide_membership(actor: Actor, membership: Membership, *, approve: bool) -> Membership:
    """A second administrator approves (or refuses) a privileged membership."""
    _require_admin(actor)
    if actor.user_id is None:
        raise Forbidden(_("Approval needs a signed-in administrator."))
    with transaction.atomic():
        m = Membership.objects.select_for_update().get(pk=membership.pk)
        if not access.view_for(actor, m.person):
            raise NotFound(_("No such membership."))
        if m.status != MembershipStatus.PENDING:
            raise Invalid(_("This membership is not waiting for approval."))
        if m.requested_by_id == actor.user_id:
            raise Forbidden(_("A second administrator must approve: you requested this membership."))
        if (m.person.user_id is not None and m.person.user_id == actor.user_id) or m.person_id == actor.person_id:
            raise Forbidden(_("You cannot approve a membership of your own."))
        m.status = MembershipStatus.ACTIVE if approve else MembershipStatus.REFUSED
        m.approved_by_id = actor.user_id
        m.save(update_fields=["status", "approved_by"])
        ledger.append(actor, "membership.approved" if approve else "membership.refused",
                      object_type(m), m.pk, _membership_change(m))
        if m.person.user_id:
            events.actor_changed(m.person.user_id)
    return m


def end_membership(actor: Actor | None, membership: Membership, on: dt.date | None = None) -> Membership:
    _require_admin(actor)
    with transaction.atomic():
        m = Membership.objects.select_for_update().get(pk=membership.pk)
        m.ends_on = on or timezone.localdate()
        if m.ends_on < m.starts_on:
            m.ends_on = m.starts_on
        m.status = MembershipStatus.ENDED if m.ends_on <= timezone.localdate() else m.status
        m.save(update_fields=["ends_on", "status"])
        ledger.append(actor, "membership.ended", object_type(m), m.pk, _membership_change(m))
        if m.person.user_id:
            events.actor_changed(m.person.user_id)
    return m


def record_acting_switch(actor: Actor, membership: Membership) -> None:
    """Write a switch of the acting membership to the ledger (the session is the caller's)."""
    if actor.person_id is None or membership.person_id != actor.person_id or not membership.is_current():
        raise NotFound(_("No such membership."))
    with transaction.atomic():
        ledger.append(actor, "membership.acting", object_type(membership), membership.pk,
                      {"from": actor.membership_id, "to": membership.pk})


def create_account(
    actor: Actor | None,
    *,
    username: str,
    email: str,
    password: str | None,
    person: Person,
) -> User:
    """Create a sign-in account for an existing person, at the console (the operator's act).

    In the application, accounts are made by invitation (:func:`civmil.core.approvals.invite_account`):
    an administrator never chooses a password.
    """
    if actor is not None:
        raise Forbidden(_("Accounts are created by invitation: the person sets their own password."))
    if person.user_id is not None:
        raise Invalid(_("This person already has an account."))
    if User.objects.filter(username__iexact=username).exists():
        raise Invalid(_("That username is taken."), errors={"username": [_("That username is taken.")]})
    with transaction.atomic():
        user = User(username=username, email=email)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save()
        Person.objects.filter(pk=person.pk).update(user=user)
        person.user = user
        ledger.append(actor, "account.created", object_type(user), user.pk,
                      {"username": username, "person": person.pk})
    return user


def create_console_admin(
    *, username: str, email: str, password: str, full_name: str, organisation: Organisation
) -> User:
    """``civmil createadmin``: only the first two administrators are created at the console."""
    admins = Membership.objects.filter(role=Role.ADMINISTRATOR, status=MembershipStatus.ACTIVE).count()
    if admins >= 2:
        raise Forbidden(_("There are already two administrators; further ones need approval in the application."))
    with transaction.atomic():
        person = save_person(None, Person(full_name=full_name, email=email, owner=organisation,
                                          level=Level.MISSION))
        user = create_account(None, username=username, email=email, password=password, person=person)
        add_membership(None, person=person, organisation=organisation, role=Role.ADMINISTRATOR,
                       position=_("Administrator"))
    return user


#: Mission settings already read, per space: (when, settings). Several parts of every request read
#: them (session limits, time zone, date windows). Emptied when a request starts and when they are
#: changed here; a copy read by another process is at most SETTINGS_SECONDS old.
_settings_read: dict[Any, tuple[float, MissionSettings]] = {}
SETTINGS_SECONDS = 2.0


def _forget_settings(**_kwargs: Any) -> None:
    _settings_read.clear()


request_started.connect(_forget_settings, dispatch_uid="civmil.core.services.forget_settings")
post_save.connect(_forget_settings, sender=MissionSettings, dispatch_uid="civmil.core.services.settings_saved")


def mission_settings(space_id: Any, *, fresh: bool = False) -> MissionSettings:
    """The settings of a mission (or exercise) space, made on first use. The object is shared:
    callers read it and change settings only through :func:`update_mission_settings`.
    ``fresh`` reads the database (an edit form that checks the version)."""
    now = time.monotonic()
    seen = None if fresh else _settings_read.get(space_id)
    if seen is not None and now - seen[0] < SETTINGS_SECONDS:
        return seen[1]
    settings, _created = MissionSettings.objects.get_or_create(space_id=space_id)
    _settings_read[space_id] = (now, settings)
    return settings


def update_mission_settings(actor: Actor | None, space: Space, changes: dict[str, Any],
                            expected_version: int | None = None) -> MissionSettings:
    _require_admin(actor)
    with transaction.atomic():
        settings, _created = MissionSettings.objects.select_for_update().get_or_create(space=space)
        if expected_version is not None and settings.version != expected_version:
            raise StaleEdit(_("The mission settings were changed by someone else; reload and try again."),
                            current_version=settings.version)
        for name, value in changes.items():
            if name not in SETTINGS_FIELDS:
                raise Invalid(_("Unknown setting: %(name)s") % {"name": name})
            setattr(settings, name, value)
        _clean(settings, exclude=["space"])
        settings.version += 1
        settings.save()
        ledger.append(actor, "settings.updated", object_type(settings), space.pk,
                      {"version": settings.version, **ledger.snapshot(settings, SETTINGS_FIELDS)},
                      space_id=space.pk)
        transaction.on_commit(_forget_settings)  # a copy read while this change was not yet committed
    return settings


def set_preferred_language(actor: Actor, language: str) -> None:
    """Remember the interface language a signed-in person chose (ledgered)."""
    from django.conf import settings as django_settings

    if language not in dict(django_settings.LANGUAGES):
        raise Invalid(_("Unknown language."), errors={"language": [_("Choose one of the offered languages.")]})
    if actor.user_id is None:
        return
    with transaction.atomic():
        User.objects.filter(pk=actor.user_id).update(language=language)
        ledger.append(actor, "account.language", "core.user", actor.user_id, {"language": language})


# ---------------------------------------------------------------------------------------------
# Saved filters of the record lists (a person's own, ledgered as their other settings are)

#: Parameters of a list's URL that are no filter of it (its page; a form's token).
_NOT_FILTERS = ("page", "csrfmiddlewaretoken")


def list_query(query: str) -> str:
    """A list's query string as a saved filter keeps it: without its page, empty values left out."""
    from django.http import QueryDict

    given = QueryDict(query)
    kept = QueryDict(mutable=True)
    for key, values in given.lists():
        if key not in _NOT_FILTERS:
            kept.setlist(key, [v for v in values if v.strip()])
    return kept.urlencode()


def save_filter(actor: Actor, record_type_key: str, name: str, query: str) -> SavedFilter:
    """Save the filters of a type's list under a name, for the actor's person alone; a filter of
    the same name on that list is replaced."""
    if actor.person_id is None:
        raise Invalid(_("Only people with a person record can save filters."))
    try:
        registry.by_key(record_type_key)
    except LookupError as exc:
        raise Invalid(_("There is no such list.")) from exc
    name = " ".join(name.split())
    if not name:
        raise Invalid(_("Give the filters a name."), errors={"name": [_("Give the filters a name.")]})
    if len(name) > 100:
        raise Invalid(_("A name has at most 100 characters."), errors={"name": [_("At most 100 characters.")]})
    query = list_query(query)
    if len(query) > 2000:
        raise Invalid(_("These filters are too long to save."))
    with transaction.atomic():
        saved, _created = SavedFilter.objects.update_or_create(
            person_id=actor.person_id, record_type=record_type_key, name=name, defaults={"query": query})
        ledger.append(actor, "saved_filter.saved", "core.person", actor.person_id,
                      {"record_type": record_type_key, "name": name, "query": query})
    return saved


def delete_saved_filter(actor: Actor, pk: Any) -> SavedFilter:
    """Delete one of the actor's saved filters (another person's is not found)."""
    with transaction.atomic():
        saved = SavedFilter.objects.filter(person_id=actor.person_id, pk=pk).first() \
            if actor.person_id is not None else None
        if saved is None:
            raise NotFound(_("No such saved filter."))
        saved.delete()
        ledger.append(actor, "saved_filter.deleted", "core.person", actor.person_id,
                      {"record_type": saved.record_type, "name": saved.name})
    return saved

"""Loading the demo mission through the services, so the ledger and the policy see all of it.

Everything is written by the same service functions users go through (organisations, people,
accounts, memberships with a second administrator's approval, areas, liaison assignments, the
liaison log and its releases). The random choices come from one seeded generator and every
time is relative to the moment of loading, so two loads tell the same story.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import random
import re
import time
import zoneinfo
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from civmil.actors import services as actor_services
from civmil.actors.choices import AreaKind, ContactChannel
from civmil.actors.models import Area, LiaisonAssignment, LiaisonLogEntry
from civmil.core import access, ledger, services
from civmil.core.acting import Actor
from civmil.core.choices import PRIVILEGED_ROLES, Component, Level, MembershipStatus, Role
from civmil.core.geometry import point
from civmil.core.models import Membership, MissionSettings, Organisation, Person, Release, Space, User
from civmil.demo import data, world

SEED = 4177
ENTRY_COUNT = 200
HISTORY_DAYS = 90
AREA_SOURCE = "civmil demo (fictional)"

#: Sectors and the province each is responsible for.
SECTOR_AORS = (("shq_n", "KV01", "Sector North"), ("shq_c", "KV02", "Sector Centre"), ("shq_e", "KV03", "Sector East"))


@dataclass
class LoadReport:
    now: dt.datetime
    seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class _Recorder:
    login: str
    actor: Actor
    visible_people: list[Person]


@dataclass
class _Cast:
    orgs: dict[str, Organisation]
    people: dict[str, Person]
    users: dict[str, User]
    memberships: dict[tuple[str, str], Membership]  # (person key, org key)
    actors: dict[tuple[str, str], Actor]  # (login, org key)
    areas: dict[str, Area]


# ---------------------------------------------------------------------------------------------
# Presence


def present() -> bool:
    """Is the demo mission (or any of its logins) in the database?"""
    return bool(presence())


def presence() -> list[str]:
    """What of the demo is in the database, described for an operator (empty when none)."""
    found: list[str] = []
    logins = sorted(User.objects.filter(username__in=data.LOGINS, email__iendswith=data.DEMO_MAIL_SUFFIX)
                    .values_list("username", flat=True))
    if logins:
        found.append("demo logins: " + ", ".join(logins))
    if Organisation.objects.filter(name=data.HQ_NAME).exists() or MissionSettings.objects.filter(
        mission_acronym=data.MISSION_ACRONYM, mission_name=data.MISSION_NAME
    ).exists():
        found.append(f"the demo mission {data.MISSION_ACRONYM}")
    return found


def database_is_empty() -> bool:
    """The demo loads only into a database without organisations."""
    return not Organisation.objects.exists()


# ---------------------------------------------------------------------------------------------
# Loading


def load(now: dt.datetime | None = None, seed: int = SEED, entries: int = ENTRY_COUNT) -> LoadReport:
    """Load the demo mission into an empty database, in one transaction.

    ``entries`` is the number of liaison log entries (fewer make a quicker cast-only load).
    """
    started = time.perf_counter()
    now = (now or timezone.now()).replace(second=0, microsecond=0)
    rng = random.Random(seed)
    # The demo's mentions would e-mail people who do not exist: send nothing while loading.
    previous_backend = settings.EMAIL_BACKEND
    settings.EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
    try:
        with transaction.atomic():
            space = Space.live()
            services.update_mission_settings(None, space, _settings())
            cast = _Cast({}, {}, {}, {}, {}, {})
            _organisations(cast, rng)
            _administrators(cast)
            _people(cast, rng, now)
            _areas(cast)
            _assignments(cast, now)
            recorded = _liaison_log(cast, rng, now, entries)
            discussed = _discussions(cast)
        _second_factors(cast)
    finally:
        settings.EMAIL_BACKEND = previous_backend
    report = LoadReport(now=now, seconds=time.perf_counter() - started)
    report.counts = {
        "organisations": len(cast.orgs), "people": len(cast.people), "logins": len(cast.users),
        "areas": len(cast.areas), "assignments": LiaisonAssignment.objects.count(),
        "liaison_entries": recorded, "discussed_entries": discussed,
    }
    return report


def _settings() -> dict[str, Any]:
    lat, lon = world.build().center
    return {
        "mission_name": data.MISSION_NAME, "mission_acronym": data.MISSION_ACRONYM,
        "time_zone": data.MISSION_TIME_ZONE, "map_center_lat": lat, "map_center_lon": lon,
        "map_zoom": data.MAP_ZOOM,
    }


def _phone(rng: random.Random) -> str:
    # +999 is not assigned to any country, so no demo number rings a real phone.
    return f"+999 {rng.randint(20, 99)} {rng.randint(100, 999)} {rng.randint(1000, 9999)}"


def _organisations(cast: _Cast, rng: random.Random) -> None:
    for spec in data.ORGANISATIONS:
        slug = re.sub(r"[^a-z0-9]+", "-", spec.acronym.lower()).strip("-")
        org = Organisation(
            name=spec.name, acronym=spec.acronym, component=spec.component, kind=spec.kind,
            parent=cast.orgs[spec.parent] if spec.parent else None, description=spec.description,
            contact_email=f"{slug}@{spec.domain}", contact_phone=_phone(rng),
        )
        cast.orgs[spec.key] = services.save_organisation(None, org)


def _person(cast: _Cast, spec: data.PersonSpec, rng: random.Random) -> Person:
    person = services.save_person(None, Person(
        full_name=spec.full_name, title=spec.title, email=spec.email(), phone=_phone(rng),
        radio_call_sign=spec.call_sign, languages=spec.languages, owner=cast.orgs[spec.owner], level=spec.level,
    ))
    cast.people[spec.key] = person
    return person


def _actor(cast: _Cast, login: str, org_key: str) -> Actor:
    key = next(p.key for p in data.PEOPLE if p.login == login)
    membership = cast.memberships[(key, org_key)]
    return Actor(user_id=cast.users[login].pk, person=cast.people[key], membership=membership)


def _administrators(cast: _Cast) -> None:
    """The two administrators, created as at the console (``civmil createadmin``)."""
    for key in ("admin", "admin2"):
        spec = data.PERSON_BY_KEY[key]
        user = services.create_console_admin(
            username=spec.login, email=spec.email(), password=data.PASSWORD, full_name=spec.full_name,
            organisation=cast.orgs[spec.owner],
        )
        person = Person.objects.get(user=user)
        cast.people[key] = person
        cast.users[spec.login] = user
        cast.memberships[(key, spec.owner)] = Membership.objects.get(person=person, role=Role.ADMINISTRATOR)
        cast.actors[(spec.login, spec.owner)] = _actor(cast, spec.login, spec.owner)


def _people(cast: _Cast, rng: random.Random, now: dt.datetime) -> None:
    """Everyone else. Privileged memberships are requested by one administrator and approved by the other."""
    requester = cast.actors[("admin", "fts")]
    approver = cast.actors[("admin2", "fts")]
    today = timezone.localdate(now)
    for spec in data.PEOPLE:
        if spec.key in cast.people:
            continue
        person = _person(cast, spec, rng)
        if spec.login:
            cast.users[spec.login] = services.create_account(
                None, username=spec.login, email=spec.email(), password=data.PASSWORD, person=person)
        for job in spec.jobs:
            privileged = job.role in PRIVILEGED_ROLES
            membership = services.add_membership(
                requester if privileged else None, person=person, organisation=cast.orgs[job.org], role=job.role,
                position=job.position, starts_on=today - dt.timedelta(days=job.since_days),
            )
            if membership.status == MembershipStatus.PENDING:
                membership = services.decide_membership(approver, membership, approve=True)
            cast.memberships[(spec.key, job.org)] = membership
        if spec.login:
            for job in spec.jobs:
                cast.actors[(spec.login, job.org)] = _actor(cast, spec.login, job.org)


def _areas(cast: _Cast) -> None:
    geography = world.build()
    for province in geography.provinces:
        cast.areas[province.pcode] = actor_services.save_area(None, Area(
            kind=AreaKind.ADMINISTRATIVE, name=province.name, pcode=province.pcode, admin_level=1,
            source=AREA_SOURCE), province.geojson())
    for district in geography.districts:
        cast.areas[district.pcode] = actor_services.save_area(None, Area(
            kind=AreaKind.ADMINISTRATIVE, name=district.name, pcode=district.pcode, admin_level=2,
            parent=cast.areas[district.parent_pcode] if district.parent_pcode else None, source=AREA_SOURCE,
        ), district.geojson())
    for org_key, pcode, sector in SECTOR_AORS:
        cast.areas[f"aor:{org_key}"] = actor_services.save_area(None, Area(
            kind=AreaKind.RESPONSIBILITY, name=f"{sector} area of responsibility", responsible=cast.orgs[org_key],
            source=AREA_SOURCE), geography.area(pcode).geojson())


# ---------------------------------------------------------------------------------------------
# Liaison assignments


@dataclass(frozen=True)
class _AssignmentSpec:
    login: str
    org: str  # the organisation the login acts for (the assignment's owner)
    officer: str
    level: str
    since_days: int
    to_org: str = ""
    community: str = ""
    place: str = ""
    notes: str = ""


ASSIGNMENTS: tuple[_AssignmentSpec, ...] = (
    _AssignmentSpec("milstaff", "u9", "u9_lo", Level.MISSION, 85, to_org="ochr",
                    notes="Attends the humanitarian country team's access working group every Tuesday."),
    _AssignmentSpec("milstaff", "u9", "u9_so", Level.MILITARY, 60, to_org="unpol",
                    notes="Daily synchronisation of patrol plans with the police component."),
    _AssignmentSpec("cmcoord", "ochr", "cmcoord", Level.MISSION, 80, to_org="fhq",
                    notes="Humanitarian liaison at the Force Headquarters' morning briefing."),
    _AssignmentSpec("cmcoord", "ochr", "ochr_access", Level.HUMANITARIAN, 45, community="Iskarn displacement site",
                    place="Iskarn displacement site", notes="Access monitoring and the site's complaint box."),
    _AssignmentSpec("milliaison", "bn_a", "milliaison", Level.MILITARY, 70, to_org="gov_orv",
                    notes="Weekly meeting with the governorate's security council."),
    _AssignmentSpec("milliaison", "bn_a", "bna_cla", Level.MISSION, 90, community="Vintra east quarter",
                    place="Vintra east quarter", notes="Community alert network focal point for the battalion."),
    _AssignmentSpec("milliaison", "bn_a", "bna_cla", Level.MISSION, 40, community="Kessamo", place="Kessamo",
                    notes="Market-day visits with the community protection committee."),
    _AssignmentSpec("police", "unpol", "police", Level.MISSION, 75, to_org="knp",
                    notes="Co-location with the national police liaison office in Lusenna."),
    _AssignmentSpec("civstaff", "cas", "civstaff", Level.MISSION, 65, community="Sarnet river villages",
                    place="Sarnet river villages", notes="Dialogue on grazing corridors before the dry season."),
    _AssignmentSpec("civstaff", "cas", "cas_cla", Level.MISSION, 88, community="Dovrin displacement site",
                    place="Dovrin displacement site", notes="Community liaison assistant living in the site."),
    _AssignmentSpec("civstaff", "cas", "cas_tam", Level.MISSION, 30, to_org="gov_tam",
                    notes="Support to the governorate's district development plans."),
    _AssignmentSpec("ngostaff", "fmr", "fmr_sec", Level.HUMANITARIAN, 50, to_org="ochr",
                    notes="NGO security focal point in the humanitarian access working group."),
    _AssignmentSpec("hostliaison", "gov_orv", "hostliaison", Level.RESTRICTED, 60, to_org="hq",
                    notes="The governorate's liaison officer at the mission headquarters."),
    _AssignmentSpec("community", "cpc_vin", "cpc_vin2", Level.RESTRICTED, 35, community="Vintra town",
                    place="Vintra town", notes="Relays alerts from the market committee."),
)


def _assignments(cast: _Cast, now: dt.datetime) -> None:
    geography = world.build()
    today = timezone.localdate(now)
    for spec in ASSIGNMENTS:
        actor = cast.actors[(spec.login, spec.org)]
        area_id = None
        location = ""
        if spec.place:
            place = geography.place(spec.place)
            area_id = cast.areas[place.district_pcode].pk
            location = f"{place.lat}, {place.lon}"
        actor_services.assign_liaison(actor, actor_services.Assignment(
            officer_id=cast.people[spec.officer].pk, starts_on=today - dt.timedelta(days=spec.since_days),
            level=spec.level, to_organisation_id=cast.orgs[spec.to_org].pk if spec.to_org else None,
            community=spec.community, area_id=area_id, location=location, notes=spec.notes,
        ))


# ---------------------------------------------------------------------------------------------
# The liaison log

#: Who records entries at each level: (login, organisation acted for, weight).
RECORDERS: dict[str, tuple[tuple[str, str, int], ...]] = {
    Level.MISSION: (("milstaff", "u9", 3), ("milliaison", "bn_a", 3), ("police", "unpol", 2), ("civstaff", "cas", 3),
                    ("cmcoord", "ochr", 3), ("ngostaff", "fmr", 1), ("srsg", "osrsg", 1)),
    Level.HUMANITARIAN: (("cmcoord", "ochr", 3), ("ngostaff", "fmr", 3), ("civstaff", "cas", 1),
                         ("dsrsg", "ochr", 1)),
    Level.MILITARY: (("milstaff", "u9", 3), ("milliaison", "bn_a", 3), ("police", "unpol", 2)),
    Level.RESTRICTED: (("hostliaison", "gov_orv", 2), ("community", "cpc_vin", 2), ("srsg", "osrsg", 1),
                       ("civstaff", "cas", 1), ("dsrsg", "osrsg", 1)),
}
LEVEL_WEIGHTS = ((Level.MISSION, 45), (Level.HUMANITARIAN, 22), (Level.MILITARY, 20), (Level.RESTRICTED, 13))

#: Counterparts an entry at each level may name, by component.
COUNTERPARTS: dict[str, tuple[str, ...]] = {
    Level.MISSION: (Component.MILITARY, Component.POLICE, Component.CIVILIAN, Component.HUMANITARIAN,
                    Component.HOST_NATION, Component.COMMUNITY),
    Level.HUMANITARIAN: (Component.HUMANITARIAN, Component.CIVILIAN, Component.HOST_NATION, Component.COMMUNITY),
    Level.MILITARY: (Component.MILITARY, Component.POLICE, Component.HOST_NATION),
    Level.RESTRICTED: (Component.CIVILIAN, Component.HOST_NATION, Component.COMMUNITY, Component.HUMANITARIAN),
}

ACTIVITIES = ("food distributions", "vaccination rounds", "water trucking", "the reopening of schools",
              "shelter kit deliveries", "mobile clinic visits", "cash-for-work payments")
TOPICS: dict[str, tuple[str, ...]] = {
    Level.MISSION: (
        "Weekly civil-military coordination meeting in {place}: reviewed road access to {place2}, the schedule "
        "of {activity} and the open action items.",
        "Call with {org} on the security situation around {place}; no change to the posture, next update in two "
        "days.",
        "Joint visit to {place} with {org}: the market has reopened, but families report cattle thefts on the "
        "road to {place2}.",
        "{org} asked for an update on the repair of the bridge near {place}; the engineers expect to finish "
        "within ten days.",
        "Briefing for {org} on the mission's protection of civilians priorities in {district}.",
        "Radio check with {org} at {place}: patrol and distribution schedules exchanged for the coming week.",
        "Integrated planning session with {org} on the rainy-season contingency plan for {district}.",
    ),
    Level.HUMANITARIAN: (
        "Protection monitoring in {place}: {n} households arrived from {place2} this week, most of them women "
        "and children; shelter needs are urgent.",
        "{org} reports that people at {place} fear travelling to the distribution point after dark; "
        "distributions move to the morning.",
        "Coordination with {org} on the measles vaccination campaign in {district}; the cold chain is confirmed.",
        "Access negotiation for the convoy to {place}: the local authorities agreed; no armed escort requested, "
        "the last-resort criteria are not met.",
        "Referral pathway for survivors of gender-based violence in {district} updated with {org}; two service "
        "points added.",
        "{org} flagged {n} unaccompanied children at {place}; family tracing started with the Red Cross society.",
    ),
    Level.MILITARY: (
        "Patrol plan for {district} shared with {org}: day and night patrols on the road to {place2} for the next "
        "fortnight.",
        "Engineer reconnaissance of the river crossing near {place} with {org}; load class assessed and repair "
        "materials requested.",
        "Helicopter landing site at {place} surveyed for casualty evacuation; grid reference passed to {org}.",
        "Report of armed men near {place}; the quick reaction force is on standby and {org} is informed.",
        "Coordination with {org} on the security perimeter of the {place} base during the troop rotation.",
    ),
    Level.RESTRICTED: (
        "Private meeting with {org} on tensions between the governorate and the {place} committee over land "
        "allocation.",
        "The committee chair at {place} reported threats after speaking to the mission; relocation options "
        "discussed in confidence with {org}.",
        "{org} shared concerns about the recruitment of minors near {place}.",
        "Confidential briefing with {org} on negotiations over the return of displaced families to {place}.",
    ),
}
FOLLOW_UPS = (
    "", "", "Share the revised schedule with the battalion liaison officer.",
    "Raise at the next integrated planning meeting.", "Confirm the road assessment by Friday.",
    "Send the list of contacts to the sector headquarters.", "Follow up with the governorate next week.",
)

#: Field releases: what an owner releases of its entries to a named organisation.
DECONFLICTION_FIELDS = ["geometry", "occurred_at", "place_name"]
SUMMARY_FIELDS = ["channel", "occurred_at", "place_name", "summary"]
PROVINCE_GOVERNORATE = {"KV01": "gov_orv", "KV02": "gov_tam", "KV03": "gov_ker"}


def _recorders(cast: _Cast) -> dict[str, list[tuple[_Recorder, int]]]:
    result: dict[str, list[tuple[_Recorder, int]]] = {}
    seen: dict[tuple[str, str], _Recorder] = {}
    for level, recorders in RECORDERS.items():
        for login, org_key, weight in recorders:
            if (login, org_key) not in seen:
                actor = cast.actors[(login, org_key)]
                people = list(access.visible(actor, Person.objects.all()).order_by("full_name", "id"))
                seen[(login, org_key)] = _Recorder(login, actor, people)
            result.setdefault(level, []).append((seen[(login, org_key)], weight))
    return result


def _pick(rng: random.Random, weighted: list[tuple[Any, int]] | tuple[tuple[Any, int], ...]) -> Any:
    return rng.choices([item for item, _w in weighted], weights=[w for _i, w in weighted])[0]


def _mission_midnight(now: dt.datetime) -> dt.datetime:
    """Midnight of the load date in the mission's time zone: the anchor of every demo time."""
    local = now.astimezone(zoneinfo.ZoneInfo(data.MISSION_TIME_ZONE))
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def _working_hours(rng: random.Random, now: dt.datetime) -> dt.datetime:
    """A time between 07:00 and 19:00 (mission time) on one of the days before the load date."""
    day = _mission_midnight(now) - dt.timedelta(days=rng.randint(1, HISTORY_DAYS))
    return (day + dt.timedelta(minutes=rng.randint(7 * 60, 19 * 60 - 1))).astimezone(dt.UTC)


def _liaison_log(cast: _Cast, rng: random.Random, now: dt.datetime, count: int) -> int:
    geography = world.build()
    recorders = _recorders(cast)
    orgs_by_component: dict[str, list[Organisation]] = {}
    for spec in data.ORGANISATIONS:
        orgs_by_component.setdefault(spec.component, []).append(cast.orgs[spec.key])
    # Every level appears; the rest follow the weights. Then everything is recorded oldest first.
    levels = [lvl for lvl, _w in LEVEL_WEIGHTS][:count]
    levels += [_pick(rng, LEVEL_WEIGHTS) for _ in range(count - len(levels))]
    times = sorted(_working_hours(rng, now) for _ in levels)
    for level, occurred_at in zip(levels, times, strict=True):
        recorder: _Recorder = _pick(rng, recorders[level])
        owner = recorder.actor.organisation
        assert owner is not None
        candidates = [o for c in COUNTERPARTS[level] for o in orgs_by_component[c] if o.pk != owner.pk]
        counterparts = rng.sample(candidates, rng.randint(1, 3))
        place = rng.choice(geography.places)
        place2 = rng.choice([p for p in geography.places if p.district_pcode != place.district_pcode])
        district = geography.area(place.district_pcode)
        summary = rng.choice(TOPICS[level]).format(
            org=counterparts[0].label, place=place.name, place2=place2.name, district=district.name,
            activity=rng.choice(ACTIVITIES), n=rng.randint(12, 240),
        )
        wanted = {o.pk for o in counterparts}
        people = [p for p in recorder.visible_people if p.owner_id in wanted]
        chosen_people = rng.sample(people, min(len(people), rng.randint(0, 2)))
        located = rng.random() < 0.85
        entry = actor_services.record_liaison_contact(recorder.actor, actor_services.LiaisonContact(
            occurred_at=occurred_at, channel=rng.choice(ContactChannel.values),
            summary=summary, level=level, organisation_ids=[owner.pk, *(o.pk for o in counterparts)],
            person_ids=[p.pk for p in chosen_people], follow_ups=rng.choice(FOLLOW_UPS),
            geometry=point(place.lat, place.lon) if located else None, place_name=place.name,
        ))
        _release(cast, rng, recorder.actor, entry, place)
    return len(levels)


def _release(cast: _Cast, rng: random.Random, actor: Actor, entry: LiaisonLogEntry, place: world.Place) -> None:
    """Owners share some entries with named organisations: in full, or only some fields."""
    owner = actor.organisation
    assert owner is not None
    level = entry.level
    roll = rng.random()
    if level == Level.HUMANITARIAN and roll < 0.35:
        # Where and when, so the force can deconflict; nothing of what was said.
        services.release_record(actor, entry, organisation=cast.orgs["u9"], fields=DECONFLICTION_FIELDS)
    elif level == Level.MILITARY and roll < 0.3:
        services.release_record(actor, entry, organisation=cast.orgs["ochr"], fields=SUMMARY_FIELDS)
    elif level == Level.MILITARY and roll < 0.45:
        services.release_record(actor, entry, organisation=cast.orgs["pocu"])
    elif level == Level.RESTRICTED:
        leadership = cast.orgs["osrsg"] if owner.pk != cast.orgs["osrsg"].pk else cast.orgs["pad"]
        services.release_record(actor, entry, organisation=leadership)
        if owner.component in (Component.HOST_NATION, Component.COMMUNITY) and roll < 0.5:
            services.release_record(actor, entry, organisation=cast.orgs["cas"])
    elif level == Level.MISSION and roll < 0.12:
        province = place.district_pcode[:4]
        services.release_record(actor, entry, organisation=cast.orgs[PROVINCE_GOVERNORATE[province]])


# ---------------------------------------------------------------------------------------------
# A canonical digest, to show that two loads tell the same story


def summary(now: dt.datetime) -> dict[str, Any]:
    """What the demo holds, without ids or load-time stamps; times relative to the load date."""
    org_name: dict[Any, str] = dict(Organisation.objects.values_list("pk", "name"))
    person_name: dict[Any, str] = dict(Person.objects.values_list("pk", "full_name"))
    area_code: dict[Any, str] = {a.pk: a.pcode or a.name for a in Area.objects.all()}
    today = timezone.localdate(now)

    midnight = _mission_midnight(now)

    def when(value: dt.datetime) -> int:
        return int((value - midnight).total_seconds())

    releases: dict[Any, list[Any]] = {}
    for r in Release.objects.all():
        target = org_name.get(r.target_organisation_id) or person_name.get(r.target_person_id) or r.target_component
        releases.setdefault(r.object_id, []).append([target, r.fields, person_name.get(r.released_by_id)])
    return {
        "settings": ledger.snapshot(services.mission_settings(Space.live().pk), services.SETTINGS_FIELDS),
        "organisations": sorted(
            [o.name, o.acronym, o.component, o.kind, org_name.get(o.parent_id), o.description, o.contact_email,
             o.contact_phone] for o in Organisation.objects.all()),
        "people": sorted(
            [p.full_name, p.title, p.level, org_name[p.owner_id], p.email, p.phone, p.radio_call_sign, p.languages,
             p.user.username if p.user else None,
             sorted([org_name[m.organisation_id], m.role, m.position, m.status, (m.starts_on - today).days]
                    for m in p.memberships.all())]
            for p in Person.objects.select_related("user").prefetch_related("memberships")),
        "areas": sorted(
            [a.kind, a.pcode, a.name, a.admin_level, area_code.get(a.parent_id), org_name.get(a.responsible_id),
             a.geometry] for a in Area.objects.all()),
        "assignments": sorted(
            [person_name[a.officer_id], org_name[a.from_organisation_id], org_name.get(a.to_organisation_id),
             a.community, area_code.get(a.area_id), a.latitude, a.longitude, (a.starts_on - today).days, a.level,
             a.notes] for a in LiaisonAssignment.objects.all()),
        "liaison_log": sorted(
            [when(e.occurred_at), e.channel, e.level, org_name[e.owner_id], person_name.get(e.created_by_id),
             e.summary, e.follow_ups, e.place_name, e.geometry,
             sorted(org_name[o.pk] for o in e.organisations.all()), sorted(p.full_name for p in e.people.all()),
             sorted(releases.get(e.pk, []), key=str)]
            for e in LiaisonLogEntry.objects.prefetch_related("organisations", "people")),
    }


def digest(now: dt.datetime) -> str:
    """SHA-256 of the canonical JSON of :func:`summary`."""
    return hashlib.sha256(ledger.canonical(summary(now))).hexdigest()


# ---------------------------------------------------------------------------------------------
# The demo logins


def demo_totp_secret(username: str) -> str:
    """The fixed TOTP secret of a demo login (development only: printed by `civmil demo logins`)."""
    digest = hashlib.sha256(f"civmil-demo-totp:{username}".encode()).digest()[:20]
    return base64.b32encode(digest).decode()


def _privileged(user: User) -> bool:
    return Membership.objects.current().filter(person__user=user, role__in=PRIVILEGED_ROLES).exists()


def _second_factors(cast: _Cast) -> None:
    """Privileged roles need a second factor: the demo gives theirs a known TOTP secret, and
    recovery codes (shown under Account → Recovery codes), as setting up the app gives them."""
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
    from allauth.mfa.totp.internal.auth import TOTP

    for username, user in cast.users.items():
        if _privileged(user):
            TOTP.activate(user, demo_totp_secret(username))
            RecoveryCodes.activate(user)


def current_totp_code(secret: str) -> str:
    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value, yield_hotp_counters_from_time

    counter = next(iter(yield_hotp_counters_from_time()))
    return str(format_hotp_value(hotp_value(secret, counter)))


def logins() -> list[dict[str, str]]:
    """Each demo login with each of its current memberships (a dual-hatted login appears once per hat)."""
    users = {u.username: u for u in User.objects.filter(username__in=data.LOGINS,
                                                         email__iendswith=data.DEMO_MAIL_SUFFIX)}
    rows: list[dict[str, str]] = []
    for username in data.LOGINS:
        user = users.get(username)
        person = Person.objects.filter(user=user).first() if user else None
        if person is None:
            continue
        for m in Membership.objects.current().filter(person=person).select_related("organisation").order_by(
                "created_at", "id"):
            secret = demo_totp_secret(username) if user is not None and _privileged(user) else ""
            rows.append({"username": username, "password": data.PASSWORD, "role": str(m.role),
                         "component": str(m.organisation.component), "organisation": m.organisation.name,
                         "organisation_label": m.organisation.label,
                         "totp_secret": secret, "totp_code_now": current_totp_code(secret) if secret else ""})
    return rows


DISCUSSIONS = (
    ("civstaff", "Thanks for the meeting. {mention} can you confirm the patrol timings near {place}?"),
    ("milstaff", "Confirmed: the patrol passes before 10:00; we will share any change the day before."),
    ("civstaff", "Noted. I have attached the notes of the meeting for the record."),
)


def _discussions(cast: _Cast, count: int = 8) -> int:
    """Threads, mentions (hence notifications) and meeting notes on the newest MISSION entries."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from civmil.actors.models import LiaisonLogEntry
    from civmil.comms.services import attachments as attachment_services
    from civmil.comms.services import threads as thread_services
    from civmil.core.acting import actor_for_user
    from civmil.core.choices import Level

    actors = {login: actor_for_user(cast.users[login]) for login in ("civstaff", "milstaff")}
    soldier = actors["milstaff"].person
    assert soldier is not None
    entries = list(LiaisonLogEntry.objects.filter(level=Level.MISSION).order_by("-occurred_at", "id")[:count])
    for entry in entries:
        place = entry.place_name or "the district"
        for login, text in DISCUSSIONS:
            body = text.format(mention=f"@[{soldier.full_name}]({soldier.pk})", place=place)
            thread_services.post_message(actors[login], "actors.liaisonlogentry", entry.pk, body)
        notes = (f"Meeting notes — {place}\n\n{entry.summary}\n\nFollow-ups: {entry.follow_ups}\n").encode()
        attachment_services.add_attachment(
            actors["civstaff"], "actors.liaisonlogentry", entry.pk,
            SimpleUploadedFile("meeting-notes.txt", notes, content_type="text/plain"))
    return len(entries)

"""``civmil demo scale``: many made-up records of every registered type, on top of the demo mission.

For load tests and the benchmarks' data. Each record is made up from its type's model fields
(choices, text, dates and times over the last two years, related demo organisations, people,
areas and records, places clustered around the demo's towns), adjusted by the type's
``synthesize`` hook where the fields alone cannot say a rule; its level is spread over the levels
the type allows, its owner over the demo organisations with a member who may create it at that
level (that member writes it), and about one record in twenty is released. Everything is written
by the kernel's bulk path (:func:`civmil.core.bulk.create_records`): the ledger, the audience,
the level counts and the indexes are what the services would have written, and
``civmil ledger verify`` passes after it.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext as _

from civmil.actors.models import Area
from civmil.core import access, bulk, dates, registry
from civmil.core.acting import Actor
from civmil.core.choices import Component, Level
from civmil.core.errors import Invalid
from civmil.core.models import Membership, Organisation, Person, Placed, ProtectedRecord, Space
from civmil.demo import data, loader, world

SEED = 20261204
#: Most records of each type one run may add.
MOST = 5_000_000
#: Records per batch (generated, then written in one transaction).
CHUNK = 5000
HISTORY_DAYS = 730
RELEASED = 0.05
#: How far a place strays from its town (degrees, standard deviation: about 5 km).
SPREAD = 0.05
LOCATED = 0.85
OPTIONAL = 0.8
#: Fields of every protected record that the bulk path or the services set.
BASE_FIELDS = frozenset({"id", "space", "owner", "level", "created_by", "created_at", "updated_at", "version",
                         "west", "south", "east", "north"})

#: Fields that start and end a period, by their usual names.
PERIODS = (("starts_at", "ends_at"), ("starts_on", "ends_on"))
FIRST_NAMES = ("Amara", "Bastien", "Chiara", "Dawit", "Elif", "Farid", "Greta", "Hamza", "Ines", "Jonas", "Kofi",
               "Leila", "Mateo", "Nadia", "Oskar", "Priya", "Quentin", "Rania", "Soren", "Tala")
LAST_NAMES = ("Abara", "Brenner", "Castellan", "Dorvan", "Eskildsen", "Fofana", "Grieve", "Haddad", "Ivanic",
              "Jalloh", "Kessler", "Lindqvist", "Mbeki", "Novak", "Okafor", "Perrin", "Quist", "Rahimi")
WORDS = ("coordination", "access", "convoy", "distribution", "patrol", "meeting", "assessment", "bridge", "market",
         "water point", "clinic", "school", "checkpoint", "road", "river crossing", "displacement site")


@dataclass
class TypeReport:
    key: str
    records: int
    releases: int
    ledger_entries: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0


class NotLoaded(Invalid):
    """The database does not hold the demo mission."""


class Mission:
    """What the generator picks from: the demo's organisations, members, writers, areas and towns."""

    def __init__(self, rng: random.Random, now: dt.datetime) -> None:
        self.rng = rng
        self.now = now
        space = Space.live()
        self.space_id = space.pk
        today = timezone.localdate(now)
        current = list(Membership.objects.current(today).filter(status="active", person__space=space)
                       .select_related("organisation", "person").order_by("created_at", "id"))
        self.organisations = list(Organisation.objects.filter(is_active=True).order_by("name"))
        self.members: dict[Any, list[Person]] = {}
        for m in current:
            people = self.members.setdefault(m.organisation_id, [])
            if m.person not in people:
                people.append(m.person)
        self.people = list(dict.fromkeys(p for people in self.members.values() for p in people))
        #: Their ids, in the same order (picked from as the records are, without a lookup per pick).
        self.organisation_ids = [o.pk for o in self.organisations]
        self.person_ids = [p.pk for p in self.people]
        #: Members who could sign in and write for their organisation.
        self.actors = [Actor(user_id=m.person.user_id, person=m.person, membership=m, space_id=space.pk)
                       for m in current if m.person.user_id is not None]
        self.areas = list(Area.objects.order_by("pcode", "name").values_list("pk", flat=True))
        self.towns = world.build().places
        west, south, east, north = world.BOUNDS
        self.bounds = (west, south, east, north)
        first, last = dates.accepted_window(space.pk)
        earliest = now - dt.timedelta(days=HISTORY_DAYS)
        self.earliest = max(earliest, dt.datetime.combine(first, dt.time(), tzinfo=dt.UTC))
        self.latest = min(now, dt.datetime.combine(last, dt.time(23, 59), tzinfo=dt.UTC))
        self._records: dict[type[models.Model], list[Any]] = {}
        #: Ids of the made-up records: in the order they are made, so that indexes grow at one end.
        self.new_id = bulk.TimeOrderedIds(rng, now)

    def writers(self, model: type[ProtectedRecord], level: str) -> list[Actor]:
        return [a for a in self.actors
                if a.organisation is not None and access.creation_refused(a, model, a.organisation, level) is None]

    def members_of(self, org_id: Any) -> list[Person]:
        return self.members.get(org_id, [])

    def records_of(self, model: type[models.Model]) -> list[Any]:
        """Ids of existing records of ``model`` (at most a thousand) for foreign keys to it."""
        if model not in self._records:
            self._records[model] = list(model._default_manager.filter(space_id=self.space_id)
                                        .values_list("pk", flat=True)[:1000])
        return self._records[model]

    def moment(self) -> dt.datetime:
        span = (self.latest - self.earliest).total_seconds()
        moment = self.earliest + dt.timedelta(seconds=self.rng.uniform(0, span))
        return moment.replace(microsecond=0)

    def place(self) -> tuple[float, float]:
        """(latitude, longitude) near one of the demo's towns, inside the mission area."""
        town = self.rng.choice(self.towns)
        west, south, east, north = self.bounds
        lat = min(max(self.rng.gauss(town.lat, SPREAD), south), north)
        lon = min(max(self.rng.gauss(town.lon, SPREAD), west), east)
        return round(lat, 5), round(lon, 5)


def _text(rng: random.Random, mission: Mission, field: models.Field[Any, Any], n: int) -> str:
    name = field.name
    if "email" in name or isinstance(field, models.EmailField):
        return f"scale.{n}@{data.MAIL_DOMAIN}"
    if isinstance(field, models.URLField):
        return f"https://scale-{n}.{data.MAIL_DOMAIN}/"
    if name in ("full_name", "name"):
        text = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
    elif "phone" in name:
        text = f"+999 {rng.randint(20, 99)} {rng.randint(100, 999)} {rng.randint(1000, 9999)}"
    elif "place" in name or name == "community":
        text = rng.choice(mission.towns).name
    elif "language" in name:
        text = rng.choice(("English", "French", "English, French", "Arabic, French"))
    else:
        town = rng.choice(mission.towns).name
        text = (f"{rng.choice(WORDS).capitalize()} near {town} with {rng.choice(mission.organisations).label}: "
                f"{rng.choice(WORDS)} and {rng.choice(WORDS)} discussed (scale record {n}).")
    most = getattr(field, "max_length", None)
    return text[:most] if most else text


def _value(rng: random.Random, mission: Mission, owner: Organisation, field: Any, n: int) -> Any:
    """A value for one concrete, non-relation-to-many field, from its kind."""
    if field.choices:
        return rng.choice(_choices(field))
    if isinstance(field, models.BooleanField):
        return field.default if field.has_default() and rng.random() < 0.9 else rng.random() < 0.5
    if isinstance(field, models.DateTimeField):
        return mission.moment()
    if isinstance(field, models.DateField):
        return mission.moment().date()
    if isinstance(field, models.ForeignKey):
        target = field.related_model
        if target is Organisation:
            return rng.choice(mission.organisation_ids)
        if target is Person:
            return rng.choice(mission.person_ids)
        if target is Area:
            return rng.choice(mission.areas) if mission.areas else None
        records = mission.records_of(target) if isinstance(target, type) else []
        return rng.choice(records) if records else None
    if isinstance(field, models.IntegerField):
        return rng.randint(0, 100)
    if isinstance(field, models.FloatField):
        return round(rng.uniform(0, 100), 3)
    if isinstance(field, models.CharField | models.TextField):
        return _text(rng, mission, field, n)
    return None


@cache
def _choices(field: Any) -> list[Any]:
    """The values a field with choices may take (not the blank one)."""
    return [c[0] for c in field.flatchoices if c[0] != ""]


@cache
def _fields(model: type[models.Model]) -> list[Any]:
    """The fields the generator fills: concrete, editable, not the kernel's own, not one-to-one."""
    return [f for f in model._meta.get_fields()
            if (getattr(f, "concrete", False) or f.many_to_many) and f.name not in BASE_FIELDS
            and getattr(f, "editable", False) and not f.one_to_one and not f.auto_created]


def _made_up(record_type: registry.RecordType, mission: Mission, actor: Actor, level: str,
             n: int) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """The values (``name -> value``, related records as ids) and many-to-many ids of one record."""
    rng = mission.rng
    model = record_type.model
    owner = actor.organisation
    assert owner is not None
    values: dict[str, Any] = {"id": mission.new_id()}
    many: dict[str, list[Any]] = {}
    names = {f.name for f in _fields(model)}
    located = rng.random() < LOCATED
    point = mission.place() if located else None
    for field in _fields(model):
        if field.many_to_many:
            target = field.related_model
            pool = (mission.organisation_ids if target is Organisation
                    else mission.person_ids if target is Person else [])
            picked = rng.sample(pool, min(len(pool), rng.randint(0 if field.blank else 1, 3)))
            if target is Organisation:
                picked = [owner.pk, *(pk for pk in picked if pk != owner.pk)]
            many[field.name] = picked
            continue
        optional = field.null or (field.blank and not field.choices)
        if field.name in ("latitude", "longitude") and {"latitude", "longitude"} <= names:
            values[field.name] = None if point is None else point[0 if field.name == "latitude" else 1]
        elif field.name == "geometry" and issubclass(model, Placed):
            values[field.name] = None if point is None else {"type": "Point", "coordinates": [point[1], point[0]]}
        elif optional and rng.random() > OPTIONAL:
            values[field.name] = None if field.null else ""
        else:
            values[field.name] = _value(rng, mission, owner, field, n)
    for start, end in PERIODS:  # a period ends after it starts (Period's rule, and the usual check constraint)
        if values.get(start) is not None and values.get(end) is not None and values[end] < values[start]:
            values[start], values[end] = values[end], values[start]
    if record_type.synthesize is not None:
        values.update(many)
        record_type.synthesize(bulk.Draft(rng=rng, actor=actor, owner=owner, level=level, values=values,
                                          organisations=mission.organisations, people=mission.people,
                                          members=mission.members_of))
        many = {name: list(values.pop(name)) for name in list(many)}
    return values, many


def _releases(record_type: registry.RecordType, mission: Mission, owner: Organisation,
              level: str) -> list[bulk.PlannedRelease]:
    rng = mission.rng
    if level == Level.OVERSIGHT or rng.random() >= RELEASED:
        return []
    fields = None
    if record_type.release_fields and rng.random() < 0.5:
        chosen = rng.sample(record_type.release_fields, rng.randint(1, min(3, len(record_type.release_fields))))
        fields = tuple(sorted(chosen))
    kind = rng.randrange(3)
    if kind == 0:
        org = rng.choice([o for o in mission.organisations if o.pk != owner.pk])
        return [bulk.PlannedRelease(organisation_id=org.pk, fields=fields)]
    if kind == 1:
        return [bulk.PlannedRelease(component=rng.choice(Component.values), fields=fields)]
    return [bulk.PlannedRelease(person_id=rng.choice(mission.person_ids), fields=fields)]


def ledger_names(record_type: registry.RecordType) -> tuple[str, list[str]]:
    """The action and the fields of the ledger entry that records a new record of the type."""
    plain = [f.name for f in _fields(record_type.model) if not f.many_to_many]
    return record_type.created_action or f"{record_type.key}.created", [*plain, "level", "owner"]


def planned(record_type: registry.RecordType, n: int, mission: Mission,
            chunk: int = CHUNK) -> Iterator[list[bulk.PlannedRecord]]:
    """``n`` made-up records of one type, ``chunk`` at a time."""
    rng = mission.rng
    model = record_type.model
    writers = {level: mission.writers(model, level) for level in record_type.levels}
    levels = [level for level, actors in writers.items() if actors]
    if not levels:
        raise Invalid(_("No member of the demo organisations may create a %(type)s.") % {"type": record_type.label})
    for start in range(0, n, chunk):
        batch = []
        for i in range(start, min(n, start + chunk)):
            level = levels[i % len(levels)]
            actor = rng.choice(writers[level])
            owner = actor.organisation
            assert owner is not None
            values, many = _made_up(record_type, mission, actor, level, i)
            batch.append(bulk.PlannedRecord(actor=actor, level=level, values=values, m2m=many,
                                            releases=_releases(record_type, mission, owner, level)))
        yield batch


def scale_type(record_type: registry.RecordType, n: int, mission: Mission,
               progress: Callable[[int], None] | None = None) -> TypeReport:
    """Add ``n`` made-up records of one type; what was written and how long it took."""
    action, fields = ledger_names(record_type)
    began = time.perf_counter()
    written = bulk.Written()
    for batch in planned(record_type, n, mission):
        written.add(bulk.create_records(record_type.model, batch, action=action, fields=fields))
        if progress is not None:
            progress(written.records)
    return TypeReport(record_type.key, written.records, written.releases, written.ledger_entries,
                      time.perf_counter() - began)


def record_types(keys: Iterable[str] | None = None) -> list[registry.RecordType]:
    """The registered types named by ``keys`` (``app_label.model_name``), or all of them."""
    known = {t.key: t for t in registry.all_types()}
    if not keys:
        return list(known.values())
    unknown = sorted(set(keys) - set(known))
    if unknown:
        message = _("Unknown record type(s): %(unknown)s. Registered: %(known)s.") % {
            "unknown": ", ".join(unknown), "known": ", ".join(known)}
        raise Invalid(message, errors={"types": [message]})
    return [known[k] for k in dict.fromkeys(keys)]


def mission_for(seed: int = SEED, now: dt.datetime | None = None) -> Mission:
    """What the generator picks from, with its seeded random generator."""
    return Mission(random.Random(seed), now or timezone.now())


def scale(n: int, types: Sequence[registry.RecordType], *, seed: int = SEED, now: dt.datetime | None = None,
          progress: Callable[[str, int], None] | None = None) -> list[TypeReport]:
    """Add ``n`` made-up records of each of ``types`` to the demo mission (which must be loaded)."""
    bulk.check_size(n, MOST)
    if not loader.present():
        raise NotLoaded(_("The demo mission is not loaded in this database: `civmil demo scale` adds records to "
                          "it. Load it first with `civmil demo` (into an empty database)."))
    mission = mission_for(seed, now)
    reports = []
    for record_type in types:
        def step(done: int, key: str = record_type.key) -> None:
            if progress is not None:
                progress(key, done)

        reports.append(scale_type(record_type, n, mission, step))
    return reports

"""The demo mission: what it holds, that it is the same every time, and that it loads only once."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import itertools
import re
from collections import Counter
from pathlib import Path
from typing import Any

import mapbox_vector_tile
import pytest
import shapely
from django.core.management import call_command
from django.utils import timezone
from pmtiles.reader import MmapSource, Reader, all_tiles
from shapely.geometry import shape

from civmil.actors.choices import AreaKind
from civmil.actors.models import Area, LiaisonAssignment, LiaisonLogEntry
from civmil.actors.records import LIAISON_LEVELS
from civmil.core import access, ledger
from civmil.core.choices import PRIVILEGED_ROLES, Component, Level, MembershipStatus, Role
from civmil.core.models import LedgerEntry, Membership, Organisation, Person, Release, User
from civmil.demo import data, loader, world
from tests.demo.support import LoadedDemo

pytestmark = pytest.mark.django_db


def _current() -> list[Membership]:
    return list(Membership.objects.current().select_related("organisation", "person"))


def test_organisations_cover_every_component_with_a_hierarchy(demo: LoadedDemo) -> None:
    orgs = list(Organisation.objects.all())
    assert len(orgs) >= 30
    assert {o.component for o in orgs} == set(Component.values)
    by_component = Counter(o.component for o in orgs)
    assert all(n >= 3 for n in by_component.values()), by_component
    children = [o for o in orgs if o.parent_id]
    assert len(children) >= 15
    battalion = Organisation.objects.get(acronym="INFBATT-A")
    assert [a.acronym for a in battalion.ancestors()] == ["SHQ North", "Force HQ", "UNISMK HQ"]


def test_people_hold_every_role_and_one_is_dual_hatted(demo: LoadedDemo) -> None:
    assert Person.objects.count() >= 60
    current = _current()
    assert {m.role for m in current} == set(Role.values)
    by_person: dict[object, list[Membership]] = {}
    for m in current:
        by_person.setdefault(m.person_id, []).append(m)
    dual = [ms for ms in by_person.values() if len({m.organisation.component for m in ms}) > 1]
    assert len(dual) == 1
    hats = {(m.organisation.component, m.role) for m in dual[0]}
    assert hats == {(Component.CIVILIAN, Role.LEADERSHIP), (Component.HUMANITARIAN, Role.CMCOORD)}
    assert dual[0][0].person.user is not None and dual[0][0].person.user.username == "dsrsg"


def test_privileged_memberships_were_approved_by_a_second_administrator(demo: LoadedDemo) -> None:
    admins = {m.person.user_id for m in _current() if m.role == Role.ADMINISTRATOR}
    assert len(admins) == 2
    privileged = [m for m in _current() if m.role in PRIVILEGED_ROLES and m.role != Role.ADMINISTRATOR]
    assert len(privileged) >= 5
    for m in privileged:
        assert m.requested_by_id in admins and m.approved_by_id in admins
        assert m.requested_by_id != m.approved_by_id
        actions = set(LedgerEntry.objects.filter(object_id=str(m.pk)).values_list("action", flat=True))
        assert actions == {"membership.requested", "membership.approved"}
    # The two administrators themselves were created at the console: no requester, no approver.
    for m in Membership.objects.filter(role=Role.ADMINISTRATOR):
        assert m.status == MembershipStatus.ACTIVE and m.requested_by_id is None


def test_one_login_per_role_and_nobody_else_has_an_account(demo: LoadedDemo) -> None:
    users = list(User.objects.all())
    assert sorted(u.username for u in users) == sorted(data.LOGINS)
    assert all(u.check_password(data.PASSWORD) for u in users)
    roles_with_login = {m.role for m in _current() if m.person.user_id is not None}
    assert roles_with_login == set(Role.values)
    assert Person.objects.filter(user__isnull=True).count() == Person.objects.count() - len(data.LOGINS)


def test_contact_levels_vary_and_some_community_liaisons_are_restricted(demo: LoadedDemo) -> None:
    levels = Counter(Person.objects.values_list("level", flat=True))
    assert set(levels) >= {Level.PUBLIC, Level.MISSION, Level.HUMANITARIAN, Level.MILITARY, Level.RESTRICTED}
    liaisons = {m.person for m in _current() if m.role == Role.COMMUNITY_LIAISON}
    assert any(p.level == Level.RESTRICTED for p in liaisons)
    assert any(p.level != Level.RESTRICTED for p in liaisons)
    for person in Person.objects.select_related("owner"):
        assert access.level_allowed_for_owner(Person, person.owner, person.level) is None


def test_mission_settings(demo: LoadedDemo) -> None:
    from civmil.core import services
    from civmil.core.models import Space

    settings = services.mission_settings(Space.live().pk)
    assert (settings.mission_name, settings.mission_acronym) == (data.MISSION_NAME, "UNISMK")
    assert settings.time_zone == data.MISSION_TIME_ZONE
    outline = shapely.union_all([shape(a.geometry) for a in Area.objects.filter(admin_level=1)])
    assert outline.covers(shapely.Point(settings.map_center_lon, settings.map_center_lat))


def test_two_admin_levels_with_pcodes_and_nested_valid_polygons(demo: LoadedDemo) -> None:
    admin = list(Area.objects.filter(kind=AreaKind.ADMINISTRATIVE).select_related("parent"))
    provinces = [a for a in admin if a.admin_level == 1]
    districts = [a for a in admin if a.admin_level == 2]
    assert len(provinces) == 3 and 9 <= len(districts) <= 12
    assert len(provinces) + len(districts) == len(admin)
    for area in admin:
        assert area.geometry["type"] == "Polygon"
        for ring in area.geometry["coordinates"]:
            assert ring[0] == ring[-1] and len(ring) >= 4
        geom = shape(area.geometry)
        assert geom.is_valid and not geom.is_empty
        assert (area.west, area.south, area.east, area.north) == pytest.approx(geom.bounds)
    for p in provinces:
        assert re.fullmatch(r"KV\d\d", p.pcode or "") and p.parent is None
    for d in districts:
        assert d.parent is not None and d.parent.admin_level == 1
        assert re.fullmatch(re.escape(d.parent.pcode or "") + r"\d\d", d.pcode or "")
        assert shape(d.parent.geometry).covers(shape(d.geometry))
    for level in (provinces, districts):
        for a, b in itertools.combinations(level, 2):
            assert shape(a.geometry).intersection(shape(b.geometry)).area < 1e-9, (a.name, b.name)
    # The districts of a province fill it.
    for p in provinces:
        union = shapely.union_all([shape(d.geometry) for d in districts if d.parent_id == p.pk])
        assert union.symmetric_difference(shape(p.geometry)).area < 1e-9


def test_sectors_have_areas_of_responsibility(demo: LoadedDemo) -> None:
    aors = list(Area.objects.filter(kind=AreaKind.RESPONSIBILITY).select_related("responsible"))
    assert {a.responsible.acronym for a in aors if a.responsible} == {"SHQ North", "SHQ Centre", "SHQ East"}
    for aor in aors:
        assert shape(aor.geometry).is_valid


def test_liaison_assignments_between_organisations_and_in_communities(demo: LoadedDemo) -> None:
    assignments = list(LiaisonAssignment.objects.select_related("area", "owner", "from_organisation"))
    to_orgs = [a for a in assignments if a.to_organisation_id]
    embedded = [a for a in assignments if a.community]
    assert len(to_orgs) >= 5 and len(embedded) >= 4
    for a in embedded:
        assert a.area is not None and a.area.admin_level == 2
        assert a.latitude is not None and a.longitude is not None
        assert shape(a.area.geometry).covers(shapely.Point(a.longitude, a.latitude))
    for a in assignments:
        assert a.owner_id == a.from_organisation_id
        assert access.level_allowed_for_owner(LiaisonAssignment, a.owner, a.level) is None
        assert LedgerEntry.objects.filter(action="liaison.assigned", object_id=str(a.pk)).exists()


def test_two_hundred_liaison_entries_at_every_level_over_ninety_days(demo: LoadedDemo) -> None:
    entries = list(LiaisonLogEntry.objects.select_related("owner", "created_by"))
    assert len(entries) == 200
    assert {e.level for e in entries} == set(LIAISON_LEVELS)
    now = timezone.now()
    owners = set()
    for e in entries:
        assert now - dt.timedelta(days=91) <= e.occurred_at <= now
        assert access.level_allowed_for_owner(LiaisonLogEntry, e.owner, e.level) is None
        assert e.created_by is not None and e.created_by.user_id is not None
        owners.add(e.owner_id)
    assert len(owners) >= 8
    recorded = set(LedgerEntry.objects.filter(action="liaison.recorded").values_list("object_id", flat=True))
    assert recorded == {str(e.pk) for e in entries}


def test_entries_are_released_to_named_organisations_in_full_and_by_field(demo: LoadedDemo) -> None:
    releases = list(Release.objects.all())
    entry_ids = set(LiaisonLogEntry.objects.values_list("pk", flat=True))
    assert releases and all(r.object_id in entry_ids for r in releases)
    assert all(r.target_organisation_id is not None for r in releases)
    assert any(r.fields is None for r in releases) and any(r.fields for r in releases)
    released_levels = set(LiaisonLogEntry.objects.filter(pk__in=[r.object_id for r in releases])
                          .values_list("level", flat=True))
    assert released_levels == set(LIAISON_LEVELS)
    # Every RESTRICTED entry is released to someone by name, or only its owner would see it.
    restricted = set(LiaisonLogEntry.objects.filter(level=Level.RESTRICTED).values_list("pk", flat=True))
    assert restricted <= {r.object_id for r in releases}
    assert LedgerEntry.objects.filter(action="release.added").count() == len(releases)


def test_a_field_release_shows_the_released_fields_only(demo: LoadedDemo) -> None:
    """What the demo promises its users: the force sees where and when, not what was said."""
    from civmil.core.acting import actor_for_user

    release = Release.objects.filter(target_organisation__acronym="U9", fields__isnull=False).first()
    assert release is not None
    entry = LiaisonLogEntry.objects.get(pk=release.object_id)
    assert entry.level == Level.HUMANITARIAN
    shown = access.show(actor_for_user(User.objects.get(username="milstaff")), entry)
    assert shown.reduced and shown.place_name == entry.place_name and not shown.summary


def test_entries_carry_threads_mentions_and_meeting_notes(demo: LoadedDemo) -> None:
    from civmil.comms.models import Attachment, Message, Notification

    soldier = User.objects.get(username="milstaff").person
    assert Message.objects.count() == 3 * 8
    assert Notification.objects.filter(recipient=soldier).count() == 8
    assert Attachment.objects.count() == 8
    noted = {str(a.object_id) for a in Attachment.objects.all()}
    assert set(LiaisonLogEntry.objects.filter(pk__in=noted).values_list("level", flat=True)) == {Level.MISSION}


def test_privileged_logins_have_a_known_second_factor(demo: LoadedDemo) -> None:
    from allauth.mfa.models import Authenticator
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
    from allauth.mfa.totp.internal.auth import validate_totp_code

    rows = {row["username"]: row for row in loader.logins()}
    for username in ("admin", "admin2", "srsg", "oversight"):
        row = rows[username]
        user = User.objects.get(username=username)
        assert Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()
        assert validate_totp_code(row["totp_secret"], row["totp_code_now"])
        # As after setting up the app: recovery codes to print, usable once each.
        codes = RecoveryCodes(Authenticator.objects.get(user=user, type=Authenticator.Type.RECOVERY_CODES))
        unused = codes.get_unused_codes()
        assert len(unused) >= 8 and codes.validate_code(unused[0]) and not codes.validate_code(unused[0])
    assert rows["milstaff"]["totp_secret"] == ""
    assert not Authenticator.objects.filter(user__username="milstaff").exists()


def test_two_loads_tell_the_same_story(demo: LoadedDemo) -> None:
    assert demo.first_digest and demo.first_digest == demo.digest
    assert loader.digest(demo.report.now) == demo.digest


def test_a_second_run_changes_nothing(demo: LoadedDemo, settings: Any, tmp_path: Path) -> None:
    settings.CIVMIL_BASEMAP = tmp_path / "basemap.pmtiles"
    before = (LedgerEntry.objects.count(), Organisation.objects.count(), Person.objects.count(),
              LiaisonLogEntry.objects.count())
    out = io.StringIO()
    call_command("demo", stdout=out)
    assert "already loaded" in out.getvalue()
    quiet = io.StringIO()
    call_command("demo", "--if-empty", stdout=quiet)
    assert quiet.getvalue() == ""
    after = (LedgerEntry.objects.count(), Organisation.objects.count(), Person.objects.count(),
             LiaisonLogEntry.objects.count())
    assert after == before
    assert loader.digest(demo.report.now) == demo.digest


def test_the_ledger_verifies_after_loading(demo: LoadedDemo) -> None:
    result = ledger.verify()
    assert result.ok, [str(p) for p in result.problems]
    assert result.entries == LedgerEntry.objects.count() >= 500


def test_the_demo_knows_it_is_present(demo: LoadedDemo) -> None:
    found = loader.presence()
    assert len(found) == 2 and "UNISMK" in found[1]
    assert loader.present() and not loader.database_is_empty()


def test_the_demo_builds_its_basemap_when_it_has_none(demo: LoadedDemo, settings: Any, tmp_path: Path) -> None:
    """A demo loaded before the basemap existed gets it on its next `make run` (quietly: --if-empty)."""
    settings.CIVMIL_BASEMAP = tmp_path / "basemap.pmtiles"
    quiet = io.StringIO()
    call_command("demo", "--if-empty", stdout=quiet)
    assert quiet.getvalue() == ""
    names: dict[str, set[str]] = {}
    with settings.CIVMIL_BASEMAP.open("rb") as stream:
        archive = Reader(MmapSource(stream))
        assert (archive.header()["min_zoom"], archive.header()["max_zoom"]) == (2, 12)
        for (z, _x, _y), blob in all_tiles(archive.get_bytes):
            if z == 9:
                for layer, content in mapbox_vector_tile.decode(gzip.decompress(blob)).items():
                    names.setdefault(layer, set()).update(f["properties"].get("name", "") for f in content["features"])
    # The demo's towns (its districts' named places), rivers, lake and areas, all drawn at zoom 9.
    assert {p.name for p in world.build().places} <= names["towns"]
    assert {"Sarn", "Vell", "Tamsa"} <= names["rivers"] and "Lake Orma" in names["water"]
    assert {a.name for a in (*world.build().provinces, *world.build().districts)} <= names["area_labels"]
    assert "N1" in names["roads"] and "boundaries" in names

"""Directory CSV import and export: the parser, the plan's rejections, the two-step import, the exports."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse

from civmil.actors import directory_csv
from civmil.actors import services as actor_services
from civmil.actors.views import directory_csv as csv_views
from civmil.core import services
from civmil.core.choices import Component, Level, MembershipStatus, OrganisationKind, Role
from civmil.core.errors import Forbidden, Invalid
from civmil.core.models import LedgerEntry, Membership, Organisation, Person
from tests.factories import make_member

pytestmark = pytest.mark.django_db

ORG_HEADER = "name,acronym,component,kind,parent,country,contact_email,contact_phone,website,description\n"
PEOPLE_HEADER = "full_name,title,email,phone,radio_call_sign,messaging,languages,organisation,role,position," \
                "contact_level\n"


def org_named(component: str, name: str, acronym: str = "", **extra: Any) -> Organisation:
    kind = extra.pop("kind", OrganisationKind.OTHER)
    return services.save_organisation(None, Organisation(name=name, acronym=acronym, component=component, kind=kind,
                                                         **extra))


def reasons_by_row(plan: directory_csv.DirectoryPlan) -> dict[int, str]:
    return {r.number: " ".join(r.reasons) for r in plan.rejected}


def read_csv(body: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))


@pytest.fixture
def admin(db: Any) -> Any:
    return make_member(Component.CIVILIAN, role=Role.ADMINISTRATOR)


@pytest.fixture
def admin_client(admin: Any, settings: Any, tmp_path: Path) -> Client:
    settings.CIVMIL_VAR_DIR = tmp_path
    client = Client()
    client.force_login(admin.user)
    return client


# ---------------------------------------------------------------------------------------------
# Parser


def test_bom_semicolons_and_header_case_are_understood() -> None:
    data = "\ufeffNAME;Acronym;COMPONENT;Kind\nWorld Food Programme;WFP;humanitarian;un_agency\n".encode()
    parsed = directory_csv.parse(data, directory_csv.ORGANISATIONS)
    assert parsed.error == ""
    assert parsed.rows[0].number == 2
    assert parsed.rows[0].values["name"] == "World Food Programme"
    assert parsed.rows[0].values["acronym"] == "WFP"
    assert parsed.rows[0].values["country"] == ""


@pytest.mark.parametrize(("data", "message"), [
    (b"name,kind\n\xff\xfe bad", "not UTF-8"),
    (b"", "empty"),
    (b"name,colour\nA,red\n", "Unknown column(s): colour"),
    (b"acronym\nA\n", "Required column(s) missing: name"),
    (b"name,name\nA,B\n", "appears twice"),
    (b"name\n", "no rows"),
])
def test_unreadable_files_say_why(data: bytes, message: str) -> None:
    assert message in directory_csv.parse(data, directory_csv.ORGANISATIONS).error


# Modelled on HXL datasets (libhxl-python's test files): a title row, a header row, then a row of
# hashtags. Before, a tab-separated one was refused with its tabs in the message.
HXL = "Qué?,,Quién?\nSector/Cluster,Subsector,Organización\n#sector+es,#subsector+es,#org+es\nWASH,Higiene,ACNUR\n"


@pytest.mark.parametrize("kind", [directory_csv.ORGANISATIONS, directory_csv.PEOPLE])
def test_a_tab_separated_file_is_refused_saying_so(kind: str) -> None:
    error = directory_csv.parse(HXL.replace(",", "\t").encode(), kind).error
    assert "separated by tabs" in error and "CSV UTF-8" in error
    assert "\t" not in error


@pytest.mark.parametrize(("data", "row"), [
    (HXL, 3),
    ("Org,Province\n#org,#adm1\nOrg X,Coast\n", 2),
    ("#org,#adm1,#affected\nOrg X,Coast,100\n", 1),
    ("Qué?,,\nRegistro,Sector,País\n,#sector+es,country\n", 3),  # a fuzzy tag row: half the cells are tags
])
def test_an_hxl_dataset_is_named_as_such(data: str, row: int) -> None:
    error = directory_csv.parse(data.encode(), directory_csv.PEOPLE).error
    assert f"This is an HXL dataset (row {row} holds #hashtags), not a directory file" in error
    assert "full_name" in error


def test_a_row_of_hashtags_under_a_directory_header_is_rejected_not_imported() -> None:
    plan = directory_csv.plan_organisations(b"name,component,kind\n#org,#org+type,#meta\nB,civilian,other\n")
    assert "HXL hashtags" in reasons_by_row(plan)[2]
    assert [r.label for r in plan.rows] == ["B"]
    # A real organisation whose name starts with # is a record, not a tag row.
    plan = directory_csv.plan_organisations(b"name,component,kind\n#Relief,civilian,other\n")
    assert [r.label for r in plan.rows] == ["#Relief"] and plan.rejected == []


def test_unknown_columns_are_listed_on_one_line_and_capped() -> None:
    header = ",".join(['"two\nlines"', *(f"col{i}" for i in range(30))])
    error = directory_csv.parse(f"{header}\nA\n".encode(), directory_csv.ORGANISATIONS).error
    assert error.startswith("Unknown column(s): two lines, col0,")
    assert "col10, and 19 more columns." in error and "col11" not in error
    assert "\n" not in error


def test_size_and_row_caps(monkeypatch: pytest.MonkeyPatch) -> None:
    big = ORG_HEADER.encode() + b"x" * (directory_csv.MAX_FILE_BYTES + 1)
    assert "the limit is 5 MB" in directory_csv.parse(big, directory_csv.ORGANISATIONS).error
    monkeypatch.setattr(directory_csv.parsing, "MAX_ROWS", 2)  # where parse reads it
    rows = b"name\nA\nB\nC\n"
    assert "more than 2 rows" in directory_csv.parse(rows, directory_csv.ORGANISATIONS).error


def test_extra_cells_reject_the_row_only() -> None:
    plan = directory_csv.plan_organisations(b"name,component,kind\nA,civilian,other,surplus\nB,civilian,other\n")
    assert "more cells" in reasons_by_row(plan)[2]
    assert [r.label for r in plan.rows] == ["B"]


# ---------------------------------------------------------------------------------------------
# Plans: every rejection reason


def test_organisation_rows_rejected_with_row_number_and_reasons(db: Any) -> None:
    org_named(Component.MILITARY, "Eastern Battalion", "EBN")
    data = (ORG_HEADER
            + "Relief NGO,RN,humanitarian,ingo,,SS,ops@relief.example,,https://relief.example,\n"   # 2: ok
            + "Bad Component,,navy,other,,,,,,\n"                                                 # 3
            + "Bad Mail,,civilian,other,,,not-an-address,,,\n"                                   # 4
            + "Orphan,,civilian,other,Nowhere Org,,,,,\n"                                        # 5
            + "Relief NGO,,humanitarian,ingo,,,,,,\n"                                            # 6 duplicate
            + "Bad Country,,civilian,other,,Sudan,,,,\n"                                         # 7
            + "Bad Site,,civilian,nonsense,,,,,javascript:alert(1),\n"                           # 8
            + "Child Office,,humanitarian,ingo,RN,,,,,\n"                                        # 9: parent in file
            + ",,civilian,other,,,,,,\n"                                                         # 10 no name
            + "Eastern Battalion,,police,,,,,,,\n").encode()                                     # 11
    plan = directory_csv.plan_organisations(data)
    why = reasons_by_row(plan)
    assert "Unknown component navy" in why[3]
    assert "not-an-address is not a valid e-mail address" in why[4]
    assert "Unknown parent Nowhere Org" in why[5]
    assert "Duplicate in the file: row 2" in why[6]
    assert "not a two-letter ISO 3166 code" in why[7]
    assert "Unknown kind nonsense" in why[8] and "not a web address" in why[8]
    assert "name is empty" in why[10]
    assert "component of an existing organisation cannot change" in why[11]
    assert [(r.number, r.action) for r in plan.rows] == [(2, "create"), (9, "create")]
    assert plan.rows[1].parent_in_file == "relief ngo"


def test_people_rows_rejected_with_row_number_and_reasons(db: Any) -> None:
    org_named(Component.MILITARY, "Eastern Battalion", "EBN")
    org_named(Component.HUMANITARIAN, "Relief NGO", "RN")
    data = (PEOPLE_HEADER
            + "Ana Lopez,,ana@relief.example,+211 1,,,en,RN,ngo_staff,Field officer,humanitarian\n"  # 2 ok
            + "Bob,,bob@@x,,,,,RN,,,\n"                                                             # 3
            + "Carl,,,,,,,Nowhere Org,,,\n"                                                         # 4
            + "Dina,,dina@x.example,,,,,EBN,,,humanitarian\n"                                       # 5 level
            + "Eve,,eve@x.example,,,,,RN,administrator,,\n"                                         # 6 privileged
            + "Fay,,ana@relief.example,,,,,RN,,,\n"                                                 # 7 duplicate
            + "Gus,,,,,,,RN,pilot,,\n"                                                              # 8 role
            + "Hal,,,,,,,RN,,,purple\n"                                                             # 9 level name
            + "Ida,,,,,,,RN,,Driver,\n"                                                             # 10 position
            + "Jon,,,,,,,,,,\n").encode()                                                           # 11 no org
    plan = directory_csv.plan_people(None, data)
    why = reasons_by_row(plan)
    assert "bob@@x is not a valid e-mail address" in why[3]
    assert "Unknown organisation Nowhere Org" in why[4]
    assert "may not see Humanitarian records" in why[5]
    assert "privileged" in why[6]
    assert "Duplicate in the file: row 2" in why[7]
    assert "Unknown role pilot" in why[8]
    assert "Unknown contact level purple" in why[9]
    assert "A position needs a role" in why[10]
    assert "organisation is empty" in why[11]
    assert [(r.number, r.action, r.membership is not None) for r in plan.rows] == [(2, "create", True)]


def test_people_the_importer_may_not_fully_see_cannot_be_updated(admin: Any) -> None:
    battalion = org_named(Component.MILITARY, "Eastern Battalion")
    services.save_person(None, Person(full_name="Major Kay", owner=battalion, level=Level.MILITARY,
                                      email="kay@mil.example"))
    plan = directory_csv.plan_people(admin.actor, (PEOPLE_HEADER + "Major Kay,,,+1,,,,Eastern Battalion,,,\n").encode())
    assert "may not see this person's contact details" in reasons_by_row(plan)[2]


# ---------------------------------------------------------------------------------------------
# Services


def test_only_administrators_import(db: Any) -> None:
    plan = directory_csv.plan_organisations(b"name,component,kind\nA,civilian,other\n")
    with pytest.raises(Forbidden):
        actor_services.import_directory(make_member(Component.CIVILIAN).actor, plan)
    assert not Organisation.objects.filter(name="A").exists()


def test_rejected_rows_stop_everything_unless_confirmed(admin: Any) -> None:
    plan = directory_csv.plan_organisations(b"name,component,kind\nGood,civilian,other\nBad,navy,other\n")
    with pytest.raises(Invalid) as exc:
        actor_services.import_directory(admin.actor, plan)
    assert "Row 3 (Bad)" in exc.value.errors["rows"][0]
    assert not Organisation.objects.filter(name="Good").exists()
    result = actor_services.import_directory(admin.actor, plan, confirm=True)
    assert (result.created, len(result.skipped)) == (1, 1)
    assert Organisation.objects.filter(name="Good").exists()


def test_import_writes_through_the_ledger_with_parents_before_children(admin: Any) -> None:
    data = (ORG_HEADER + "Sub Office,,humanitarian,ingo,RN,,,,,\n"
            + "Relief NGO,RN,humanitarian,ingo,,,,,,\n").encode()
    result = actor_services.import_directory(admin.actor, directory_csv.plan_organisations(data))
    assert result.created == 2
    assert Organisation.objects.get(name="Sub Office").parent == Organisation.objects.get(name="Relief NGO")
    assert LedgerEntry.objects.filter(action="organisation.created").count() >= 2
    assert LedgerEntry.objects.filter(action="directory.imported").count() == 1


def test_reimport_updates_and_keeps_empty_cells(admin: Any) -> None:
    org = org_named(Component.HUMANITARIAN, "Relief NGO", contact_phone="+211 1", description="Food")
    data = (ORG_HEADER + "relief ngo,,,,,,,+211 999,,\n").encode()
    plan = directory_csv.plan_organisations(data)
    assert [(r.action, r.changes) for r in plan.rows] == [("update", ["contact_phone"])]
    actor_services.import_directory(admin.actor, plan)
    org.refresh_from_db()
    assert (org.contact_phone, org.description, org.version) == ("+211 999", "Food", 2)
    assert LedgerEntry.objects.filter(action="organisation.updated", object_id=str(org.pk)).exists()


def test_people_import_creates_person_and_membership_then_updates(admin: Any) -> None:
    org_named(Component.HUMANITARIAN, "Relief NGO", "RN")
    data = (PEOPLE_HEADER + "Ana Lopez,Dr,ana@relief.example,+211 1,,,en,RN,ngo_staff,Field officer,\n").encode()
    actor_services.import_directory(admin.actor, directory_csv.plan_people(admin.actor, data))
    ana = Person.objects.get(email="ana@relief.example")
    assert (ana.owner.name, ana.level, ana.phone) == ("Relief NGO", Level.MISSION, "+211 1")
    m = Membership.objects.get(person=ana)
    assert (m.role, m.position, m.status) == (Role.NGO_STAFF, "Field officer", MembershipStatus.ACTIVE)
    again = (PEOPLE_HEADER + "Ana Lopez,,ANA@relief.example,+211 2,,,,RN,ngo_staff,,\n").encode()
    plan = directory_csv.plan_people(admin.actor, again)
    assert [(r.action, r.changes) for r in plan.rows] == [("update", ["phone"])]
    actor_services.import_directory(admin.actor, plan)
    ana.refresh_from_db()
    assert (ana.phone, ana.title) == ("+211 2", "Dr")
    assert Membership.objects.filter(person=ana).count() == 1


def test_privileged_role_is_refused_and_never_granted(admin: Any) -> None:
    org = org_named(Component.CIVILIAN, "Civil Affairs")
    data = (PEOPLE_HEADER + "Zed,,zed@x.example,,,,,Civil Affairs,leadership,,\n").encode()
    plan = directory_csv.plan_people(admin.actor, data)
    assert "needs a second administrator's approval" in reasons_by_row(plan)[2]
    with pytest.raises(Invalid):
        actor_services.import_directory(admin.actor, plan, confirm=True)
    assert not Membership.objects.filter(organisation=org, role=Role.LEADERSHIP).exists()


# ---------------------------------------------------------------------------------------------
# Views: dry run, confirm


def _upload(client: Client, kind: str, text: str) -> Any:
    return client.post(reverse("actors:directory-import"), {
        "step": "upload", "kind": kind, "file": SimpleUploadedFile("dir.csv", text.encode(), "text/csv")})


def test_dry_run_imports_nothing_and_confirm_imports(admin_client: Client, tmp_path: Path) -> None:
    response = _upload(admin_client, "organisations", ORG_HEADER + "Relief NGO,RN,humanitarian,ingo,,,,,,\n"
                       + "Broken,,navy,ingo,,,,,,\n")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Unknown component navy" in body and "1 record would be created" in body
    assert not Organisation.objects.filter(name="Relief NGO").exists()
    token = admin_client.session[csv_views.SESSION_KEY]["token"]
    assert (tmp_path / "tmp" / "directory-imports" / f"directory-{token}.csv").exists()
    refused = admin_client.post(reverse("actors:directory-import"), {"step": "confirm", "token": token})
    assert refused.status_code == 422 and not Organisation.objects.filter(name="Relief NGO").exists()
    done = admin_client.post(reverse("actors:directory-import"),
                             {"step": "confirm", "token": token, "confirm_rejected": "1"})
    assert done.status_code == 302
    assert Organisation.objects.filter(name="Relief NGO").exists()
    assert not Organisation.objects.filter(name="Broken").exists()
    assert list((tmp_path / "tmp" / "directory-imports").glob("directory-*.csv")) == []


def test_confirm_with_a_foreign_token_is_refused(admin_client: Client) -> None:
    _upload(admin_client, "organisations", ORG_HEADER + "Relief NGO,RN,humanitarian,ingo,,,,,,\n")
    response = admin_client.post(reverse("actors:directory-import"), {"step": "confirm", "token": "x" * 43})
    assert response.status_code == 400
    assert not Organisation.objects.filter(name="Relief NGO").exists()


def test_directory_index_links_to_exports_and_import(admin_client: Client) -> None:
    body = admin_client.get(reverse("actors:index")).content.decode()
    assert reverse("actors:organisations-export") in body and reverse("actors:people-export") in body
    assert reverse("actors:directory-import") in body
    page = admin_client.get(reverse("actors:directory-import"))
    assert page.status_code == 200 and 'name="kind"' in page.content.decode()


def test_import_page_is_for_administrators(db: Any) -> None:
    client = Client()
    client.force_login(make_member(Component.CIVILIAN).user)
    assert client.get(reverse("actors:directory-import")).status_code == 403


def test_an_unreadable_upload_gets_a_4xx(admin_client: Client) -> None:
    response = admin_client.post(reverse("actors:directory-import"), {
        "step": "upload", "kind": "people", "file": SimpleUploadedFile("x.csv", b"\xff\xfe\x00", "text/csv")})
    assert response.status_code == 422 and "UTF-8" in response.content.decode()


# ---------------------------------------------------------------------------------------------
# Exports


def test_people_export_honours_the_policy(db: Any) -> None:
    ngo = org_named(Component.HUMANITARIAN, "Relief NGO")
    services.save_person(None, Person(full_name="Ana Lopez", owner=ngo, level=Level.HUMANITARIAN,
                                      phone="MARKER-555-0199"))
    soldier = make_member(Component.MILITARY)
    aid_worker = make_member(Component.HUMANITARIAN)
    client = Client()
    client.force_login(soldier.user)
    military_export = client.get(reverse("actors:people-export"))
    assert military_export.status_code == 200
    assert b"MARKER-555-0199" not in military_export.content
    client.force_login(aid_worker.user)
    rows = read_csv(client.get(reverse("actors:people-export")).content)
    ana = next(r for r in rows if r["full_name"] == "Ana Lopez")
    assert ana["phone"] == "MARKER-555-0199" and ana["contact_level"] == "humanitarian"


def test_export_escapes_formulas_and_import_reads_them_back(admin_client: Client, admin: Any) -> None:
    org = org_named(Component.HUMANITARIAN, "Relief NGO", description='=HYPERLINK("http://evil.example")',
                   contact_phone="+211 5")
    rows = read_csv(admin_client.get(reverse("actors:organisations-export")).content)
    row = next(r for r in rows if r["name"] == "Relief NGO")
    assert row["description"] == "'=HYPERLINK(\"http://evil.example\")"
    assert row["contact_phone"] == "'+211 5"
    plan = directory_csv.plan_organisations(admin_client.get(reverse("actors:organisations-export")).content)
    assert next(r for r in plan.rows if r.label == "Relief NGO").action == "unchanged"
    org.refresh_from_db()
    assert org.description.startswith("=HYPERLINK")


def test_round_trip_export_then_import_changes_nothing(admin_client: Client, admin: Any) -> None:
    ngo = org_named(Component.HUMANITARIAN, "Relief NGO", "RN", country="SS",
                   website="https://relief.example", contact_email="ops@relief.example")
    org_named(Component.HUMANITARIAN, "Relief NGO Juba", parent=ngo, kind=OrganisationKind.INTERNATIONAL_NGO)
    make_member(Component.MILITARY)
    make_member(Component.HUMANITARIAN, org=ngo)
    orgs = admin_client.get(reverse("actors:organisations-export")).content
    org_plan = directory_csv.plan_organisations(orgs)
    assert org_plan.rejected == [] and org_plan.rows
    assert {r.action for r in org_plan.rows} == {"unchanged"}
    people = admin_client.get(reverse("actors:people-export")).content
    assert len(read_csv(people)) == Person.objects.count()
    people_plan = directory_csv.plan_people(admin.actor, people)
    assert people_plan.rejected == []
    assert {r.action for r in people_plan.rows} == {"unchanged"}
    result = actor_services.import_directory(admin.actor, people_plan)
    assert (result.created, result.updated, result.unchanged) == (0, 0, Person.objects.count())


def test_organisations_export_needs_sign_in(db: Any) -> None:
    response = Client().get(reverse("actors:organisations-export"))
    assert response.status_code == 302


# ---------------------------------------------------------------------------------------------
# Command line


def test_command_dry_run_then_import(db: Any, tmp_path: Path) -> None:
    path = tmp_path / "orgs.csv"
    path.write_text(ORG_HEADER + "Relief NGO,RN,humanitarian,ingo,,,,,,\nBroken,,navy,ingo,,,,,,\n", "utf-8")
    out = io.StringIO()
    with pytest.raises(CommandError, match="would be rejected"):
        call_command("import_directory", str(path), "--kind", "organisations", "--dry-run", stdout=out)
    assert "Row 3 (Broken)" in out.getvalue()
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import_directory", str(path), "--kind", "organisations", stdout=io.StringIO())
    assert not Organisation.objects.filter(name="Relief NGO").exists()
    call_command("import_directory", str(path), "--kind", "organisations", "--yes", stdout=io.StringIO())
    assert Organisation.objects.filter(name="Relief NGO").exists()

"""Area pages through the browser views: list, detail, GeoJSON, point lookup and the import."""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from civmil.actors import services as actor_services
from civmil.actors.choices import AreaKind
from civmil.actors.models import Area
from civmil.actors.views import areas as area_views
from civmil.core import geo
from civmil.core.choices import Component, Role
from civmil.core.models import LedgerEntry
from tests.factories import make_member, make_org

pytestmark = pytest.mark.django_db


def square(x: float, y: float, size: float = 1.0) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]]}


def make_area(name: str, pcode: str | None, geometry: dict[str, Any], *, level: int | None = 1,
              parent: Area | None = None, **extra: Any) -> Area:
    return actor_services.save_area(None, Area(name=name, pcode=pcode, admin_level=level, parent=parent, **extra),
                                    geometry)


@pytest.fixture
def world(db: Any) -> dict[str, Area]:
    """A country with two provinces, a district, and an area of responsibility across them."""
    country = make_area("Testland", "TL", square(30, 0, 4), level=0)
    north = make_area("Northern Province", "TL01", square(30, 2, 4).copy() | {"coordinates": [[[30, 2], [34, 2],
                      [34, 4], [30, 4], [30, 2]]]}, parent=country)
    south = make_area("Southern Province", "TL02", {"type": "Polygon", "coordinates": [[[30, 0], [34, 0], [34, 2],
                      [30, 2], [30, 0]]]}, parent=country, name_alt="Province du Sud")
    district = make_area("Riverside", "TL0101", square(31, 3, 0.5), level=2, parent=north)
    battalion = make_org(Component.MILITARY, name="Eastern Battalion")
    aor = make_area("Sector East", None, square(32, 1, 2), level=None, kind=AreaKind.RESPONSIBILITY,
                    responsible=battalion)
    return {"country": country, "north": north, "south": south, "district": district, "aor": aor}


@pytest.fixture
def reader(db: Any) -> Client:
    client = Client()
    client.force_login(make_member(Component.HUMANITARIAN).user)
    return client


# ---------------------------------------------------------------------------------------------
# List and detail


def test_pages_need_a_signed_in_reader(world: dict[str, Area], client: Client) -> None:
    for url in (reverse("actors:areas"), reverse("actors:area", args=[world["north"].pk]),
                reverse("actors:area-lookup") + "?location=1,31"):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    response = client.get(reverse("actors:areas-geojson"))
    assert response.status_code == 401 and "Sign in" in response.json()["detail"]


def listed(page: str) -> list[str]:
    """Names in the first column of the areas table."""
    return re.findall(r"<tr>\s*<td><a href=\"[^\"]+\">([^<]+)</a>", page)


def test_list_searches_by_name_and_pcode_and_filters_by_level(world: dict[str, Area], reader: Client) -> None:
    page = reader.get(reverse("actors:areas")).content.decode()
    assert sorted(listed(page)) == sorted(a.name for a in world.values())
    assert 'data-map="view"' in page and f'data-geojson-url="{reverse("actors:areas-geojson")}"' in page

    by_pcode = reader.get(reverse("actors:areas"), {"q": "TL01"}).content.decode()
    assert listed(by_pcode) == ["Northern Province", "Riverside"]
    by_alt_name = reader.get(reverse("actors:areas"), {"q": "du Sud"}).content.decode()
    assert listed(by_alt_name) == ["Southern Province"]

    text = reader.get(reverse("actors:areas"), {"level": "2"}).content.decode()
    assert listed(text) == ["Riverside"]
    assert f'data-geojson-url="{reverse("actors:areas-geojson")}?level=2"' in text  # the map shows the same areas

    assert reader.get(reverse("actors:areas"), {"level": "banana"}).status_code == 422


def test_import_button_only_for_administrators(world: dict[str, Area], reader: Client) -> None:
    import_url = reverse("actors:areas-import")
    assert import_url not in reader.get(reverse("actors:areas")).content.decode()
    admin = Client()
    admin.force_login(make_member(Component.CIVILIAN, role=Role.ADMINISTRATOR).user)
    assert import_url in admin.get(reverse("actors:areas")).content.decode()


def test_detail_shows_properties_parent_chain_and_children(world: dict[str, Area], reader: Client) -> None:
    response = reader.get(reverse("actors:area", args=[world["north"].pk]))
    page = response.content.decode()
    assert response.status_code == 200
    assert "TL01" in page and "Northern Province" in page
    assert reverse("actors:area", args=[world["country"].pk]) in page  # parent chain
    assert reverse("actors:area", args=[world["district"].pk]) in page and "Riverside" in page  # children
    assert 'data-map="view"' in page and 'id="area-geojson"' in page
    geojson = json.loads(page.split('id="area-geojson" type="application/json">')[1].split("</script>")[0])
    assert geojson["features"][0]["properties"]["pcode"] == "TL01"

    deep = reader.get(reverse("actors:area", args=[world["district"].pk])).content.decode()
    assert deep.index("Testland") < deep.index("Northern Province")  # country first, then province


def test_detail_of_an_aor_names_the_responsible_organisation(world: dict[str, Area], reader: Client) -> None:
    page = reader.get(reverse("actors:area", args=[world["aor"].pk])).content.decode()
    aor = world["aor"]
    assert aor.responsible is not None
    assert "Responsible organisation" in page and "Eastern Battalion" in page
    assert reverse("actors:organisation", args=[aor.responsible.pk]) in page


def test_detail_of_an_unknown_area_is_404(reader: Client) -> None:
    assert reader.get(reverse("actors:area", args=["00000000-0000-4000-8000-00000000abcd"])).status_code == 404


# ---------------------------------------------------------------------------------------------
# GeoJSON


def test_geojson_lists_areas_with_their_properties(world: dict[str, Area], reader: Client) -> None:
    response = reader.get(reverse("actors:areas-geojson"), {"level": "1"})
    assert response.status_code == 200 and response["Content-Type"] == "application/geo+json"
    body = response.json()
    assert body["type"] == "FeatureCollection"
    by_pcode = {f["properties"]["pcode"]: f for f in body["features"]}
    assert set(by_pcode) == {"TL01", "TL02"}
    north = by_pcode["TL01"]
    assert north["properties"] == {"id": str(world["north"].pk), "name": "Northern Province", "pcode": "TL01",
                                   "admin_level": 1, "kind": "admin",
                                   "url": reverse("actors:area", args=[world["north"].pk])}
    assert north["geometry"]["type"] == "Polygon"


def test_geojson_filters_by_bbox(world: dict[str, Area], reader: Client) -> None:
    body = reader.get(reverse("actors:areas-geojson"), {"bbox": "31.1,3.1,31.2,3.2", "level": "2"}).json()
    assert [f["properties"]["pcode"] for f in body["features"]] == ["TL0101"]
    far = reader.get(reverse("actors:areas-geojson"), {"bbox": "-10,-10,-9,-9"}).json()
    assert far["features"] == []


@pytest.mark.parametrize("query", [
    {"bbox": "1,2,3"}, {"bbox": "a,b,c,d"}, {"bbox": "10,0,5,1"}, {"bbox": "0,0,200,1"}, {"bbox": "nan,0,1,1"},
    {"level": "x"}, {"level": "²"}, {"level": "-1"}, {"level": "99"}, {"kind": "planet"},
])
def test_geojson_bad_parameters_say_why(world: dict[str, Area], reader: Client, query: dict[str, str]) -> None:
    response = reader.get(reverse("actors:areas-geojson"), query)
    assert response.status_code == 400
    assert response.json()["detail"]


# ---------------------------------------------------------------------------------------------
# Lookup


def test_lookup_by_decimal_degrees_lists_the_containing_areas(world: dict[str, Area], reader: Client) -> None:
    response = reader.get(reverse("actors:area-lookup"), {"location": "3.25, 31.25"})
    page = response.content.decode()
    assert response.status_code == 200
    for name in ("Testland", "Northern Province", "Riverside"):
        assert name in page
    assert "Southern Province" not in page and "Sector East" not in page


def test_lookup_by_mgrs(world: dict[str, Area], reader: Client) -> None:
    reference = geo.to_mgrs(1.5, 32.5)
    assert reference
    page = reader.get(reverse("actors:area-lookup"), {"location": reference}).content.decode()
    assert "Southern Province" in page and "Sector East" in page and "Eastern Battalion" in page
    assert "Northern Province" not in page


@pytest.mark.parametrize(("location", "reason"), [
    ("somewhere near the river", "neither"),
    ("95, 31", "out of range"),
    ("36N YF 1234 567", "odd number of digits"),
    ("x" * 500, "at most 100 characters"),
])
def test_lookup_bad_input_gives_the_reason_and_400(world: dict[str, Area], reader: Client, location: str,
                                                   reason: str) -> None:
    response = reader.get(reverse("actors:area-lookup"), {"location": location})
    assert response.status_code == 400
    assert reason in response.content.decode()


def test_lookup_of_a_point_in_no_area_says_so(world: dict[str, Area], reader: Client) -> None:
    page = reader.get(reverse("actors:area-lookup"), {"location": "-20, -20"}).content.decode()
    assert "No recorded area contains this point" in page


# ---------------------------------------------------------------------------------------------
# Import through the browser


def _file(*features: Any, name: str = "tl_adm1.geojson") -> SimpleUploadedFile:
    data = json.dumps({"type": "FeatureCollection", "features": list(features)}).encode()
    return SimpleUploadedFile(name, data, content_type="application/geo+json")


def _feature(pcode: str | None, name: str | None, geometry: dict[str, Any],
             parent: str | None = None) -> dict[str, Any]:
    props = {"ADM1_PCODE": pcode, "ADM1_EN": name, "ADM0_PCODE": parent}
    return {"type": "Feature", "properties": {k: v for k, v in props.items() if v is not None}, "geometry": geometry}


@pytest.fixture
def admin_client(db: Any, settings: Any, tmp_path: Path) -> Client:
    settings.CIVMIL_VAR_DIR = tmp_path
    client = Client()
    client.force_login(make_member(Component.CIVILIAN, role=Role.ADMINISTRATOR).user)
    return client


def _uploads(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "tmp" / "boundary-imports").glob("boundaries-*.json"))


def test_only_administrators_reach_the_import(reader: Client) -> None:
    assert reader.get(reverse("actors:areas-import")).status_code == 403
    assert reader.post(reverse("actors:areas-import"), {"level": "1"}).status_code == 403


def test_dry_run_names_each_rejected_feature_then_confirm_imports_the_valid_ones(
        world: dict[str, Area], admin_client: Client, tmp_path: Path) -> None:
    url = reverse("actors:areas-import")
    assert admin_client.get(url).status_code == 200
    upload = _file(
        _feature("TL03", "Eastern Province", square(34, 0, 2), parent="TL"),
        _feature("TL04", None, square(36, 0, 2), parent="TL"),
        _feature("TL05", "Bowtie", {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]},
                 parent="TL"),
        _feature("TL06", "Lost", square(38, 0, 1), parent="XX"),
        _feature("TL01", "Northern Province (2024)", square(30, 2, 2), parent="TL"),
    )
    response = admin_client.post(url, {"step": "upload", "file": upload, "level": "1", "parent_field": "ADM0_PCODE",
                                       "source": "Test COD-AB"})
    page = response.content.decode()
    assert response.status_code == 200
    assert "4 features are rejected" not in page  # three are
    assert "3 features are rejected" in page
    for index, reason in (("2", "name is missing"), ("3", "intersect"), ("4", "parent P-code XX is unknown")):
        assert f"<td>{index}</td>" in page and reason in page
    assert "1 area would be created" in page and "1 would be updated" in page
    assert Area.objects.filter(pcode__in=["TL03", "TL04", "TL05", "TL06"]).count() == 0

    (stored,) = _uploads(tmp_path)
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    token = admin_client.session[area_views.SESSION_KEY]["token"]
    assert token in stored.name

    # Confirming without accepting the rejections imports nothing.
    refused = admin_client.post(url, {"step": "confirm", "token": token})
    assert refused.status_code == 422 and "nothing was imported" in refused.content.decode()
    assert not Area.objects.filter(pcode="TL03").exists()

    done = admin_client.post(url, {"step": "confirm", "token": token, "confirm_rejected": "1"}, follow=True)
    assert done.status_code == 200
    assert "1 created, 1 updated, 0 unchanged" in done.content.decode()
    east = Area.objects.get(pcode="TL03")
    assert east.parent == world["country"] and east.source == "Test COD-AB"
    assert Area.objects.get(pcode="TL01").name == "Northern Province (2024)"
    assert not Area.objects.filter(pcode__in=["TL04", "TL05", "TL06"]).exists()
    assert LedgerEntry.objects.filter(action="areas.imported").count() == 1
    assert _uploads(tmp_path) == []
    assert area_views.SESSION_KEY not in admin_client.session

    again = admin_client.post(url, {"step": "confirm", "token": token, "confirm_rejected": "1"})
    assert again.status_code == 400 and "upload the file again" in again.content.decode()


def test_a_clean_file_imports_on_confirm(world: dict[str, Area], admin_client: Client) -> None:
    url = reverse("actors:areas-import")
    admin_client.post(url, {"file": _file(_feature("TL07", "Island", square(40, 0, 1))), "level": "1"})
    token = admin_client.session[area_views.SESSION_KEY]["token"]
    response = admin_client.post(url, {"step": "confirm", "token": token})
    assert response.status_code == 302 and response["Location"].startswith(reverse("actors:areas"))
    assert Area.objects.get(pcode="TL07").admin_level == 1


def test_a_token_from_another_session_is_refused(world: dict[str, Area], admin_client: Client) -> None:
    url = reverse("actors:areas-import")
    admin_client.post(url, {"file": _file(_feature("TL07", "Island", square(40, 0, 1))), "level": "1"})
    token = admin_client.session[area_views.SESSION_KEY]["token"]
    other = Client()
    other.force_login(make_member(Component.CIVILIAN, role=Role.ADMINISTRATOR).user)
    response = other.post(url, {"step": "confirm", "token": token})
    assert response.status_code == 400
    assert not Area.objects.filter(pcode="TL07").exists()


def test_confirm_after_the_areas_changed_shows_the_new_report(world: dict[str, Area], admin_client: Client) -> None:
    url = reverse("actors:areas-import")
    admin_client.post(url, {"file": _file(_feature("TL07", "Island", square(40, 0, 1))), "level": "1"})
    token = admin_client.session[area_views.SESSION_KEY]["token"]
    make_area("Island", "TL07", square(40, 0, 1))  # someone else imported it meanwhile: now an update
    response = admin_client.post(url, {"step": "confirm", "token": token})
    assert response.status_code == 409
    assert "changed since this report" in response.content.decode()
    assert admin_client.post(url, {"step": "confirm", "token": token}).status_code == 302


def test_a_broken_file_gets_its_reason_and_keeps_nothing(admin_client: Client, tmp_path: Path) -> None:
    url = reverse("actors:areas-import")
    bad = SimpleUploadedFile("x.geojson", b'{"type": "FeatureCollection", "features": [', "application/json")
    response = admin_client.post(url, {"file": bad, "level": "1"})
    assert response.status_code == 422 and "not valid JSON" in response.content.decode()
    assert _uploads(tmp_path) == [] and area_views.SESSION_KEY not in admin_client.session
    nested = SimpleUploadedFile("x.geojson", b"[" * 100_000, "application/json")
    deep = admin_client.post(url, {"file": nested, "level": "1"})
    assert deep.status_code == 422 and "too deeply" in deep.content.decode()


def test_bad_options_are_shown_on_the_form(admin_client: Client) -> None:
    response = admin_client.post(reverse("actors:areas-import"), {
        "file": _file(_feature("TL07", "Island", square(40, 0, 1))), "level": "12"})
    assert response.status_code == 422
    assert "less than or equal to 9" in response.content.decode()


def test_cancel_removes_the_stored_upload(admin_client: Client, tmp_path: Path) -> None:
    url = reverse("actors:areas-import")
    admin_client.post(url, {"file": _file(_feature("TL07", "Island", square(40, 0, 1))), "level": "1"})
    assert len(_uploads(tmp_path)) == 1
    admin_client.post(url, {"step": "cancel"})
    assert _uploads(tmp_path) == []
    assert not Area.objects.filter(pcode="TL07").exists()


def test_an_upload_over_the_cap_is_refused_before_it_is_read(admin_client: Client) -> None:
    response = admin_client.post(reverse("actors:areas-import"), {"level": "1"},
                                 CONTENT_LENGTH=str(60 * 1024 * 1024))
    assert response.status_code == 413
    assert "60.0 MB; the limit is 50 MB" in response.content.decode()


def test_a_file_over_the_cap_is_refused_with_the_limit(admin_client: Client, monkeypatch: pytest.MonkeyPatch,
                                                       tmp_path: Path) -> None:
    monkeypatch.setattr(area_views.codab, "MAX_FILE_BYTES", 2 * 1024 * 1024)
    big = SimpleUploadedFile("big.geojson", b" " * (5 * 1024 * 1024 // 2), "application/json")
    response = admin_client.post(reverse("actors:areas-import"), {"file": big, "level": "1"})
    assert response.status_code == 422
    assert "2.5 MB; the limit is 2 MB" in response.content.decode()
    assert _uploads(tmp_path) == []


def test_the_import_still_checks_csrf(db: Any, settings: Any, tmp_path: Path) -> None:
    settings.CIVMIL_VAR_DIR = tmp_path
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_member(Component.CIVILIAN, role=Role.ADMINISTRATOR).user)
    response = client.post(reverse("actors:areas-import"),
                           {"file": _file(_feature("TL07", "Island", square(40, 0, 1))), "level": "1"})
    assert response.status_code == 403
    assert _uploads(tmp_path) == []

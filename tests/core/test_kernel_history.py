"""What a reduced view of a type that coarsens a field gives of it beyond the record's page: its
history (GET /api/v1/<type>/<id>/history and the history page, kernel.queries.history_of) and
its place (actors.views.location_cells and point_features) carry the coarsened value, never the
exact one."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from django.urls import get_resolver

from civmil.actors.models import LiaisonLogEntry
from civmil.actors.views import location_cells, point_features
from civmil.core import access, registry
from civmil.core import services as core_services
from civmil.core.choices import Component, Level
from civmil.core.kernel.queries import history_of
from tests.api.conftest import record_entry
from tests.factories import Member, make_member

pytestmark = pytest.mark.django_db


def _coarse_log_type() -> registry.RecordType:
    """The liaison log's declaration with its place coarsened to whole degrees in a reduced view."""
    base = registry.get(LiaisonLogEntry)

    def whole(value: Any) -> Any:
        if value is None:
            return None
        lon, lat = value["coordinates"]
        return {"type": "Point", "coordinates": [float(round(lon)), float(round(lat))]}

    fields = tuple(dataclasses.replace(f, coarsen=whole) if f.name == "geometry" else f for f in base.fields)
    return dataclasses.replace(base, fields=fields)


@pytest.fixture
def reader(monkeypatch: pytest.MonkeyPatch) -> Member:
    """A humanitarian member released the place of a military entry at 10.4321, 30.6789."""
    # The API's routes are built once, from the declarations registered then: built here first,
    # they keep the real one, not this test's (which tests run after would get otherwise).
    get_resolver().url_patterns  # noqa: B018
    monkeypatch.setitem(registry._TYPES, LiaisonLogEntry, _coarse_log_type())
    return make_member(Component.HUMANITARIAN)


def _released_place(reader: Member) -> access.Shown[Any]:
    owner = make_member(Component.MILITARY)
    entry = record_entry(owner, level=Level.MILITARY, summary="Ford", latitude=10.4321, longitude=30.6789)
    core_services.release_record(owner.actor, entry, organisation=reader.org, fields=["geometry"])
    shown = access.fetch(reader.actor, LiaisonLogEntry, entry.pk)
    assert shown.reduced
    return shown


def test_history_of_a_reduced_view_carries_the_coarsened_values(reader: Member) -> None:
    [created] = history_of(reader.actor, _released_place(reader))
    assert created["changes"]["geometry"] == {"type": "Point", "coordinates": [31.0, 10.0]}


def test_the_place_cells_and_map_of_a_reduced_view_are_coarsened(reader: Member) -> None:
    shown = _released_place(reader)
    cells = location_cells(shown)
    assert (cells["latitude"].text, cells["longitude"].text) == ("10.000000", "31.000000")
    map_ = point_features(shown, "Ford")
    assert map_ is not None and map_["features"][0]["geometry"]["coordinates"] == [31.0, 10.0]


def test_the_admin_page_of_a_reduced_view_shows_the_coarsened_place(monkeypatch: pytest.MonkeyPatch) -> None:
    """The admin generated from the declaration coarsens as the record's own page does: an
    administrator released a place in part never reads it at full precision there."""
    from django.test import Client
    from django.urls import reverse

    from civmil.core.choices import Role

    monkeypatch.setitem(registry._TYPES, LiaisonLogEntry, _coarse_log_type())
    administrator = make_member(Component.HUMANITARIAN, role=Role.ADMINISTRATOR)
    shown = _released_place(administrator)
    client = Client()
    client.force_login(administrator.user)
    page = client.get(reverse("admin:actors_liaisonlogentry_change", args=[shown.record.pk]))
    assert page.status_code == 200
    text = page.content.decode()
    assert "10.4321" not in text and "30.6789" not in text, "the admin shows the exact place of a reduced view"
    assert "10.0" in text and "31.0" in text


def test_a_reduced_view_s_history_does_not_show_that_files_were_attached(settings: Any, tmp_path: Any) -> None:
    """Attachments are for readers of the whole record: one released a field of it sees no file on
    its page, and its history does not say that files were attached (nor when, nor by whom)."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client
    from django.urls import reverse

    from civmil.comms.services import attachments as attachment_services
    from civmil.core.kernel import planting
    from tests.kernel_proof.models import Observation

    settings.MEDIA_ROOT = tmp_path
    record_type = registry.get(Observation)
    owner, reader = make_member(Component.CIVILIAN), make_member(Component.MILITARY)
    record = planting.plant(record_type, owner.actor, Level.RESTRICTED, {"summary": "roadblock at the ford"})
    attachment_services.add_attachment(owner.actor, record_type.key, record.pk,
                                       SimpleUploadedFile("ford.txt", b"photo notes"))
    core_services.release_record(owner.actor, record, organisation=reader.org, fields=["summary"])
    assert access.fetch(reader.actor, Observation, record.pk).reduced
    client = Client()
    client.force_login(reader.user)
    text = client.get(reverse("kernel_proof:observation-history", kwargs={"pk": record.pk})).content.decode()
    assert "roadblock at the ford" in text
    assert "attachment." not in text
    client.force_login(owner.user)
    assert "attachment.added" in client.get(
        reverse("kernel_proof:observation-history", kwargs={"pk": record.pk})).content.decode()


def test_text_differences_are_marked_word_by_word_and_escaped() -> None:
    from civmil.core.kernel.views import text_difference

    before, after = text_difference("Convoy at <b>noon</b>\nRoad open", "Convoy at dawn\nRoad open & clear")
    assert before == "Convoy at <del>&lt;b&gt;noon&lt;/b&gt;</del><br>Road open"
    assert after == "Convoy at <ins>dawn</ins><br>Road open<ins> &amp; clear</ins>"
    assert text_difference("same", "same") == ("same", "same")

"""Searchable pickers (civmil.core.pickers): the widgets every form gets from its fields, the
options endpoint that loads them as the user types through the access policy, and the liaison
log form opened pre-filled from a person's or an organisation's page."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from civmil.actors.models import Area
from civmil.actors.services import save_area
from civmil.core import access, pickers
from civmil.core.choices import Component, Level
from civmil.core.models import Organisation, Person
from civmil.core.pages import FORM_ERROR_STATUS
from tests.factories import Member, make_member, make_org

pytestmark = pytest.mark.django_db

SQUARE = {"type": "Polygon", "coordinates": [[[30, 4], [31, 4], [31, 5], [30, 5], [30, 4]]]}


def signed_in(m: Member) -> Client:
    client = Client()
    client.force_login(m.user)
    return client


def select_tag(content: bytes, name: str) -> str:
    found = re.search(rf'<select name="{name}"[^>]*>.*?</select>', content.decode(), re.S)
    assert found is not None, name
    return found.group(0)


def main(content: bytes) -> str:
    found = re.search(r"<main.*</main>", content.decode(), re.S)
    assert found is not None
    return found.group(0)


def pick(client: Client, key: str, **params: Any) -> Any:
    return client.get(reverse("core:picker", kwargs={"key": key}), params)


def texts(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return [r["text"] for r in response.json()["results"]]


# ---------------------------------------------------------------------------------------------
# The widgets come from the field declarations


def test_the_kernel_form_makes_organisations_and_people_searchable_pickers() -> None:
    owner = make_member(Component.CIVILIAN)
    response = signed_in(owner).get(reverse("kernel_proof:observation-new"))
    assert response.status_code == 200
    organisations = select_tag(response.content, "organisations")
    assert 'data-picker="organisations"' in organisations and "multiple" in organisations
    assert 'data-picker="people"' in select_tag(response.content, "people")
    # A short list is in the page (the plain select works without JavaScript); nothing to load.
    assert "data-picker-url" not in organisations
    assert f'value="{owner.org.pk}"' in organisations
    # The label still names the select, and the page loads the library and its texts.
    assert '<label for="id_organisations">' in response.content.decode()
    assert b"vendor/tom-select/dist/js/tom-select.complete.min.js" in response.content
    assert b"civmil/js/pickers.js" in response.content
    assert b'data-picker-no-results="No results found"' in response.content


def test_the_release_form_picks_organisations_and_people_by_their_full_names() -> None:
    from civmil.core import registry
    from civmil.core.kernel import planting
    from tests.kernel_proof.models import Observation

    owner = make_member(Component.CIVILIAN)
    target = make_org(Component.HUMANITARIAN, name="Water for All")
    record = planting.plant(registry.get(Observation), owner.actor, Level.MISSION, {"summary": "a crowd"})
    response = signed_in(owner).get(reverse("kernel_proof:observation", kwargs={"pk": record.pk}))
    organisations = select_tag(response.content, "release-target_organisation")
    assert 'data-picker="organisations"' in organisations
    assert f'<option value="{target.pk}">Water for All ({target.acronym})</option>' in organisations
    assert 'data-picker="people"' in select_tag(response.content, "release-target_person")


@pytest.mark.parametrize("url_name", ["actors:liaison-new", "actors:liaison-log", "actors:assignment-new",
                                      "actors:my-liaison"])
def test_every_form_of_organisations_and_people_gets_the_picker(url_name: str) -> None:
    owner = make_member(Component.MILITARY)
    content = signed_in(owner).get(reverse(url_name)).content.decode()
    assert re.search(r'<select name="\w+"[^>]*data-picker="organisations"', content), url_name


def test_the_picker_texts_come_in_the_reader_s_language() -> None:
    owner = make_member(Component.CIVILIAN)
    client = signed_in(owner)
    client.cookies["django_language"] = "fr"
    response = client.get(reverse("actors:liaison-new"), HTTP_ACCEPT_LANGUAGE="fr")
    assert b'lang="fr"' in response.content
    with translation.override("fr"):
        expected = {name: translation.gettext(text) for name, text in (
            ("no-results", "No results found"), ("loading", "Searching…"), ("remove", "Remove"),
            ("placeholder", "Type to search…"))}
    for name, text in expected.items():
        assert f'data-picker-{name}="{text}"' in response.content.decode(), name


def test_a_long_list_carries_only_the_chosen_values_and_loads_the_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    owner = make_member(Component.CIVILIAN)
    other = make_org(Component.HUMANITARIAN, name="Water for All")
    monkeypatch.setattr(pickers, "INLINE_MAX", 1)
    response = signed_in(owner).get(reverse("actors:liaison-new"))
    organisations = select_tag(response.content, "organisations")
    assert f'data-picker-url="{reverse("core:picker", kwargs={"key": "organisations"})}"' in organisations
    assert f'value="{owner.org.pk}" selected' in organisations  # the reader's own, chosen by default
    assert str(other.pk) not in organisations and "Water for All" not in organisations


def test_a_long_list_with_a_value_that_is_no_id_still_renders(monkeypatch: pytest.MonkeyPatch) -> None:
    owner = make_member(Component.CIVILIAN)
    make_org()
    monkeypatch.setattr(pickers, "INLINE_MAX", 1)
    response = signed_in(owner).post(reverse("actors:liaison-new"), {"organisations": ["not-an-id"], "people": ["1"]})
    assert response.status_code == FORM_ERROR_STATUS
    assert "data-picker-url" in select_tag(response.content, "organisations")


def test_an_assignment_s_area_is_picked_by_name_and_sends_its_p_code() -> None:
    owner = make_member(Component.CIVILIAN)
    save_area(None, Area(name="Kaya county", pcode="SS0101", admin_level=2), SQUARE)
    response = signed_in(owner).get(reverse("actors:assignment-new"))
    area = select_tag(response.content, "area")
    assert 'data-picker="areas"' in area
    assert '<option value="SS0101">Kaya county (SS0101)</option>' in area


def test_mentions_are_a_searchable_picker_of_the_policy_s_candidates() -> None:
    from civmil.comms.views.threads import MessageForm

    form = MessageForm([("a", "Ada"), ("b", "Bea")])
    html = str(form["mentions"])
    assert 'data-picker="local"' in html and "data-picker-url" not in html
    assert '<option value="a">Ada</option>' in html


# ---------------------------------------------------------------------------------------------
# The options endpoint: through the policy, limited, bad parameters refused


@pytest.mark.parametrize("component", [Component.MILITARY, Component.HUMANITARIAN, Component.HOST_NATION])
def test_people_offered_are_exactly_those_the_policy_lets_the_reader_see(component: str) -> None:
    civilian = make_org(Component.CIVILIAN)
    mission = make_member(org=civilian, contact_level=Level.MISSION).person
    Person.objects.filter(pk=mission.pk).update(full_name="Zed Mission-Only")
    make_member(org=civilian, contact_level=Level.PUBLIC)
    reader = make_member(component)
    response = pick(signed_in(reader), "people", limit=50)
    expected = {str(p) for p in access.visible(reader.actor, Person.objects.all())}
    assert set(texts(response)) == expected
    searched = texts(pick(signed_in(reader), "people", q="Zed"))
    if component == Component.HOST_NATION:
        assert searched == [] and "Zed Mission-Only" not in response.content.decode()
        assert str(mission.pk) not in response.content.decode()
    else:
        assert searched == [str(Person.objects.get(pk=mission.pk))]


@pytest.mark.parametrize("component", [Component.MILITARY, Component.HUMANITARIAN, Component.HOST_NATION])
def test_people_are_never_found_by_their_contact_details(component: str) -> None:
    person = make_member(Component.CIVILIAN, contact_level=Level.PUBLIC).person
    Person.objects.filter(pk=person.pk).update(email="secret.finder@example.org")
    reader = make_member(component)
    assert texts(pick(signed_in(reader), "people", q="secret.finder")) == []


@pytest.mark.parametrize("component", [Component.MILITARY, Component.HUMANITARIAN, Component.HOST_NATION])
def test_organisations_are_found_by_name_or_acronym(component: str) -> None:
    target = make_org(Component.HUMANITARIAN, name="Water for All")
    Organisation.objects.filter(pk=target.pk).update(acronym="WFA")
    target.refresh_from_db()
    reader = make_member(component)
    client = signed_in(reader)
    assert texts(pick(client, "organisations", q="water")) == [str(target)]
    assert [r["value"] for r in pick(client, "organisations", q="WFA").json()["results"]] == [str(target.pk)]


def test_areas_are_found_by_name_or_p_code_and_can_load_p_codes() -> None:
    area = save_area(None, Area(name="Kaya county", pcode="SS0101", admin_level=2), SQUARE)
    client = signed_in(make_member())
    assert texts(pick(client, "areas", q="kaya")) == ["Kaya county (SS0101)"]
    kaya = {"value": str(area.pk), "text": "Kaya county (SS0101)", "search": "Comté de Kaya"}
    Area.objects.filter(pk=area.pk).update(name_alt="Comté de Kaya")
    assert pick(client, "areas", q="SS01").json()["results"] == [kaya]
    assert pick(client, "areas", q="comté").json()["results"] == [kaya]  # its alternative name
    assert pick(client, "areas", q="SS01", value="pcode").json()["results"][0]["value"] == "SS0101"


def test_the_answer_holds_at_most_the_limit_and_says_when_there_is_more() -> None:
    for n in range(4):
        make_org(name=f"Limit test organisation {n}")
    client = signed_in(make_member())
    body = pick(client, "organisations", q="Limit test", limit=3).json()
    assert len(body["results"]) == 3 and body["more"] is True
    assert pick(client, "organisations", q="Limit test", limit=4).json()["more"] is False
    assert pick(client, "organisations", q="Limit test").json()["more"] is False  # the default (20)


@pytest.mark.parametrize("params", [{"limit": "0"}, {"limit": "51"}, {"limit": "ten"}, {"limit": "-1"}, {"limit": "²"},
                                    {"q": "x" * 101}, {"value": "email"}, {"value": "pcode"}])
def test_bad_parameters_are_refused_with_the_reason(params: dict[str, str]) -> None:
    response = pick(signed_in(make_member()), "people", **params)
    assert response.status_code == 400
    assert response.json()["detail"]


def test_an_unknown_picker_is_not_found_and_anonymous_readers_are_refused() -> None:
    client = signed_in(make_member())
    assert pick(client, "accounts").status_code == 404
    anonymous = pick(Client(), "organisations")
    assert anonymous.status_code == 401
    assert "results" not in anonymous.json()


def test_the_answer_is_not_kept_by_a_shared_cache() -> None:
    response = pick(signed_in(make_member()), "organisations")
    assert "no-store" in response["Cache-Control"]


# ---------------------------------------------------------------------------------------------
# "Record a contact with…": the liaison log form pre-filled, through the policy


def test_an_organisation_page_opens_the_liaison_form_with_it_chosen() -> None:
    reader = make_member(Component.MILITARY)
    target = make_org(Component.HUMANITARIAN, name="Water for All")
    client = signed_in(reader)
    page = client.get(reverse("actors:organisation", args=[target.pk])).content.decode()
    link = re.search(r'<a class="btn btn-secondary" href="([^"]+)">Record a contact with', page)
    assert link is not None
    form = client.get(link.group(1).replace("&amp;", "&"))
    organisations = select_tag(form.content, "organisations")
    assert f'value="{target.pk}" selected' in organisations
    assert f'value="{reader.org.pk}" selected' in organisations


def test_a_person_page_opens_the_liaison_form_with_them_chosen() -> None:
    reader = make_member(Component.HUMANITARIAN)
    person = make_member(Component.CIVILIAN, contact_level=Level.MISSION).person
    client = signed_in(reader)
    page = client.get(reverse("actors:person", args=[person.pk])).content.decode()
    link = re.search(r'<a class="btn btn-primary" href="([^"]+)">Record a contact with', page)
    assert link is not None
    form = client.get(link.group(1).replace("&amp;", "&"))
    assert f'value="{person.pk}" selected' in select_tag(form.content, "people")


def test_a_hidden_person_or_a_bad_id_in_the_query_is_ignored_and_never_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    hidden = make_member(Component.CIVILIAN, contact_level=Level.MISSION).person
    seen = make_member(Component.CIVILIAN, contact_level=Level.PUBLIC).person
    reader = make_member(Component.HOST_NATION)
    url = reverse("actors:liaison-new")
    query = {"people": [str(hidden.pk), "not-an-id", str(uuid.uuid4()), str(seen.pk)],
             "organisations": ["<script>", str(uuid.uuid4())]}
    for inline_max in (pickers.INLINE_MAX, 0):  # the choices in the page, or only the chosen ones
        monkeypatch.setattr(pickers, "INLINE_MAX", inline_max)
        response = signed_in(reader).get(url, query)
        assert response.status_code == 200
        body = main(response.content)  # (the language switch sends the reader back to the URL they typed)
        assert str(hidden.pk) not in body and hidden.full_name not in body
        assert "not-an-id" not in body and "<script>" not in body
        assert f'value="{seen.pk}" selected' in select_tag(response.content, "people")


def test_readers_who_cannot_record_contacts_get_no_link() -> None:
    from civmil.core.choices import MembershipStatus
    from civmil.core.models import Membership

    reader = make_member(Component.MILITARY)
    target = make_org()
    Membership.objects.filter(pk=reader.membership.pk).update(status=MembershipStatus.ENDED)
    page = signed_in(reader).get(reverse("actors:organisation", args=[target.pk])).content.decode()
    assert "Record a contact with" not in page


def test_organisation_picker_is_registered_for_the_models() -> None:
    assert pickers.for_model(Organisation) is pickers.get("organisations")
    assert pickers.for_model(Area) is pickers.get("areas")


def test_a_nul_byte_in_the_text_is_no_error() -> None:
    """PostgreSQL refuses a NUL byte in a query's text; no one types one, so it is dropped."""
    make_org(name="Nul test organisation")
    body = pick(signed_in(make_member()), "organisations", q="Nul\x00 test").json()
    assert [r["text"] for r in body["results"] if "Nul test" in r["text"]]

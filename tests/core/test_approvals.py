"""No single administrator widens a view: their own memberships, privileged roles and account
e-mail changes wait for a second administrator; accounts are made by invitation, and no
administrator chooses, sees or resets a password."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from civmil.actors import services as actor_services
from civmil.core import approvals, services
from civmil.core.acting import actor_for_user
from civmil.core.choices import Component, Level, MembershipStatus, Role
from civmil.core.errors import Forbidden, Invalid
from civmil.core.models import EmailChangeRequest, LedgerEntry, Membership, Person, User
from tests.factories import Member, make_member, make_org

pytestmark = pytest.mark.django_db


_VOLATILE = re.compile(rb'(name="csrfmiddlewaretoken" value=|name="next" value=|content=)"[^"]*"')


def _same_page(a: bytes, b: bytes) -> bool:
    """Two pages alike but for what differs on every request (CSRF token, meta content)."""
    return _VOLATILE.sub(rb"\1", a) == _VOLATILE.sub(rb"\1", b)


def signed_in(m: Member) -> Client:
    client = Client()
    client.force_login(m.user)
    return client


def admin_of(component: str = Component.CIVILIAN) -> Member:
    return make_member(component, role=Role.ADMINISTRATOR)


def _add_membership_in_admin(adm: Member, person: Person, org_pk: object, role: str) -> Membership:
    response = signed_in(adm).post(reverse("admin:core_membership_add"), {
        "person": person.pk, "organisation": org_pk, "role": role, "position": "", "starts_on": "2026-01-01",
        "_save": "Save"})
    assert response.status_code == 302, response.content.decode()[:2000]
    return Membership.objects.filter(person=person, organisation_id=org_pk).latest("created_at")


# ---------------------------------------------------------------------------------------------
# Memberships


def test_an_administrator_adding_themselves_to_a_military_unit_waits_for_a_second_one() -> None:
    adm = admin_of(Component.CIVILIAN)
    unit = make_org(Component.MILITARY)
    mine = _add_membership_in_admin(adm, adm.person, unit.pk, Role.MILITARY_STAFF)
    assert mine.status == MembershipStatus.PENDING  # not active at once, though military staff is not privileged
    assert LedgerEntry.objects.filter(action="membership.requested", object_id=str(mine.pk)).exists()
    # The pending membership cannot be switched to, so no military entry opens.
    switch = signed_in(adm).post(reverse("core:switch-membership"), {"membership": mine.pk})
    assert switch.status_code in (302, 404)
    assert actor_for_user(adm.user).membership_id == adm.membership.pk
    # They cannot approve it themselves, neither as requester nor as its person.
    with pytest.raises(Forbidden):
        services.decide_membership(adm.actor, mine, approve=True)
    second = admin_of(Component.CIVILIAN)
    services.decide_membership(second.actor, mine, approve=True)
    mine.refresh_from_db()
    assert mine.status == MembershipStatus.ACTIVE and mine.approved_by_id == second.user.pk


def test_a_plain_membership_for_someone_else_is_active_at_once() -> None:
    adm = admin_of()
    other = make_member(Component.CIVILIAN, org=adm.org)
    unit = make_org(Component.CIVILIAN)
    added = services.add_membership(adm.actor, person=other.person, organisation=unit, role=Role.CIVILIAN_STAFF)
    assert added.status == MembershipStatus.ACTIVE


def test_a_privileged_membership_waits_and_the_requester_cannot_approve_it() -> None:
    adm = admin_of()
    other = make_member(Component.CIVILIAN, org=adm.org)
    asked = services.add_membership(adm.actor, person=other.person, organisation=adm.org, role=Role.OVERSIGHT)
    assert asked.status == MembershipStatus.PENDING
    with pytest.raises(Forbidden):
        services.decide_membership(adm.actor, asked, approve=True)


def test_the_waiting_list_names_who_asked_and_when_and_lets_a_second_administrator_decide() -> None:
    first, second = admin_of(), admin_of()
    unit = make_org(Component.MILITARY)
    mine = services.add_membership(first.actor, person=first.person, organisation=unit, role=Role.MILITARY_STAFF)
    page = signed_in(second).get(reverse("core:approvals")).content.decode()
    assert first.person.full_name in page and unit.label in page
    assert str(first.person) in page  # who asked
    own_view = signed_in(first).get(reverse("core:approvals")).content.decode()
    assert "A second administrator decides." in own_view
    refused = signed_in(first).post(reverse("core:approval-decide", args=["membership", mine.pk]),
                                    {"decision": "approve"}, follow=True)
    assert "A second administrator must approve" in refused.content.decode()
    mine.refresh_from_db()
    assert mine.status == MembershipStatus.PENDING
    signed_in(second).post(reverse("core:approval-decide", args=["membership", mine.pk]), {"decision": "refuse"})
    mine.refresh_from_db()
    assert mine.status == MembershipStatus.REFUSED
    assert LedgerEntry.objects.filter(action="membership.refused", actor_user_id=second.user.pk).exists()


def test_the_waiting_list_leaves_out_people_the_reader_may_not_see() -> None:
    mil_admin, other_mil_admin = admin_of(Component.MILITARY), admin_of(Component.MILITARY)
    hidden = make_member(Component.MILITARY, contact_level=Level.RESTRICTED)
    asked = services.add_membership(other_mil_admin.actor, person=hidden.person, organisation=hidden.org,
                                    role=Role.LEADERSHIP)
    host_admin = admin_of(Component.HOST_NATION)
    page = signed_in(host_admin).get(reverse("core:approvals")).content.decode()
    assert hidden.person.full_name not in page
    answer = signed_in(host_admin).post(reverse("core:approval-decide", args=["membership", asked.pk]),
                                        {"decision": "approve"})
    missing = signed_in(host_admin).post(reverse("core:approval-decide",
                                                 args=["membership", "00000000-0000-4000-8000-00000000abcd"]),
                                         {"decision": "approve"})
    assert answer.status_code == missing.status_code == 404
    assert _same_page(answer.content, missing.content)
    asked.refresh_from_db()
    assert asked.status == MembershipStatus.PENDING
    assert mil_admin  # a military administrator who may see the person decides instead


# ---------------------------------------------------------------------------------------------
# Accounts by invitation


def _link_in(message: str) -> str:
    found = re.search(r"(https?://\S+|/accounts/\S+)", message)
    assert found, message
    return found.group(1)


def test_an_account_is_made_by_invitation_to_the_address_on_the_persons_record(
        django_capture_on_commit_callbacks: Any) -> None:
    adm = admin_of(Component.CIVILIAN)
    person = services.save_person(None, Person(full_name="New Officer", owner=adm.org, level=Level.MISSION,
                                               email="new.officer@example.org"))
    form = signed_in(adm).get(reverse("admin:core_user_add")).content.decode()
    assert 'name="password' not in form and 'name="email"' not in form
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in(adm).post(reverse("admin:core_user_add"), {
            "person": person.pk, "username": "new.officer", "email": "attacker@example.org",
            "password": "chosen-1234!", "_save": "Save"})
    assert response.status_code == 302
    user = User.objects.get(username="new.officer")
    assert user.email == "new.officer@example.org"  # the record's address, not one the administrator typed
    assert not user.has_usable_password()
    assert LedgerEntry.objects.filter(action="account.invited", actor_user_id=adm.user.pk).exists()
    assert [m.to for m in mail.outbox] == [["new.officer@example.org"]]
    link = _link_in(mail.outbox[0].body)

    # The link works once: it lets the person set a password, then it is spent.
    client = Client()
    page = client.get(link, follow=True)
    assert page.status_code == 200
    form_url = page.redirect_chain[-1][0] if page.redirect_chain else link
    done = client.post(form_url, {"password1": "a-long-new-secret-77", "password2": "a-long-new-secret-77"})
    assert done.status_code == 302
    user.refresh_from_db()
    assert user.check_password("a-long-new-secret-77")
    again = Client().get(link, follow=True).content.decode()
    assert "password1" not in again  # the spent link sets nothing


def test_an_invitation_is_bound_to_its_account(django_capture_on_commit_callbacks: Any) -> None:
    adm = admin_of()
    a = services.save_person(None, Person(full_name="A", owner=adm.org, level=Level.MISSION, email="a@example.org"))
    b = services.save_person(None, Person(full_name="B", owner=adm.org, level=Level.MISSION, email="b@example.org"))
    with django_capture_on_commit_callbacks(execute=True):
        approvals.invite_account(adm.actor, username="a", person=a)
        approvals.invite_account(adm.actor, username="b", person=b)
    link_a = _link_in(mail.outbox[0].body)
    user_b = User.objects.get(username="b")
    from allauth.account.utils import user_pk_to_url_str

    key = link_a.rstrip("/").split("/")[-1]
    forged = reverse("account_reset_password_from_key", kwargs={"uidb36": user_pk_to_url_str(user_b), "key": key})
    page = Client().get(forged, follow=True).content.decode()
    assert "password1" not in page


def test_no_invitation_without_an_address_or_from_the_administrator_who_last_changed_the_record() -> None:
    adm = admin_of()
    no_mail = services.save_person(None, Person(full_name="No Mail", owner=adm.org, level=Level.MISSION))
    with pytest.raises(Invalid):
        approvals.invite_account(adm.actor, username="nomail", person=no_mail)
    # An administrator puts their own address on someone's record, then invites: refused.
    victim = services.save_person(None, Person(full_name="Victim", owner=adm.org, level=Level.MISSION))
    victim.email = adm.user.email
    services.save_person(adm.actor, victim)
    with pytest.raises(Forbidden):
        approvals.invite_account(adm.actor, username="victim", person=victim)
    assert not User.objects.filter(username="victim").exists()


def test_an_administrator_cannot_invite_a_person_whose_contact_details_they_may_not_see() -> None:
    civ_admin = admin_of(Component.CIVILIAN)
    soldier = services.save_person(None, Person(full_name="Soldier", owner=make_org(Component.MILITARY),
                                                level=Level.MILITARY, email="soldier@example.org"))
    with pytest.raises(Forbidden):
        approvals.invite_account(civ_admin.actor, username="soldier", person=soldier)


def test_accounts_are_not_made_with_a_password_in_the_application() -> None:
    adm = admin_of()
    person = services.save_person(None, Person(full_name="P", owner=adm.org, level=Level.MISSION, email="p@x.org"))
    with pytest.raises(Forbidden):
        services.create_account(adm.actor, username="p", email="p@x.org", password="chosen-by-admin-1", person=person)


def test_a_password_link_goes_to_the_accounts_own_address_and_is_ledgered(
        django_capture_on_commit_callbacks: Any) -> None:
    adm = admin_of()
    other = make_member(Component.CIVILIAN, org=adm.org)
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in(adm).post(reverse("admin:core_user_changelist"), {
            "action": "send_password_link", "_selected_action": [other.user.pk]})
    assert response.status_code == 302
    assert [m.to for m in mail.outbox] == [[other.user.email]]
    assert LedgerEntry.objects.filter(action="account.password_link_sent", object_id=str(other.user.pk)).exists()


# ---------------------------------------------------------------------------------------------
# E-mail changes


def test_an_email_change_waits_for_a_second_administrator() -> None:
    first, second = admin_of(), admin_of()
    other = make_member(Component.CIVILIAN, org=first.org)
    old = other.user.email
    response = signed_in(first).post(reverse("core:account-email", args=[other.user.pk]),
                                      {"new_email": "first.admin.owns.this@example.org"})
    assert response.status_code == 302
    other.user.refresh_from_db()
    assert other.user.email == old
    change = EmailChangeRequest.objects.get(user=other.user)
    with pytest.raises(Forbidden):
        approvals.decide_email_change(first.actor, change, approve=True)
    page = signed_in(second).get(reverse("core:approvals")).content.decode()
    assert "first.admin.owns.this@example.org" in page
    signed_in(second).post(reverse("core:approval-decide", args=["email", change.pk]), {"decision": "approve"})
    other.user.refresh_from_db()
    assert other.user.email == "first.admin.owns.this@example.org"
    actions = set(LedgerEntry.objects.filter(object_id=str(other.user.pk)).values_list("action", flat=True))
    assert {"account.email_change_requested", "account.email_change_approved"} <= actions


def test_an_administrator_cannot_approve_a_change_of_their_own_address() -> None:
    first, second = admin_of(), admin_of()
    change = approvals.request_email_change(second.actor, first.user, "new-first@example.org")
    with pytest.raises(Forbidden):
        approvals.decide_email_change(first.actor, change, approve=True)


def test_email_change_page_of_a_hidden_person_answers_like_a_missing_account() -> None:
    host_admin = admin_of(Component.HOST_NATION)
    stranger = make_member(Component.MILITARY)
    hidden = signed_in(host_admin).get(reverse("core:account-email", args=[stranger.user.pk]))
    missing = signed_in(host_admin).get(reverse("core:account-email", args=[999999]))
    assert hidden.status_code == missing.status_code == 404
    assert _same_page(hidden.content, missing.content)


def test_the_demo_and_console_admins_still_work() -> None:
    org = make_org(Component.CIVILIAN)
    user = services.create_console_admin(username="root1", email="r@x.org", password="console-chosen-77",
                                         full_name="Root One", organisation=org)
    assert user.check_password("console-chosen-77")
    assert Membership.objects.get(person__user=user).status == MembershipStatus.ACTIVE
    assert actor_services  # the liaison services are untouched by approvals


def test_a_person_cannot_change_their_own_address_behind_the_administrators() -> None:
    member = make_member(Component.CIVILIAN)
    client = signed_in(member)
    page = client.get("/accounts/email/")
    assert page.status_code == 403 and "administrators" in page.content.decode()
    client.post("/accounts/email/", {"action_add": "", "email": "elsewhere@example.org"})
    member.user.refresh_from_db()
    assert member.user.email != "elsewhere@example.org"


def test_an_invitation_expires(django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import datetime as dt

    from allauth.account.forms import default_token_generator
    from django.conf import settings

    adm = admin_of()
    person = services.save_person(None, Person(full_name="Late", owner=adm.org, level=Level.MISSION,
                                               email="late@example.org"))
    with django_capture_on_commit_callbacks(execute=True):
        approvals.invite_account(adm.actor, username="late", person=person)
    link = _link_in(mail.outbox[0].body)
    assert "password1" in Client().get(link, follow=True).content.decode()  # valid today
    later = dt.datetime.now() + dt.timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 60)
    monkeypatch.setattr(type(default_token_generator), "_now", lambda self: later)
    assert "password1" not in Client().get(link, follow=True).content.decode()


def test_possible_duplicates_are_told_only_where_the_reader_sees_what_they_share() -> None:
    civ_admin = admin_of(Component.CIVILIAN)
    org = make_org(Component.CIVILIAN)
    a = services.save_person(None, Person(full_name="Amina Okello", owner=org, level=Level.MISSION,
                                          email="amina@example.org"))
    b = services.save_person(None, Person(full_name="A. Okello", owner=org, level=Level.MISSION,
                                          email="AMINA@example.org"))
    soldier_unit = make_org(Component.MILITARY)
    services.save_person(None, Person(full_name="Hidden Twin", owner=soldier_unit, level=Level.MILITARY,
                                      email="twin@example.org"))
    services.save_person(None, Person(full_name="Visible Twin", owner=org, level=Level.MISSION,
                                      email="twin@example.org"))
    groups = approvals.possible_duplicates(civ_admin.actor)
    assert [{p.pk for p in g.people} for g in groups] == [{a.pk, b.pk}]
    host_admin = admin_of(Component.HOST_NATION)
    assert approvals.possible_duplicates(host_admin.actor) == []


def test_no_answer_about_an_address_the_administrator_may_not_see() -> None:
    """Asking for a change (or a password link) on an account whose address is withheld is refused
    alike whatever the address, so no guess can be confirmed."""
    civ_admin = admin_of(Component.CIVILIAN)
    soldier = make_member(Component.MILITARY, contact_level=Level.MILITARY)
    client = signed_in(civ_admin)
    answers = set()
    for guess in ("wrong@example.org", soldier.user.email, soldier.user.email.upper(), "other@example.org"):
        response = client.post(reverse("core:account-email", args=[soldier.user.pk]), {"new_email": guess})
        page = _VOLATILE.sub(rb"\1", response.content).replace(guess.encode(), b"GUESS")
        answers.add((response.status_code, page))
    assert len(answers) == 1 and next(iter(answers))[0] == 422
    assert not EmailChangeRequest.objects.filter(user=soldier.user).exists()
    with pytest.raises(Forbidden):
        approvals.send_password_link(civ_admin.actor, soldier.user)

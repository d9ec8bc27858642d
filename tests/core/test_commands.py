"""The operator's command line: createadmin, createuser, demo logins, and serve's refusal."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from civmil.core.choices import PRIVILEGED_ROLES, Component, Level, MembershipStatus, OrganisationKind, Role
from civmil.core.management.commands import serve
from civmil.core.models import LedgerEntry, Membership, Organisation, Person, User
from civmil.demo import checks as demo_checks
from civmil.demo import data, loader
from tests.demo.support import LoadedDemo, loaded_demo
from tests.factories import make_org

STRONG = "plover-ninety-kestrel-4"


def _run(*args: Any, **options: Any) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO(), **options)
    return out.getvalue()


def _admin(n: int, **extra: Any) -> str:
    return _run("createadmin", username=f"admin{n}", email=f"admin{n}@example.org", full_name=f"Admin Number {n}",
                password=STRONG, interactive=False, **extra)


# ---------------------------------------------------------------------------------------------
# createadmin


@pytest.mark.django_db
def test_createadmin_twice_then_the_third_is_refused() -> None:
    assert "admin1" in _admin(1)
    assert "admin2" in _admin(2)
    with pytest.raises(CommandError, match="already two administrators"):
        _admin(3)
    assert not User.objects.filter(username="admin3").exists()
    admins = Membership.objects.filter(role=Role.ADMINISTRATOR, status=MembershipStatus.ACTIVE)
    assert sorted(m.person.user.username for m in admins if m.person.user) == ["admin1", "admin2"]
    # Without --organisation, both land in the one mission headquarters, created for the first.
    hq = Organisation.objects.get()
    assert hq.kind == OrganisationKind.MISSION_HQ and {m.organisation_id for m in admins} == {hq.pk}
    # Written through the services: the ledger has the console's acts (no acting user).
    created = LedgerEntry.objects.filter(action="account.created")
    assert created.count() == 2 and all(e.actor_user_id is None for e in created)
    assert LedgerEntry.objects.filter(action="membership.added").count() == 2
    user = User.objects.get(username="admin1")
    assert user.check_password(STRONG)


@pytest.mark.django_db
def test_createadmin_finds_the_organisation_by_acronym_or_says_it_does_not_exist() -> None:
    fts = make_org(Component.CIVILIAN, name="Field Technology Section")
    _admin(1, organisation=fts.acronym.lower())
    assert Membership.objects.get(person__user__username="admin1").organisation_id == fts.pk
    with pytest.raises(CommandError, match="No organisation is named or abbreviated Nowhere"):
        _admin(2, organisation="Nowhere")
    assert not User.objects.filter(username="admin2").exists()


@pytest.mark.django_db
def test_createadmin_refuses_bad_input_without_writing() -> None:
    with pytest.raises(CommandError, match="password is refused"):
        _run("createadmin", username="a", email="a@example.org", full_name="A", password="12345678",
             interactive=False)
    with pytest.raises(CommandError, match="not a valid e-mail"):
        _run("createadmin", username="a", email="not-mail", full_name="A", password=STRONG, interactive=False)
    with pytest.raises(CommandError, match="--full-name"):
        _run("createadmin", username="a", email="a@example.org", password=STRONG, interactive=False)
    assert not User.objects.exists() and not Organisation.objects.exists() and not LedgerEntry.objects.exists()


# ---------------------------------------------------------------------------------------------
# createuser


@pytest.mark.django_db
@pytest.mark.parametrize("role", sorted(PRIVILEGED_ROLES))
def test_createuser_refuses_privileged_roles(role: str) -> None:
    make_org(Component.CIVILIAN, name="Civil Affairs Section")
    with pytest.raises(CommandError, match="second administrator's approval"):
        _run("createuser", username="someone", email="someone@example.org", full_name="Some One",
             organisation="civil affairs section", role=role, password=STRONG, interactive=False)
    assert not User.objects.exists() and not Person.objects.exists()


@pytest.mark.django_db
def test_createuser_gives_a_new_person_an_account_and_a_membership() -> None:
    ofc = make_org(Component.HUMANITARIAN, name="Office for Coordination")
    out = _run("createuser", username="cm1", email="cm1@example.org", full_name="Cee Em", organisation=ofc.acronym,
               role=Role.CMCOORD, position="CMCoord officer", password=STRONG, interactive=False)
    assert "cm1" in out
    user = User.objects.get(username="cm1")
    assert user.check_password(STRONG)
    membership = Membership.objects.current().get(person__user=user)
    assert (membership.role, membership.position, membership.organisation.acronym) == (
        Role.CMCOORD, "CMCoord officer", ofc.acronym)
    assert membership.person.level == Level.MISSION
    assert {"person.created", "account.created", "membership.added"} <= set(
        LedgerEntry.objects.values_list("action", flat=True))


@pytest.mark.django_db
def test_createuser_finds_an_existing_person_by_email() -> None:
    from civmil.core import services

    org = make_org(Component.COMMUNITY, name="Riverside Committee")
    person = services.save_person(None, Person(full_name="Existing Person", email="ep@example.org", owner=org,
                                               level=Level.RESTRICTED))
    _run("createuser", username="ep", email="EP@example.org", organisation="Riverside Committee",
         role=Role.COMMUNITY_LIAISON, interactive=False)
    person.refresh_from_db()
    assert person.user is not None and person.user.username == "ep"
    assert not person.user.has_usable_password()  # no password given: the person uses a password reset
    assert Person.objects.count() == 1
    with pytest.raises(CommandError, match="already has an account"):
        _run("createuser", username="ep2", email="ep@example.org", organisation="Riverside Committee",
             role=Role.COMMUNITY_LIAISON, interactive=False)


@pytest.mark.django_db
def test_createuser_gives_community_people_restricted_contact_details() -> None:
    make_org(Component.COMMUNITY, name="Youth Association")
    _run("createuser", username="ya", email="ya@example.org", full_name="Yo A", organisation="Youth Association",
         role=Role.COMMUNITY_LIAISON, interactive=False)
    assert Person.objects.get(user__username="ya").level == Level.RESTRICTED


# ---------------------------------------------------------------------------------------------
# demo logins, and the production refusals


@pytest.mark.django_db
def test_demo_refuses_a_database_that_holds_other_data() -> None:
    make_org(Component.CIVILIAN, name="A real section")
    with pytest.raises(CommandError, match="empty database"):
        _run("demo")
    assert _run("demo", "--if-empty") == ""
    assert Organisation.objects.count() == 1


@pytest.mark.django_db
def test_without_the_demo_production_serves_and_the_deploy_check_is_quiet(settings: Any) -> None:
    make_org(Component.CIVILIAN, name="A real section")
    settings.CIVMIL_ENV = "production"
    assert demo_checks.demo_absent_in_production() == []
    assert not any(demo_checks.DEMO_PRESENT in p for p in serve.startup_problems())


def _must_not_serve(*args: Any, **kwargs: Any) -> None:
    raise AssertionError("serve started a server although it had to refuse")


@pytest.mark.django_db
def test_a_demo_login_alone_keeps_production_from_starting(settings: Any) -> None:
    from civmil.core import services

    org = make_org(Component.HUMANITARIAN, name="Some agency")
    person = services.save_person(None, Person(full_name="Left Over", owner=org, level=Level.MISSION))
    services.create_account(None, username="cmcoord", email="cmcoord@unismk.example", password=None, person=person)
    settings.CIVMIL_ENV = "production"
    [error] = demo_checks.demo_absent_in_production()
    assert "demo logins: cmcoord" in error.msg


@pytest.mark.django_db
def test_a_lookalike_login_is_not_the_demo(settings: Any) -> None:
    """A real account may be called 'admin'; only demo mail addresses (.example) mark the demo."""
    from tests.factories import make_member

    make_member(Component.CIVILIAN, role=Role.CIVILIAN_STAFF, username="admin")
    settings.CIVMIL_ENV = "production"
    assert demo_checks.demo_absent_in_production() == []


@pytest.fixture(scope="class")
def demo(django_db_setup: Any, django_db_blocker: Any) -> Iterator[LoadedDemo]:
    """The demo's cast (its liaison log left out: quicker), loaded once for the class that asks for it and
    rolled back after its last test."""
    with loaded_demo(django_db_blocker, entries=0) as loaded:
        yield loaded


class TestWithTheDemoLoaded:
    """These tests share one load of the demo."""

    @pytest.mark.django_db
    def test_demo_logins_json_lists_a_login_per_role(self, demo: LoadedDemo) -> None:
        rows = json.loads(_run("demo", "logins", json=True))
        assert {r["role"] for r in rows} == set(Role.values)
        assert {r["username"] for r in rows} == set(data.LOGINS)
        for row in rows:
            assert set(row) == {"username", "password", "role", "component", "organisation", "totp_secret",
                                "totp_code_now", "organisation_label"}
            assert row["password"] == data.PASSWORD
            org = Organisation.objects.get(name=row["organisation"])
            assert row["component"] == org.component
            assert Membership.objects.current().filter(
                person__user__username=row["username"], organisation=org, role=row["role"]).exists()
        assert User.objects.get(username=rows[0]["username"]).check_password(rows[0]["password"])
        dual = [r for r in rows if r["username"] == "dsrsg"]
        assert {(r["component"], r["role"]) for r in dual} == {
            (Component.CIVILIAN, Role.LEADERSHIP), (Component.HUMANITARIAN, Role.CMCOORD)}

    @pytest.mark.django_db
    def test_demo_logins_table(self, demo: LoadedDemo) -> None:
        table = _run("demo", "logins")
        for username in data.LOGINS:
            assert username in table
        assert data.PASSWORD in table and "U9" in table and "Military staff" in table
        # It fits a 100-column terminal, and still gives each second-factor secret whole.
        assert max(len(line) for line in table.splitlines()) <= 100
        for row in loader.logins():
            if row["totp_secret"]:
                assert f'{row["username"]}: {row["totp_secret"]}' in table

    @pytest.mark.django_db
    def test_production_refuses_demo_logins(self, demo: LoadedDemo, settings: Any) -> None:
        settings.CIVMIL_ENV = "production"
        with pytest.raises(CommandError, match="development only"):
            _run("demo", "logins", json=True)
        with pytest.raises(CommandError, match="development only"):
            _run("demo")

    @pytest.mark.django_db
    def test_serve_refuses_to_start_in_production_while_the_demo_exists(
            self, demo: LoadedDemo, settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        settings.CIVMIL_ENV = "development"
        assert demo_checks.demo_absent_in_production() == []
        assert not any(demo_checks.DEMO_PRESENT in p for p in serve.startup_problems())
        settings.CIVMIL_ENV = "production"
        [error] = demo_checks.demo_absent_in_production()
        assert error.id == demo_checks.DEMO_PRESENT and error.is_serious()
        assert "UNISMK" in error.msg and "cmcoord" in error.msg
        problems = serve.startup_problems()
        assert any(p.startswith(demo_checks.DEMO_PRESENT) for p in problems)
        monkeypatch.setattr("uvicorn.run", _must_not_serve)
        with pytest.raises(CommandError, match="will not start") as refused:
            call_command("serve", stdout=io.StringIO())
        assert demo_checks.DEMO_PRESENT in str(refused.value)


def test_serve_prints_a_url_for_ipv4_and_ipv6() -> None:
    assert serve.url("127.0.0.1", 8000) == "http://127.0.0.1:8000/"
    assert serve.url("::1", 8080) == "http://[::1]:8080/"


@pytest.mark.django_db
def test_serve_runs_the_asgi_application_on_host_and_port_without_reload(
        settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.DEPLOY = dataclasses.replace(settings.DEPLOY, host="0.0.0.0", port=8123, web_processes=1)  # noqa: S104
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr("uvicorn.run", lambda app, **kw: calls.append((app, kw)))
    out = io.StringIO()
    call_command("serve", stdout=out)
    [(app, kw)] = calls
    assert app == "civmil.config.asgi:application"
    assert (kw["host"], kw["port"], kw["reload"], kw["workers"]) == ("0.0.0.0", 8123, False, None)  # noqa: S104
    assert "http://0.0.0.0:8123/" in out.getvalue()


def test_a_server_process_freezes_its_start_up_heap_with_the_api_loaded(tmp_path: Path) -> None:
    """Every process uvicorn starts imports the ASGI application's module, which leaves what
    start-up made (the API's routes among it, not left to the first request) where the garbage
    collector's full collections no longer walk it: those made requests that read a thousand
    records take two to three times as long every few requests."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CIVMIL_", "DJANGO_"))}
    env.update(CIVMIL_VAR_DIR=str(tmp_path), DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3")
    code = ("import gc, sys; import civmil.config.asgi; from django.urls import get_resolver; "
            "loaded = 'civmil.core.kernel.maps' in sys.modules and 'url_patterns' in vars(get_resolver()); "
            "frozen = gc.get_freeze_count(); print(loaded, frozen, len(gc.get_objects()))")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    loaded, frozen, walked = done.stdout.split()
    assert loaded == "True"
    assert int(frozen) > 10 * int(walked)


@pytest.mark.django_db
def test_serve_runs_as_many_processes_as_asked_and_relays_live_messages_between_them_without_redis(
        settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.DEPLOY = dataclasses.replace(settings.DEPLOY, web_processes=3, redis_url="")
    settings.CIVMIL_LIVE_RELAY = False
    monkeypatch.setenv("CIVMIL_LIVE_RELAY", "false")  # put back as it was after the test
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr("uvicorn.run", lambda app, **kw: calls.append(kw))
    out = io.StringIO()
    call_command("serve", stdout=out)
    call_command("serve", "--processes", "2", stdout=out)
    assert [kw["workers"] for kw in calls] == [3, 2]
    assert settings.CIVMIL_LIVE_RELAY is True and os.environ["CIVMIL_LIVE_RELAY"] == "true"
    assert "with 3 processes" in out.getvalue()
    with pytest.raises(CommandError, match="--processes"):
        call_command("serve", "--processes", "0", stdout=out)


def test_serve_in_development_refuses_a_database_without_its_tables(tmp_path: Path) -> None:
    import sqlite3

    empty = tmp_path / "empty.sqlite3"
    sqlite3.connect(empty).close()
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "CIVMIL_"))}
    environ.update({"CIVMIL_VAR_DIR": str(tmp_path), "DATABASE_URL": f"sqlite:///{empty}", "PORT": "8791"})
    try:
        done = subprocess.run([sys.executable, "-m", "civmil.config.cli", "serve"], env=environ,
                              capture_output=True, text=True, timeout=60, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail("civmil serve started on a database without its tables")
    assert done.returncode == 1
    assert "will not start" in done.stderr and "migration(s) not applied" in done.stderr
    assert "civmil migrate" in done.stderr and "Traceback" not in done.stderr


def test_the_demo_commands_on_a_database_without_its_tables_say_to_migrate(tmp_path: Path) -> None:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "CIVMIL_"))}
    environ.update({"CIVMIL_VAR_DIR": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path / 'new.sqlite3'}"})
    for action in ("logins", "load"):
        done = subprocess.run([sys.executable, "-m", "civmil.config.cli", "demo", action], env=environ,
                              capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 1, action
        assert "migration(s) not applied" in done.stderr and "civmil migrate" in done.stderr
        assert "Traceback" not in done.stderr


def _health_server(answers: list[tuple[int, dict[str, Any]]]) -> Any:
    """A stand-in server on a free port answering /health/ready with ``answers`` in turn (the last repeats)."""
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body = answers.pop(0) if len(answers) > 1 else answers[0]
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_ready_waits_for_the_server_to_answer_ready_then_succeeds(settings: Any) -> None:
    not_yet = (503, {"status": "unavailable", "checks": {"database": "2 migration(s) not applied"}})
    server = _health_server([not_yet, not_yet, (200, {"status": "ok"})])
    try:
        settings.DEPLOY = dataclasses.replace(settings.DEPLOY, host="127.0.0.1", port=server.server_address[1])
        out = io.StringIO()
        call_command("ready", "--wait", "10", stdout=out)
        assert "is ready" in out.getvalue()
    finally:
        server.shutdown()


def test_ready_gives_up_naming_the_failed_check_or_the_silence(settings: Any) -> None:
    failing = {"status": "unavailable", "checks": {"database": "ok", "redis": "failed (ConnectionError)"}}
    server = _health_server([(503, failing)])
    try:
        settings.DEPLOY = dataclasses.replace(settings.DEPLOY, host="0.0.0.0", port=server.server_address[1])  # noqa: S104
        with pytest.raises(CommandError, match=r"not ready \(503\): redis: failed \(ConnectionError\)"):
            call_command("ready", "--wait", "1", stdout=io.StringIO())
    finally:
        server.shutdown()
    settings.DEPLOY = dataclasses.replace(settings.DEPLOY, host="127.0.0.1", port=server.server_address[1])
    with pytest.raises(CommandError, match="Nothing answers"):
        call_command("ready", "--wait", "0", stdout=io.StringIO())

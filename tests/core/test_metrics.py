"""/metrics: what it exposes, that it adds up the processes of a host, and who may read it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.test import Client
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from civmil.core import ledger, metrics, schedule
from tests.core import test_events as live
from tests.core.test_events import Cast, next_frame, record, subscribed
from tests.core.test_logs import _fine_job

globals().update(cast=live.cast, memory_layer=live.memory_layer)

TOKEN = "m3tr1cs-T0ken-for-the-test-5Xq8vB3zT9LpWc2NfHdJ"


def _samples(text: bytes | str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text.decode() if isinstance(text, bytes) else text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def _mine() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """The samples of this process only (other test processes share the directory)."""
    return _samples(metrics.exposition(pids={os.getpid()}))


def _value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


# -- who may read them --------------------------------------------------------------------------------

@pytest.mark.django_db
def test_this_host_reads_the_metrics() -> None:
    response = Client().get("/metrics")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/plain; version=")
    assert "no-store" in response["Cache-Control"]
    names = {family.name for family in text_string_to_metric_families(response.content.decode())}
    assert {"civmil_http_request_duration_seconds", "civmil_live_connections", "civmil_live_event_delay_seconds",
            "civmil_database_up", "civmil_info"} <= names
    openmetrics = Client().get("/metrics", HTTP_ACCEPT="application/openmetrics-text; version=1.0.0")
    assert openmetrics["Content-Type"].startswith("application/openmetrics-text")
    assert openmetrics.content.endswith(b"# EOF\n")


@pytest.mark.parametrize("headers", [
    {"REMOTE_ADDR": "10.20.0.7"},
    {"HTTP_X_FORWARDED_FOR": "203.0.113.9"},  # through the proxy from outside
    {"HTTP_X_FORWARDED_FOR": "127.0.0.1, 203.0.113.9"},
    {"HTTP_X_REAL_IP": "203.0.113.9"},
    {"HTTP_FORWARDED": 'for="[2001:db8::7]";proto=https'},
    {"HTTP_FORWARDED": "for=unknown"},
])
def test_other_hosts_and_the_proxy_are_refused(headers: dict[str, str]) -> None:
    response = Client().get("/metrics", **headers)
    assert response.status_code == 403 and b"CIVMIL_METRICS_TOKEN" in response.content
    assert b"civmil_" not in response.content


@pytest.mark.django_db
def test_the_proxy_forwarding_from_this_host_and_ipv6_loopback_are_this_host() -> None:
    assert Client().get("/metrics", HTTP_X_FORWARDED_FOR="127.0.0.1").status_code == 200
    assert Client().get("/metrics", REMOTE_ADDR="::1", HTTP_FORWARDED="for=\"[::1]\"").status_code == 200


@pytest.mark.django_db
def test_the_bearer_token_opens_them_to_another_host(settings: Any) -> None:
    outside = {"REMOTE_ADDR": "10.20.0.7", "HTTP_X_FORWARDED_FOR": "10.20.0.7"}
    assert Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}", **outside).status_code == 403  # unset
    settings.CIVMIL_METRICS_TOKEN = TOKEN
    assert Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}", **outside).status_code == 200
    assert Client().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN[:-1]}", **outside).status_code == 403
    assert Client().get("/metrics", HTTP_AUTHORIZATION=f"Basic {TOKEN}", **outside).status_code == 403


@pytest.mark.django_db
def test_probes_answer_on_the_loopback_address_in_production(settings: Any) -> None:
    """Units and Prometheus ask http://127.0.0.1:PORT/ while the site is https://its-name/ only."""
    settings.ALLOWED_HOSTS = ["civmil.mission.example"]
    settings.SECURE_SSL_REDIRECT = True
    local = Client(HTTP_HOST="127.0.0.1:8001")
    assert local.get("/").status_code == 400  # the site itself: refused for that host name
    assert local.get("/health/live").status_code == 200
    assert local.get("/health/ready").status_code == 200
    assert local.get("/metrics").status_code == 200
    assert local.post("/metrics").status_code == 405


# -- what they expose ---------------------------------------------------------------------------------

@pytest.mark.django_db
def test_request_latency_by_route_method_and_status_class() -> None:
    before = _mine()
    Client().get("/health/live")
    Client().get("/accounts/login/")
    for n in range(3):
        Client().get(f"/no-such-page-{n}/")
    Client().generic("BREW", "/health/live")
    after = _mine()

    def added(**labels: str) -> float:
        name = "civmil_http_request_duration_seconds_count"
        return _value(after, name, **labels) - _value(before, name, **labels)

    assert added(route="health-live", method="GET", status="2xx") == 1
    assert added(route="account_login", method="GET", status="2xx") == 1
    assert added(route="unresolved", method="GET", status="4xx") == 3  # one series, not one per path
    assert added(route="health-live", method="other", status="4xx") == 1
    routes = {dict(labels).get("route") for (name, labels) in after if name.startswith("civmil_http_request")}
    assert not any(r and r.startswith("/") for r in routes)


@pytest.mark.asyncio
async def test_live_connections_and_the_delay_of_the_events_they_get(memory_layer: None, cast: Cast) -> None:
    before = await sync_to_async(_mine)()
    delay = "civmil_live_event_delay_seconds_count"
    async with subscribed(cast.colleague) as ws:
        during = await sync_to_async(_mine)()
        assert _value(during, "civmil_live_connections") == _value(before, "civmil_live_connections") + 1
        entry, _ = await record(cast.author, "counted")
        assert (await next_frame(ws))["object_id"] == str(entry.pk)
        delivered = await sync_to_async(_mine)()
        assert _value(delivered, delay) == _value(before, delay) + 1
        assert _value(delivered, "civmil_live_event_delay_seconds_bucket", le="+Inf") >= 1
    await ws.wait(1)
    after = await sync_to_async(_mine)()
    assert _value(after, "civmil_live_connections") == _value(before, "civmil_live_connections")


def test_job_runs_are_counted_by_job_and_outcome(transactional_db: Any) -> None:
    before = _mine()
    schedule.register_periodic("test.fine", _fine_job, schedule.LEDGER_CHECKPOINT_EVERY)
    try:
        _fine_job.enqueue()
        schedule.run_queued()
    finally:
        schedule.unregister_periodic("test.fine")
    after = _mine()
    runs = "civmil_job_runs_total"
    assert _value(after, runs, job="test.fine", outcome="succeeded") == \
        _value(before, runs, job="test.fine", outcome="succeeded") + 1
    assert _value(after, "civmil_job_duration_seconds_count", job="test.fine") >= 1


@pytest.mark.django_db
def test_checkpoint_age_and_the_newest_event_are_read_at_scrape(cast: Cast) -> None:
    fresh = _mine()
    assert ("civmil_ledger_checkpoint_age_seconds", ()) not in fresh  # none signed yet: absent, not 0
    assert _value(fresh, "civmil_database_up") == 1
    live.record_sync(cast.author, "an event")
    ledger.checkpoint()
    scraped = _mine()
    assert 0 <= scraped[("civmil_ledger_checkpoint_age_seconds", ())] < 60
    assert 0 <= scraped[("civmil_outbox_newest_event_age_seconds", ())] < 60


# -- several processes of one host ----------------------------------------------------------------------

_CHILD = textwrap.dedent("""
    import sys
    from civmil.core import metrics
    for _ in range(int(sys.argv[1])):
        metrics.observe_request("home", "GET", 200, 0.02)
    for _ in range(int(sys.argv[2])):
        metrics.live_connection_opened()
    metrics.job_ran("ledger.checkpoint", "succeeded", 0.5)
    print("ready", flush=True)
    sys.stdin.readline()  # hold the connections until told to end
""")


def test_the_processes_of_a_host_are_added_up_and_dead_ones_leave(tmp_path: Path) -> None:
    environ = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
               "DJANGO_SETTINGS_MODULE": "civmil.config.settings"}
    children = [subprocess.Popen([sys.executable, "-c", _CHILD, str(requests), str(connections)], env=environ,
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                for requests, connections in ((3, 2), (4, 5))]
    try:
        for child in children:
            assert child.stdout is not None and child.stdout.readline() == "ready\n"

        def scrape() -> dict[Any, float]:
            registry = CollectorRegistry(auto_describe=False)
            registry.register(metrics._FilesCollector(tmp_path))  # type: ignore[arg-type]
            return _samples(generate_latest(registry))

        both = scrape()
        assert _value(both, "civmil_http_request_duration_seconds_count", route="home", method="GET",
                      status="2xx") == 7
        assert _value(both, "civmil_live_connections") == 7
        assert _value(both, "civmil_job_runs_total", job="ledger.checkpoint", outcome="succeeded") == 2
        children[1].communicate("end\n", timeout=30)  # the second process ends with 5 connections counted
        one_gone = scrape()
        assert _value(one_gone, "civmil_live_connections") == 2  # a dead process holds no connection
        assert _value(one_gone, "civmil_http_request_duration_seconds_count", route="home", method="GET",
                      status="2xx") == 7  # but what it served was served
        metrics.prepare_multiprocess_dir(tmp_path)  # as serve does before it starts its processes
        assert {int(f.stem.rsplit("_", 1)[1]) for f in tmp_path.glob("*.db")} == {children[0].pid}
    finally:
        for child in children:
            if child.poll() is None:
                child.communicate("end\n", timeout=30)

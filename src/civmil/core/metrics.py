"""Prometheus metrics at ``/metrics`` (prometheus_client, multiprocess mode).

Every civmil process of a host — each process of each ``civmil serve``, each ``civmil worker`` —
writes its counts to files in one directory, ``$CIVMIL_VAR_DIR/metrics`` (or
``PROMETHEUS_MULTIPROC_DIR`` when set), and any server's ``/metrics`` adds them up: scrape one
server per host. :func:`prepare_multiprocess_dir` is called before processes start (``civmil
serve`` before its processes, ``civmil worker``): it removes the files of processes that no longer
run and points the processes started afterwards at the directory.

Exposed:

- ``civmil_http_request_duration_seconds{route,method,status}`` (histogram): from the request's
  arrival to its response, by URL pattern name (``static``, ``unresolved``), method and status
  class (``2xx``...);
- ``civmil_live_connections`` (gauge): live (WebSocket) connections open now, signed in;
- ``civmil_live_event_delay_seconds`` (histogram): the outbox lag as users feel it, from an
  event's storing in the outbox to its delivery on a live connection (each connection counts);
- ``civmil_outbox_newest_event_age_seconds`` (gauge, read at scrape): since the newest event was
  stored — how long the mission has been quiet, or writes have stopped;
- ``civmil_job_runs_total{job,outcome}`` (counter) and ``civmil_job_duration_seconds{job}``;
- ``civmil_ledger_checkpoint_age_seconds`` (gauge, read at scrape): since the newest signed
  checkpoint (the periodic job signs one every 10 minutes when the ledger grew);
- ``civmil_database_up`` (gauge, at scrape): 1 when the scrape could read the database;
- ``civmil_info{version}`` (gauge, 1).

Who may read it: requests from this host (loopback address, and no proxy header naming another
address) or with ``Authorization: Bearer $CIVMIL_METRICS_TOKEN``.
"""

from __future__ import annotations

import functools
import hmac
import ipaddress
import os
import re
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
#: Request latency buckets, seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: Live event delay buckets, seconds (a push crosses processes in tens of ms; a missed push waits
#: for the connection's next poll).
DELAY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
JOB_BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_PID_FILE = re.compile(r"_(\d+)\.db$")


def multiprocess_dir() -> Path:
    """Where this host's processes keep their counts."""
    given = os.environ.get(MULTIPROCESS_ENV, "").strip()
    return Path(given) if given else Path(str(settings.CIVMIL_VAR_DIR)) / "metrics"


def _pid(path: Path) -> int | None:
    found = _PID_FILE.search(path.name)
    return int(found.group(1)) if found else None


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: running
        return True
    return True


def prepare_multiprocess_dir(path: Path | None = None) -> Path:
    """Create the metrics directory, remove the files of processes that no longer run, and point
    this process and those it starts at it (``PROMETHEUS_MULTIPROC_DIR``).

    Safe while other civmil processes of the host run: only dead processes' files go. Call it
    before starting server processes.
    """
    directory = (path or multiprocess_dir()).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    for file in directory.glob("*.db"):
        pid = _pid(file)
        if pid is not None and pid != os.getpid() and not _running(pid):
            file.unlink(missing_ok=True)
    os.environ[MULTIPROCESS_ENV] = str(directory)
    return directory


@dataclass(frozen=True)
class _Metrics:
    requests: Any
    live_connections: Any
    event_delay: Any
    job_runs: Any
    job_duration: Any


_metrics: _Metrics | None = None
#: The directory this process writes its counts to (fixed when its first metric is made).
_directory: Path | None = None
_lock = threading.Lock()


def _get() -> _Metrics:
    """The metrics of this process, created on first use (importing prometheus_client takes time)."""
    global _metrics, _directory
    if _metrics is not None:
        return _metrics
    with _lock:
        if _metrics is None:
            directory = _directory = multiprocess_dir()
            directory.mkdir(parents=True, exist_ok=True)
            # A process that had this pid before may have left its counts: they are not ours.
            for file in directory.glob(f"*_{os.getpid()}.db"):
                file.unlink(missing_ok=True)
            os.environ[MULTIPROCESS_ENV] = str(directory)
            from prometheus_client import Counter, Gauge, Histogram, values

            if not getattr(values.ValueClass, "_multiprocess", False):  # imported before the variable was set
                values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
            _metrics = _Metrics(
                requests=Histogram("civmil_http_request_duration_seconds",
                                   "Time from a request's arrival to its response.",
                                   ["route", "method", "status"], buckets=LATENCY_BUCKETS, registry=None),
                live_connections=Gauge("civmil_live_connections", "Live (WebSocket) connections open now.",
                                       multiprocess_mode="livesum", registry=None),
                event_delay=Histogram("civmil_live_event_delay_seconds",
                                      "Time from an event's storing in the outbox to its delivery on a live "
                                      "connection.", buckets=DELAY_BUCKETS, registry=None),
                job_runs=Counter("civmil_job_runs", "Background job runs by outcome.", ["job", "outcome"],
                                 registry=None),
                job_duration=Histogram("civmil_job_duration_seconds", "How long background jobs ran.", ["job"],
                                       buckets=JOB_BUCKETS, registry=None),
            )
    return _metrics


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    method = method.upper() if method.upper() in METHODS else "other"
    _get().requests.labels(route, method, f"{status // 100}xx").observe(seconds)


def live_connection_opened() -> None:
    _get().live_connections.inc()


def live_connection_closed() -> None:
    _get().live_connections.dec()


def observe_event_delays(created: Iterable[Any]) -> None:
    """Note the delay of events (their ``created_at``) delivered now."""
    now = timezone.now()
    histogram = _get().event_delay
    for when in created:
        histogram.observe(max(0.0, (now - when).total_seconds()))


def job_ran(job: str, outcome: str, seconds: float | None) -> None:
    metrics = _get()
    metrics.job_runs.labels(job, outcome).inc()
    if seconds is not None:
        metrics.job_duration.labels(job).observe(seconds)


# ---------------------------------------------------------------------------------------------
# Collecting


class _FilesCollector:
    """The counts of the host's processes, added up (gauges of live connections: running ones only)."""

    def __init__(self, directory: Path, pids: set[int] | None = None) -> None:
        self.directory = directory
        self.pids = pids

    def _files(self) -> list[str]:
        chosen = []
        for file in sorted(self.directory.glob("*.db")):
            pid = _pid(file)
            if self.pids is not None and pid not in self.pids:
                continue
            if file.name.startswith("gauge_live") and pid is not None and not _running(pid):
                continue
            chosen.append(str(file))
        return chosen

    def collect(self) -> Iterator[Any]:
        from prometheus_client.multiprocess import MultiProcessCollector

        yield from MultiProcessCollector.merge(self._files(), accumulate=True)  # type: ignore[no-untyped-call]


class _DatabaseCollector:
    """Gauges read from the database at each scrape."""

    def collect(self) -> Iterator[Any]:
        from django.db import DatabaseError
        from prometheus_client.core import GaugeMetricFamily

        from civmil.core.models import Checkpoint, OutboxEvent

        now = timezone.now()
        checkpoint = GaugeMetricFamily("civmil_ledger_checkpoint_age_seconds",
                                       "Seconds since the newest signed ledger checkpoint (absent: none yet).")
        outbox = GaugeMetricFamily("civmil_outbox_newest_event_age_seconds",
                                   "Seconds since the newest live event was stored (absent: none).")
        up = GaugeMetricFamily("civmil_database_up", "1 when this scrape could read the database.")
        try:
            signed = Checkpoint.objects.order_by("-pk").values_list("signed_at", flat=True).first()
            stored = OutboxEvent.objects.order_by("-pk").values_list("created_at", flat=True).first()
        except DatabaseError:
            up.add_metric([], 0)
        else:
            up.add_metric([], 1)
            if signed is not None:
                checkpoint.add_metric([], max(0.0, (now - signed).total_seconds()))
            if stored is not None:
                outbox.add_metric([], max(0.0, (now - stored).total_seconds()))
        yield from (checkpoint, outbox, up)
        info = GaugeMetricFamily("civmil_info", "civmil's version (value 1).", labels=["version"])
        info.add_metric([_version()], 1)
        yield info


@functools.cache
def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("civmil")
    except PackageNotFoundError:
        return "unknown"


def registry(pids: set[int] | None = None) -> Any:
    """A registry of the host's metrics (``pids``: only those processes' counts) and the database's."""
    from prometheus_client import CollectorRegistry

    _get()  # this process counts too, and the directory is set
    found = CollectorRegistry(auto_describe=False)
    found.register(_FilesCollector(_directory or multiprocess_dir(), pids))  # type: ignore[arg-type]
    found.register(_DatabaseCollector())  # type: ignore[arg-type]
    return found


def exposition(pids: set[int] | None = None) -> bytes:
    """The metrics in Prometheus' text format."""
    from prometheus_client import generate_latest

    return bytes(generate_latest(registry(pids)))


# ---------------------------------------------------------------------------------------------
# Who may read them


_FORWARDED_FOR = re.compile(r'for="?\[?([^\]";,]+)', re.IGNORECASE)


def _loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.strip()).is_loopback
    except ValueError:
        return False


def _forwarded_addresses(request: HttpRequest) -> list[str]:
    """The client addresses proxies named in X-Forwarded-For, X-Real-IP and Forwarded."""
    meta = request.META
    found = [a for a in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
    found += [meta["HTTP_X_REAL_IP"]] if meta.get("HTTP_X_REAL_IP", "").strip() else []
    found += _FORWARDED_FOR.findall(meta.get("HTTP_FORWARDED", ""))
    return found


def may_read(request: HttpRequest) -> bool:
    """A request from this host that no proxy forwarded from elsewhere, or one with the bearer token."""
    token = str(getattr(settings, "CIVMIL_METRICS_TOKEN", "") or "")
    scheme, _sep, given = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
        return True
    if not _loopback(str(request.META.get("REMOTE_ADDR", ""))):
        return False
    return all(_loopback(address) for address in _forwarded_addresses(request))


@never_cache
def metrics_view(request: HttpRequest) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        return HttpResponse("GET only\n", status=405, content_type="text/plain", headers={"Allow": "GET, HEAD"})
    if not may_read(request):
        return HttpResponse("Metrics are served to this host (a loopback address, not through the proxy) or with "
                            "the bearer token CIVMIL_METRICS_TOKEN.\n", status=403, content_type="text/plain")
    from prometheus_client.exposition import choose_encoder

    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))  # text, or OpenMetrics if asked
    return HttpResponse(encoder(registry()), content_type=content_type)

"""docs/deploy.md, run: the guide's own commands deploy civmil, and the deployment works.

The commands are taken from the guide itself: every fenced ``sh`` block preceded by
``<!-- guide-test: NAME -->`` (the steps in ``STEPS``, in this order), and the example files of
docs/deploy/ the blocks install. So the guide and this test cannot drift apart.

What runs, and how it differs from a literal run on a real server:

- ``make dist`` is done once by tests/deploy/build.py (the same ``python -m build``), and the
  ``release`` block (the wheelhouse) once per build, both cached in var/dist-test/ by the
  sources' digest. Every other marked block runs each time, in one ``bash -eu -o pipefail``, as
  root, with ``HOME`` and ``PATH`` pointing into the temporary root.
- Paths and names are rewritten before running (in the blocks and the installed example files),
  so the machine's own /etc, /opt and /var, database and ports are never touched:
  ``/etc/civmil``, ``/etc/ssl/civmil``, ``/etc/systemd/system``, ``/etc/nginx/sites-available``
  and ``sites-enabled``, ``/opt/civmil``, ``/var/lib/civmil``, ``/var/backups/civmil`` and
  ``/usr/local/bin/civmil-admin`` move under a temporary root (``~`` is its ``root/``); the
  database role and database ``civmil`` become a scratch name; Redis database 0 becomes one of
  9-15; ports 8001 and 8002 (the units' instances and nginx's upstream), 443 and 80 become free
  ports; nginx's ``[::]`` listen lines are dropped (the machine may have no IPv6). Each rewrite
  must apply somewhere, or the test fails: a renamed path in the guide is noticed. The temporary
  root has the directories a Debian server has (/usr/local/bin, /etc/systemd/system, ...).
- ``systemctl`` lines are not run (there is no systemd): the test starts what they name. The
  ``systemctl enable`` line gives the web and worker instances; each is run from its unit file
  (``User``, ``WorkingDirectory``, ``UMask``, ``EnvironmentFile``, ``Environment``, ``%i``, every
  ``ExecStartPre`` to completion, then ``ExecStart``), plus ``PYTHONUNBUFFERED=1`` for the logs.
  nginx runs with Debian's own /etc/nginx/nginx.conf, its pid, log and ``sites-enabled`` paths
  moved under the temporary root (``nginx -t`` is given that file).
- ``civmil-admin createadmin`` asks at the terminal: the test appends its answers as options.
- The system user ``civmil`` is created for real (``adduser --system``, as the guide says) and
  kept: the processes run as that user, so the directory permissions are tested as they are.

Then, through nginx over HTTPS (the test's client trusts only the guide's internal CA): the
readiness check; the sign-in page, in English and in French, and the home page, each 200 with
every stylesheet and script; a first administrator (made with ``civmil-admin createadmin``)
signs in and enrols TOTP in Chromium; two live connections (one through nginx, one on server B)
stay open for 60 s with Redis and then both receive an entry written through server A; the
worker's periodic ledger checkpoint ran once per period and succeeded; no log holds an error.

Needs root, apt, a local PostgreSQL with its ``postgres`` system user, Redis and Chromium: on
the PostgreSQL pass of ``make test``. Missing ones give a printed skip, or a failure with CI=true.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import http.client
import json
import os
import random
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.build import CACHE, ROOT, built, digest

pytestmark = pytest.mark.postgres

GUIDE = ROOT / "docs" / "deploy.md"
STEPS = ("release", "user-and-directories", "database-and-environment", "install", "initialise",
         "tls-ca", "tls-install", "units", "nginx")
HOST = "civmil.mission.example"
REDIS_BASE = "redis://127.0.0.1:6379"
HOLD_SECONDS = 60
STREAM = "actors.liaisonlogentry"
DEBIAN_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
SYSTEMD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#: A log line reporting an error: a traceback, a record at ERROR or CRITICAL (text or JSON logs),
#: Redis's read timeout, or nginx's [error] and worse. (uvicorn's logger is named "uvicorn.error".)
ERROR_LINE = re.compile(r"Traceback|\bERROR\b|\bCRITICAL\b|\"level\": ?\"(?i:error|critical)\"|TimeoutError"
                        r"|\[(error|crit|alert|emerg)\]")
ADMIN = {"username": "firstadmin", "email": "firstadmin@mission.example", "full-name": "Ada Okafor",
         "password": "Tall-Lantern-Orbit-" + secrets.token_hex(4)}


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(f"{reason}, and CI=true requires it")
    print(f"SKIPPED: {reason}")
    pytest.skip(reason)


# --- The guide's blocks -------------------------------------------------------------------------

def guide_blocks() -> dict[str, str]:
    """The marked blocks of docs/deploy.md by step name."""
    found = re.findall(r"<!-- guide-test: ([\w-]+) -->\n```sh\n(.*?)\n```", GUIDE.read_text(encoding="utf-8"),
                       flags=re.DOTALL)
    blocks = dict(found)
    assert len(blocks) == len(found), "a step name is marked twice in docs/deploy.md"
    assert list(blocks) == list(STEPS), f"docs/deploy.md marks {list(blocks)}; this test runs {list(STEPS)}"
    return blocks


class Rewrite:
    """The documented rewrites (module docstring), applied in one pass; each must be used."""

    def __init__(self, root: Path, db: str, redis_db: int, ports: dict[str, int]) -> None:
        moved = ("/usr/local/bin/civmil-admin", "/etc/civmil", "/etc/ssl/civmil", "/etc/systemd/system",
                 "/etc/nginx/sites-available", "/etc/nginx/sites-enabled", "/opt/civmil", "/var/lib/civmil",
                 "/var/backups/civmil")
        self.pairs: dict[str, str] = {path: f"{root}{path}" for path in moved}
        self.pairs.update({
            "CREATE ROLE civmil ": f"CREATE ROLE {db} ",
            "CREATE DATABASE civmil OWNER civmil": f"CREATE DATABASE {db} OWNER {db}",
            "postgres://civmil:": f"postgres://{db}:",
            "@127.0.0.1:5432/civmil": f"@127.0.0.1:5432/{db}",
            "redis://127.0.0.1:6379/0": f"redis://127.0.0.1:6379/{redis_db}",
            "127.0.0.1:8001": f"127.0.0.1:{ports['8001']}",
            "127.0.0.1:8002": f"127.0.0.1:{ports['8002']}",
            "civmil-web@8001": f"civmil-web@{ports['8001']}",
            "civmil-web@8002": f"civmil-web@{ports['8002']}",
            "listen 443 ssl": f"listen {ports['443']} ssl",
            "listen 80;": f"listen {ports['80']};",
        })
        self.used: set[str] = set()
        self.pattern = re.compile("|".join(re.escape(k) for k in sorted(self.pairs, key=len, reverse=True)))

    def __call__(self, text: str) -> str:
        def swap(match: re.Match[str]) -> str:
            self.used.add(match.group(0))
            return self.pairs[match.group(0)]

        text = self.pattern.sub(swap, text)
        return "\n".join(line for line in text.splitlines() if "[::]" not in line) + "\n"

    def unused(self) -> list[str]:
        return sorted(set(self.pairs) - self.used)


def server_script(blocks: dict[str, str], rewrite: Rewrite, nginx_conf: Path) -> tuple[str, list[str]]:
    """The server's blocks as one script (systemctl lines left out), and the instances enabled."""
    lines = ["umask 022"]
    enabled: list[str] = []
    for step in STEPS[1:]:
        lines.append(f'echo "== {step} $(date +%s.%N)"')
        for line in rewrite(blocks[step].replace("\\\n", " ")).splitlines():
            stripped = line.strip()
            if stripped.startswith("systemctl"):
                if " enable " in stripped:
                    enabled += [w for w in stripped.split() if w.startswith(("civmil-web@", "civmil-worker@"))]
                continue
            if stripped.startswith("civmil-admin createadmin"):
                line = "civmil-admin createadmin --no-input " + " ".join(
                    f"--{name} '{value}'" for name, value in ADMIN.items())
            elif stripped == "nginx -t":
                line = f"nginx -t -c {nginx_conf}"
            lines.append(line)
    return "\n".join(lines) + "\n", enabled


def release(block: str) -> Path:
    """~/civmil-release as the guide's ``release`` block makes it, once per build (cached)."""
    wheel = built().wheel
    out = CACHE / digest() / "release-home"
    with (CACHE / ".release-lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out / ".complete").exists():
            _make_release(block, wheel, out)
    return out / "civmil-release"


def _make_release(block: str, wheel: Path, out: Path) -> None:
    shutil.rmtree(out, ignore_errors=True)
    checkout = out / "checkout"
    (checkout / "dist").mkdir(parents=True)
    shutil.copy2(wheel, checkout / "dist" / wheel.name)
    shutil.copytree(ROOT / "docs" / "deploy", checkout / "docs" / "deploy")
    done = subprocess.run(["bash", "-eu", "-o", "pipefail", "-c", block], cwd=checkout, capture_output=True,
                          text=True, timeout=900, check=False,
                          env={"PATH": DEBIAN_PATH, "HOME": str(out), "LANG": "C.UTF-8"})
    assert done.returncode == 0, f"the release block failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    (out / ".complete").touch()


# --- Units, run without systemd -----------------------------------------------------------------

@dataclass
class Unit:
    user: str
    directory: str
    umask: str
    env: dict[str, str]
    pre: list[list[str]]
    start: list[str]
    post: list[list[str]] = field(default_factory=list)


def _env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _eq, value = line.partition("=")
            values[name.strip()] = value.strip().strip("'\"")
    return values


def read_unit(path: Path, instance: str) -> Unit:
    service: dict[str, list[str]] = {}
    section = ""
    for raw in path.read_text().replace("%i", instance).splitlines():
        line = raw.strip()
        if line.startswith("["):
            section = line
        elif section == "[Service]" and "=" in line and not line.startswith("#"):
            key, _eq, value = line.partition("=")
            service.setdefault(key, []).append(value)
    env = {"PATH": SYSTEMD_PATH, "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1"}
    for file in service.get("EnvironmentFile", []):
        env.update(_env_file(Path(file)))
    for assignment in service.get("Environment", []):
        name, _eq, value = assignment.partition("=")
        env[name] = value
    return Unit(user=service["User"][0], directory=service["WorkingDirectory"][0],
                umask=service.get("UMask", ["0022"])[0], env=env,
                pre=[cmd.split() for cmd in service.get("ExecStartPre", [])], start=service["ExecStart"][0].split(),
                post=[cmd.split() for cmd in service.get("ExecStartPost", [])])


def _as_user(unit: Unit, command: list[str]) -> list[str]:
    return ["runuser", "-u", unit.user, "--", "sh", "-c", f'umask {unit.umask}; exec "$@"', "sh", *command]


@dataclass
class Processes:
    logs: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def unit(self, name: str, unit: Unit) -> None:
        for command in unit.pre:
            done = subprocess.run(_as_user(unit, command), cwd=unit.directory, env=unit.env, capture_output=True,
                                  text=True, timeout=120, check=False)
            assert done.returncode == 0, f"{name}: ExecStartPre {command} failed:\n{done.stdout}\n{done.stderr}"
        self.start(name, _as_user(unit, unit.start), cwd=unit.directory, env=unit.env)
        for command in unit.post:  # as systemd: the unit counts as started once these succeed
            done = subprocess.run(_as_user(unit, command), cwd=unit.directory, env=unit.env, capture_output=True,
                                  text=True, timeout=180, check=False)
            assert done.returncode == 0, f"{name}: ExecStartPost {command} failed:\n{done.stdout}\n{done.stderr}"

    def start(self, name: str, command: list[str], **options: Any) -> None:
        with (self.logs / f"{name}.log").open("ab") as log:
            self.procs[name] = subprocess.Popen(command, stdout=log, stderr=log, start_new_session=True, **options)

    def log(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def alive(self, name: str) -> None:
        proc = self.procs[name]
        assert proc.poll() is None, f"{name} exited ({proc.returncode}):\n{self.log(name)[-3000:]}"

    def stop_all(self) -> None:
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)


def nginx_main_conf(root: Path) -> Path:
    """Debian's /etc/nginx/nginx.conf with its pid, logs and sites-enabled under ``root``."""
    text = Path("/etc/nginx/nginx.conf").read_text()
    logs = root / "nginx"
    logs.mkdir(exist_ok=True)
    for old, new in ((r"^pid .*;", f"pid {logs}/nginx.pid;"),
                     (r"access_log /var/log/nginx/access.log;", f"access_log {logs}/access.log;"),
                     (r"error_log /var/log/nginx/error.log;", f"error_log {logs}/error.log;"),
                     (r"include /etc/nginx/sites-enabled/\*;", f"include {root}/etc/nginx/sites-enabled/*;")):
        text, count = re.subn(old, new, text, flags=re.MULTILINE)
        assert count == 1, f"/etc/nginx/nginx.conf has no line matching {old!r}"
    conf = logs / "nginx.conf"
    conf.write_text(text)
    return conf


# --- HTTP and WebSocket clients -----------------------------------------------------------------

class MissionHTTPS(http.client.HTTPSConnection):
    """HTTPS to the mission's name, reached at 127.0.0.1 (the mission's DNS), checked against the CA."""

    def connect(self) -> None:
        sock = socket.create_connection(("127.0.0.1", self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def https(port: int, ca: ssl.SSLContext, path: str, headers: dict[str, str] | None = None) -> Answer:
    connection = MissionHTTPS(HOST, port, context=ca, timeout=20)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        connection.close()


def backend(port: int, method: str, path: str, body: bytes | None = None,
            headers: dict[str, str] | None = None) -> Answer:
    """One web server directly, as nginx calls it (Host and X-Forwarded-Proto set)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        connection.request(method, path, body=body, headers={"Host": HOST, "X-Forwarded-Proto": "https",
                                                             **(headers or {})})
        response = connection.getresponse()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        connection.close()


class Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "link" and a.get("href") and {"stylesheet", "icon", "manifest"} & set((a.get("rel") or "").split()):
            self.urls.append(str(a["href"]))
        elif tag == "script" and a.get("src"):
            self.urls.append(str(a["src"]))


def page_with_assets(port: int, ca: ssl.SSLContext, path: str, headers: dict[str, str]) -> tuple[Answer, list[str]]:
    page = https(port, ca, path, headers)
    assert page.status == 200, f"{path}: {page.status}"
    parser = Assets()
    parser.feed(page.text)
    assert parser.urls, f"{path} links no stylesheet or script"
    for url in parser.urls:
        asset = https(port, ca, url)
        assert asset.status == 200 and asset.body, f"{path}: {url} answered {asset.status}"
        if url.endswith(".css"):
            assert asset.headers.get("content-type", "").startswith("text/css"), url
        if url.endswith(".js"):
            assert "javascript" in asset.headers.get("content-type", ""), url
    return page, parser.urls


class Held:
    """One live connection read in a thread, which records its frames and how it ended."""

    def __init__(self, name: str, ws: Any) -> None:
        self.name, self.ws = name, ws
        self.frames: list[dict[str, Any]] = []
        self.closed: str | None = None
        ws.send(json.dumps({"type": "subscribe", "streams": [STREAM], "after": None}))
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            for message in self.ws:
                self.frames.append(json.loads(message))
        except ConnectionClosed as exc:
            self.closed = f"closed: {exc}"
        else:
            self.closed = "closed by the server"

    def wait_for(self, frame_type: str, timeout: float, object_id: str | None = None) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for frame in self.frames:
                if frame.get("type") == frame_type and object_id in (None, frame.get("object_id")):
                    return frame
            assert self.closed is None, f"{self.name}: {self.closed}"
            time.sleep(0.05)
        raise AssertionError(f"{self.name}: no {frame_type!r} frame within {timeout} s; got {self.frames}")


def wait_until(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except OSError as exc:
            last = exc
        time.sleep(0.3)
    raise AssertionError(f"{what} within {timeout} s (last: {last})")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- Fixtures -----------------------------------------------------------------------------------

@pytest.fixture
def machine() -> None:
    base = os.environ.get("DATABASE_URL", "")
    if base and not base.startswith(("postgres://", "postgresql://")):
        pytest.skip("needs PostgreSQL: runs on the PostgreSQL pass")
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        _unavailable("the guide test runs the guide as root on Debian (apt-get)")
    for tool in ("runuser", "adduser", "openssl", "psql"):
        if shutil.which(tool) is None:
            _unavailable(f"the guide needs {tool}")
    if not Path("/usr/bin/chromium").exists():
        _unavailable("the guide test needs Chromium at /usr/bin/chromium (apt-get install chromium)")
    local = subprocess.run(["runuser", "-u", "postgres", "--", "psql", "-Atqc", "SELECT 1"], capture_output=True,
                           text=True, timeout=20, check=False)
    if local.stdout.strip() != "1":
        _unavailable(f"no local PostgreSQL reachable as the postgres system user ({local.stderr.strip()[:200]})")
    if shutil.which("nginx") is None:
        installed = subprocess.run(["apt-get", "install", "-y", "-q", "nginx"], capture_output=True, text=True,
                                   timeout=600, check=False)
        assert installed.returncode == 0, f"apt-get install nginx failed:\n{installed.stderr[-2000:]}"


@pytest.fixture
def redis_db(machine: None) -> Iterator[int]:
    import redis

    n = random.randint(9, 15)
    client = redis.Redis.from_url(f"{REDIS_BASE}/{n}", socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        _unavailable(f"Redis is not reachable at {REDIS_BASE} ({exc.__class__.__name__})")
    yield n
    client.flushdb()
    client.close()


def _psql(sql: str) -> None:
    subprocess.run(["runuser", "-u", "postgres", "--", "psql", "-q", "-c", sql], capture_output=True, timeout=60,
                   check=False)


@pytest.fixture
def database_name(machine: None) -> Iterator[str]:
    name = f"civmil_guide_{secrets.token_hex(4)}"
    yield name
    _psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _psql(f'DROP ROLE IF EXISTS "{name}"')


# --- The test -----------------------------------------------------------------------------------

def test_the_guide_deploys_a_working_site(machine: None, redis_db: int, database_name: str) -> None:
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    blocks = guide_blocks()
    release_dir = release(blocks["release"])
    timings["build and wheelhouse (cached per build)"] = time.monotonic() - t0

    root = Path(tempfile.mkdtemp(prefix="civmil-guide-"))
    root.chmod(0o755)  # the civmil user and nginx's workers pass through it, as through /
    processes = Processes(logs=root / "logs")
    processes.logs.mkdir()
    held: list[Held] = []
    opened = contextlib.ExitStack()
    try:
        ports = {name: free_port() for name in ("8001", "8002", "443", "80")}
        rewrite = Rewrite(root, database_name, redis_db, ports)
        home = root / "root"
        for debian_dir in ("usr/local/bin", "etc/systemd/system", "etc/nginx/sites-available",
                           "etc/nginx/sites-enabled", "etc/ssl", "var/lib", "var/backups", "opt"):
            (root / debian_dir).mkdir(parents=True)
        (home / "civmil-release" / "deploy").mkdir(parents=True)
        (home / "civmil-release" / "wheelhouse").symlink_to(release_dir / "wheelhouse")
        for example in (release_dir / "deploy").iterdir():
            target = home / "civmil-release" / "deploy" / example.name
            target.write_text(rewrite(example.read_text()))
            target.chmod(example.stat().st_mode)
        conf = nginx_main_conf(root)
        script, enabled = server_script(blocks, rewrite, conf)
        (root / "guide.sh").write_text(script)

        # The guide, from the service user to nginx -t.
        t1 = time.monotonic()
        done = subprocess.run(["bash", "-eu", "-o", "pipefail", str(root / "guide.sh")], cwd=home,
                              capture_output=True, text=True, timeout=900, check=False,
                              env={"PATH": f"{root}/usr/local/bin:{DEBIAN_PATH}", "HOME": str(home),
                                   "LANG": "C.UTF-8", "TERM": "dumb"})
        assert done.returncode == 0, f"the guide's commands failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
        marks = re.findall(r"^== (\S+) (\S+)$", done.stdout, flags=re.MULTILINE)
        for (step, start), (_next, end) in zip(marks, [*marks[1:], ("end", str(time.time()))], strict=True):
            timings[f"guide step {step}"] = float(end) - float(start)
        assert rewrite.unused() == [], f"rewrites that no longer apply (the guide changed?): {rewrite.unused()}"
        timings["guide: install to nginx -t"] = time.monotonic() - t1

        # What the guide set up.
        env_file = root / "etc/civmil/civmil.env"
        assert oct(env_file.stat().st_mode & 0o777) == "0o640"
        env = _env_file(env_file)
        assert env["DATABASE_URL"].startswith(f"postgres://{database_name}:")
        assert "DB_PASSWORD" not in env_file.read_text() and "change-me" not in env_file.read_text()
        has_password = subprocess.run(
            ["runuser", "-u", "postgres", "--", "psql", "-Atq", "-v", f"role={database_name}"],
            input="SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid WHERE rolname = :'role'",
            capture_output=True, text=True, timeout=20, check=False).stdout.strip()
        assert has_password == "t", "the database role has no scram-sha-256 password"
        var = root / "var/lib/civmil"
        for key in var.glob("*key*"):  # ledger_signing_key (SECRET_KEY is in the environment file)
            assert key.stat().st_mode & 0o077 == 0 and key.owner() == "civmil", f"{key.name} is not the service's alone"
        assert (var / "ledger_signing_key").exists()
        webs = [i for i in enabled if i.startswith("civmil-web@")]
        workers = [i for i in enabled if i.startswith("civmil-worker@")]
        upstream = re.findall(r"server 127\.0\.0\.1:(\d+)", (root / "etc/nginx/sites-available/civmil").read_text())
        assert sorted(upstream) == sorted(w.split("@")[1] for w in webs), "nginx's upstream must list the enabled units"
        assert len(webs) == 2 and len(workers) == 1, enabled

        # The units and nginx, started as systemd and nginx would.
        units = root / "etc/systemd/system"
        for instance in enabled:
            template, _at, name = instance.partition("@")
            processes.unit(instance, read_unit(units / f"{template}@.service", name))
        processes.start("nginx", ["nginx", "-c", str(conf), "-g", "daemon off;"])
        a_port, b_port = (int(w.split("@")[1]) for w in webs)
        for port in (a_port, b_port):
            wait_until(lambda port=port: backend(port, "GET", "/health/live").status == 200, 60,
                       f"the server on {port} did not answer")
        ca = ssl.create_default_context(cafile=str(root / "etc/ssl/civmil/ca.crt"))
        tls = ports["443"]
        wait_until(lambda: https(tls, ca, "/health/ready").status == 200, 30, "nginx did not answer ready")
        timings["guide: wheelhouse install to first page served"] = time.monotonic() - t1
        ready = json.loads(https(tls, ca, "/health/ready").body)
        assert ready == {"status": "ok", "checks": {k: "ok" for k in ready["checks"]}}, ready

        # Live connections, held while the rest is checked, then given an event written through A.
        probe_env = {**{k: v for k, v in os.environ.items() if not k.startswith(("CIVMIL_", "DJANGO_"))},
                     **env, "DJANGO_SETTINGS_MODULE": "civmil.config.settings"}
        probe = subprocess.run([sys.executable, "-m", "tests.deploy._probe", "members"], cwd=ROOT, env=probe_env,
                               capture_output=True, text=True, timeout=120, check=False)
        assert probe.returncode == 0, probe.stderr[-3000:]
        members = json.loads(probe.stdout.splitlines()[-1])
        cookie = f"{members['session_cookie']}={members['reader_session']}"
        from websockets.sync.client import connect

        held.append(Held("through nginx", opened.enter_context(connect(
            f"wss://{HOST}:{tls}/ws/events/", ssl=ca, server_hostname=HOST, open_timeout=10,
            sock=socket.create_connection(("127.0.0.1", tls)),
            additional_headers={"Origin": f"https://{HOST}:{tls}", "Cookie": cookie}))))
        held.append(Held("on server B", opened.enter_context(connect(
            # As nginx passes it on: the Host header the browser sent (name and port), the scheme.
            f"ws://{HOST}:{tls}/ws/events/", open_timeout=10, sock=socket.create_connection(("127.0.0.1", b_port)),
            additional_headers={"Origin": f"https://{HOST}:{tls}", "Cookie": cookie,
                                "X-Forwarded-Proto": "https"}))))
        for live in held:
            live.wait_for("subscribed", 10)
        hold_start = time.monotonic()

        # The sign-in page with every asset, in English and in French.
        _login, assets = page_with_assets(tls, ca, "/accounts/login/", {"Accept-Language": "en"})
        assert any("/static/vendor/" in url for url in assets), assets
        french, _ = page_with_assets(tls, ca, "/accounts/login/", {"Accept-Language": "fr"})
        assert 'lang="fr"' in french.text and "Connexion" in french.text and "Sign In" not in french.text

        # A first administrator enrols TOTP in Chromium, through nginx.
        t2 = time.monotonic()
        browser = subprocess.run([sys.executable, "-m", "tests.deploy._enrol", f"https://{HOST}:{tls}",
                                  ADMIN["username"], ADMIN["password"]], cwd=ROOT, env=probe_env,
                                 capture_output=True, text=True, timeout=180, check=False)
        assert browser.returncode == 0, f"{browser.stdout[-2000:]}\n{browser.stderr[-4000:]}"
        seen = json.loads(browser.stdout.splitlines()[-1])
        timings["browser: sign in and enrol"] = time.monotonic() - t2
        assert seen["secret_fields"] == 1 and seen["notifications"] == 1, seen
        assert [r for r in seen["responses"] if int(r.split()[0]) >= 400] == [], seen["responses"]
        assert seen["problems"] == [], seen["problems"]

        # The home page, signed in with the enrolled session, with every asset.
        session = "; ".join(f"{k}={v}" for k, v in seen["cookies"].items())
        home_page, _ = page_with_assets(tls, ca, "/", {"Accept-Language": "en", "Cookie": session})
        assert "Notifications" in home_page.text

        # The worker's periodic checkpoint: once per period, succeeded, signed.
        def checkpoint_ran() -> dict[str, Any] | None:
            out = subprocess.run([sys.executable, "-m", "tests.deploy._probe", "checkpoint"], cwd=ROOT,
                                 env=probe_env, capture_output=True, text=True, timeout=60, check=False)
            assert out.returncode == 0, out.stderr[-2000:]
            state: dict[str, Any] = json.loads(out.stdout.splitlines()[-1])
            return state if state["statuses"] and "READY" not in state["statuses"] \
                and "RUNNING" not in state["statuses"] else None

        state = wait_until(checkpoint_ran, 60, "the worker ran no ledger checkpoint")
        assert len(state["periods"]) == len(set(state["periods"])), state
        assert set(state["statuses"]) == {"SUCCESSFUL"}, state
        assert state["checkpoints"] >= 1, state

        # The live connections stayed open the whole time; an entry written through A reaches both.
        while (left := HOLD_SECONDS - (time.monotonic() - hold_start)) > 0:
            for live in held:
                assert live.closed is None, f"{live.name} {live.closed} after {time.monotonic() - hold_start:.0f} s"
            time.sleep(min(left, 1.0))
        body = json.dumps({"occurred_at": (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat(),
                           "channel": "meeting", "level": "humanitarian", "summary": "guide-test",
                           "organisations": [members["author_org"]]}).encode()
        written = backend(a_port, "POST", "/api/v1/liaison-log", body,
                          {"Authorization": f"Bearer {members['token']}", "Content-Type": "application/json"})
        assert written.status == 201, written.text[:500]
        entry = str(json.loads(written.body)["id"])
        for live in held:
            assert live.wait_for("event", 5, object_id=entry)["kind"] == "liaison.recorded"
        for name in processes.procs:
            processes.alive(name)
        logs = {name: processes.log(name) for name in processes.procs}
        logs["nginx error.log"] = (root / "nginx" / "error.log").read_text(errors="replace")
        for name, text in logs.items():
            errors = [line for line in text.splitlines() if ERROR_LINE.search(line)]
            assert errors == [], f"{name}: {errors[:10]}"
    except AssertionError:
        for name in processes.procs:
            print(f"--- {name} ---\n{processes.log(name)[-3000:]}")
        raise
    finally:
        with contextlib.suppress(Exception):
            opened.close()
        for live in held:
            live.thread.join(5)
        print("guide timings: " + "; ".join(f"{k}: {v:.0f} s" for k, v in timings.items()))
        processes.stop_all()
        shutil.rmtree(root, ignore_errors=True)

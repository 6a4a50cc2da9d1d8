#!/usr/bin/env python3
"""Fixtures for the user authentication service tests.

The service's flat modules (user, db, auth, app) must resolve to its
own folder (checked before these tests); servers are real processes on
free ports, started from a temporary working directory, with the
throw-away database of the ``database_url`` fixture and a cheap bcrypt
cost.
"""
import importlib.util
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterator, Optional

import pytest
import requests
from sqlalchemy import create_engine, inspect, text

from tests.support import PYTHON, ROOT, ServerProcess, base_env, http_get_ok

APP_DIR = ROOT / "user_authentication_service"
GRANIAN = str(Path(PYTHON).parent / "granian")
SERVICE_MODULES = ("user", "db", "auth", "app", "settings",
                   "records", "mailer")


@pytest.fixture(autouse=True, scope="session")
def service_modules_resolve_to_app_dir() -> None:
    """Fail clearly if ``import auth`` (etc.) would load another file.

    pytest's pythonpath lists the service folder; the flat names could be
    shadowed by a same-named module elsewhere on it. Reordering sys.path
    here would shadow other apps' modules instead, so only check.
    """
    for name in SERVICE_MODULES:
        spec = importlib.util.find_spec(name)
        origin = getattr(spec, "origin", None) or ""
        if not origin.startswith(str(APP_DIR)):
            pytest.fail("module {!r} resolves to {!r}, not to {}".format(
                name, origin, APP_DIR))


class FakeClock:
    """A clock the tests move by hand, injected into ``Auth``."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        """Start the clock at a fixed time (seconds since the epoch)."""
        self.now = now

    def __call__(self) -> float:
        """Return the current fake time in seconds."""
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by some seconds."""
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    """Return a fresh fake clock."""
    return FakeClock()


def build_app(database_url: str, clock: FakeClock,
              **overrides: object) -> object:
    """Build an in-process app with test settings plus overrides."""
    from app import create_app

    config = {"DATABASE_URL": database_url, "BCRYPT_ROUNDS": 4,
              "RESET_TOKEN_TTL": 60, "CLOCK": clock,
              "RATELIMIT_STORAGE_URI": "memory://"}
    config.update(overrides)
    return create_app(config)


@pytest.fixture
def make_app(database_url: str, clock: FakeClock) -> Callable:
    """Return a builder of in-process apps on the test's database."""
    return lambda **overrides: build_app(database_url, clock, **overrides)


@pytest.fixture
def make_edge_app(sqlite_url: str, clock: FakeClock) -> Callable:
    """Return a builder of apps on SQLite, for checks of the HTTP edge."""
    return lambda **overrides: build_app(sqlite_url, clock, **overrides)


@pytest.fixture
def client(make_app: Callable) -> object:
    """Return a Flask test client of an app on the test's database."""
    return make_app().test_client()


@pytest.fixture
def auth(database_url: str, clock: FakeClock) -> object:
    """Return an ``Auth`` on the test's database with a fake clock."""
    from auth import Auth

    return Auth(database_url=database_url, bcrypt_rounds=4,
                reset_token_ttl=60, clock=clock)


def count_users(database_url: str) -> int:
    """Count the rows of the users table, straight from the database.

    A database where the table was never created counts zero users.
    """
    url = database_url.replace("postgresql://", "postgresql+psycopg://")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("users"):
                return 0
            return conn.execute(text("SELECT COUNT(*) FROM users")).scalar()
    finally:
        engine.dispose()


@pytest.fixture
def start_server(tmp_path: Path, database_url: str
                 ) -> Iterator[Callable[..., ServerProcess]]:
    """Yield a starter of service processes; all are stopped afterwards.

    ``start_server("dev")`` runs ``python3 app.py`` (the seed's command);
    ``start_server("granian", workers=2)`` the production server.
    """
    started = []
    workdir = tmp_path / "run"
    workdir.mkdir()

    def start(kind: str = "dev", workers: int = 2, port: int = 0,
              **env: str) -> ServerProcess:
        """Start one server process of the given kind and wait for it."""
        settings = {"DATABASE_URL": database_url, "BCRYPT_ROUNDS": "4",
                    "PYTHONPATH": str(APP_DIR)}
        settings.update(env)
        server = ServerProcess([], workdir, base_env(**settings),
                               port or None)
        if kind == "dev":
            server.env["API_PORT"] = str(server.port)
            server.env["API_HOST"] = "127.0.0.1"
            server.args = [PYTHON, str(APP_DIR / "app.py")]
        else:
            server.args = [GRANIAN, "--interface", "wsgi", "--host",
                           "127.0.0.1", "--port", str(server.port),
                           "--workers", str(workers), "--no-ws",
                           "--log-level", "warning", "app:app"]
        started.append(server)
        server.start()
        http_get_ok(server.url + "/")
        return server

    yield start
    for server in started:
        server.kill()


def post_form(url: str, **fields: str) -> requests.Response:
    """POST URL-encoded form fields, as ``curl -d`` does."""
    return requests.post(url, data=fields, timeout=30)


class MailerProcess:
    """The service's mail worker (``python3 mailer.py``), stopped by PID."""

    def __init__(self, workdir: Path, env: dict) -> None:
        """Start the worker in its own process group."""
        self.log = tempfile.TemporaryFile(prefix="mailer-", suffix=".log")
        self.proc = subprocess.Popen(
            [PYTHON, str(APP_DIR / "mailer.py")], cwd=str(workdir), env=env,
            stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True)

    def output(self) -> str:
        """Return what the worker printed so far."""
        fd = self.log.fileno()
        return os.pread(fd, os.fstat(fd).st_size, 0).decode(
            errors="replace")

    def wait_output(self, text: str, timeout: float = 60.0) -> None:
        """Block until the worker printed ``text`` (or fail)."""
        deadline = time.monotonic() + timeout
        while text not in self.output():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("mailer never said {!r}:\n{}".format(
                    text, self.output()))
            time.sleep(0.05)

    def stop(self) -> Optional[int]:
        """SIGTERM the worker's group, SIGKILL if it lingers; return its
        exit status (None when it had to be killed)."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
                return None
        return self.proc.returncode


@pytest.fixture
def start_mailer(tmp_path: Path, database_url: str
                 ) -> Iterator[Callable[..., MailerProcess]]:
    """Yield a starter of mail workers on the test's database."""
    started = []

    def start(**env: str) -> MailerProcess:
        """Start one mail worker with test settings plus ``env``."""
        settings = {"DATABASE_URL": database_url, "BCRYPT_ROUNDS": "4",
                    "OUTBOX_POLL_SECONDS": "0.1", "MAIL_BACKOFF_MS": "100",
                    "PYTHONPATH": str(APP_DIR)}
        settings.update(env)
        workdir = tmp_path / "mailer"
        workdir.mkdir(exist_ok=True)
        mailer = MailerProcess(workdir, base_env(**settings))
        started.append(mailer)
        return mailer

    yield start
    for mailer in started:
        mailer.stop()


@pytest.fixture
def mail_server() -> Iterator[object]:
    """Yield a real SMTP server (aiosmtpd) on a free port."""
    from tests.mail_server import MailServer

    server = MailServer().start()
    try:
        yield server
    finally:
        server.stop()

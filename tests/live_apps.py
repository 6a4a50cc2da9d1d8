#!/usr/bin/env python3
"""Every HTTP app of the project as a live server, for cross-app tests.

The ``start_app(kind)`` fixture (a plugin of tests/conftest.py) starts
one app as its docs say, on a free port, on throw-away storage (a
SQLite file of the test, the suite's Redis), and stops it after the
test. Kinds: ``users_api:<AUTH_TYPE>``, ``auth_service``, ``stock``,
``seat``, ``kue`` (the Kue JSON API, kue_api.py); a ``:production``
suffix on a users API or auth service kind starts it with
``APP_PROFILE=production`` (and the lowest bcrypt cost that profile
accepts, 10). It returns a ``LiveApp``: the server and the path prefix
of the app's routes (``/api/v1`` for the users API).
"""
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import pytest

from tests.support import PYTHON, ROOT, ServerProcess, base_env, free_port

SA_DIR = ROOT / "session_authentication"
AUTH_DIR = ROOT / "user_authentication_service"
QUEUING_DIR = ROOT / "queuing_system"
SESSION_NAME = "_my_session_id"
PRODUCTION = ":production"
# The cost the production profiles accept at the least (issue 8).
PRODUCTION_ROUNDS = "10"
# High enough that a fuzz run meets no 429 on its stateful steps (429
# is described and answered all the same).
NO_LIMIT = "100000/minute"
# Failures before the users API's per-account back-off: cases that send
# the fuzz user's e-mail with a wrong password (a password change) would
# else put it in a back-off whose 429s depend on the clock, which makes
# the stateful runs' replays diverge (tests/session_authentication/
# test_owasp.py tests the back-off).
NO_BACKOFF = "100000"
KINDS = ["users_api:basic_auth", "users_api:session_auth",
         "users_api:session_db_auth", "users_api:basic_auth:production",
         "users_api:session_db_auth:production", "auth_service",
         "auth_service:production", "stock", "seat", "kue"]


@dataclass
class LiveApp:
    """A started app: its server process and the prefix of its routes."""

    kind: str
    server: ServerProcess
    prefix: str

    @property
    def production(self) -> bool:
        """Tell whether the app runs the production profile."""
        return self.kind.endswith(PRODUCTION)

    @property
    def session_cookie(self) -> str:
        """Return the name of the app's session cookie."""
        if self.kind.startswith("auth_service"):
            return "__Host-session_id" if self.production else "session_id"
        return ("__Host-" if self.production else "") + SESSION_NAME

    @property
    def url(self) -> str:
        """Return the server's base URL (without the prefix)."""
        return self.server.url


def _server(kind: str, tmp_path: Path, redis_url: str) -> tuple:
    """Return (ServerProcess, prefix) for an app kind, not started."""
    port = free_port()
    folder = tmp_path / kind.replace(":", "-")
    folder.mkdir()
    database = "sqlite:///{}".format(folder / "app.db")
    profile = {"APP_PROFILE": "production",
               "BCRYPT_ROUNDS": PRODUCTION_ROUNDS} if kind.endswith(
                   PRODUCTION) else {"APP_PROFILE": "seed",
                                     "BCRYPT_ROUNDS": "4"}
    if kind.startswith("users_api:"):
        env = base_env(DATABASE_URL=database, PYTHONPATH=str(SA_DIR),
                       SESSION_NAME=SESSION_NAME, LOGIN_RATE_LIMIT="off",
                       API_HOST="127.0.0.1", API_PORT=str(port),
                       REDIS_URL=redis_url, AUTH_TYPE=kind.split(":")[1],
                       ACCOUNT_FAILURE_LIMIT=NO_BACKOFF,
                       **profile)
        return ServerProcess([PYTHON, "-m", "api.v1.app"], folder, env,
                             port), "/api/v1"
    if kind.startswith("auth_service"):
        env = base_env(DATABASE_URL=database, PYTHONPATH=str(AUTH_DIR),
                       API_HOST="127.0.0.1", REDIS_URL=redis_url,
                       API_PORT=str(port), RATELIMIT_LOGIN=NO_LIMIT,
                       RATELIMIT_REGISTER=NO_LIMIT,
                       RATELIMIT_RESET=NO_LIMIT, **profile)
        return ServerProcess([PYTHON, str(AUTH_DIR / "app.py")], folder,
                             env, port), ""
    if kind == "kue":
        env = base_env(REDIS_URL=redis_url, KUE_UI_PORT=str(port),
                       KUE_UI_HOST="127.0.0.1", KUE_UI_PASSWORD="")
        return ServerProcess([PYTHON, "kue_api.py"], QUEUING_DIR, env,
                             port), ""
    script = {"stock": "9-stock.py", "seat": "100-seat.py"}[kind]
    env = base_env(REDIS_URL=redis_url, HOST="127.0.0.1", PORT=str(port))
    return ServerProcess([PYTHON, script], QUEUING_DIR, env, port), ""


@pytest.fixture
def start_app(tmp_path: Path, redis_url: str
              ) -> Iterator[Callable[[str], LiveApp]]:
    """Yield a function that starts an app by kind (all stopped after)."""
    started = []

    def start(kind: str) -> LiveApp:
        """Start one app and wait until it listens."""
        server, prefix = _server(kind, tmp_path, redis_url)
        started.append(server)
        server.start()
        return LiveApp(kind, server, prefix)

    yield start
    for server in started:
        server.kill()

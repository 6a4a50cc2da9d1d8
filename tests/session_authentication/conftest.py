#!/usr/bin/env python3
"""Fixtures of the users API tests: servers on free ports, seed users.

``start_api(auth_type, **env)`` starts the API as the seeds do
(``python3 -m api.v1.app``) or on the production server
(``production=True``: ``python3 -m api.v1.serve``), on a free port, on
this test's throw-away database (SQLite, and PostgreSQL when available).
"""
import subprocess
from pathlib import Path
from typing import Callable, Iterator, Optional

import pytest
import requests

from tests.support import PYTHON, ROOT, ServerProcess, base_env, free_port

SA_DIR = ROOT / "session_authentication"
SEEDS = Path(__file__).resolve().parent / "seed_scripts"


class Api:
    """A running users API server and a requests helper bound to it."""

    def __init__(self, server: ServerProcess) -> None:
        """Wrap a started server process."""
        self.server = server
        self.url = server.url + "/api/v1"

    def get(self, path: str, **kwargs: object) -> requests.Response:
        """Send GET /api/v1<path>."""
        return requests.get(self.url + path, timeout=30, **kwargs)

    def post(self, path: str, **kwargs: object) -> requests.Response:
        """Send POST /api/v1<path>."""
        return requests.post(self.url + path, timeout=30, **kwargs)

    def put(self, path: str, **kwargs: object) -> requests.Response:
        """Send PUT /api/v1<path>."""
        return requests.put(self.url + path, timeout=30, **kwargs)

    def delete(self, path: str, **kwargs: object) -> requests.Response:
        """Send DELETE /api/v1<path>."""
        return requests.delete(self.url + path, timeout=30, **kwargs)

    def login(self, email: str, password: str) -> requests.Response:
        """Log in through the session view with form fields."""
        return self.post("/auth_session/login",
                         data={"email": email, "password": password})


@pytest.fixture
def api_env(database_url: str, tmp_path: Path) -> dict:
    """Return the environment of API processes and scripts of a test."""
    return base_env(DATABASE_URL=database_url, BCRYPT_ROUNDS="4",
                    APP_PROFILE="seed",
                    PYTHONPATH=str(SA_DIR), SESSION_NAME="_my_session_id",
                    LOGIN_RATE_LIMIT="off", API_HOST="127.0.0.1")


@pytest.fixture
def start_api(api_env: dict, tmp_path: Path) -> Iterator[Callable]:
    """Yield a function starting API servers, all stopped afterwards."""
    started = []

    def start(auth_type: Optional[str] = None, production: bool = False,
              workers: int = 2, port: Optional[int] = None,
              **extra: str) -> Api:
        """Start the API with AUTH_TYPE and extra environment values."""
        env = dict(api_env, **{k: str(v) for k, v in extra.items()})
        if auth_type:
            env["AUTH_TYPE"] = auth_type
        port = port or free_port()
        env["API_PORT"] = str(port)
        args = [PYTHON, "-m", "api.v1.app"]
        if production:
            args = [PYTHON, "-m", "api.v1.serve", "--workers",
                    str(workers)]
        server = ServerProcess(args, cwd=tmp_path, env=env, port=port)
        started.append(server)
        server.start()
        return Api(server)

    yield start
    for server in started:
        server.kill()


@pytest.fixture
def run_seed(api_env: dict, tmp_path: Path) -> Callable:
    """Return a function running a seed script in the test's folder."""

    def run(name: str, **extra: str) -> subprocess.CompletedProcess:
        """Run seed_scripts/<name> as ./<name>; return the finished run."""
        target = tmp_path / name
        target.write_bytes((SEEDS / name).read_bytes())
        target.chmod(0o755)
        env = dict(api_env, **extra)
        return subprocess.run(
            ["./" + name], cwd=tmp_path, env=env, capture_output=True,
            text=True, timeout=60)

    return run


@pytest.fixture
def make_user(api_env: dict, tmp_path: Path) -> Callable:
    """Return a function that stores a user through the models."""

    def make(email: str, password: str) -> str:
        """Create the user in a separate process; return its id."""
        code = ("from models.user import User\n"
                "u = User(email={!r})\nu.password = {!r}\nu.save()\n"
                "print(u.id)\n").format(email, password)
        done = subprocess.run([PYTHON, "-c", code], cwd=tmp_path,
                              env=api_env, capture_output=True, text=True,
                              check=True, timeout=60)
        return done.stdout.strip()

    return make

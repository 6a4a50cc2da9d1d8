#!/usr/bin/env python3
"""Fixtures shared by the queuing system's tests."""
from pathlib import Path
from typing import Iterator

import pytest

from tests.support import PYTHON, ROOT, ServerProcess, base_env, http_get_ok

QUEUING_DIR = ROOT / "queuing_system"


@pytest.fixture
def queuing_dir() -> Path:
    """Return the folder the queuing scripts run from."""
    return QUEUING_DIR


@pytest.fixture(scope="module")
def kue_api_server(redis_server: str) -> Iterator[ServerProcess]:
    """Serve ``python3 kue_api.py`` (Kue's JSON API and the dashboard,
    on granian) on a free port for a module's tests."""
    server = ServerProcess([PYTHON, "kue_api.py"], QUEUING_DIR, env={})
    server.env = base_env(REDIS_URL=redis_server,
                          KUE_UI_PORT=str(server.port))
    server.start()
    try:
        http_get_ok(server.url + "/stats")
        yield server
    finally:
        server.stop()

#!/usr/bin/env python3
"""The stock and seat apps' fuzzer findings (issue 10), one test each.

Each app runs as a real server, both as the seed runs it (``python3
9-stock.py`` / ``python3 100-seat.py``, Werkzeug) and on granian, on the
suite's Redis; requests go through ``http.client``, which sends a path
exactly as written.
"""
import http.client
import json
from pathlib import Path
from typing import Callable, Iterator, Tuple

import pytest
import redis

from tests.support import PYTHON, ServerProcess, base_env, http_get_ok

GRANIAN = str(Path(PYTHON).parent / "granian")
JSON_TYPE = "application/json"
GET_ONLY = {"GET", "HEAD", "OPTIONS"}
Answer = Tuple[int, dict, bytes]
Starter = Callable[[str], ServerProcess]


def call(server: ServerProcess, method: str, path: str) -> Answer:
    """Send one request without a body; return status, headers, body.

    Header names are lower-case; a HEAD answer has no body to read.
    """
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request(method, path)
        response = conn.getresponse()
        return (response.status,
                {name.lower(): value for name, value in response.getheaders()},
                response.read())
    finally:
        conn.close()


@pytest.fixture(params=["dev", "granian"])
def start_app(request: pytest.FixtureRequest, redis_url: str,
              queuing_dir: Path) -> Iterator[Starter]:
    """Yield a starter of an app (``9-stock`` or ``100-seat``) on the
    test's Redis, once per kind of server; all are stopped after."""
    started = []

    def start(module: str) -> ServerProcess:
        """Serve the module with the seed's command or with granian."""
        server = ServerProcess([], queuing_dir, base_env(REDIS_URL=redis_url))
        if request.param == "dev":
            server.args = [PYTHON, module + ".py"]
            server.env.update(HOST="127.0.0.1", PORT=str(server.port))
        else:
            server.args = [GRANIAN, "--interface", "wsgi", "--host",
                           "127.0.0.1", "--port", str(server.port),
                           "--workers", "1", "--no-ws", module + ":app"]
        started.append(server)
        server.start()
        http_get_ok(server.url + "/")
        return server

    yield start
    for server in started:
        server.stop()
        assert "Traceback" not in server.output()


def snapshot(redis_url: str) -> dict:
    """Return every key of the test's Redis with its serialized value."""
    client = redis.Redis.from_url(redis_url)
    try:
        return {key: client.dump(key) for key in client.keys()}
    finally:
        client.close()


ROUTES = {"9-stock": ["/list_products", "/list_products/1",
                      "/reserve_product/1"],
          "100-seat": ["/available_seats", "/reserve_seat", "/process"]}


@pytest.mark.parametrize("module", sorted(ROUTES))
def test_405_keeps_the_allow_header(start_app: Starter, module: str,
                                    redis_url: str) -> None:
    """Finding 3: a 405 names the allowed methods in ``Allow`` (RFC 9110).

    The JSON error handler used to drop the exception's headers.
    """
    server = start_app(module)
    before = snapshot(redis_url)
    for path in ROUTES[module]:
        for method in ("POST", "PUT", "DELETE", "PATCH"):
            status, headers, body = call(server, method, path)
            assert status == 405, (method, path, body)
            assert headers["content-type"].startswith(JSON_TYPE)
            assert json.loads(body) == {"error": "Method Not Allowed"}
            allowed = {name.strip() for name in headers["allow"].split(",")}
            assert allowed == GET_ONLY, (method, path, headers)
    assert snapshot(redis_url) == before


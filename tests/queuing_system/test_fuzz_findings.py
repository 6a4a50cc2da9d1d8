#!/usr/bin/env python3
"""The stock and seat apps' fuzzer findings (issue 10), one test each.

Each app runs as a real server, both as the seed runs it (``python3
9-stock.py`` / ``python3 100-seat.py``, Werkzeug) and on granian, on the
suite's Redis; requests go through ``http.client``, which sends a path
exactly as written.
"""
import http.client
import importlib
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


def test_head_reserve_product_reserves_nothing(start_app: Starter,
                                               redis_url: str) -> None:
    """Finding 4 (stock): HEAD /reserve_product/<id> takes no item.

    It answers the status and headers GET would answer at that moment
    (200 while stock is left, 409 when none is, 404 for an unknown id)
    without changing the stock.
    """
    server = start_app("9-stock")
    stock = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        for _ in range(6):
            status, headers, body = call(server, "HEAD", "/reserve_product/1")
            assert (status, body) == (200, b"")
            assert headers["content-type"].startswith(JSON_TYPE)
            assert stock.get("item.1") == "4"
        head_length = headers["content-length"]
        for left in (3, 2, 1, 0):
            status, headers, body = call(server, "GET", "/reserve_product/1")
            assert status == 200, body
            assert headers["content-length"] == head_length
            assert stock.get("item.1") == str(left)
        for method in ("HEAD", "GET"):
            status, _, _ = call(server, method, "/reserve_product/1")
            assert status == 409
        assert stock.get("item.1") == "0"
        assert call(server, "HEAD", "/reserve_product/99")[0] == 404
        assert stock.get("item.99") is None
    finally:
        stock.close()


def test_head_reserve_seat_queues_nothing(start_app: Starter,
                                          redis_url: str) -> None:
    """Finding 4 (seats): HEAD /reserve_seat queues no job and HEAD
    /process starts no worker; Redis is byte for byte unchanged.

    A GET afterwards does queue a job, so the snapshot would see one.
    """
    server = start_app("100-seat")
    status, _, body = call(server, "GET", "/available_seats")
    assert json.loads(body) == {"numberOfAvailableSeats": "50"}
    before = snapshot(redis_url)
    for path in ("/reserve_seat", "/reserve_seat", "/process",
                 "/reserve_seat"):
        status, headers, body = call(server, "HEAD", path)
        assert (status, body) == (200, b""), path
        assert headers["content-type"].startswith(JSON_TYPE)
        assert snapshot(redis_url) == before, path
    status, _, body = call(server, "GET", "/reserve_seat")
    assert json.loads(body) == {"status": "Reservation in process"}
    assert snapshot(redis_url) != before


def test_head_process_starts_no_worker(redis_url: str) -> None:
    """Finding 4 (seats): HEAD /process answers like GET but leaves the
    app's queue unprocessed (checked in process, where it is visible)."""
    seat = importlib.import_module("100-seat")
    app = seat.create_app({"REDIS_URL": redis_url})
    response = app.test_client().head("/process")
    assert response.status_code == 200
    assert response.mimetype == JSON_TYPE
    assert app.extensions["seats"].processing is False


EMPTY_SEGMENT_PATHS = {
    "9-stock": ["//list_products", "/list_products//", "/list_products//1",
                "/list_products/1//", "/list_products%2F%2F1",
                "/reserve_product//1", "/reserve_product/1//",
                "//reserve_product//1", "/reserve_product%2F%2F1", "//",
                "/%2F"],
    "100-seat": ["//available_seats", "/available_seats//",
                 "/reserve_seat//", "/reserve_seat%2F%2F", "/process//",
                 "//process//", "//", "/%2F"],
}


@pytest.mark.parametrize("module", sorted(EMPTY_SEGMENT_PATHS))
def test_paths_with_empty_segments_answer_json(
        start_app: Starter, module: str, redis_url: str) -> None:
    """Finding 5: // and %2F paths answer JSON, never a 308 with HTML.

    Werkzeug's slash merging redirected /reserve_product//1 to a
    reservation with an HTML body; now a path with an empty segment is a
    JSON 404 and reserves nothing, while the stock app's trailing-slash
    routes (/list_products/) still answer.
    """
    server = start_app(module)
    call(server, "GET", "/list_products/1" if module == "9-stock"
         else "/available_seats")
    before = snapshot(redis_url)
    for path in EMPTY_SEGMENT_PATHS[module]:
        for method in ("GET", "HEAD"):
            status, headers, body = call(server, method, path)
            assert not 300 <= status < 400, (method, path, status)
            assert "location" not in headers, (method, path)
            assert headers["content-type"].startswith(JSON_TYPE), (
                method, path, body)
            if method == "GET":
                json.loads(body)
    if module == "9-stock":
        for path in ("/list_products/", "/list_products/1/"):
            assert call(server, "GET", path)[0] == 200, path
    assert snapshot(redis_url) == before

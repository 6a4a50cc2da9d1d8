#!/usr/bin/env python3
"""The stock app on real servers: granian under load, outages, dev server.

200 concurrent reservations on two granian workers sell exactly the
stock; killing Redis gives 503 JSON and the app recovers by itself when
Redis is back on the same port; ``python3 9-stock.py`` honours
``HOST``/``PORT``.
"""
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Iterator

import pytest
import redis
import requests

from tests.support import (PYTHON, ROOT, ServerProcess, base_env,
                           free_port, http_get_ok)

GRANIAN = str(ROOT / ".venv" / "bin" / "granian")
Starter = Callable[..., ServerProcess]


@pytest.fixture
def stock_server(queuing_dir: Path) -> Iterator[Starter]:
    """Yield a function that starts the app on granian (stopped after)."""
    started = []

    def start(redis_url: str, workers: int = 2) -> ServerProcess:
        """Serve ``9-stock:app`` with granian for the given Redis URL."""
        port = free_port()
        server = ServerProcess(
            [GRANIAN, "--interface", "wsgi", "--host", "127.0.0.1",
             "--port", str(port), "--workers", str(workers), "--no-ws",
             "9-stock:app"],
            cwd=queuing_dir, env=base_env(REDIS_URL=redis_url), port=port)
        started.append(server)
        server.start()
        http_get_ok(server.url + "/list_products")
        return server

    yield start
    for server in started:
        server.stop()


def test_concurrent_reservations_sell_exactly_the_stock(
        stock_server: Starter, redis_url: str) -> None:
    """200 concurrent reservations of product 1: 4 confirmed, 0 left."""
    server = stock_server(redis_url)
    url = server.url + "/reserve_product/1"

    def reserve(_: int) -> tuple:
        """Send one reservation; return its status code and body."""
        response = requests.get(url, timeout=60)
        return response.status_code, response.json()

    with ThreadPoolExecutor(max_workers=100) as pool:
        answers = list(pool.map(reserve, range(200)))
    confirmed = [body for code, body in answers if code == 200]
    refused = [body for code, body in answers if code == 409]
    assert confirmed == [{"status": "Reservation confirmed",
                          "itemId": 1}] * 4
    assert refused == [{"status": "Not enough stock available",
                        "itemId": 1}] * 196
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    assert client.get("item.1") == "0"
    client.close()
    detail = requests.get(server.url + "/list_products/1", timeout=10)
    assert detail.json()["currentQuantity"] == 0


def test_redis_outage_gives_503_then_recovers(
        stock_server: Starter,
        redis_server_factory: Callable) -> None:
    """Redis killed: 503 JSON; Redis back on the same port: 200 again."""
    redis_server = redis_server_factory()
    server = stock_server(redis_server.url, workers=1)
    assert requests.get(server.url + "/reserve_product/4",
                        timeout=10).status_code == 200
    redis_server.stop()
    for path in ("/reserve_product/4", "/list_products/4"):
        response = requests.get(server.url + path, timeout=30)
        assert response.status_code == 503
        assert response.json() == {"status": "Service unavailable",
                                   "error": "Redis unavailable"}
    assert requests.get(server.url + "/list_products",
                        timeout=10).status_code == 200
    redis_server_factory(redis_server.port)
    deadline = time.monotonic() + 20
    while True:
        response = requests.get(server.url + "/list_products/4", timeout=30)
        if response.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert response.status_code == 200
    assert response.json()["currentQuantity"] == 5
    assert requests.get(server.url + "/reserve_product/4",
                        timeout=10).json()["status"] == (
        "Reservation confirmed")
    assert "Traceback" not in server.output()


def test_dev_server_honours_host_and_port(queuing_dir: Path,
                                          redis_url: str) -> None:
    """``python3 9-stock.py`` listens on HOST and PORT from the env."""
    port = free_port()
    server = ServerProcess(
        [PYTHON, "9-stock.py"], cwd=queuing_dir,
        env=base_env(REDIS_URL=redis_url, HOST="127.0.0.1", PORT=str(port)),
        port=port)
    server.start()
    try:
        response = http_get_ok(server.url + "/list_products/2")
        assert response.status_code == 200
        assert response.json()["currentQuantity"] == 10
    finally:
        server.stop()


@pytest.mark.parametrize("port", ["abc", "0", "70000", "-5"])
def test_dev_server_refuses_bad_port(queuing_dir: Path, port: str) -> None:
    """A bad PORT stops start-up with one clear line, no traceback."""
    result = subprocess.run(
        [PYTHON, "9-stock.py"], cwd=str(queuing_dir), capture_output=True,
        text=True, env=base_env(PORT=port), timeout=30)
    assert result.returncode != 0
    assert "PORT must be a number" in result.stderr
    assert "Traceback" not in result.stderr

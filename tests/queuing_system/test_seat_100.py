#!/usr/bin/env python3
"""Task 100-seat: seats reserved through the job queue, over real HTTP."""
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest
import requests

from tests.support import PYTHON, ServerProcess, base_env, http_get_ok

SEATS = 50


@pytest.fixture
def seat_app(redis_url: str, queuing_dir: Path) -> Iterator[ServerProcess]:
    """Run ``python3 100-seat.py`` on a free port against the test Redis."""
    server = ServerProcess([PYTHON, "100-seat.py"], queuing_dir,
                           base_env(REDIS_URL=redis_url))
    server.env["PORT"] = str(server.port)
    server.start()
    yield server
    server.stop()


def get(server: ServerProcess, path: str) -> requests.Response:
    """GET a path of the app."""
    return requests.get(server.url + path, timeout=10)


def wait_for(check: Callable[[], bool], timeout: float = 30) -> bool:
    """Poll a condition every 50 ms until it holds or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def test_available_seats_starts_at_50(seat_app: ServerProcess) -> None:
    """At start 50 seats are available, as a string."""
    answer = get(seat_app, "/available_seats")
    assert answer.status_code == 200
    assert answer.json() == {"numberOfAvailableSeats": "50"}


def test_60_jobs_50_succeed_10_fail_then_blocked(
        seat_app: ServerProcess) -> None:
    """60 reservations: 50 take a seat, 10 fail, reservations blocked."""
    for _ in range(60):
        answer = get(seat_app, "/reserve_seat")
        assert answer.json() == {"status": "Reservation in process"}
    answer = get(seat_app, "/process")
    assert answer.json() == {"status": "Queue processing"}

    def finished() -> bool:
        """Tell whether all 60 jobs were logged."""
        return seat_app.output().count("Seat reservation job ") >= 60

    assert wait_for(finished), seat_app.output()
    lines = [line for line in seat_app.output().splitlines()
             if line.startswith("Seat reservation job ")]
    completed = [line for line in lines if line.endswith(" completed")]
    failed = [line for line in lines
              if line.endswith(" failed: Not enough seats available")]
    assert len(completed) == SEATS and len(failed) == 10
    assert len(lines) == 60
    assert get(seat_app, "/available_seats").json() == {
        "numberOfAvailableSeats": "0"}
    assert get(seat_app, "/reserve_seat").json() == {
        "status": "Reservation are blocked"}


def test_process_twice_is_harmless(seat_app: ServerProcess) -> None:
    """Calling /process again answers the same and starts nothing more."""
    assert get(seat_app, "/process").json() == {"status": "Queue processing"}
    assert get(seat_app, "/process").json() == {"status": "Queue processing"}
    get(seat_app, "/reserve_seat")
    assert wait_for(lambda: get(seat_app, "/available_seats").json()
                    == {"numberOfAvailableSeats": "49"})


@pytest.mark.parametrize("path,status", [
    ("/nope", 404), ("/reserve_seat/1", 404), ("/available_seats/x", 404)])
def test_unknown_routes_answer_json(seat_app: ServerProcess, path: str,
                                    status: int) -> None:
    """Unknown paths get a JSON error, not HTML."""
    answer = get(seat_app, path)
    assert answer.status_code == status
    assert "error" in answer.json()


def test_post_is_405_json(seat_app: ServerProcess) -> None:
    """Another method than GET gets 405 JSON."""
    answer = requests.post(seat_app.url + "/reserve_seat", timeout=10)
    assert answer.status_code == 405
    assert answer.json() == {"error": "Method Not Allowed"}


def test_redis_outage_503_then_recovers(
        redis_server_factory: Callable, queuing_dir: Path) -> None:
    """With Redis down the app answers 503 JSON; it recovers by itself."""
    redis_server = redis_server_factory()
    server = ServerProcess([PYTHON, "100-seat.py"], queuing_dir,
                           base_env(REDIS_URL=redis_server.url))
    server.env["PORT"] = str(server.port)
    server.start()
    try:
        assert get(server, "/process").status_code == 200
        assert get(server, "/reserve_seat").status_code == 200
        assert wait_for(lambda: " completed" in server.output())
        redis_server.stop()
        down = get(server, "/available_seats")
        assert down.status_code == 503
        assert down.json()["error"] == "Redis unavailable"
        assert get(server, "/reserve_seat").status_code == 503
        redis_server_factory(redis_server.port)
        assert wait_for(lambda: get(server, "/available_seats")
                        .status_code == 200)
        answer = get(server, "/reserve_seat")
        assert answer.json() == {"status": "Reservation in process"}
        assert wait_for(lambda: get(server, "/available_seats").json()
                        == {"numberOfAvailableSeats": "49"})
        assert wait_for(lambda: server.output().count(" completed") == 2), \
            server.output()
    finally:
        server.stop()
    assert "Traceback" not in server.output()


def test_granian_serves_the_digit_named_module(
        redis_url: str, queuing_dir: Path) -> None:
    """``granian --interface wsgi 100-seat:app`` works from the folder."""
    server = ServerProcess(
        [str(Path(PYTHON).parent / "granian"), "--interface", "wsgi",
         "--host", "127.0.0.1", "--workers", "2", "--no-ws", "100-seat:app"],
        queuing_dir, base_env(REDIS_URL=redis_url))
    server.args[-1:-1] = ["--port", str(server.port)]
    server.start()
    try:
        answer = http_get_ok(server.url + "/available_seats")
        assert answer.json() == {"numberOfAvailableSeats": "50"}
        assert get(server, "/process").json() == {
            "status": "Queue processing"}
        for _ in range(3):
            assert get(server, "/reserve_seat").json() == {
                "status": "Reservation in process"}
        assert wait_for(lambda: get(server, "/available_seats").json()
                        == {"numberOfAvailableSeats": "47"})
    finally:
        server.stop()

#!/usr/bin/env python3
"""The seat app under anonymous flooding: a capped queue, per-client limits.

``GET /reserve_seat`` queues a job only while fewer than the seats left
plus RESERVATION_MARGIN reservations wait; beyond that it answers 409
``{"status": "Reservation failed"}`` and queues nothing. Each client may
ask RATELIMIT_RESERVE times (429 JSON beyond); HEAD counts for nothing.
"""
from pathlib import Path
from typing import Iterator

import pytest
import requests

from kue import Queue
from tests.queuing_system.test_seat_100 import get, wait_for
from tests.support import PYTHON, ServerProcess, base_env


@pytest.fixture
def start_seat_app(redis_url: str, queuing_dir: Path) -> Iterator:
    """Yield a starter of ``python3 100-seat.py`` with extra settings."""
    started = []

    def start(**env: str) -> ServerProcess:
        """Start the app with ``env`` on a free port."""
        server = ServerProcess([PYTHON, "100-seat.py"], queuing_dir,
                               base_env(REDIS_URL=redis_url, **env))
        server.env["PORT"] = str(server.port)
        started.append(server.start())
        return server

    yield start
    for server in started:
        server.stop()


def queued_jobs(redis_url: str) -> int:
    """Count the reservation jobs in Redis, whatever their state."""
    queue = Queue(redis_url)
    try:
        return sum(queue.counts("reserve_seat").values())
    finally:
        queue.shutdown()


def test_reservations_capped_at_seats_plus_margin(
        start_seat_app: object, redis_url: str) -> None:
    """50 seats, margin 10: 60 reservations queue, the next 40 are
    refused and queue nothing; processing then sells the 50 seats and
    the app says reservations are blocked."""
    app = start_seat_app(RATELIMIT_RESERVE="500/minute")
    answers = [get(app, "/reserve_seat") for _ in range(100)]
    assert [a.json() for a in answers[:60]] == [
        {"status": "Reservation in process"}] * 60
    for answer in answers[60:]:
        assert answer.status_code == 409
        assert answer.json() == {"status": "Reservation failed"}
    assert queued_jobs(redis_url) == 60
    assert get(app, "/process").json() == {"status": "Queue processing"}
    assert wait_for(lambda: app.output().count(
        "Seat reservation job ") >= 60), app.output()
    assert get(app, "/available_seats").json() == {
        "numberOfAvailableSeats": "0"}
    assert get(app, "/reserve_seat").json() == {
        "status": "Reservation are blocked"}
    assert queued_jobs(redis_url) == 60


def test_margin_0_queues_no_more_than_the_seats_left(
        start_seat_app: object) -> None:
    """With RESERVATION_MARGIN=0 the 51st reservation is refused; the
    50 queued ones sell every seat."""
    app = start_seat_app(RESERVATION_MARGIN="0",
                         RATELIMIT_RESERVE="500/minute")
    for _ in range(50):
        assert get(app, "/reserve_seat").status_code == 200
    assert get(app, "/reserve_seat").status_code == 409
    get(app, "/process")
    assert wait_for(lambda: app.output().count(
        "Seat reservation job ") >= 50), app.output()
    assert get(app, "/reserve_seat").json() == {
        "status": "Reservation are blocked"}


def test_reservations_rate_limited_per_client(start_seat_app: object
                                              ) -> None:
    """RATELIMIT_RESERVE=3/minute: the 4th GET answers 429 JSON and
    queues nothing; HEAD requests are not counted."""
    app = start_seat_app(RATELIMIT_RESERVE="3/minute")
    for _ in range(5):
        assert requests.head(app.url + "/reserve_seat",
                             timeout=10).status_code == 200
    codes = [get(app, "/reserve_seat").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    refused = get(app, "/reserve_seat")
    assert refused.status_code == 429
    assert refused.headers["Content-Type"] == "application/json"
    assert refused.json() == {"error": "Too Many Requests"}

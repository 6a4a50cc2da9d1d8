#!/usr/bin/env python3
"""A seat job that runs again (at-least-once delivery) takes no 2nd seat."""
import pytest

from redis_connection import make_client

seat_app = __import__("100-seat")


def test_a_job_run_twice_takes_one_seat(redis_url: str) -> None:
    """The second run of the same job id finds its seat already taken."""
    store = seat_app.SeatStore(make_client(redis_url), initial=2)
    store.reset()
    assert store.take("7") == 1
    assert store.take("7") == 1
    assert store.available() == 1
    assert store.take("8") == 0
    assert not store.enabled()
    assert store.take("7") == 1
    with pytest.raises(seat_app.NotEnoughSeats):
        store.take("9")
    assert store.available() == 0

#!/usr/bin/env python3
"""Rate limiting of the login view (LOGIN_RATE_LIMIT)."""
from typing import Callable

from tests.session_authentication.hardening import assert_json_error

EMAIL = "bob@hbtn.io"
PASSWORD = "H0lbertonSchool98!"


def test_fourth_login_in_a_minute_is_429(start_api: Callable,
                                         make_user: Callable) -> None:
    """With 3/minute, the 4th attempt (good or bad) answers 429 JSON."""
    api = start_api("session_db_auth", LOGIN_RATE_LIMIT="3/minute")
    make_user(EMAIL, PASSWORD)
    assert api.login(EMAIL, "wrong").status_code == 401
    assert api.login("nobody@hbtn.io", PASSWORD).status_code == 404
    first = api.login(EMAIL, PASSWORD)
    assert first.status_code == 200
    refused = api.login(EMAIL, PASSWORD)
    assert_json_error(refused, 429, "Too Many Requests")
    assert 1 <= int(refused.headers["Retry-After"]) <= 61
    assert "_my_session_id" not in refused.cookies
    assert_json_error(api.login(EMAIL, PASSWORD), 429)
    cookies = {"_my_session_id": first.cookies["_my_session_id"]}
    assert api.get("/users/me", cookies=cookies).status_code == 200


def test_off_disables_the_limit(start_api: Callable,
                                make_user: Callable) -> None:
    """LOGIN_RATE_LIMIT=off lets every attempt of an address through
    (the per-account back-off, tested in tests/security, still holds:
    20 addresses x 4 failures stay below it)."""
    api = start_api("session_db_auth", LOGIN_RATE_LIMIT="off")
    make_user(EMAIL, PASSWORD)
    for number in range(12):
        assert api.login("user{}@hbtn.io".format(number),
                         "wrong").status_code == 404
    for _ in range(4):
        assert api.login(EMAIL, "wrong").status_code == 401
    assert api.login(EMAIL, PASSWORD).status_code == 200


def test_limit_shared_by_workers_through_redis(
        start_api: Callable, make_user: Callable, redis_url: str) -> None:
    """With Redis storage, 2 production workers share one 3/minute limit."""
    api = start_api("session_db_auth", production=True, workers=2,
                    LOGIN_RATE_LIMIT="3/minute",
                    RATELIMIT_STORAGE_URI=redis_url)
    make_user(EMAIL, PASSWORD)
    statuses = [api.login(EMAIL, "wrong").status_code for _ in range(6)]
    assert statuses == [401, 401, 401, 429, 429, 429]


def test_limit_storage_down_fails_closed_then_recovers(
        start_api: Callable, make_user: Callable,
        redis_server_factory: Callable) -> None:
    """With its Redis storage down, login answers 503 JSON (no password
    check, no unlimited guessing), and works again once Redis is back."""
    redis = redis_server_factory()
    api = start_api("session_db_auth", LOGIN_RATE_LIMIT="30/minute",
                    RATELIMIT_STORAGE_URI=redis.url)
    make_user(EMAIL, PASSWORD)
    assert api.login(EMAIL, PASSWORD).status_code == 200
    redis.stop()
    for password in ("wrong", PASSWORD):
        assert_json_error(api.login(EMAIL, password), 503,
                          "Service Unavailable")
    redis.start()
    assert api.login(EMAIL, PASSWORD).status_code == 200

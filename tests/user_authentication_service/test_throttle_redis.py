#!/usr/bin/env python3
"""Login throttling with the limiter's storage in Redis.

Two app instances stand for two server processes: each has its own
storage client, so what one counts the other sees only through Redis.
With Redis down, rate-limited routes fail closed (503 JSON), never open.
"""
from typing import Any, Callable

PASSWORD = "correct horse"


def login(client: Any, password: str) -> Any:
    """POST /sessions for bob@me.com."""
    return client.post("/sessions", data={"email": "bob@me.com",
                                          "password": password})


def test_account_backoff_shared_across_processes(make_app: Callable,
                                                 redis_url: str) -> None:
    """Failures counted by one instance put the account in back-off in
    the other; the per-address limit is shared the same way."""
    settings = {"RATELIMIT_STORAGE_URI": redis_url,
                "LOGIN_BACKOFF_AFTER": 3, "LOGIN_BACKOFF_MAX": 60}
    first = make_app(**settings).test_client()
    second = make_app(**settings).test_client()
    first.post("/users", data={"email": "bob@me.com", "password": PASSWORD})
    assert login(first, "wrong").status_code == 401
    assert login(second, "wrong").status_code == 401
    assert login(first, "wrong").status_code == 401
    answer = login(second, PASSWORD)
    assert answer.status_code == 429
    assert answer.get_json() == {
        "message": "too many failed logins, retry later"}
    limited = {"RATELIMIT_STORAGE_URI": redis_url,
               "RATELIMIT_REGISTER": "2/minute"}
    one = make_app(**limited).test_client()
    two = make_app(**limited).test_client()
    form = {"email": "x@me.com", "password": PASSWORD}
    codes = [one.post("/users", data=form).status_code,
             two.post("/users", data=form).status_code,
             one.post("/users", data=form).status_code]
    assert codes == [200, 400, 429]


def test_limiter_fails_closed_when_redis_is_down(
        make_app: Callable, redis_server_factory: Callable) -> None:
    """With its storage down, login answers 503 JSON (no password check,
    no unlimited guessing), and works again once Redis is back."""
    redis = redis_server_factory()
    client = make_app(RATELIMIT_STORAGE_URI=redis.url).test_client()
    client.post("/users", data={"email": "bob@me.com", "password": PASSWORD})
    assert login(client, PASSWORD).status_code == 200
    redis.stop()
    for password in ("wrong", PASSWORD):
        answer = login(client, password)
        assert answer.status_code == 503
        assert answer.get_json() == {
            "message": "rate limit storage unavailable"}
    redis.start()
    assert login(client, PASSWORD).status_code == 200

#!/usr/bin/env python3
"""session_redis_auth against a real Redis: TTL, logout, expiry, outage.

Keys are read back with redis-py; the outage test freezes, then stops a
Redis server of its own, checks the API answers 503 JSON, then starts
Redis again on the same port and checks the API recovers without a
restart.
"""
import signal
import time
from typing import Callable

import redis

from tests.session_authentication.hardening import (
    assert_json_error, raw_get)

EMAIL = "bob@hbtn.io"
PASSWORD = "H0lbertonSchool98!"
COOKIE = "_my_session_id"
PREFIX = "users_api:session:"


def test_login_sets_key_with_ttl_and_logout_deletes_it(
        start_api: Callable, make_user: Callable, redis_url: str) -> None:
    """A login stores one key with TTL <= SESSION_DURATION; logout drops it."""
    api = start_api("session_redis_auth", REDIS_URL=redis_url,
                    SESSION_DURATION="60")
    user_id = make_user(EMAIL, PASSWORD)
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        login = api.login(EMAIL, PASSWORD)
        assert login.status_code == 200, login.text
        session_id = login.cookies[COOKIE]
        key = PREFIX + session_id
        assert client.get(key) == user_id
        assert 0 < client.ttl(key) <= 60
        assert client.keys(PREFIX + "*") == [key]

        for value in (b"0" * 36, b"x" * 3000, b"ab\x00cd", b"a*", b"*",
                      b"%00", session_id.encode() + b"x"):
            status, _, body = raw_get(
                api.server.port, b"/api/v1/users/me",
                b"Cookie: " + COOKIE.encode() + b"=" + value + b"\r\n")
            assert status in (401, 403), (value, body)
        assert client.keys(PREFIX + "*") == [key]

        cookies = {COOKIE: session_id}
        assert api.get("/users/me", cookies=cookies).status_code == 200
        logout = api.delete("/auth_session/logout", cookies=cookies)
        assert logout.status_code == 200 and logout.json() == {}
        assert client.exists(key) == 0
        assert_json_error(api.get("/users/me", cookies=cookies), 403)
        assert_json_error(api.delete("/auth_session/logout",
                                     cookies=cookies), 403)
    finally:
        client.close()


def test_session_expires(start_api: Callable, make_user: Callable,
                         redis_url: str) -> None:
    """With SESSION_DURATION=1 the session is refused after 1.5 s."""
    api = start_api("session_redis_auth", REDIS_URL=redis_url,
                    SESSION_DURATION="1")
    make_user(EMAIL, PASSWORD)
    login = api.login(EMAIL, PASSWORD)
    assert login.status_code == 200, login.text
    cookies = {COOKIE: login.cookies[COOKIE]}
    assert api.get("/users/me", cookies=cookies).status_code == 200
    time.sleep(1.5)
    assert_json_error(api.get("/users/me", cookies=cookies), 403,
                      "Forbidden")


def test_redis_outage_is_503_and_recovers(
        start_api: Callable, make_user: Callable,
        redis_server_factory: Callable) -> None:
    """Redis frozen (past the session cache's second) or down: 503 JSON;
    Redis back: answers again.

    Also checks SESSION_DURATION=0 stores keys without expiry. A frozen
    Redis (SIGSTOP) keeps its data, so the same session works again after
    SIGCONT; a stopped memory-only Redis loses it, so one logs in again.
    """
    server = redis_server_factory()
    api = start_api("session_redis_auth", REDIS_URL=server.url,
                    SESSION_DURATION="0")
    user_id = make_user(EMAIL, PASSWORD)
    login = api.login(EMAIL, PASSWORD)
    assert login.status_code == 200, login.text
    cookies = {COOKIE: login.cookies[COOKIE]}
    assert api.get("/users/me", cookies=cookies).status_code == 200
    client = redis.Redis.from_url(server.url)
    try:
        assert client.ttl(PREFIX + login.cookies[COOKIE]) == -1
    finally:
        client.close()

    server.proc.send_signal(signal.SIGSTOP)
    try:
        # A session read less than a second ago may still be served from
        # the process's cache (test_redis_session_cache.py); after that
        # second it needs Redis.
        time.sleep(1.0)
        assert_json_error(api.get("/users/me", cookies=cookies), 503,
                          "Service Unavailable")
    finally:
        server.proc.send_signal(signal.SIGCONT)
    assert api.get("/users/me", cookies=cookies).status_code == 200

    server.stop()
    for _ in range(2):
        assert_json_error(api.get("/users/me", cookies=cookies), 503,
                          "Service Unavailable")
    assert_json_error(api.login(EMAIL, PASSWORD), 503,
                      "Service Unavailable")
    assert_json_error(api.delete("/auth_session/logout", cookies=cookies),
                      503, "Service Unavailable")
    assert api.get("/status").json() == {"status": "OK"}

    redis_server_factory(server.port)
    assert_json_error(api.get("/users/me", cookies=cookies), 403,
                      "Forbidden")
    login = api.login(EMAIL, PASSWORD)
    assert login.status_code == 200, login.text
    me = api.get("/users/me", cookies={COOKIE: login.cookies[COOKIE]})
    assert me.status_code == 200 and me.json()["id"] == user_id
    assert "Traceback" not in api.server.output()


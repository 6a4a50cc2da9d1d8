#!/usr/bin/env python3
"""What survives a ``kill -9`` of the production server, and expiry.

SQL (``session_db_auth``) and Redis (``session_redis_auth``) sessions,
and users, survive a SIGKILL of the whole granian process group and a
restart on the same database and Redis; memory sessions
(``session_auth``) are lost, as documented. Expired SQL sessions are
refused and their rows deleted.
"""
import time
from typing import Callable

import pytest

from tests.session_authentication.hardening import (
    assert_json_error, count_rows, user_count)

EMAIL = "bob@hbtn.io"
PASSWORD = "H0lbertonSchool98!"
COOKIE = "_my_session_id"


@pytest.mark.parametrize("auth_type, production", [
    ("session_db_auth", True), ("session_redis_auth", True),
    ("session_db_auth", False)], ids=["db", "redis", "db-dev-server"])
def test_sessions_and_users_survive_kill_9(
        start_api: Callable, make_user: Callable, redis_url: str,
        database_url: str, auth_type: str, production: bool) -> None:
    """Log in, add a user, kill -9 the server, restart: both still there.

    The user is made by another process while the server runs, and the
    session row is read back by a third connection: the server's commits
    must be visible to everyone (a SQLite WAL deleted under a running
    server once made them vanish).
    """
    api = start_api(auth_type, production=production, workers=2,
                    REDIS_URL=redis_url)
    user_id = make_user(EMAIL, PASSWORD)
    login = api.login(EMAIL, PASSWORD)
    assert login.status_code == 200, login.text
    cookies = {COOKIE: login.cookies[COOKIE]}
    if auth_type == "session_db_auth":
        assert count_rows(database_url, "api_user_sessions") == 1
    created = api.post("/users", cookies=cookies, json={
        "email": "alice@hbtn.io", "password": "pwd", "first_name": "Alice"})
    assert created.status_code == 201, created.text
    api.server.kill()
    assert api.server.proc.returncode is not None

    again = start_api(auth_type, production=production, workers=2,
                      REDIS_URL=redis_url)
    me = again.get("/users/me", cookies=cookies)
    assert me.status_code == 200, me.text
    assert me.json()["id"] == user_id
    assert user_count(again, cookies=cookies) == 2
    alice = again.get("/users/" + created.json()["id"], cookies=cookies)
    assert alice.status_code == 200
    assert alice.json()["first_name"] == "Alice"


def test_memory_sessions_are_lost_on_restart(
        start_api: Callable, make_user: Callable) -> None:
    """session_auth keeps sessions in memory: 403 after a restart."""
    api = start_api("session_auth", production=True, workers=1)
    make_user(EMAIL, PASSWORD)
    login = api.login(EMAIL, PASSWORD)
    assert login.status_code == 200, login.text
    cookies = {COOKIE: login.cookies[COOKIE]}
    assert api.get("/users/me", cookies=cookies).status_code == 200
    api.server.kill()

    again = start_api("session_auth", production=True, workers=1)
    assert_json_error(again.get("/users/me", cookies=cookies), 403,
                      "Forbidden")
    login = again.login(EMAIL, PASSWORD)
    assert login.status_code == 200, "the user itself survived"


def test_expired_db_session_is_refused_and_deleted(
        start_api: Callable, make_user: Callable,
        database_url: str) -> None:
    """With SESSION_DURATION=1 an old session row gets 403 and is gone."""
    api = start_api("session_db_auth", SESSION_DURATION="1")
    make_user(EMAIL, PASSWORD)
    login = api.login(EMAIL, PASSWORD)
    assert login.status_code == 200, login.text
    cookies = {COOKIE: login.cookies[COOKIE]}
    assert api.get("/users/me", cookies=cookies).status_code == 200
    assert count_rows(database_url, "api_user_sessions") == 1
    time.sleep(1.5)
    assert_json_error(api.get("/users/me", cookies=cookies), 403,
                      "Forbidden")
    assert count_rows(database_url, "api_user_sessions") == 0
    assert api.login(EMAIL, PASSWORD).status_code == 200
    assert count_rows(database_url, "api_user_sessions") == 1

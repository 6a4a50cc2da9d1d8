#!/usr/bin/env python3
"""Replays of the seeds' curl sessions against a real API server process.

Each test follows one task's transcript (tasks 0, 1, 5, 7, 8, 9 and 10
of the session seeds) with the same requests, status codes, JSON bodies
and cookies; the server is started as the seed starts it, with
``python3 -m api.v1.app`` and the seed's environment variables.
"""
import re
import time
from typing import Callable

import pytest
import requests

from tests.session_authentication.conftest import Api

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
BOB_BASIC = "Basic Ym9iQGhidG4uaW86SDBsYmVydG9uU2Nob29sOTgh"
USER_KEYS = {"created_at", "email", "first_name", "id", "last_name",
             "updated_at"}
SESSION_TYPES = ["session_auth", "session_exp_auth", "session_db_auth",
                 "session_redis_auth"]
TIMESTAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"


def assert_user_json(body: dict, user_id: str, email: str) -> None:
    """Check a user's JSON is exactly the seed's shape and values."""
    assert set(body) == USER_KEYS
    assert body["id"] == user_id
    assert body["email"] == email
    assert body["first_name"] is None and body["last_name"] is None
    assert re.fullmatch(TIMESTAMP, body["created_at"])
    assert re.fullmatch(TIMESTAMP, body["updated_at"])


def test_task_0_basic_auth_and_users_me(
        run_seed: Callable, start_api: Callable) -> None:
    """Task 0: Basic auth opens /users and /users/me for main_0's user."""
    created = run_seed("main_0.py", AUTH_TYPE="basic_auth")
    user_id = re.search("New user: (" + UUID + ")",
                        created.stdout).group(1)
    api = start_api("basic_auth")
    answer = api.get("/status")
    assert (answer.status_code, answer.json()) == (200, {"status": "OK"})
    answer = api.get("/users")
    assert (answer.status_code, answer.json()) == (
        401, {"error": "Unauthorized"})
    answer = api.get("/users", headers={"Authorization": BOB_BASIC})
    assert answer.status_code == 200
    assert len(answer.json()) == 1
    assert_user_json(answer.json()[0], user_id, "bob@hbtn.io")
    answer = api.get("/users/me", headers={"Authorization": BOB_BASIC})
    assert answer.status_code == 200
    assert_user_json(answer.json(), user_id, "bob@hbtn.io")


def test_task_1_empty_session_auth(start_api: Callable) -> None:
    """Task 1: with session_auth, status is open and users need auth."""
    api = start_api("session_auth")
    for path in ("/status", "/status/"):
        answer = api.get(path)
        assert (answer.status_code, answer.json()) == (
            200, {"status": "OK"})
    answer = api.get("/users")
    assert (answer.status_code, answer.json()) == (
        401, {"error": "Unauthorized"})
    answer = api.get("/users", headers={"Authorization": "Test"})
    assert (answer.status_code, answer.json()) == (
        403, {"error": "Forbidden"})


def test_task_5_before_request(start_api: Callable) -> None:
    """Task 5: login path not blocked; no credentials 401; bad ones 403.

    In the seed the login route did not exist yet (404 "Not found"); it
    exists now and answers GET with 405, still unblocked by auth.
    """
    api = start_api("session_auth")
    assert api.get("/status").json() == {"status": "OK"}
    answer = api.get("/auth_session/login")
    assert answer.status_code == 405
    assert answer.status_code not in (401, 403)
    answer = api.get("/users/me")
    assert (answer.status_code, answer.json()) == (
        401, {"error": "Unauthorized"})
    answer = api.get("/users/me", headers={"Authorization": BOB_BASIC})
    assert (answer.status_code, answer.json()) == (
        403, {"error": "Forbidden"})
    answer = api.get("/users/me", cookies={
        "_my_session_id": "5535d4d7-3d77-4d06-8281-495dc3acfe76"})
    assert (answer.status_code, answer.json()) == (
        403, {"error": "Forbidden"})


def login_errors_and_success(api: Api, user_id: str) -> requests.Response:
    """Replay task 7's login requests; return the successful answer."""
    answer = api.get("/auth_session/login")
    assert answer.status_code == 405
    assert answer.json() == {"error": "Method Not Allowed"}
    answer = api.post("/auth_session/login")
    assert (answer.status_code, answer.json()) == (
        400, {"error": "email missing"})
    answer = api.post("/auth_session/login",
                      data={"email": "guillaume@hbtn.io"})
    assert (answer.status_code, answer.json()) == (
        400, {"error": "password missing"})
    answer = api.login("guillaume@hbtn.io", "test")
    assert (answer.status_code, answer.json()) == (
        404, {"error": "no user found for this email"})
    answer = api.login("bobsession@hbtn.io", "test")
    assert (answer.status_code, answer.json()) == (
        401, {"error": "wrong password"})
    answer = api.login("bobsession@hbtn.io", "fake pwd")
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert_user_json(answer.json(), user_id, "bobsession@hbtn.io")
    return answer


def session_cookie(answer: requests.Response) -> str:
    """Check the Set-Cookie header of a login; return the session id."""
    header = answer.headers["Set-Cookie"]
    match = re.match("_my_session_id=(" + UUID + ");", header)
    assert match, header
    attributes = {part.strip().split("=")[0]
                  for part in header.split(";")[1:]}
    assert {"Path", "HttpOnly", "SameSite"} <= attributes
    assert "Path=/" in header and "SameSite=Lax" in header
    assert "Secure" not in attributes
    return match.group(1)


@pytest.mark.parametrize("auth_type", SESSION_TYPES)
def test_tasks_7_8_login_me_logout(
        auth_type: str, make_user: Callable, start_api: Callable,
        redis_url: str) -> None:
    """Tasks 7 and 8, for every session type: log in, me, log out."""
    user_id = make_user("bobsession@hbtn.io", "fake pwd")
    api = start_api(auth_type, REDIS_URL=redis_url)
    session_id = session_cookie(login_errors_and_success(api, user_id))
    cookies = {"_my_session_id": session_id}
    answer = api.get("/users/me", cookies=cookies)
    assert answer.status_code == 200
    assert_user_json(answer.json(), user_id, "bobsession@hbtn.io")
    answer = api.get("/auth_session/logout", cookies=cookies)
    assert answer.status_code == 405
    answer = api.delete("/auth_session/logout", cookies=cookies)
    assert (answer.status_code, answer.json()) == (200, {})
    answer = api.get("/users/me", cookies=cookies)
    assert (answer.status_code, answer.json()) == (
        403, {"error": "Forbidden"})


def test_login_cookie_secure_when_configured(
        make_user: Callable, start_api: Callable) -> None:
    """SESSION_COOKIE_SECURE=1 adds Secure to the session cookie."""
    make_user("bobsession@hbtn.io", "fake pwd")
    api = start_api("session_db_auth", SESSION_COOKIE_SECURE="1")
    answer = api.login("bobsession@hbtn.io", "fake pwd")
    assert "Secure" in answer.headers["Set-Cookie"]


def wait_past(start: float, seconds: float) -> None:
    """Sleep until `seconds` have passed since `start` (monotonic)."""
    time.sleep(max(0.0, start + seconds - time.monotonic()))


@pytest.mark.parametrize("auth_type", ["session_exp_auth",
                                       "session_db_auth",
                                       "session_redis_auth"])
def test_tasks_9_10_session_expires(
        auth_type: str, make_user: Callable, start_api: Callable,
        redis_url: str) -> None:
    """Tasks 9 and 10: a session works, then is refused once expired.

    The seed uses SESSION_DURATION=60 and sleeps; 2 seconds keep the
    same sequence short.
    """
    user_id = make_user("bobsession@hbtn.io", "fake pwd")
    api = start_api(auth_type, SESSION_DURATION="2", REDIS_URL=redis_url)
    answer = api.login("bobsession@hbtn.io", "fake pwd")
    started = time.monotonic()
    cookies = {"_my_session_id": session_cookie(answer)}
    answer = api.get("/users/me", cookies=cookies)
    assert answer.status_code == 200
    assert answer.json()["id"] == user_id
    wait_past(started, 3.1)
    answer = api.get("/users/me", cookies=cookies)
    assert (answer.status_code, answer.json()) == (
        403, {"error": "Forbidden"})


@pytest.mark.parametrize("duration", ["", "abc", "0", "-5"])
def test_task_9_no_expiry_when_duration_unset_or_bad(
        duration: str, make_user: Callable, start_api: Callable) -> None:
    """SESSION_DURATION unset, not an integer, 0 or negative: no expiry."""
    make_user("bobsession@hbtn.io", "fake pwd")
    api = start_api("session_exp_auth", SESSION_DURATION=duration)
    answer = api.login("bobsession@hbtn.io", "fake pwd")
    cookies = {"_my_session_id": session_cookie(answer)}
    assert api.get("/users/me", cookies=cookies).status_code == 200

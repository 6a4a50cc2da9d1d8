#!/usr/bin/env python3
"""Security basics of the users API that hold in every profile.

A login ends the session its request carried; every answer says
``nosniff``, and one that sets the session cookie is never cached; a
SESSION_NAME that is not a cookie token stops start-up; the SQLite file
is readable by its owner only.
"""
import stat
import subprocess
from pathlib import Path
from typing import Callable

import pytest

from tests.support import PYTHON


@pytest.mark.parametrize("auth_type", [
    "session_auth", "session_exp_auth", "session_db_auth",
    "session_redis_auth"])
def test_login_ends_the_session_the_request_carried(
        auth_type: str, start_api: Callable, make_user: Callable,
        redis_url: str) -> None:
    """Logging in again with a session cookie gives a new session id and
    the old one stops working at once."""
    make_user("bob@hbtn.io", "pwd")
    api = start_api(auth_type, SESSION_DURATION="600", REDIS_URL=redis_url)
    old = api.login("bob@hbtn.io", "pwd").cookies["_my_session_id"]
    again = api.post("/auth_session/login", cookies={"_my_session_id": old},
                     data={"email": "bob@hbtn.io", "password": "pwd"})
    assert again.status_code == 200
    new = again.cookies["_my_session_id"]
    assert new != old
    assert api.get("/users/me", cookies={
        "_my_session_id": old}).status_code == 403
    assert api.get("/users/me", cookies={
        "_my_session_id": new}).status_code == 200


def test_headers_nosniff_everywhere_and_no_store_on_login(
        start_api: Callable, make_user: Callable) -> None:
    """Every answer carries nosniff; the login answer is not cacheable."""
    make_user("bob@hbtn.io", "pwd")
    api = start_api("session_db_auth")
    login = api.login("bob@hbtn.io", "pwd")
    assert login.headers["Cache-Control"] == "no-store"
    answers = [login, api.get("/status"), api.get("/users"),
               api.get("/nowhere"), api.post("/users", data="x")]
    for answer in answers:
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" not in api.get("/status").headers.get(
        "Cache-Control", "")


@pytest.mark.parametrize("name", ["bad\r\nname", "a b", "a;b", "é"])
def test_session_name_not_a_cookie_token_stops_start_up(
        name: str, api_env: dict, tmp_path: Path) -> None:
    """A SESSION_NAME with CR/LF, spaces or separators: one line, exit 2."""
    env = dict(api_env, AUTH_TYPE="session_db_auth", SESSION_NAME=name)
    done = subprocess.run([PYTHON, "-m", "api.v1.app"], cwd=tmp_path,
                          env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "SESSION_NAME" in lines[0], done.stderr


def test_sqlite_file_is_private(api_env: dict, tmp_path: Path) -> None:
    """The SQLite file the API creates is readable by its owner only."""
    path = tmp_path / "fresh.db"
    env = dict(api_env, DATABASE_URL="sqlite:///{}".format(path))
    code = "from api.v1.app import app\n"
    subprocess.run([PYTHON, "-c", code], cwd=tmp_path, env=env, check=True,
                   timeout=60)
    for found in [path] + list(tmp_path.glob("fresh.db-*")):
        if found.name.endswith("migrate-lock"):
            continue
        assert stat.S_IMODE(found.stat().st_mode) & 0o077 == 0, found


def test_64_characters_of_any_script_through_http(
        start_api: Callable, make_user: Callable) -> None:
    """POST /users with 64 x "é" (128 bytes) creates a user who logs in
    with exactly that password, and not with a prefix of it."""
    make_user("admin@hbtn.io", "pwd")
    api = start_api("session_db_auth")
    admin = api.login("admin@hbtn.io", "pwd").cookies
    created = api.post("/users", cookies=admin, json={
        "email": "e@hbtn.io", "password": "é" * 64})
    assert created.status_code == 201, created.text
    assert api.login("e@hbtn.io", "é" * 64).status_code == 200
    assert api.login("e@hbtn.io", "é" * 36).status_code == 401


def test_login_rehashes_after_a_cost_change(
        start_api: Callable, make_user: Callable, api_env: dict,
        tmp_path: Path) -> None:
    """A user whose hash has cost 4 gets a cost-5 hash at login once
    BCRYPT_ROUNDS is 5, and still logs in."""
    user_id = make_user("bob@hbtn.io", "pwd")
    api = start_api("session_db_auth", BCRYPT_ROUNDS="5")
    assert api.login("bob@hbtn.io", "pwd").status_code == 200
    code = ("from models.user import User\n"
            "print(User.get({!r}).password)\n").format(user_id)
    done = subprocess.run([PYTHON, "-c", code], cwd=tmp_path, env=api_env,
                          capture_output=True, text=True, check=True,
                          timeout=60)
    assert "$2b$05$" in done.stdout
    assert api.login("bob@hbtn.io", "pwd").status_code == 200

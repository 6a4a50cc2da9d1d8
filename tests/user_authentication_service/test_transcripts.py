#!/usr/bin/env python3
"""Replay the seed's curl sessions (tasks 7, 11, 15) and run task 20.

Each test starts the seed's development server (``python3 app.py``) on a
free port and checks status codes, JSON bodies and the Set-Cookie line.
"""
import re
import subprocess
from typing import Callable

import requests

from tests.support import PYTHON, base_env
from tests.user_authentication_service.conftest import APP_DIR, post_form

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"


def cookie_attributes(header: str) -> tuple:
    """Split a Set-Cookie header into (name, value, set of attributes)."""
    first, *rest = [part.strip() for part in header.split(";")]
    name, _, value = first.partition("=")
    return name, value, {part.lower() for part in rest}


def test_task7_register_then_duplicate_400(start_server: Callable) -> None:
    """POST /users creates bob@me.com once, then answers 400."""
    url = start_server("dev").url
    first = post_form(url + "/users", email="bob@me.com",
                      password="mySuperPwd")
    assert first.status_code == 200
    assert first.headers["Content-Type"] == "application/json"
    assert first.json() == {"email": "bob@me.com",
                            "message": "user created"}
    second = post_form(url + "/users", email="bob@me.com",
                       password="mySuperPwd")
    assert second.status_code == 400
    assert second.json() == {"message": "email already registered"}


def test_task11_login_sets_cookie_and_bad_password_401(
        start_server: Callable) -> None:
    """POST /sessions sets session_id (Path=/, HttpOnly, Lax) or says 401."""
    url = start_server("dev").url
    created = post_form(url + "/users", email="bob@bob.com",
                        password="mySuperPwd")
    assert created.json() == {"email": "bob@bob.com",
                              "message": "user created"}
    good = post_form(url + "/sessions", email="bob@bob.com",
                     password="mySuperPwd")
    assert good.status_code == 200
    assert good.json() == {"email": "bob@bob.com", "message": "logged in"}
    name, value, attributes = cookie_attributes(good.headers["Set-Cookie"])
    assert name == "session_id" and re.fullmatch(UUID, value)
    assert {"path=/", "httponly", "samesite=lax"} <= attributes
    assert "secure" not in attributes
    bad = post_form(url + "/sessions", email="bob@bob.com",
                    password="BlaBla")
    assert bad.status_code == 401
    assert "Set-Cookie" not in bad.headers


def test_task15_profile_with_and_without_session(
        start_server: Callable) -> None:
    """GET /profile answers the email for a live session, else 403."""
    url = start_server("dev").url
    post_form(url + "/users", email="bob@bob.com", password="mySuperPwd")
    login = post_form(url + "/sessions", email="bob@bob.com",
                      password="mySuperPwd")
    session_id = login.cookies["session_id"]
    mine = requests.get(url + "/profile", timeout=30,
                        cookies={"session_id": session_id})
    assert mine.status_code == 200
    assert mine.json() == {"email": "bob@bob.com"}
    nope = requests.get(url + "/profile", timeout=30,
                        cookies={"session_id": "nope"})
    assert nope.status_code == 403
    assert nope.headers["Content-Type"] == "application/json"


def test_index_says_bienvenue(start_server: Callable) -> None:
    """GET / answers the seed's welcome message."""
    response = requests.get(start_server("dev").url + "/", timeout=30)
    assert response.status_code == 200
    assert response.json() == {"message": "Bienvenue"}


def test_task20_main_passes_silently(start_server: Callable) -> None:
    """The task-20 main.py exits 0 and prints nothing against a server."""
    server = start_server("dev")
    result = subprocess.run(
        [PYTHON, "main.py"], cwd=APP_DIR, capture_output=True, text=True,
        timeout=120, env=base_env(AUTH_SERVICE_URL=server.url))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""

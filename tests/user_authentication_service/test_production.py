#!/usr/bin/env python3
"""The production server (granian, several processes): data and races.

Users and sessions live in the database, so they survive a ``kill -9``
of the server, and concurrent registrations of one email across worker
processes end with exactly one row.
"""
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import requests

from tests.user_authentication_service.conftest import count_users, post_form


def test_user_and_session_survive_kill_9(start_server: Callable) -> None:
    """A user registered before kill -9 and a restart can still log in."""
    server = start_server("granian", workers=2)
    url = server.url
    assert post_form(url + "/users", email="keep@me.com",
                     password="pwd").status_code == 200
    session_id = post_form(url + "/sessions", email="keep@me.com",
                           password="pwd").cookies["session_id"]
    server.kill()
    again = start_server("granian", workers=2, port=server.port)
    login = post_form(again.url + "/sessions", email="keep@me.com",
                      password="pwd")
    assert login.status_code == 200
    assert login.json() == {"email": "keep@me.com", "message": "logged in"}
    old = requests.get(again.url + "/profile", timeout=30,
                       cookies={"session_id": session_id})
    assert old.status_code == 403, "a new login replaces the old session"
    new = requests.get(again.url + "/profile", timeout=30,
                       cookies={"session_id": login.cookies["session_id"]})
    assert new.json() == {"email": "keep@me.com"}


def test_session_survives_kill_9(start_server: Callable) -> None:
    """A session cookie issued before kill -9 still works after restart."""
    server = start_server("dev")
    post_form(server.url + "/users", email="s@me.com", password="pwd")
    session_id = post_form(server.url + "/sessions", email="s@me.com",
                           password="pwd").cookies["session_id"]
    server.kill()
    again = start_server("dev", port=server.port)
    response = requests.get(again.url + "/profile", timeout=30,
                            cookies={"session_id": session_id})
    assert response.json() == {"email": "s@me.com"}


def test_50_concurrent_duplicate_registrations_one_row(
        start_server: Callable, database_url: str) -> None:
    """50 concurrent POST /users of one email: one 200, 49 x 400, 1 row."""
    url = start_server("granian", workers=2).url

    def register(_index: int) -> tuple:
        """Register the shared email once; return (status, JSON body)."""
        response = post_form(url + "/users", email="race@me.com",
                             password="pwd")
        return response.status_code, response.json()

    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(register, range(50)))
    created = [body for status, body in answers if status == 200]
    refused = [body for status, body in answers if status == 400]
    assert created == [{"email": "race@me.com", "message": "user created"}]
    assert refused == [{"message": "email already registered"}] * 49
    assert count_users(database_url) == 1


def test_concurrent_logins_of_one_user_one_live_session(
        start_server: Callable) -> None:
    """20 concurrent logins of one user (production profile, 2 worker
    processes): every one answers 200, and exactly one of the issued
    sessions is live afterwards (one session per user, with its
    timestamps written in the same transaction)."""
    env = {"APP_PROFILE": "production", "BCRYPT_ROUNDS": "10",
           "SESSION_COOKIE_NAME": "__Secure-sid"}
    url = start_server("granian", workers=2, **env).url
    assert post_form(url + "/users", email="c@me.com",
                     password="password1").status_code == 200

    def log_in(_index: int) -> requests.Response:
        """Log the shared user in once."""
        return post_form(url + "/sessions", email="c@me.com",
                         password="password1")

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(log_in, range(20)))
    assert [answer.status_code for answer in answers] == [200] * 20
    ids = {answer.headers["Set-Cookie"].split(";")[0].split("=", 1)[1]
           for answer in answers}
    live = [session_id for session_id in ids if requests.get(
        url + "/profile", timeout=30,
        headers={"Cookie": "__Secure-sid=" + session_id}).status_code == 200]
    assert len(ids) == 20 and len(live) == 1

#!/usr/bin/env python3
"""End-to-end check of the running service (seed task 20).

Queries a live server, by default http://localhost:5000 (set
AUTH_SERVICE_URL to point elsewhere), and asserts every answer.
Prints nothing when everything is correct.
"""
import os

import requests

BASE_URL = os.environ.get("AUTH_SERVICE_URL",
                          "http://localhost:5000").rstrip("/")
TIMEOUT = 30


def register_user(email: str, password: str) -> None:
    """Register a new user and check the answer."""
    response = requests.post(BASE_URL + "/users", timeout=TIMEOUT,
                             data={"email": email, "password": password})
    assert response.status_code == 200
    assert response.json() == {"email": email, "message": "user created"}


def log_in_wrong_password(email: str, password: str) -> None:
    """Log in with a wrong password and expect 401 without a cookie."""
    response = requests.post(BASE_URL + "/sessions", timeout=TIMEOUT,
                             data={"email": email, "password": password})
    assert response.status_code == 401
    assert "session_id" not in response.cookies


def log_in(email: str, password: str) -> str:
    """Log in and return the session id set in the cookie."""
    response = requests.post(BASE_URL + "/sessions", timeout=TIMEOUT,
                             data={"email": email, "password": password})
    assert response.status_code == 200
    assert response.json() == {"email": email, "message": "logged in"}
    session_id = response.cookies.get("session_id")
    assert session_id
    return session_id


def profile_unlogged() -> None:
    """Ask for the profile without a session and expect 403."""
    response = requests.get(BASE_URL + "/profile", timeout=TIMEOUT)
    assert response.status_code == 403


def profile_logged(session_id: str) -> None:
    """Ask for the profile with a session and expect the user's email."""
    response = requests.get(BASE_URL + "/profile", timeout=TIMEOUT,
                            cookies={"session_id": session_id})
    assert response.status_code == 200
    assert response.json() == {"email": EMAIL}


def log_out(session_id: str) -> None:
    """Log out, expect a redirect to GET /, and the session to be gone."""
    response = requests.delete(BASE_URL + "/sessions", timeout=TIMEOUT,
                               cookies={"session_id": session_id})
    assert response.history and response.history[0].status_code == 302
    assert response.status_code == 200
    assert response.json() == {"message": "Bienvenue"}
    again = requests.get(BASE_URL + "/profile", timeout=TIMEOUT,
                         cookies={"session_id": session_id})
    assert again.status_code == 403


def reset_password_token(email: str) -> str:
    """Ask for a reset token and return it."""
    response = requests.post(BASE_URL + "/reset_password", timeout=TIMEOUT,
                             data={"email": email})
    assert response.status_code == 200
    body = response.json()
    assert body["email"] == email
    assert body["reset_token"]
    return body["reset_token"]


def update_password(email: str, reset_token: str, new_password: str) -> None:
    """Set a new password with the reset token."""
    response = requests.put(BASE_URL + "/reset_password", timeout=TIMEOUT,
                            data={"email": email, "reset_token": reset_token,
                                  "new_password": new_password})
    assert response.status_code == 200
    assert response.json() == {"email": email,
                               "message": "Password updated"}


EMAIL = "guillaume@holberton.io"
PASSWD = "b4l0u"
NEW_PASSWD = "t4rt1fl3tt3"


if __name__ == "__main__":

    register_user(EMAIL, PASSWD)
    log_in_wrong_password(EMAIL, NEW_PASSWD)
    profile_unlogged()
    session_id = log_in(EMAIL, PASSWD)
    profile_logged(session_id)
    log_out(session_id)
    reset_token = reset_password_token(EMAIL)
    update_password(EMAIL, reset_token, NEW_PASSWD)
    log_in(EMAIL, NEW_PASSWD)

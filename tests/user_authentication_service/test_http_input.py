#!/usr/bin/env python3
"""Bad input over HTTP: always a 4xx JSON answer, never a 500, no row.

Uses the Flask test client of an in-process app on the test's database.
"""
import json
from typing import Any, Callable

import pytest

from tests.user_authentication_service.conftest import count_users

FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def edge_client(make_edge_app: Callable) -> Any:
    """Return a client on SQLite for checks that stop at the HTTP edge."""
    return make_edge_app().test_client()


def assert_json_error(response: Any, status: int) -> None:
    """The answer has the status and a JSON body with a message."""
    assert response.status_code == status, response.data
    assert response.mimetype == "application/json"
    assert isinstance(response.get_json()["message"], str)


BAD_REGISTRATIONS = [
    (b"", FORM),
    (b"email=&password=x", FORM),
    (b"email=a@b.c", FORM),
    (b"email=a@b.c&password=", FORM),
    (b"password=x", FORM),
    (b"email=a@b.c&password=" + b"x" * 2000, FORM),
    (b"email=" + b"a" * 300 + b"@b.c&password=x", FORM),
    (b"email=\xff@b.c&password=x", FORM),
    (b"email=%ff%fe@b.c&password=x", FORM),
    (b"email=a%00@b.c&password=x", FORM),
    (b"email=not-an-email&password=x", FORM),
    (b"email=a b@c.d&password=x", FORM),
    (b'{"email": "a@b.c"}', "application/json"),
    (b'{"email": "a@b.c", "password": 12}', "application/json"),
    (b'{"email": ["a@b.c"], "password": "x"}', "application/json"),
    (b'["a@b.c", "x"]', "application/json"),
    (b'{"email": "a@b.c", "password": ', "application/json"),
    (b"\xff\xfe", "application/json"),
]


def test_register_bad_input_400_nothing_stored(
        client: Any, database_url: str, subtests: Any) -> None:
    """POST /users with bad fields answers 400 JSON and stores no user.

    One database per backend serves the whole table (a subtest per case).
    """
    for body, content_type in BAD_REGISTRATIONS:
        with subtests.test(body=body[:40], content_type=content_type):
            response = client.post("/users", data=body,
                                   content_type=content_type)
            assert_json_error(response, 400)
    assert count_users(database_url) == 0


def test_register_other_content_types_415(edge_client: Any,
                                          sqlite_url: str) -> None:
    """A body that is neither a form nor JSON answers 415 JSON."""
    response = edge_client.post("/users", data=b"email=a@b.c&password=x",
                           content_type="text/plain")
    assert_json_error(response, 415)
    assert count_users(sqlite_url) == 0


def test_oversized_body_413(edge_client: Any, sqlite_url: str) -> None:
    """A body over the size limit answers 413 JSON."""
    body = b"email=a@b.c&password=x&pad=" + b"x" * 20000
    response = edge_client.post("/users", data=body, content_type=FORM)
    assert_json_error(response, 413)
    assert count_users(sqlite_url) == 0


def test_json_and_multipart_bodies_work(client: Any) -> None:
    """Registration and login accept JSON and multipart forms too."""
    created = client.post("/users", json={"email": "j@b.c",
                                          "password": "pwd"})
    assert created.get_json() == {"email": "j@b.c",
                                  "message": "user created"}
    login = client.post("/sessions", data={"email": "j@b.c",
                                           "password": "pwd"},
                        content_type="multipart/form-data")
    assert login.status_code == 200


@pytest.mark.parametrize("body", [
    b"", b"email=a@b.c", b"password=x", b"email=\xff&password=x"])
def test_login_bad_input_400(edge_client: Any, body: bytes) -> None:
    """POST /sessions with missing or undecodable fields answers 400."""
    assert_json_error(edge_client.post("/sessions", data=body,
                                  content_type=FORM), 400)


@pytest.mark.parametrize("password", ["wrong", "x" * 100, "é" * 40])
def test_login_wrong_password_401(edge_client: Any, password: str) -> None:
    """Wrong or impossible passwords answer 401 JSON and no cookie."""
    edge_client.post("/users", data={"email": "a@b.c", "password": "pwd"})
    response = edge_client.post("/sessions", data={"email": "a@b.c",
                                              "password": password})
    assert_json_error(response, 401)
    assert "Set-Cookie" not in response.headers


def test_login_unknown_email_401(edge_client: Any) -> None:
    """An unknown email answers 401, like a wrong password."""
    response = edge_client.post("/sessions", data={"email": "ghost@b.c",
                                              "password": "pwd"})
    assert_json_error(response, 401)


@pytest.mark.parametrize("cookie", [
    "", "nope", "x" * 4000, "75c89af8-1729-44d9-a592-41b5e59de9a",
    "75c89af8-1729-44d9-a592-41b5e59de9a1", "\u00e9\u00e9", "a;b",
    "0" * 36])
def test_profile_and_logout_odd_cookies_403(edge_client: Any,
                                            cookie: str) -> None:
    """Unknown, empty, malformed or huge cookies answer 403 JSON."""
    edge_client.post("/users", data={"email": "a@b.c", "password": "pwd"})
    edge_client.post("/sessions", data={"email": "a@b.c", "password": "pwd"})
    edge_client.set_cookie("session_id", cookie)
    assert_json_error(edge_client.get("/profile"), 403)
    assert_json_error(edge_client.delete("/sessions"), 403)


@pytest.mark.parametrize("header", [
    'session_id="unterminated; ;=; \x7f', "session_id", "=;=;=",
    "session_id=a; session_id=b", "session_id=" + "x" * 8000,
    "session_id=75c89af8-1729-44d9-a592-41b5e59de9a1\x00"])
def test_raw_garbage_cookie_header_403(make_edge_app: Callable,
                                       header: str) -> None:
    """A Cookie header that does not parse is just no session: 403."""
    client = make_edge_app().test_client(use_cookies=False)
    response = client.get("/profile", headers={"Cookie": header})
    assert_json_error(response, 403)


def test_no_cookie_403(edge_client: Any) -> None:
    """Profile and logout without any cookie answer 403."""
    assert_json_error(edge_client.get("/profile"), 403)
    assert_json_error(edge_client.delete("/sessions"), 403)


def test_logout_redirects_and_clears_cookie(client: Any) -> None:
    """DELETE /sessions redirects to / and ends the session server-side."""
    client.post("/users", data={"email": "a@b.c", "password": "pwd"})
    login = client.post("/sessions", data={"email": "a@b.c",
                                           "password": "pwd"})
    session_id = login.headers["Set-Cookie"].split(";")[0].split("=")[1]
    response = client.delete("/sessions")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert response.headers["Set-Cookie"].startswith("session_id=;")
    client.set_cookie("session_id", session_id)
    assert client.get("/profile").status_code == 403


@pytest.mark.parametrize("form", [
    {}, {"email": "a@b.c"}, {"email": "a@b.c", "reset_token": "t"},
    {"email": "a@b.c", "new_password": "x"},
    {"email": "", "reset_token": "t", "new_password": "x"}])
def test_reset_put_missing_fields_400(edge_client: Any, form: dict) -> None:
    """PUT /reset_password without its three fields answers 400."""
    assert_json_error(edge_client.put("/reset_password", data=form), 400)


def test_reset_put_bad_token_403_and_bad_password_400(client: Any) -> None:
    """A bad token answers 403; a too long new password 400, token kept
    (passwords of up to 1024 characters are taken whole)."""
    client.post("/users", data={"email": "a@b.c", "password": "pwd"})
    token = client.post("/reset_password",
                        data={"email": "a@b.c"}).get_json()["reset_token"]
    form = {"email": "a@b.c", "reset_token": "nope", "new_password": "n"}
    assert_json_error(client.put("/reset_password", data=form), 403)
    form.update(reset_token=token, new_password="x" * 1025)
    assert_json_error(client.put("/reset_password", data=form), 400)
    form.update(new_password="n")
    assert client.put("/reset_password", data=form).status_code == 200


def test_reset_post_missing_email_400(edge_client: Any) -> None:
    """POST /reset_password without an email answers 400."""
    assert_json_error(edge_client.post("/reset_password", data={}), 400)


@pytest.mark.parametrize("method,path", [
    ("get", "/users"), ("put", "/sessions"), ("get", "/reset_password"),
    ("post", "/profile")])
def test_wrong_method_405_json(edge_client: Any, method: str,
                               path: str) -> None:
    """A route with the wrong method answers 405 JSON."""
    assert_json_error(getattr(edge_client, method)(path), 405)


def test_unknown_route_404_json(edge_client: Any) -> None:
    """An unknown path answers 404 JSON."""
    assert_json_error(edge_client.get("/nope"), 404)


def test_secure_cookie_when_configured(make_edge_app: Callable) -> None:
    """SESSION_COOKIE_SECURE=1 adds Secure to the session cookie."""
    client = make_edge_app(SESSION_COOKIE_SECURE="1").test_client()
    client.post("/users", data={"email": "a@b.c", "password": "pwd"})
    login = client.post("/sessions", data={"email": "a@b.c",
                                           "password": "pwd"})
    attributes = [part.strip().lower()
                  for part in login.headers["Set-Cookie"].split(";")]
    assert "secure" in attributes and "httponly" in attributes
    assert "samesite=lax" in attributes and "path=/" in attributes


def test_rate_limits_answer_429_json(make_edge_app: Callable) -> None:
    """Login, registration and reset answer 429 JSON past their limits."""
    client = make_edge_app(RATELIMIT_LOGIN="2/minute",
                      RATELIMIT_REGISTER="2/minute",
                      RATELIMIT_RESET="2/minute").test_client()
    for index in range(2):
        client.post("/users", data={"email": "u{}@b.c".format(index),
                                    "password": "pwd"})
    assert_json_error(client.post("/users", data={
        "email": "u9@b.c", "password": "pwd"}), 429)
    for _ in range(2):
        client.post("/sessions", data={"email": "u0@b.c",
                                       "password": "bad"})
    assert_json_error(client.post("/sessions", data={
        "email": "u0@b.c", "password": "pwd"}), 429)
    for _ in range(2):
        client.post("/reset_password", data={"email": "u0@b.c"})
    assert_json_error(client.put("/reset_password", data={
        "email": "u0@b.c", "reset_token": "t", "new_password": "n"}), 429)
    assert client.get("/profile").status_code == 403


def test_database_unreachable_503_json_then_recovers(
        make_edge_app: Callable, tmp_path: Any) -> None:
    """While the database cannot be opened: 503 JSON; then it recovers."""
    folder = tmp_path / "missing"
    url = "sqlite:///{}".format(folder / "a.db")
    client = make_edge_app(DATABASE_URL=url).test_client(use_cookies=False)
    response = client.post("/sessions", data={"email": "a@b.c",
                                              "password": "pwd"})
    assert_json_error(response, 503)
    assert json.loads(response.data) == {"message": "database unavailable"}
    assert_json_error(client.get("/profile", headers={
        "Cookie": "session_id=75c89af8-1729-44d9-a592-41b5e59de9a1"}), 503)
    folder.mkdir()
    created = client.post("/users", data={"email": "a@b.c",
                                          "password": "pwd"})
    assert created.status_code == 200


def test_rate_limits_shared_through_redis(make_edge_app: Callable,
                                          redis_url: str) -> None:
    """With RATELIMIT_STORAGE_URI on Redis, two app processes share counts."""
    settings = {"RATELIMIT_REGISTER": "2/minute",
                "RATELIMIT_STORAGE_URI": redis_url}
    first = make_edge_app(**settings).test_client()
    second = make_edge_app(**settings).test_client()
    first.post("/users", data={"email": "a@b.c", "password": "pwd"})
    second.post("/users", data={"email": "b@b.c", "password": "pwd"})
    assert_json_error(first.post("/users", data={
        "email": "c@b.c", "password": "pwd"}), 429)
    assert_json_error(second.post("/users", data={
        "email": "d@b.c", "password": "pwd"}), 429)


def test_raw_cookie_header_reaches_the_app(make_edge_app: Callable) -> None:
    """Control for the raw-header cases: a good raw Cookie header works."""
    client = make_edge_app().test_client(use_cookies=False)
    client.post("/users", data={"email": "a@b.c", "password": "pwd"})
    login = client.post("/sessions", data={"email": "a@b.c",
                                           "password": "pwd"})
    session_id = login.headers["Set-Cookie"].split(";")[0].split("=")[1]
    response = client.get("/profile", headers={
        "Cookie": "other=1; session_id={}; x=2".format(session_id)})
    assert response.get_json() == {"email": "a@b.c"}


@pytest.mark.parametrize("method,path,body", [
    ("post", "/users", {"email": "x@b.io", "password": "\ud800"}),
    ("post", "/users", {"email": "\udfff@b.io", "password": "pw"}),
    ("post", "/sessions", {"email": "a@b.io", "password": "\ud800"}),
    ("post", "/sessions", {"email": "\ud800@b.io", "password": "pw"}),
    ("post", "/reset_password", {"email": "\ud800@b.io"}),
    ("put", "/reset_password", {"email": "\ud800@b.io",
                                "reset_token": "t", "new_password": "x"}),
])
def test_lone_surrogate_json_fields_400(edge_client: Any, sqlite_url: str,
                                        method: str, path: str,
                                        body: dict) -> None:
    """A JSON field with a lone surrogate (no UTF-8 form) answers 400."""
    edge_client.post("/users", data={"email": "a@b.io", "password": "pw"})
    response = getattr(edge_client, method)(
        path, data=json.dumps(body), content_type="application/json")
    assert_json_error(response, 400)
    assert count_users(sqlite_url) == 1

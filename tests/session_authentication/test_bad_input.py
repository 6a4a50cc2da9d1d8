#!/usr/bin/env python3
"""Bad input to the users API: always a 4xx JSON error, nothing stored.

Each test runs a real server over the test's throw-away database,
SQLite and PostgreSQL: the seeds' development server with session_db_auth
for most checks, the production server (granian) with basic_auth for
Basic headers and streamed bodies; both end by checking the server never
logged a traceback.
"""
import base64
import json
from typing import Callable, Iterator, Tuple

import pytest
import requests

from tests.session_authentication.hardening import (
    assert_json_error, basic, count_rows, raw_get, raw_request, user_count)

EMAIL = "bob@hbtn.io"
PASSWORD = "H0lb:erton:pwd"
JSON_HEADERS = {"Content-Type": "application/json"}
FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded"}
SESSIONS = "api_user_sessions"


@pytest.fixture
def session_api(start_api: Callable, make_user: Callable
                ) -> Iterator[Tuple[object, dict, str]]:
    """Yield a session_db_auth server, a logged-in cookie jar, a user id."""
    api = start_api("session_db_auth")
    user_id = make_user(EMAIL, PASSWORD)
    response = api.login(EMAIL, PASSWORD)
    assert response.status_code == 200, response.text
    yield api, {"_my_session_id": response.cookies["_my_session_id"]}, \
        user_id
    assert "Traceback" not in api.server.output()


BAD_CREATE_BODIES = [
    (b"not json", 400, "Wrong format"),
    (b"[1, 2]", 400, "Wrong format"),
    (b'"a string"', 400, "Wrong format"),
    (b"null", 400, "Wrong format"),
    (b'{"email": ', 400, "Wrong format"),
    (b'{"email": 5, "password": "pwd"}', 400, "Wrong format"),
    (b'{"email": "a@b.io", "password": ["pwd"]}', 400, "Wrong format"),
    (b'{"email": "a@b.io", "password": {"x": 1}}', 400, "Wrong format"),
    (b'{"email": "a@b.io", "password": true}', 400, "Wrong format"),
    (b'{"email": "a@b.io", "password": "p", "first_name": 3}', 400,
     "Wrong format"),
    (b"{}", 400, "email missing"),
    (b'{"password": "pwd"}', 400, "email missing"),
    (b'{"email": "", "password": "pwd"}', 400, "email missing"),
    (b'{"email": "a@b.io"}', 400, "password missing"),
    (b'{"email": "a@b.io", "password": ""}', 400, "password missing"),
    (b'{"email": "a@b.io", "password": null}', 400, "password missing"),
    (b'{"email": "\xff\xfe@b.io", "password": "pwd"}', 400, "Wrong format"),
    (b'{"email": "a\\u0000@b.io", "password": "pwd"}', 400, "Wrong format"),
    (b'{"email": "a@b.io", "password": "p\\u0000"}', 400, "Wrong format"),
    (b'{"email": "a@b.io", "password": "p", "last_name": "\\u0000"}', 400,
     "Wrong format"),
    (b'{"email": "\\ud800@b.io", "password": "pwd"}', 400, "Wrong format"),
    (b'{"email": "a@b.io", "password": "\\udfff"}', 400, "Wrong format"),
    (json.dumps({"email": "a" * 300 + "@b.io", "password": "p"}).encode(),
     400, "Wrong format"),
    (json.dumps({"email": "a@b.io", "password": "p",
                 "first_name": "x" * 1000}).encode(), 400, "Wrong format"),
    (json.dumps({"email": "a@b.io", "password": "p" * 1025}).encode(), 400,
     "Wrong format"),
    (json.dumps({"email": EMAIL, "password": "other"}).encode(), 400,
     "Can't create User: email already exists"),
]


def check_create_user_bad_bodies_store_nothing(
        session_api: Tuple[object, dict, str]) -> None:
    """Each malformed POST /users body gets its 400 JSON; no user added."""
    api, cookies, _ = session_api
    before = user_count(api, cookies=cookies)
    for body, status, error in BAD_CREATE_BODIES:
        response = api.post("/users", data=body, headers=JSON_HEADERS,
                            cookies=cookies)
        assert_json_error(response, status, error)
    response = api.post("/users", data={"email": "a@b.io", "password": "x"},
                        cookies=cookies)
    assert_json_error(response, 400, "Wrong format")
    assert user_count(api, cookies=cookies) == before == 1
    assert [user["email"] for user in api.get(
        "/users", cookies=cookies).json()] == [EMAIL]


def check_oversized_body_is_413_json(
        session_api: Tuple[object, dict, str]) -> None:
    """A body over MAX_CONTENT_LENGTH (65536) is refused with 413 JSON."""
    api, cookies, user_id = session_api
    body = json.dumps({"email": "big@b.io", "password": "pwd",
                       "first_name": "x" * 70000}).encode()
    response = api.post("/users", data=body, headers=JSON_HEADERS,
                        cookies=cookies)
    assert_json_error(response, 413)
    response = api.put("/users/" + user_id, data=body, headers=JSON_HEADERS,
                       cookies=cookies)
    assert_json_error(response, 413)
    assert user_count(api, cookies=cookies) == 1


BAD_UPDATE_BODIES = [
    b"not json", b"[1]", b"42", b'{"first_name": 5}',
    b'{"last_name": ["x"]}', b'{"first_name": "a\\u0000b"}',
    b'{"last_name": "\\udc00"}', b'{"first_name": "\xff"}',
    json.dumps({"first_name": "x" * 256}).encode(),
]


def check_update_user_bad_bodies_change_nothing(
        session_api: Tuple[object, dict, str]) -> None:
    """Each malformed PUT /users/<id> body gets 400 JSON; user unchanged."""
    api, cookies, user_id = session_api
    before = api.get("/users/" + user_id, cookies=cookies).json()
    for body in BAD_UPDATE_BODIES:
        response = api.put("/users/" + user_id, data=body,
                           headers=JSON_HEADERS, cookies=cookies)
        assert_json_error(response, 400, "Wrong format")
    assert api.get("/users/" + user_id, cookies=cookies).json() == before
    response = api.put("/users/" + user_id, json={"first_name": "Bob"},
                       cookies=cookies)
    assert response.status_code == 200
    assert response.json()["first_name"] == "Bob"


ODD_IDS = ["nope", "0" * 36, "x" * 5000, "%00", "ab%00cd", "%E2%98%83",
           "'%20OR%201=1--", "%22%3B", "..%2F..%2Fetc", "%F0%9F%92%A9",
           "me%00"]


def check_unknown_and_odd_ids_are_404_json(
        session_api: Tuple[object, dict, str]) -> None:
    """GET, PUT and DELETE of unknown or odd ids answer 404 JSON."""
    api, cookies, _ = session_api
    for user_id in ODD_IDS:
        for method in (api.get, api.delete):
            assert_json_error(method("/users/" + user_id, cookies=cookies),
                              404, "Not found")
        assert_json_error(api.put("/users/" + user_id, cookies=cookies,
                                  json={"first_name": "x"}), 404,
                          "Not found")
    cookie = b"Cookie: _my_session_id=" + cookies[
        "_my_session_id"].encode() + b"\r\n"
    for path in (b"/api/v1/users/%ff%fe", b"/api/v1/users/\xff\xfe",
                 b"/api/v1/users/a%00"):
        status, headers, body = raw_get(api.server.port, path, cookie)
        assert status == 404, body
        assert headers["content-type"].startswith("application/json")
        assert json.loads(body) == {"error": "Not found"}
    assert user_count(api, cookies=cookies) == 1


def check_wrong_method_is_405_json(
        session_api: Tuple[object, dict, str]) -> None:
    """A route asked with a method it lacks answers 405 with a JSON body."""
    api, cookies, user_id = session_api
    for method, path in (("PATCH", "/users"), ("DELETE", "/users"),
                         ("POST", "/status"), ("GET", "/auth_session/login"),
                         ("PUT", "/stats"), ("POST", "/users/" + user_id)):
        response = requests.request(method, api.url + path,
                                    cookies=cookies, timeout=30)
        assert_json_error(response, 405, "Method Not Allowed")


def check_cors_preflight_needs_no_credentials(
        session_api: Tuple[object, dict, str]) -> None:
    """A CORS preflight (OPTIONS, no credentials) gets 200 and no data."""
    api, _, _ = session_api
    for path in ("/users", "/users/me", "/stats"):
        response = requests.options(api.url + path, timeout=30, headers={
            "Origin": "https://app.example",
            "Access-Control-Request-Method": "POST"})
        assert response.status_code == 200, response.text
        assert response.content == b""
        assert "Access-Control-Allow-Origin" in response.headers


ODD_COOKIES = ['"quoted"', "a;b", "x" * 3000, "\u2603", "0" * 36,
               "00000000-0000-0000-0000-000000000000", "%00", "' OR 1=1"]


def check_odd_session_cookies_are_403_and_create_nothing(
        session_api: Tuple[object, dict, str], database_url: str) -> None:
    """Cookies with odd, long, NUL or unknown values: 403 JSON, no row."""
    api, cookies, _ = session_api
    assert count_rows(database_url, SESSIONS) == 1
    port = api.server.port
    for value in ODD_COOKIES:
        status, headers, body = raw_get(
            port, b"/api/v1/users/me",
            b"Cookie: _my_session_id=" + value.encode() + b"\r\n")
        assert status == 403, (value, body)
        assert json.loads(body) == {"error": "Forbidden"}
    for value in (b"ab\x00cd", b"\xff\xfe\xfd", b"\x01\x02", b"=", b""):
        status, headers, body = raw_get(
            port, b"/api/v1/users/me",
            b"Cookie: _my_session_id=" + value + b"\r\n")
        assert status in (401, 403), (value, body)
        assert "error" in json.loads(body)
    assert count_rows(database_url, SESSIONS) == 1
    assert api.get("/users/me", cookies=cookies).status_code == 200


def check_login_odd_input_is_4xx_json_without_session(
        session_api: Tuple[object, dict, str], database_url: str) -> None:
    """Odd login forms (non-UTF-8, NUL, wrong types...) create no session."""
    api, _, _ = session_api
    form = FORM_HEADERS
    cases = [
        (dict(data=b"email=\xff\xfe&password=\xfd", headers=form), 400),
        (dict(data=b"email=%ff%00&password=%fe", headers=form), 404),
        (dict(data=b"email=bob%40hbtn.io%00&password=x", headers=form),
         404),
        (dict(data=b"", headers=form), 400),
        (dict(data={"email": EMAIL}), 400),
        (dict(data={"password": PASSWORD}), 400),
        (dict(data={"email": "", "password": ""}), 400),
        (dict(data={"email": EMAIL, "password": "wrong"}), 401),
        (dict(data={"email": EMAIL, "password": "x" * 5000}), 401),
        (dict(data={"email": "x" * 5000, "password": "x"}), 404),
        (dict(data={"email": "nobody@hbtn.io", "password": "x"}), 404),
        (dict(json=[EMAIL, PASSWORD]), 400),
        (dict(json={"email": 5, "password": [1]}), 400),
        (dict(data=b'{"email": "\\ud800", "password": "x"}',
              headers=JSON_HEADERS), 404),
        (dict(data=b"{broken", headers=JSON_HEADERS), 400),
        (dict(data=b"--zz\r\ngarbage", headers={
            "Content-Type": "multipart/form-data; boundary=zz"}), 400),
        (dict(data={"email": "x" * 70000, "password": "x"}), 413),
    ]
    for kwargs, status in cases:
        response = api.post("/auth_session/login", **kwargs)
        assert_json_error(response, status)
        assert "_my_session_id" not in response.cookies
    assert count_rows(database_url, SESSIONS) == 1


def check_basic_auth_headers(api: object, user_id: str) -> None:
    """Broken Basic credentials are 401/403 JSON; a ':' password works."""
    good = basic(EMAIL, PASSWORD)
    response = api.get("/users/me", headers=good)
    assert response.status_code == 200, response.text
    assert response.json()["id"] == user_id

    def encoded(raw: bytes) -> dict:
        """Return a Basic header carrying these raw bytes in Base64."""
        return {"Authorization": "Basic " + base64.b64encode(raw).decode()}

    forbidden = [
        {"Authorization": "Basic !!!not-base64!!!"},
        {"Authorization": "Basic Ym9i"},
        {"Authorization": "Basic " + good["Authorization"][6:-2]},
        encoded(b"\xff\xfe:\xfd"),
        encoded(EMAIL.encode() + b":\xff"),
        encoded(b"no colon here"),
        encoded(b":"),
        encoded(b"nobody@hbtn.io:" + PASSWORD.encode()),
        encoded(EMAIL.encode() + b":wrong"),
        encoded(EMAIL.encode() + b":H0lb"),
        encoded(EMAIL.encode() + b":" + PASSWORD.encode() + b"\x00"),
        encoded(b"bob\x00@hbtn.io:" + PASSWORD.encode()),
        encoded(EMAIL.encode() + b":" + b"p" * 200),
        {"Authorization": "Bearer abc"},
        {"Authorization": "Basic"},
        {"Authorization": "basic " + good["Authorization"][6:]},
    ]
    for headers in forbidden:
        assert_json_error(api.get("/users/me", headers=headers), 403,
                          "Forbidden")
    status, _, body = raw_request(
        api.server.port, b"GET /api/v1/users/me HTTP/1.1\r\n"
        b"Host: x\r\nConnection: close\r\nAuthorization: Basic \xff\xfe"
        b"\r\n\r\n")
    assert status == 403 and json.loads(body) == {"error": "Forbidden"}
    assert_json_error(api.get("/users/me"), 401, "Unauthorized")
    assert user_count(api, headers=good) == 1


def test_session_api_bad_input(session_api: Tuple[object, dict, str],
                               database_url: str) -> None:
    """Run every bad-input check against one session_db_auth server.

    One server per database keeps the suite fast; each check says what
    it covers.
    """
    check_create_user_bad_bodies_store_nothing(session_api)
    check_oversized_body_is_413_json(session_api)
    check_update_user_bad_bodies_change_nothing(session_api)
    check_unknown_and_odd_ids_are_404_json(session_api)
    check_wrong_method_is_405_json(session_api)
    check_cors_preflight_needs_no_credentials(session_api)
    check_odd_session_cookies_are_403_and_create_nothing(session_api,
                                                         database_url)
    check_login_odd_input_is_4xx_json_without_session(session_api,
                                                      database_url)


def test_production_server_bad_input(start_api: Callable,
                                     make_user: Callable) -> None:
    """On granian: Basic headers, oversized (even chunked) bodies 413.

    Bytes that are not valid HTTP (raw non-UTF-8 in the request line or a
    header) are refused by granian itself with a bodiless 400 before the
    app sees them: still a 4xx, never a 500.
    """
    api = start_api("basic_auth", production=True, workers=2)
    user_id = make_user(EMAIL, PASSWORD)
    check_basic_auth_headers(api, user_id)
    headers = dict(basic(EMAIL, PASSWORD), **JSON_HEADERS)
    before = user_count(api, headers=headers)

    def chunks(size: int) -> Iterator[bytes]:
        """Yield a JSON body of about size bytes, chunk by chunk."""
        yield b'{"email": "chunked@b.io", "password": "pwd", "last_name": "'
        for _ in range(size // 1000):
            yield b"x" * 1000
        yield b'"}'

    assert_json_error(api.post("/users", data=chunks(70000),
                               headers=headers), 413)
    assert_json_error(api.post("/users", data=b"{" + b" " * 70000 + b"}",
                               headers=headers), 413)
    for body in BAD_CREATE_BODIES:
        assert_json_error(api.post("/users", data=body[0], headers=headers),
                          body[1], body[2])
    assert_json_error(requests.patch(api.url + "/users", headers=headers,
                                     timeout=30), 405)
    for extra in (b"", b"Cookie: _my_session_id=\xff\x00\r\n"):
        status, _, _ = raw_get(api.server.port, b"/api/v1/users/\xff",
                               extra + b"Authorization: "
                               + headers["Authorization"].encode()
                               + b"\r\n")
        assert 400 <= status < 500
    assert user_count(api, headers=headers) == before
    created = api.post("/users", data=chunks(0), headers=headers)
    assert created.status_code == 201, created.text
    assert user_count(api, headers=headers) == before + 1
    assert "Traceback" not in api.server.output()

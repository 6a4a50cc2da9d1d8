#!/usr/bin/env python3
"""The users API's fuzzer findings (issue 10), one test each, on real servers.

Deeply nested JSON, over-limit bodies (sized and chunked, JSON and form)
and paths with empty segments are checked on both servers the API runs
on: the seeds' development server and granian, whose WSGI input streams
differ. Bodies are sent with ``http.client`` so a chunked body really
travels chunked. E-mails with invisible characters, refused by the view
whatever the server, are checked on the development server.
"""
import http.client
import json
from typing import Callable, Iterator, Optional, Tuple

import pytest

from tests.session_authentication.hardening import (
    assert_json_error, raw_get, user_count)
from tests.support import multipart

EMAIL = "bob@hbtn.io"
PASSWORD = "H0lb:erton:pwd"
LIMIT = 65536
JSON_TYPE = "application/json"
FORM_TYPE = "application/x-www-form-urlencoded"
Answer = Tuple[int, dict, bytes]


class LoggedIn:
    """A running API server and the session cookie of its one user."""

    def __init__(self, api: object, cookie: str, user_id: str) -> None:
        """Keep the server, the cookie value and the user's id."""
        self.api = api
        self.cookie = cookie
        self.user_id = user_id
        self.cookies = {"_my_session_id": cookie}

    @property
    def port(self) -> int:
        """Return the port the server listens on."""
        return self.api.server.port

    def send(self, method: str, path: str, body: bytes, content_type: str,
             chunked: bool = False, cookie: bool = True) -> Answer:
        """Send a body to /api/v1<path>, sized or chunked (4 KiB pieces).

        Returns the status, the headers (lower-case names) and the body.
        """
        headers = {"Content-Type": content_type}
        if cookie:
            headers["Cookie"] = "_my_session_id=" + self.cookie
        conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                          timeout=30)
        try:
            if chunked:
                pieces = (body[at:at + 4096]
                          for at in range(0, len(body), 4096))
                conn.request(method, "/api/v1" + path, body=pieces,
                             headers=headers, encode_chunked=True)
            else:
                conn.request(method, "/api/v1" + path, body=body,
                             headers=headers)
            response = conn.getresponse()
            return (response.status,
                    {name.lower(): value
                     for name, value in response.getheaders()},
                    response.read())
        finally:
            conn.close()


def assert_raw_json_error(answer: Answer, status: int,
                          error: Optional[str] = None) -> None:
    """Check a raw answer is this status with a JSON {"error": ...}."""
    code, headers, body = answer
    assert code == status, (code, body[:300])
    assert headers["content-type"].startswith(JSON_TYPE)
    parsed = json.loads(body)
    assert isinstance(parsed.get("error"), str), parsed
    if error is not None:
        assert parsed["error"] == error, parsed


@pytest.fixture(params=["development", "granian"])
def logged_in(request: pytest.FixtureRequest, start_api: Callable,
              make_user: Callable) -> Iterator[LoggedIn]:
    """Yield a session_db_auth server (each kind) with a user logged in."""
    api = start_api("session_db_auth",
                    production=request.param == "granian", workers=1)
    user_id = make_user(EMAIL, PASSWORD)
    response = api.login(EMAIL, PASSWORD)
    assert response.status_code == 200, response.text
    yield LoggedIn(api, response.cookies["_my_session_id"], user_id)
    assert "Traceback" not in api.server.output()


def nested(depth: int, opener: bytes, closer: bytes) -> bytes:
    """Return a JSON value nested ``depth`` levels deep."""
    return opener * depth + b"1" + closer * depth


DEEP_BODIES = [
    nested(1000, b'{"a":', b"}"),
    nested(5000, b'{"email":', b"}"),
    nested(1000, b"[", b"]"),
    nested(30000, b"[", b"]"),
]


def test_deeply_nested_json_is_400_not_500(logged_in: LoggedIn) -> None:
    """Finding 1: JSON nested past Python's recursion limit is bad JSON.

    It used to raise RecursionError out of get_json (500); now POST and
    PUT /users answer 400 "Wrong format" and the JSON login 400 "email
    missing", as for any other malformed JSON, and nothing changes.
    """
    api, cookies = logged_in.api, logged_in.cookies
    before = api.get("/users/" + logged_in.user_id, cookies=cookies).json()
    for body in DEEP_BODIES:
        assert len(body) < LIMIT
        assert_raw_json_error(logged_in.send("POST", "/users", body,
                                             JSON_TYPE), 400, "Wrong format")
        assert_raw_json_error(logged_in.send(
            "PUT", "/users/" + logged_in.user_id, body, JSON_TYPE),
            400, "Wrong format")
        assert_raw_json_error(logged_in.send(
            "POST", "/auth_session/login", body, JSON_TYPE, cookie=False),
            400, "email missing")
    assert user_count(api, cookies=cookies) == 1
    assert api.get("/users/" + logged_in.user_id,
                   cookies=cookies).json() == before


def test_over_limit_bodies_are_413_sized_or_chunked(
        logged_in: LoggedIn) -> None:
    """Finding 2: every body over MAX_CONTENT_LENGTH answers 413 JSON.

    Sized or chunked, JSON, URL-encoded or multipart, on every route
    that takes a body, even one that does not read that kind of body
    (a form sent to POST /users). A chunked body used to be cut at the
    limit and parsed as nothing (400 "email missing"); a chunked body
    of exactly the limit, or a small one, still works.
    """
    big = "x" * (LIMIT + 10000)
    json_body = json.dumps({"email": "big@b.io", "password": "pwd",
                            "last_name": big}).encode()
    form_body = "email={}&password=pwd".format(big).encode()
    multipart_body, multipart_type = multipart(email=big, password="pwd")
    user_path = "/users/" + logged_in.user_id
    for chunked in (False, True):
        for method, path, body, kind in (
                ("POST", "/users", json_body, JSON_TYPE),
                ("PUT", user_path, json_body, JSON_TYPE),
                ("POST", "/users", form_body, FORM_TYPE),
                ("POST", "/auth_session/login", form_body, FORM_TYPE),
                ("POST", "/auth_session/login", json_body, JSON_TYPE),
                ("POST", "/auth_session/login", multipart_body,
                 multipart_type)):
            answer = logged_in.send(method, path, body, kind, chunked)
            assert_raw_json_error(answer, 413, "Request Entity Too Large")
    api, cookies = logged_in.api, logged_in.cookies
    assert user_count(api, cookies=cookies) == 1
    exact = json.dumps({"email": "exact@b.io", "password": "pwd"}).encode()
    exact = exact[:-1] + b" " * (LIMIT - len(exact)) + b"}"
    assert len(exact) == LIMIT
    status, _, body = logged_in.send("POST", "/users", exact, JSON_TYPE,
                                     chunked=True)
    assert status == 201, body
    status, _, body = logged_in.send(
        "POST", "/auth_session/login",
        "email={}&password={}".format(EMAIL, PASSWORD).encode(),
        FORM_TYPE, chunked=True, cookie=False)
    assert status == 200, body
    assert user_count(api, cookies=cookies) == 2


EMPTY_SEGMENT_PATHS = [
    b"//api/v1/status", b"/api/v1//status", b"/api/v1/status//",
    b"/api/v1/status%2F%2F", b"/api/v1//users", b"/api/v1/users//",
    b"/api/v1/users/%2F", b"/api/v1//users/me", b"/api/v1/stats%2F%2F",
    b"/api/v1/users//" + EMAIL.encode(), b"//", b"/%2F", b"/api//v1/stats",
]


def test_paths_with_empty_segments_answer_json(logged_in: LoggedIn) -> None:
    """Finding 5: // and %2F paths answer JSON, never a 308 with HTML.

    Werkzeug's slash merging redirected them with an HTML body; now a
    path with an empty segment is not found (404 JSON), while the seeds'
    slash-tolerant routes (/api/v1/status/ ...) answer exactly as before.
    """
    cookie = b"Cookie: _my_session_id=" + logged_in.cookie.encode() + b"\r\n"
    for path in EMPTY_SEGMENT_PATHS:
        status, headers, body = raw_get(logged_in.port, path, cookie)
        assert not 300 <= status < 400, (path, status, body)
        assert "location" not in headers, path
        assert headers["content-type"].startswith(JSON_TYPE), (path, body)
        json.loads(body)
    for method in ("POST", "PUT", "DELETE"):
        answer = logged_in.send(method, "//users//" + logged_in.user_id,
                                b'{"first_name": "x"}', JSON_TYPE)
        assert_raw_json_error(answer, 404, "Not found")
    api, cookies = logged_in.api, logged_in.cookies
    for path in ("/status/", "/status"):
        assert api.get(path).json() == {"status": "OK"}
    assert api.get("/stats/", cookies=cookies).json() == {"users": 1}
    assert api.get("/users/", cookies=cookies).status_code == 200
    assert api.get("/users/me", cookies=cookies).json()["email"] == EMAIL


INVISIBLE_EMAILS = [
    "bob\u200b@hbtn.io",        # zero-width space (Cf)
    "bob\u200d@hbtn.io",        # zero-width joiner (Cf)
    "\ufeffbob@hbtn.io",        # byte order mark (Cf)
    "bob\u00ad@hbtn.io",        # soft hyphen (Cf)
    "\u202eoi.ntbh@bob",        # right-to-left override (bidi, Cf)
    "bob@hbtn.io\u202c",        # pop directional formatting (bidi, Cf)
    "bob\u2067@hbtn.io",        # right-to-left isolate (bidi, Cf)
    "bob\u200f@hbtn.io",        # right-to-left mark (bidi, Cf)
    "bob\x01@hbtn.io",          # C0 control (Cc)
    "bob\t@hbtn.io",            # tab (Cc)
    "bob@hbtn.io\n",            # line feed (Cc)
    "bob\x7f@hbtn.io",          # delete (Cc)
    "bob\x85@hbtn.io",          # C1 control (Cc)
    "bob\u2028@hbtn.io",        # line separator (Zl)
]
INVISIBLE_ERROR = ("Can't create User: email must not contain control or "
                   "invisible characters")


def test_emails_with_invisible_characters_are_refused(
        start_api: Callable, make_user: Callable) -> None:
    """Finding 6: POST /users refuses e-mails with control, zero-width,
    bidi or line-separator characters (400, nothing stored); ordinary
    and visible non-ASCII e-mails are still created.
    """
    api = start_api("session_db_auth")
    make_user(EMAIL, PASSWORD)
    cookies = {"_my_session_id":
               api.login(EMAIL, PASSWORD).cookies["_my_session_id"]}
    for email in INVISIBLE_EMAILS:
        response = api.post("/users", json={"email": email,
                                            "password": "pwd"},
                            cookies=cookies)
        assert_json_error(response, 400, INVISIBLE_ERROR)
    assert user_count(api, cookies=cookies) == 1
    for email in ("alice@hbtn.io", "élodie@exemple.fr", "用户@例子.广告"):
        response = api.post("/users", json={"email": email,
                                            "password": "pwd"},
                            cookies=cookies)
        assert response.status_code == 201, response.text
        assert response.json()["email"] == email
    assert user_count(api, cookies=cookies) == 4
    assert "Traceback" not in api.server.output()

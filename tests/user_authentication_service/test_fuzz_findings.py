#!/usr/bin/env python3
"""The auth service's fuzzer findings (issue 10), one test each.

Deeply nested JSON, over-limit bodies (sized and chunked; form, JSON and
multipart) and paths with empty segments are checked on both servers the
service runs on: ``python3 app.py`` (Werkzeug) and granian, whose WSGI
input streams differ. Bodies are sent with ``http.client`` so a chunked
body really travels chunked.
"""
import http.client
import json
from typing import Callable, Tuple

import pytest
import requests

from tests.support import ServerProcess, multipart
from tests.user_authentication_service.conftest import count_users

LIMIT = 16 * 1024
JSON_TYPE = "application/json"
FORM_TYPE = "application/x-www-form-urlencoded"
BODY_ROUTES = [("POST", "/users"), ("POST", "/sessions"),
               ("POST", "/reset_password"), ("PUT", "/reset_password")]
Answer = Tuple[int, dict, bytes]


def send(server: ServerProcess, method: str, path: str, body: bytes,
         content_type: str, chunked: bool = False) -> Answer:
    """Send a body, sized or chunked (4 KiB pieces); return the answer.

    The answer is the status, the headers (lower-case names) and the
    body.
    """
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        headers = {"Content-Type": content_type}
        if chunked:
            pieces = (body[at:at + 4096] for at in range(0, len(body), 4096))
            conn.request(method, path, body=pieces, headers=headers,
                         encode_chunked=True)
        else:
            conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        return (response.status,
                {name.lower(): value for name, value in response.getheaders()},
                response.read())
    finally:
        conn.close()


def assert_json_message(answer: Answer, status: int,
                        message: str = "") -> None:
    """Check an answer is this status with a JSON {"message": ...}."""
    code, headers, body = answer
    assert code == status, (code, body[:300])
    assert headers["content-type"].startswith(JSON_TYPE)
    parsed = json.loads(body)
    assert isinstance(parsed.get("message"), str), parsed
    if message:
        assert parsed["message"] == message, parsed


@pytest.fixture(params=["dev", "granian"])
def server(request: pytest.FixtureRequest,
           start_server: Callable[..., ServerProcess]) -> ServerProcess:
    """Return a running service, once per kind of server."""
    return start_server(request.param, workers=1)


def nested(depth: int, opener: bytes, closer: bytes) -> bytes:
    """Return a JSON value nested ``depth`` levels deep."""
    return opener * depth + b"1" + closer * depth


DEEP_BODIES = [
    nested(1000, b'{"a":', b"}"),
    nested(1000, b'{"email":', b"}"),
    nested(1000, b"[", b"]"),
    nested(8000, b"[", b"]"),
]


def test_deeply_nested_json_is_400_not_500(server: ServerProcess,
                                           database_url: str) -> None:
    """Finding 1: JSON nested past Python's recursion limit is bad JSON.

    It used to raise RecursionError out of get_json (500); now every
    JSON route answers 400 "body must be a JSON object", as for any other
    malformed JSON, and stores nothing.
    """
    for body in DEEP_BODIES:
        assert len(body) < LIMIT
        for method, path in BODY_ROUTES:
            assert_json_message(send(server, method, path, body, JSON_TYPE),
                                400, "body must be a JSON object")
    assert count_users(database_url) == 0
    assert "Traceback" not in server.output()


def test_over_limit_bodies_are_413_sized_or_chunked(
        server: ServerProcess, database_url: str) -> None:
    """Finding 2: every body over 16 KiB answers 413 JSON.

    Sized or chunked; URL-encoded, JSON or multipart; on every route
    that takes a body. A chunked body used to be cut at 16 KiB and
    parsed (400); a chunked body of exactly 16 KiB, or a small one,
    still works.
    """
    pad = "x" * (LIMIT + 4000)
    fields = {"email": "big@b.c", "password": "pwd", "pad": pad}
    bodies = [
        ("email=big@b.c&password=pwd&pad={}".format(pad).encode(),
         FORM_TYPE),
        (json.dumps(fields).encode(), JSON_TYPE),
        multipart(**fields),
    ]
    for chunked in (False, True):
        for method, path in BODY_ROUTES:
            for body, content_type in bodies:
                answer = send(server, method, path, body, content_type,
                              chunked)
                assert_json_message(answer, 413, "Request Entity Too Large")
    assert count_users(database_url) == 0
    small = b"email=small@b.c&password=pwd"
    answer = send(server, "POST", "/users", small, FORM_TYPE, chunked=True)
    assert answer[0] == 200, answer
    exact = b"email=exact@b.c&password=pwd&pad="
    exact += b"x" * (LIMIT - len(exact))
    assert len(exact) == LIMIT
    answer = send(server, "POST", "/users", exact, FORM_TYPE, chunked=True)
    assert answer[0] == 200, answer
    assert json.loads(answer[2]) == {"email": "exact@b.c",
                                     "message": "user created"}
    assert count_users(database_url) == 2
    assert "Traceback" not in server.output()


EMPTY_SEGMENT_PATHS = [
    "//", "/%2F", "//users", "/users//", "/users%2F%2F", "//profile",
    "/profile//", "/profile%2F", "/sessions//", "/reset_password%2F%2F",
    "/reset_password//x",
]


def test_paths_with_empty_segments_answer_json(
        server: ServerProcess) -> None:
    """Finding 5: // and %2F paths answer JSON, never a redirect with HTML.

    Werkzeug's slash merging is off in every app: a path with an empty
    segment is not found (404 JSON) or, for a leading //, the route
    itself, as the servers give it.
    """
    for path in EMPTY_SEGMENT_PATHS:
        for method in ("GET", "POST", "PUT", "DELETE"):
            status, headers, body = send(server, method, path, b"",
                                         FORM_TYPE)
            assert not 300 <= status < 400, (method, path, status, body)
            assert "location" not in headers, (method, path)
            assert headers["content-type"].startswith(JSON_TYPE), (
                method, path, body)
            json.loads(body)
    assert requests.get(server.url + "/", timeout=10).json() == {
        "message": "Bienvenue"}


INVISIBLE_EMAILS = [
    "bob\u200b@hbtn.io", "\ufeffbob@hbtn.io", "\u202eoi.ntbh@bob",
    "bob@hbtn.io\u202c", "bob\u2067@hbtn.io", "bob\u200f@hbtn.io",
    "bob\x01@hbtn.io", "bob\t@hbtn.io", "bob@hbtn.io\n", "bob\x7f@hbtn.io",
    "bob\x85@hbtn.io", "bob\u2028@hbtn.io", "bob\u00ad@hbtn.io",
]


def test_registration_refuses_invisible_characters(
        start_server: Callable[..., ServerProcess],
        database_url: str) -> None:
    """Finding 6: registration refuses e-mails with control, zero-width,
    bidi or line-separator characters (400 JSON, nothing stored).

    ``Auth`` already refused them (an address must be printable text
    without spaces); this pins it down over HTTP, form and JSON alike.
    """
    server = start_server("dev")
    for email in INVISIBLE_EMAILS:
        for kwargs in ({"data": {"email": email, "password": "pwd"}},
                       {"json": {"email": email, "password": "pwd"}}):
            response = requests.post(server.url + "/users", timeout=10,
                                     **kwargs)
            assert response.status_code == 400, (email, response.text)
            assert isinstance(response.json()["message"], str)
    assert count_users(database_url) == 0
    response = requests.post(server.url + "/users", timeout=10,
                             data={"email": "bob@hbtn.io", "password": "pwd"})
    assert response.json() == {"email": "bob@hbtn.io",
                               "message": "user created"}
    assert count_users(database_url) == 1

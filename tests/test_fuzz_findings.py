#!/usr/bin/env python3
"""What the fuzz runs of tests/test_fuzz_apps.py found, one test each,
against live servers (``start_app`` of tests/live_apps.py).

Each test sends the request that once got a 5xx or an answer outside
the description, and checks the fixed answer.
"""
from typing import Callable

import pytest
import requests
import schemathesis

from tests.live_apps import LiveApp
from tests.test_fuzz_apps import Credentials, call


@pytest.mark.parametrize("kind", ["users_api:session_db_auth",
                                  "users_api:session_db_auth:production"])
def test_ending_a_session_by_a_non_ascii_handle_is_a_404(
        start_app: Callable[[str], LiveApp], kind: str) -> None:
    """DELETE /auth_session/sessions/<handle> with non-ASCII text: 404
    (was a 500: compare_digest refuses non-ASCII strings)."""
    app = start_app(kind)
    auth = Credentials(app)
    for handle in ("\u00e9t\u00e9", "%C3%A9", "\U0001f600" * 3):
        answer = requests.delete(
            app.url + app.prefix + "/auth_session/sessions/" + handle,
            cookies=auth.cookies, timeout=30)
        assert answer.status_code == 404, answer.text
        assert answer.json() == {"error": "Not found"}
    assert auth.valid()


def test_kue_api_refuses_deep_json_with_a_400(
        start_app: Callable[[str], LiveApp]) -> None:
    """POST /job with JSON nested 5,000 deep: 400 JSON (was a 500, a
    RecursionError); an over-limit chunked body: 413 JSON."""
    app = start_app("kue")
    deep = b"[" * 5000 + b"]" * 5000
    answer = requests.post(app.url + "/job", data=deep, timeout=30,
                           headers={"Content-Type": "application/json"})
    assert answer.status_code == 400, answer.text
    assert answer.json() == {"error": "the body is not valid JSON"}
    chunks = (b"[" + b"1," * 1024 * 1024 + b"1]" for _ in range(1))
    answer = requests.post(app.url + "/job", data=chunks, timeout=30,
                           headers={"Content-Type": "application/json"})
    assert answer.status_code == 413, answer.text
    assert answer.json() == {"error": "Request Entity Too Large"}
    assert requests.get(app.url + "/stats", timeout=30).status_code == 200


@pytest.mark.parametrize("kind", ["users_api:session_db_auth:production",
                                  "auth_service:production"])
def test_a_logout_case_does_not_end_the_fuzz_users_run(
        start_app: Callable[[str], LiveApp], kind: str) -> None:
    """Once a fuzz case logs the fuzz user out, the next cases are
    authenticated again (they all got 403 before)."""
    app = start_app(kind)
    auth = Credentials(app)
    schema = schemathesis.openapi.from_url(
        app.url + app.prefix + "/openapi.json")
    path = "/auth_session/logout" if app.prefix else "/sessions"
    old = dict(auth.cookies)
    response = call(app, schema[app.prefix + path]["DELETE"].Case(), auth)
    assert response.status_code in (200, 302), response.text
    assert requests.get(app.url + auth.probe_path, cookies=old,
                        timeout=30).status_code in (401, 403)
    assert auth.cookies != old and auth.valid()

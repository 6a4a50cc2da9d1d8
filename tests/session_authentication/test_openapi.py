#!/usr/bin/env python3
"""The users API's OpenAPI description against its code and its seeds.

The description served at /api/v1/openapi.json is valid OpenAPI 3.1
for every AUTH_TYPE, names the security scheme of that AUTH_TYPE (the
cookie is SESSION_NAME), lists every route and method of the app and
nothing else, and every request and answer of the seeds' curl sessions
fits it. The documentation routes need no authentication.
"""
from pathlib import Path
from typing import Callable, Iterator

import pytest
from flask import Flask, jsonify

from models import db
from tests.openapi_support import (Exchange, assert_routes_described,
                                   assert_valid_openapi_31,
                                   validate_exchange)

WHERE = "session_authentication/api/v1/openapi.py"
AUTH_TYPES = [None, "auth", "basic_auth", "session_auth",
              "session_exp_auth", "session_db_auth", "session_redis_auth"]
BOB_BASIC = "Basic Ym9iQGhidG4uaW86SDBsYmVydG9uU2Nob29sOTgh"
SESSION = "_my_session_id"
USER = {"created_at": "2017-09-25 01:55:17", "email": "bob@hbtn.io",
        "first_name": None, "id": "9375973a-68c7-46aa-b135-29f79e837495",
        "last_name": None, "updated_at": "2017-09-25 01:55:17"}
LOGIN = "/api/v1/auth_session/login"
# The seeds' curl sessions (session seeds, tasks 0, 1, 5, 7 and 8).
BASIC_AUTH_EXCHANGES = [
    Exchange("GET", "/api/v1/status", 200, {"status": "OK"}),
    Exchange("GET", "/api/v1/users", 401, {"error": "Unauthorized"}),
    Exchange("GET", "/api/v1/users", 200, [USER],
             headers={"Authorization": BOB_BASIC}),
    Exchange("GET", "/api/v1/users/me", 200, USER,
             headers={"Authorization": BOB_BASIC}),
]
SESSION_AUTH_EXCHANGES = [
    Exchange("GET", "/api/v1/status", 200, {"status": "OK"}),
    Exchange("GET", "/api/v1/status/", 200, {"status": "OK"}),
    Exchange("GET", "/api/v1/users", 401, {"error": "Unauthorized"}),
    Exchange("GET", "/api/v1/users", 403, {"error": "Forbidden"},
             headers={"Authorization": "Test"}),
    Exchange("GET", LOGIN, 405),
    Exchange("GET", "/api/v1/users/me", 401, {"error": "Unauthorized"}),
    Exchange("GET", "/api/v1/users/me", 403, {"error": "Forbidden"},
             headers={"Authorization": BOB_BASIC}),
    Exchange("GET", "/api/v1/users/me", 403, {"error": "Forbidden"},
             cookies={SESSION: "5535d4d7-3d77-4d06-8281-495dc3acfe76"}),
    Exchange("POST", LOGIN, 400, {"error": "email missing"}),
    Exchange("POST", LOGIN, 400, {"error": "password missing"},
             form={"email": "guillaume@hbtn.io"}),
    Exchange("POST", LOGIN, 404, {"error": "no user found for this email"},
             form={"email": "guillaume@hbtn.io", "password": "test"}),
    Exchange("POST", LOGIN, 401, {"error": "wrong password"},
             form={"email": "bobsession@hbtn.io", "password": "test"}),
    Exchange("POST", LOGIN, 200, dict(USER, email="bobsession@hbtn.io"),
             form={"email": "bobsession@hbtn.io", "password": "fake pwd"},
             sets_cookie=SESSION),
    Exchange("GET", "/api/v1/users/me", 200,
             dict(USER, email="bobsession@hbtn.io"),
             cookies={SESSION: "df05b4e1-d117-444c-a0cc-ba0d167889c4"}),
    Exchange("GET", "/api/v1/auth_session/logout", 405,
             cookies={SESSION: "e173cb79-d3fc-4e3a-9e6f-bcd345b24721"}),
    Exchange("DELETE", "/api/v1/auth_session/logout", 200, {},
             cookies={SESSION: "e173cb79-d3fc-4e3a-9e6f-bcd345b24721"}),
    Exchange("GET", "/api/v1/users/me", 403, {"error": "Forbidden"},
             cookies={SESSION: "e173cb79-d3fc-4e3a-9e6f-bcd345b24721"}),
]


@pytest.fixture
def build_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
              ) -> Iterator[Callable[..., Flask]]:
    """Yield a builder of in-process apps on a temporary database."""
    from api.v1.factory import create_app

    monkeypatch.chdir(tmp_path)

    def build(auth_type: str = "", **overrides: str) -> Flask:
        """Build the API for an AUTH_TYPE ("" for none)."""
        config = {"DATABASE_URL": "sqlite:///{}".format(
            tmp_path / "api.db"), "AUTH_TYPE": auth_type,
            "SESSION_NAME": SESSION, "LOGIN_RATE_LIMIT": "off"}
        config.update(overrides)
        return create_app(config)

    yield build
    db.configure(None)
    db.reset()


def served(app: Flask) -> dict:
    """Return the description the app serves, checking the answer."""
    answer = app.test_client().get("/api/v1/openapi.json")
    assert answer.status_code == 200
    assert answer.content_type == "application/json"
    return answer.get_json()


@pytest.mark.parametrize("auth_type", AUTH_TYPES)
def test_description_is_openapi_31_for_every_auth_type(
        build_app: Callable, auth_type: str) -> None:
    """Each AUTH_TYPE's served description is valid OpenAPI 3.1."""
    assert_valid_openapi_31(served(build_app(auth_type or "")))


def test_basic_auth_is_described_as_http_basic(build_app: Callable) -> None:
    """basic_auth: one HTTP Basic scheme, required by the users routes."""
    description = served(build_app("basic_auth"))
    schemes = description["components"]["securitySchemes"]
    assert schemes == {"basicAuth": {
        "type": "http", "scheme": "basic",
        "description": schemes["basicAuth"]["description"]}}
    assert description["security"] == [{"basicAuth": []}]
    users = description["paths"]["/api/v1/users"]["get"]
    assert "security" not in users and "401" in users["responses"]
    assert description["paths"]["/api/v1/status"]["get"]["security"] == []


@pytest.mark.parametrize("auth_type", ["session_auth", "session_exp_auth",
                                       "session_db_auth",
                                       "session_redis_auth"])
def test_session_types_describe_the_session_name_cookie(
        build_app: Callable, auth_type: str) -> None:
    """Session types: an apiKey cookie named after SESSION_NAME."""
    description = served(build_app(auth_type, SESSION_NAME="my_sid"))
    scheme = description["components"]["securitySchemes"]["sessionCookie"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == (
        "apiKey", "cookie", "my_sid")
    assert description["security"] == [{"sessionCookie": []}]


def test_without_auth_type_no_security_is_described(
        build_app: Callable) -> None:
    """AUTH_TYPE unset: no scheme, no 401/403 answers."""
    description = served(build_app(""))
    assert "security" not in description
    users = description["paths"]["/api/v1/users"]["get"]["responses"]
    assert "401" not in users and "403" not in users


def test_every_route_and_method_is_described(build_app: Callable) -> None:
    """The description lists exactly the app's routes and methods."""
    app = build_app("session_db_auth")
    assert_routes_described(app, served(app), WHERE)


def test_a_route_missing_from_the_description_is_named(
        build_app: Callable) -> None:
    """A route added without its description fails the check, by name."""
    app = build_app("session_db_auth")
    app.add_url_rule("/api/v1/sessions", "list_my_sessions",
                     lambda: jsonify([]), methods=["GET"])
    with pytest.raises(AssertionError) as failure:
        assert_routes_described(app, served(app), WHERE)
    message = str(failure.value)
    assert "GET /api/v1/sessions" in message
    assert "'list_my_sessions'" in message and WHERE in message


@pytest.mark.parametrize("exchange", BASIC_AUTH_EXCHANGES, ids=str)
def test_basic_auth_seed_transcript_fits(build_app: Callable,
                                         exchange: Exchange) -> None:
    """Every exchange of the seed's basic_auth session fits."""
    validate_exchange(served(build_app("basic_auth")), exchange)


@pytest.mark.parametrize("exchange", SESSION_AUTH_EXCHANGES, ids=str)
def test_session_auth_seed_transcript_fits(build_app: Callable,
                                           exchange: Exchange) -> None:
    """Every exchange of the seeds' session_auth sessions fits."""
    validate_exchange(served(build_app("session_auth")), exchange)


def test_a_body_off_the_description_is_caught(build_app: Callable) -> None:
    """The seed check can fail: a user body with a password field."""
    description = served(build_app("basic_auth"))
    with pytest.raises(Exception):
        validate_exchange(description, Exchange(
            "GET", "/api/v1/users/me", 200, dict(USER, password="x")))


@pytest.mark.parametrize("path", ["/api/v1/openapi.json", "/api/v1/docs",
                                  "/api/v1/docs/",
                                  "/api/v1/docs/swagger-ui.css"])
def test_documentation_needs_no_authentication(
        start_api: Callable, path: str) -> None:
    """A live basic_auth server answers the docs routes without
    credentials, and still asks for them elsewhere."""
    api = start_api("basic_auth")
    answer = api.get(path[len("/api/v1"):])
    assert answer.status_code == 200
    assert api.get("/users").status_code == 401

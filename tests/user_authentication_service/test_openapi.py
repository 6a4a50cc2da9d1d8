#!/usr/bin/env python3
"""The auth service's OpenAPI description against its code and seed.

The description served at /openapi.json is valid OpenAPI 3.1, lists
every route and method of the app and nothing else, describes the
``session_id`` cookie, and every request and answer of the seed's
transcripts fits it.
"""
from typing import Callable

import pytest
import requests
from flask import jsonify

from tests.openapi_support import (Exchange, assert_routes_described,
                                   assert_valid_openapi_31,
                                   validate_exchange)

WHERE = "user_authentication_service/service_openapi.py"
TOKEN = "75c89af8-1729-44d9-a592-41b5e59de9a1"
SEED_EXCHANGES = [
    Exchange("GET", "/", 200, {"message": "Bienvenue"}),
    Exchange("POST", "/users", 200,
             {"email": "bob@me.com", "message": "user created"},
             form={"email": "bob@me.com", "password": "mySuperPwd"}),
    Exchange("POST", "/users", 400, {"message": "email already registered"},
             form={"email": "bob@me.com", "password": "mySuperPwd"}),
    Exchange("POST", "/sessions", 200,
             {"email": "bob@bob.com", "message": "logged in"},
             form={"email": "bob@bob.com", "password": "mySuperPwd"},
             sets_cookie="session_id"),
    Exchange("POST", "/sessions", 401,
             form={"email": "bob@bob.com", "password": "BlaBla"}),
    Exchange("GET", "/profile", 200, {"email": "bob@bob.com"},
             cookies={"session_id": TOKEN}),
    Exchange("GET", "/profile", 403, cookies={"session_id": "nope"}),
    Exchange("DELETE", "/sessions", 302, cookies={"session_id": TOKEN}),
    Exchange("POST", "/reset_password", 200,
             {"email": "bob@bob.com", "reset_token": TOKEN},
             form={"email": "bob@bob.com"}),
    Exchange("POST", "/reset_password", 403, form={"email": "x@y.z"}),
    Exchange("PUT", "/reset_password", 200,
             {"email": "bob@bob.com", "message": "Password updated"},
             form={"email": "bob@bob.com", "reset_token": TOKEN,
                   "new_password": "t4rt1fl3tt3"}),
    Exchange("PUT", "/reset_password", 403,
             form={"email": "bob@bob.com", "reset_token": "bad",
                   "new_password": "t4rt1fl3tt3"}),
]


def served(app: object) -> dict:
    """Return the description the app serves, checking the answer."""
    answer = app.test_client().get("/openapi.json")
    assert answer.status_code == 200
    assert answer.content_type == "application/json"
    return answer.get_json()


def test_description_is_openapi_31(make_edge_app: Callable) -> None:
    """The served description is valid OpenAPI 3.1."""
    assert_valid_openapi_31(served(make_edge_app()))


def test_session_cookie_is_described(make_edge_app: Callable) -> None:
    """The profile and logout need the session_id cookie."""
    description = served(make_edge_app())
    scheme = description["components"]["securitySchemes"]["sessionCookie"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == (
        "apiKey", "cookie", "session_id")
    for path, method in (("/profile", "get"), ("/sessions", "delete")):
        assert description["paths"][path][method]["security"] == [
            {"sessionCookie": []}]


def test_every_route_and_method_is_described(
        make_edge_app: Callable) -> None:
    """The description lists exactly the app's routes and methods."""
    app = make_edge_app()
    assert_routes_described(app, served(app), WHERE)


def test_a_route_missing_from_the_description_is_named(
        make_edge_app: Callable) -> None:
    """A route added without its description fails the check, by name."""
    app = make_edge_app()
    app.add_url_rule("/sessions/all", "end_all_sessions",
                     lambda: jsonify({}), methods=["DELETE"])
    with pytest.raises(AssertionError) as failure:
        assert_routes_described(app, served(app), WHERE)
    assert "DELETE /sessions/all" in str(failure.value)
    assert "'end_all_sessions'" in str(failure.value)


@pytest.mark.parametrize("exchange", SEED_EXCHANGES, ids=str)
def test_seed_transcripts_fit(make_edge_app: Callable,
                              exchange: Exchange) -> None:
    """Every exchange of the seed's transcripts fits the description."""
    validate_exchange(served(make_edge_app()), exchange)


def test_docs_page_is_served(make_edge_app: Callable) -> None:
    """GET /docs answers the Swagger UI page, which loads openapi.json."""
    client = make_edge_app().test_client()
    page = client.get("/docs")
    assert page.status_code == 200
    assert page.content_type.startswith("text/html")
    script = client.get("/docs/swagger-initializer.js").get_data(True)
    assert '"/openapi.json"' in script


def test_production_answers_fit(start_app: Callable) -> None:
    """A production server's answers fit the description it serves:
    the reset answer without a token, 403 to another origin's writes,
    429 with Retry-After after failed logins, the __Host- cookie."""
    app = start_app("auth_service:production")
    description = requests.get(app.url + "/openapi.json", timeout=30).json()
    scheme = description["components"]["securitySchemes"]["sessionCookie"]
    assert scheme["name"] == "__Host-session_id"
    email, password = "prod@example.com", "a long passphrase"
    exchanges = []

    def send(method: str, path: str, **kwargs: object) -> None:
        """Send one request and keep it as an exchange."""
        answer = requests.request(method, app.url + path, timeout=30,
                                  allow_redirects=False, **kwargs)
        body = answer.json() if answer.content else None
        exchanges.append((answer, Exchange(
            method, path, answer.status_code, body,
            form=kwargs.get("data"), cookies=kwargs.get("cookies") or {})))

    send("POST", "/users", data={"email": email, "password": password})
    send("POST", "/reset_password", data={"email": email})
    send("POST", "/reset_password", data={"email": "nobody@example.com"})
    for path, method in (("/users", "POST"), ("/sessions", "POST"),
                         ("/sessions", "DELETE"),
                         ("/reset_password", "POST"),
                         ("/reset_password", "PUT")):
        send(method, path, headers={"Origin": "https://evil.example"},
             data=None if method == "DELETE" else {"email": email})
    send("POST", "/sessions", data={"email": email, "password": password})
    cookie = exchanges[-1][0].cookies["__Host-session_id"]
    send("GET", "/profile", cookies={"__Host-session_id": cookie})
    for _ in range(6):
        send("POST", "/sessions", data={"email": email, "password": "no"})
    statuses = [answer.status_code for answer, _ in exchanges]
    assert statuses == [200, 200, 200] + [403] * 5 + [200, 200] + [
        401] * 5 + [429], statuses
    assert exchanges[1][1].body["message"].startswith("if this email")
    for _, exchange in exchanges:
        validate_exchange(description, exchange)
    throttled = exchanges[-1][0]
    assert int(throttled.headers["Retry-After"]) > 0
    operation = description["paths"]["/sessions"]["post"]
    assert "Retry-After" in operation["responses"]["429"]["headers"]

#!/usr/bin/env python3
"""The OpenAPI 3.1 description of the user authentication service.

Written by hand and served by ``app.py`` at ``/openapi.json``, with a
Swagger UI page at ``/docs`` (``http_common.api_docs``). It is checked
against the code by tests/user_authentication_service/test_openapi.py
(every route and method of the app is described, and every described
one exists; the seed's transcripts validate against it): a new route
must be added here.
"""
from http_common.api_docs import docs_paths

# The session cookie's name in the seed profile; production's default is
# __Host-session_id (``describe`` takes SESSION_COOKIE_NAME).
COOKIE = "session_id"


def _message(description: str) -> dict:
    """Return a response object whose body is {"message": <text>}."""
    return {"description": description, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Message"}}}}


def _answer(description: str, *fields: str, **extra: dict) -> dict:
    """Return a 200 response object with a JSON object of text fields."""
    response = {"description": description, "content": {
        "application/json": {"schema": {
            "type": "object", "required": list(fields),
            "additionalProperties": False,
            "properties": {name: {"type": "string"}
                           for name in fields}}}}}
    response.update(extra)
    return response


def _body(*fields: str) -> dict:
    """Return a request body of required text fields: a form (as curl
    -d sends it) or a JSON object."""
    schema = {"type": "object", "required": list(fields),
              "properties": {name: {"type": "string", "minLength": 1,
                                    "maxLength": 1024}
                             for name in fields}}
    return {"required": True, "content": {
        "application/x-www-form-urlencoded": {"schema": schema},
        "multipart/form-data": {"schema": schema},
        "application/json": {"schema": schema}}}


BAD_REQUEST = _message("A field is missing, empty, too long or not "
                       "UTF-8, or the body is malformed.")
TOO_LARGE = _message("The body is over MAX_CONTENT_LENGTH (16 KiB).")
UNSUPPORTED = _message("A body that is neither a form nor JSON.")
TOO_MANY = _message("Rate limited: {\"message\": \"Too Many Requests\"}.")
RETRY_AFTER = {"Retry-After": {
    "description": "Seconds until the account's back-off ends.",
    "schema": {"type": "string", "pattern": "^[0-9]+$"}}}
LOGIN_TOO_MANY = dict(_message(
    "Rate limited ({\"message\": \"Too Many Requests\"}), or the "
    "account is in back-off after repeated failed logins "
    "({\"message\": \"too many failed logins, retry later\"} with "
    "Retry-After)."), headers=RETRY_AFTER)
CROSS_ORIGIN = ("A browser's request from another origin (an Origin "
                "that is neither this server's nor in ALLOWED_ORIGINS, or "
                "Sec-Fetch-Site cross-site): {\"message\": \"cross-origin "
                "request refused\"}.")
UNAVAILABLE = _message("The database cannot be reached.")
FORBIDDEN = _message("{\"message\": \"Forbidden\"}.")
NOT_FOUND = _message("{\"message\": \"Not Found\"}.")
SESSION = [{"sessionCookie": []}]


def _form_operation(operation_id: str, summary: str, fields: tuple,
                    ok: dict, **answers: dict) -> dict:
    """Return an operation that reads form fields, with the answers
    every such operation can give."""
    responses = {"200": ok, "400": BAD_REQUEST, "403": _message(
        CROSS_ORIGIN), "413": TOO_LARGE, "415": UNSUPPORTED,
        "429": TOO_MANY, "503": UNAVAILABLE}
    responses.update({code[1:]: answer for code, answer in answers.items()})
    return {"operationId": operation_id, "summary": summary,
            "security": [], "requestBody": _body(*fields),
            "responses": responses}


def _reset_answer() -> dict:
    """Return the 200 answer of POST /reset_password in both profiles."""
    token = _answer("", "email", "reset_token")
    sent = _answer("", "email", "message")
    return {"description": "RESET_TOKEN_DELIVERY=response (seed): "
                           "{\"email\": ..., \"reset_token\": ...}; "
                           "email (production): {\"email\": ..., "
                           "\"message\": \"if this email is registered, a "
                           "reset token was sent to it\"}, the same for "
                           "every valid address.",
            "content": {"application/json": {"schema": {"oneOf": [
                token["content"]["application/json"]["schema"],
                sent["content"]["application/json"]["schema"]]}}}}


def describe(cookie: str = COOKIE) -> dict:
    """Return the OpenAPI 3.1 description of the service, whose session
    cookie is named ``cookie`` (SESSION_COOKIE_NAME)."""
    paths = {
        "/": {"get": {
            "operationId": "index", "summary": "Welcome message",
            "security": [],
            "responses": {"200": _answer("{\"message\": \"Bienvenue\"}",
                                         "message")}}},
        "/users": {"post": _form_operation(
            "register", "Register an email and password",
            ("email", "password"),
            _answer("{\"email\": ..., \"message\": \"user created\"}",
                    "email", "message", links={"LogIn": {
                        "operationId": "login",
                        "requestBody": "$request.body"}}))},
        "/sessions": {
            "post": _form_operation(
                "login", "Log in: set the session_id cookie",
                ("email", "password"),
                _answer("{\"email\": ..., \"message\": \"logged in\"} and "
                        "Set-Cookie: " + cookie + "=...; HttpOnly; Path=/;"
                        " SameSite=Lax (production: also Secure)",
                        "email", "message",
                        headers={"Set-Cookie": {
                            "schema": {"type": "string"}}},
                        links={"Profile": {"operationId": "profile"},
                               "LogOut": {"operationId": "logout"}}),
                s401=_message("Wrong email or password."),
                s429=LOGIN_TOO_MANY),
            "delete": {
                "operationId": "logout",
                "summary": "Log out: end the session, redirect to /",
                "security": SESSION,
                "responses": {
                    "302": {"description": "Redirect to GET /; the "
                                           "cookie is cleared.",
                            "headers": {"Location": {
                                "schema": {"type": "string"}}}},
                    "403": _message("No session for the cookie "
                                    "({\"message\": \"Forbidden\"}), or "
                                    + CROSS_ORIGIN[0].lower()
                                    + CROSS_ORIGIN[1:]),
                    "503": UNAVAILABLE}}},
        "/profile": {"get": {
            "operationId": "profile",
            "summary": "The email of the cookie's user",
            "security": SESSION,
            "responses": {"200": _answer("{\"email\": ...}", "email"),
                          "403": FORBIDDEN, "503": UNAVAILABLE}}},
        "/reset_password": {
            "post": _form_operation(
                "get_reset_password_token", "Issue a reset token",
                ("email",),
                _reset_answer(),
                s403=_message("No user has this email (seed), or "
                              + CROSS_ORIGIN[0].lower()
                              + CROSS_ORIGIN[1:])),
            "put": _form_operation(
                "update_password", "Set a new password with a token",
                ("email", "reset_token", "new_password"),
                _answer("{\"email\": ..., \"message\": \"Password "
                        "updated\"}", "email", "message"),
                s403=_message("Unknown, used or expired token, or "
                              + CROSS_ORIGIN[0].lower()
                              + CROSS_ORIGIN[1:]))},
    }
    paths.update(docs_paths("", NOT_FOUND))
    return {
        "openapi": "3.1.0",
        "info": {"title": "User authentication service",
                 "version": "1.0.0",
                 "description": "Register, log in, profile, log out and "
                                "password reset. Errors answer "
                                "{\"message\": ...}."},
        "paths": paths,
        "components": {
            "schemas": {"Message": {
                "type": "object", "required": ["message"],
                "properties": {"message": {"type": "string"}}}},
            "securitySchemes": {"sessionCookie": {
                "type": "apiKey", "in": "cookie", "name": cookie,
                "description": "The session id set by POST /sessions "
                               "(SESSION_COOKIE_NAME: session_id, "
                               "production __Host-session_id)."}}},
    }

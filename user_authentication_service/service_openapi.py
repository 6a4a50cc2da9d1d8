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
UNAVAILABLE = _message("The database cannot be reached.")
FORBIDDEN = _message("{\"message\": \"Forbidden\"}.")
NOT_FOUND = _message("{\"message\": \"Not Found\"}.")
SESSION = [{"sessionCookie": []}]


def _form_operation(operation_id: str, summary: str, fields: tuple,
                    ok: dict, **answers: dict) -> dict:
    """Return an operation that reads form fields, with the answers
    every such operation can give."""
    responses = {"200": ok, "400": BAD_REQUEST, "413": TOO_LARGE,
                 "415": UNSUPPORTED, "429": TOO_MANY, "503": UNAVAILABLE}
    responses.update({code[1:]: answer for code, answer in answers.items()})
    return {"operationId": operation_id, "summary": summary,
            "security": [], "requestBody": _body(*fields),
            "responses": responses}


def describe() -> dict:
    """Return the OpenAPI 3.1 description of the service."""
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
                        "Set-Cookie: session_id=...; HttpOnly; Path=/; "
                        "SameSite=Lax", "email", "message",
                        headers={"Set-Cookie": {
                            "schema": {"type": "string"}}},
                        links={"Profile": {"operationId": "profile"},
                               "LogOut": {"operationId": "logout"}}),
                s401=_message("Wrong email or password.")),
            "delete": {
                "operationId": "logout",
                "summary": "Log out: end the session, redirect to /",
                "security": SESSION,
                "responses": {
                    "302": {"description": "Redirect to GET /; the "
                                           "cookie is cleared.",
                            "headers": {"Location": {
                                "schema": {"type": "string"}}}},
                    "403": FORBIDDEN, "503": UNAVAILABLE}}},
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
                _answer("{\"email\": ..., \"reset_token\": ...}",
                        "email", "reset_token"),
                s403=_message("No user has this email.")),
            "put": _form_operation(
                "update_password", "Set a new password with a token",
                ("email", "reset_token", "new_password"),
                _answer("{\"email\": ..., \"message\": \"Password "
                        "updated\"}", "email", "message"),
                s403=_message("Unknown, used or expired token."))},
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
                "type": "apiKey", "in": "cookie", "name": COOKIE,
                "description": "The session id set by POST /sessions."}}},
    }

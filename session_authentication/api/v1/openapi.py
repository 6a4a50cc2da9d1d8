#!/usr/bin/env python3
"""The OpenAPI 3.1 description of the users API, written by hand.

``describe(auth_type, session_name)`` builds it for the app's settings:
the security scheme follows AUTH_TYPE (HTTP Basic for ``basic_auth``, a
cookie named SESSION_NAME for the session types, none otherwise). The
app serves it at ``/api/v1/openapi.json`` with a Swagger UI page at
``/api/v1/docs`` (``http_common.api_docs``). It is checked against the
code by tests/session_authentication/test_openapi.py: every route and
method of the app is described and every described one exists, and the
seeds' transcripts validate against it. A new route must be added here.
"""
from typing import Optional

from api.v1.views.pagination import DEFAULT_LIMIT, MAX_LIMIT
from http_common.api_docs import docs_paths

PREFIX = "/api/v1"
SESSION_TYPES = ("session_auth", "session_exp_auth", "session_db_auth",
                 "session_redis_auth")
TEXT_255 = {"type": "string", "maxLength": 255}


def _ref(name: str) -> dict:
    """Return a reference to a schema of the components."""
    return {"$ref": "#/components/schemas/" + name}


def _error(description: str) -> dict:
    """Return a response object whose body is {"error": <text>}."""
    return {"description": description,
            "content": {"application/json": {"schema": _ref("Error")}}}


def _json(description: str, schema: dict, **extra: dict) -> dict:
    """Return a response object with a JSON body of the given schema."""
    response = {"description": description,
                "content": {"application/json": {"schema": schema}}}
    response.update(extra)
    return response


NOT_FOUND = _error("Not found: {\"error\": \"Not found\"}.")
UNAUTHORIZED = _error("No credentials (no Authorization header, no "
                      "session cookie): {\"error\": \"Unauthorized\"}.")
FORBIDDEN = _error("Credentials that identify no user, a write with "
                   "credentials from another origin, or (production) "
                   "another user's data: {\"error\": \"Forbidden\"}.")
RETRY_AFTER = {"Retry-After": {
    "description": "Seconds to wait before the next password check.",
    "schema": {"type": "string", "pattern": "^[0-9]+$"}}}
THROTTLED = dict(_error("A password check that must wait (back-off after "
                        "failures), with Retry-After: "
                        "{\"error\": \"Too Many Requests\"}."),
                 headers=RETRY_AFTER)
TOO_LARGE = _error("The body is over MAX_CONTENT_LENGTH (sized or "
                   "chunked).")
UNAVAILABLE = _error("The database (or Redis) cannot be reached: "
                     "{\"error\": \"Service Unavailable\"}.")
BAD_BODY = _error("\"Wrong format\" (not a JSON object, a field of the "
                  "wrong type or too long), \"email missing\", "
                  "\"password missing\" or \"Can't create User: "
                  "<reason>\".")
BAD_PAGE = _error("A limit that is not an integer from 1 to {} or an "
                  "after that is not a cursor of this list."
                  .format(MAX_LIMIT))
PAGES_DESCRIPTION = (
    "Keyset pagination: `limit` users per page, in (created_at, id) "
    "order, from after the key `after` (an opaque cursor taken from the "
    "`Link` header of the previous page). While more users follow, the "
    "answer carries `Link: </api/v1/users?limit=N&after=CURSOR>; "
    "rel=\"next\"` (RFC 8288); the last page has none. Without "
    "either parameter the seed profile answers every user (the seed's "
    "list) and production the first {} (admins only).".format(
        DEFAULT_LIMIT))
PAGE_PARAMETERS = [
    {"name": "limit", "in": "query", "required": False,
     "description": "Users per page (default {}).".format(DEFAULT_LIMIT),
     "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}},
    {"name": "after", "in": "query", "required": False,
     "description": "The cursor of the `Link: rel=\"next\"` header of "
                    "the previous page.",
     "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,200}$"}}]
NEXT_LINK = {
    "description": "`<...?limit=N&after=CURSOR>; rel=\"next\"` while "
                   "more users follow (RFC 8288).",
    "schema": {"type": "string"}}
USER_ID = {"name": "user_id", "in": "path", "required": True,
           "description": "A user's id, or \"me\": the authenticated user.",
           "schema": {"type": "string"}}

SCHEMAS = {
    "Error": {
        "type": "object", "required": ["error"],
        "properties": {"error": {"type": "string"}}},
    "Empty": {"type": "object", "maxProperties": 0},
    "User": {
        "type": "object", "additionalProperties": False,
        "required": ["id", "email", "first_name", "last_name",
                     "created_at", "updated_at"],
        "properties": {
            "id": {"type": "string"},
            "email": {"type": ["string", "null"]},
            "first_name": {"type": ["string", "null"]},
            "last_name": {"type": ["string", "null"]},
            "created_at": {"type": "string",
                           "examples": ["2017-10-16 04:23:04"]},
            "updated_at": {"type": "string",
                           "examples": ["2017-10-16 04:23:04"]}}},
    "NewUser": {
        "type": "object", "required": ["email", "password"],
        "properties": {
            "email": {"type": "string", "maxLength": 254,
                      "examples": ["bob@hbtn.io"]},
            "password": {"type": "string", "maxLength": 1024},
            "first_name": TEXT_255, "last_name": TEXT_255}},
    "UserUpdate": {
        "type": "object",
        "properties": {"first_name": TEXT_255, "last_name": TEXT_255}},
    "Session": {
        "type": "object", "additionalProperties": False,
        "required": ["id", "current", "created_at", "last_seen_at"],
        "properties": {
            "id": {"type": "string", "description": "A handle of the "
                   "session (never its id)."},
            "current": {"type": "boolean"},
            "created_at": {"type": ["string", "null"]},
            "last_seen_at": {"type": ["string", "null"]}}},
    "PasswordChange": {
        "type": "object", "required": ["current_password", "new_password"],
        "properties": {
            "current_password": {"type": "string", "maxLength": 1024},
            "new_password": {"type": "string", "maxLength": 1024}}},
    "Credentials": {
        "type": "object", "required": ["email", "password"],
        "properties": {"email": {"type": "string"},
                       "password": {"type": "string"}}},
}


def _security_scheme(auth_type: Optional[str],
                     session_name: str) -> Optional[tuple]:
    """Return (name, security scheme object) for AUTH_TYPE, or None."""
    if auth_type == "basic_auth":
        return "basicAuth", {
            "type": "http", "scheme": "basic",
            "description": "Authorization: Basic base64(email:password)."}
    if auth_type in SESSION_TYPES:
        return "sessionCookie", {
            "type": "apiKey", "in": "cookie", "name": session_name,
            "description": "The session id set by POST "
                           "/api/v1/auth_session/login."}
    return None


def _protected(operation: dict, auth_type: Optional[str]) -> dict:
    """Add the answers of authentication to an operation that needs it."""
    if auth_type:
        operation["responses"].setdefault("401", UNAUTHORIZED)
        operation["responses"].setdefault("403", FORBIDDEN)
        operation["responses"].setdefault("429", THROTTLED)
    return operation


def _user_links() -> dict:
    """Return the links from a created user to reading, updating and
    deleting it (Schemathesis follows them)."""
    user_id = {"user_id": "$response.body#/id"}
    return {
        "GetUser": {"operationId": "get_user", "parameters": user_id},
        "UpdateUser": {"operationId": "update_user",
                       "parameters": user_id},
        "DeleteUser": {"operationId": "delete_user",
                       "parameters": user_id}}


def _paths(auth_type: Optional[str]) -> dict:
    """Return the path items of the API's own routes."""
    user = _json("The user.", _ref("User"))
    body = {"required": True, "content": {
        "application/json": {"schema": _ref("NewUser")}}}
    update = {"required": True, "content": {
        "application/json": {"schema": _ref("UserUpdate")}}}
    login = {"required": True, "content": {
        "application/x-www-form-urlencoded": {"schema": _ref("Credentials")},
        "application/json": {"schema": _ref("Credentials")}}}
    open_route = {"security": []}
    p = PREFIX
    return {
        p + "/status": {"get": dict(open_route, **{
            "operationId": "get_status", "tags": ["index"],
            "summary": "Tell that the API is up",
            "responses": {"200": _json("{\"status\": \"OK\"}", {
                "type": "object", "required": ["status"],
                "properties": {"status": {"const": "OK"}}})}})},
        p + "/stats": {"get": _protected({
            "operationId": "get_stats", "tags": ["index"],
            "summary": "Count the stored objects",
            "responses": {
                "200": _json("{\"users\": <count>}", {
                    "type": "object", "required": ["users"],
                    "properties": {"users": {"type": "integer",
                                             "minimum": 0}}}),
                "503": UNAVAILABLE}}, auth_type)},
        p + "/unauthorized": {"get": dict(open_route, **{
            "operationId": "get_unauthorized", "tags": ["index"],
            "summary": "Answer 401 through the error handler",
            "responses": {"401": UNAUTHORIZED}})},
        p + "/forbidden": {"get": dict(open_route, **{
            "operationId": "get_forbidden", "tags": ["index"],
            "summary": "Answer 403 through the error handler",
            "responses": {"403": FORBIDDEN}})},
        p + "/users": {
            "get": _protected({
                "operationId": "list_users", "tags": ["users"],
                "summary": "List the users, whole or by pages",
                "description": PAGES_DESCRIPTION,
                "parameters": PAGE_PARAMETERS,
                "responses": {
                    "200": _json("The users in (created_at, id) order: "
                                 "every one, or a page.", {
                                     "type": "array",
                                     "items": _ref("User")},
                                 headers={"Link": NEXT_LINK}),
                    "400": BAD_PAGE,
                    "503": UNAVAILABLE}}, auth_type),
            "post": _protected({
                "operationId": "create_user", "tags": ["users"],
                "summary": "Create a user",
                "requestBody": body,
                "responses": {
                    "201": _json("The new user.", _ref("User"),
                                 links=_user_links()),
                    "400": BAD_BODY, "413": TOO_LARGE,
                    "503": UNAVAILABLE}}, auth_type)},
        p + "/users/{user_id}": {
            "parameters": [USER_ID],
            "get": _protected({
                "operationId": "get_user", "tags": ["users"],
                "summary": "Read a user (\"me\": the authenticated one)",
                "responses": {"200": user, "404": NOT_FOUND,
                              "503": UNAVAILABLE}}, auth_type),
            "put": _protected({
                "operationId": "update_user", "tags": ["users"],
                "summary": "Update a user's first and last name",
                "requestBody": update,
                "responses": {
                    "200": user, "400": _error("\"Wrong format\"."),
                    "404": NOT_FOUND, "413": TOO_LARGE,
                    "503": UNAVAILABLE}}, auth_type),
            "delete": _protected({
                "operationId": "delete_user", "tags": ["users"],
                "summary": "Delete a user and end its sessions",
                "responses": {"200": _json("{}", _ref("Empty")),
                              "404": NOT_FOUND,
                              "503": UNAVAILABLE}}, auth_type)},
        p + "/auth_session/login": {"post": dict(open_route, **{
            "operationId": "login", "tags": ["sessions"],
            "summary": "Log in: set the session cookie",
            "requestBody": login,
            "responses": {
                "200": _json(
                    "The user; Set-Cookie: <SESSION_NAME>=<session id>; "
                    "HttpOnly; Path=/; SameSite=Lax.", _ref("User"),
                    headers={"Set-Cookie": {"schema": {"type": "string"}}}),
                "400": _error("\"email missing\" or \"password "
                              "missing\"."),
                "401": _error("\"wrong password\" (production: \"wrong "
                              "email or password\", also for an unknown "
                              "e-mail)."),
                "403": _error("A login sent by a page of another "
                              "origin."),
                "404": _error("\"no user found for this email\", or an "
                              "AUTH_TYPE without sessions."),
                "413": TOO_LARGE,
                "429": dict(_error(
                    "Too many attempts from this address, or a back-off "
                    "after failures (Retry-After)."), headers=RETRY_AFTER),
                "503": UNAVAILABLE}})},
        p + "/auth_session/logout": {"delete": _protected({
            "operationId": "logout", "tags": ["sessions"],
            "summary": "Log out: end the session server-side",
            "responses": {
                "200": _json("{}; the cookie is cleared.", _ref("Empty")),
                "404": _error("No session to end."),
                "503": UNAVAILABLE}}, auth_type)},
        p + "/auth_session/sessions": {
            "get": _protected({
                "operationId": "list_my_sessions", "tags": ["sessions"],
                "summary": "List my live sessions",
                "responses": {
                    "200": _json("My sessions, oldest first.", {
                        "type": "array", "items": _ref("Session")}),
                    "404": _error("AUTH_TYPE is not a session mode."),
                    "503": UNAVAILABLE}}, auth_type),
            "delete": _protected({
                "operationId": "end_my_other_sessions",
                "tags": ["sessions"],
                "summary": "Log out everywhere else: end my other "
                           "sessions",
                "responses": {
                    "200": _json("How many ended.", {
                        "type": "object", "required": ["ended"],
                        "properties": {"ended": {"type": "integer",
                                                 "minimum": 0}}}),
                    "404": _error("AUTH_TYPE is not a session mode."),
                    "503": UNAVAILABLE}}, auth_type)},
        p + "/auth_session/sessions/{handle}": {
            "parameters": [{"name": "handle", "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                            "description": "The id GET "
                                           "/auth_session/sessions lists."}],
            "delete": _protected({
                "operationId": "end_my_session", "tags": ["sessions"],
                "summary": "End one of my sessions",
                "responses": {"200": _json("{}", _ref("Empty")),
                              "404": NOT_FOUND,
                              "503": UNAVAILABLE}}, auth_type)},
        p + "/users/me/password": {"put": _protected({
            "operationId": "change_my_password", "tags": ["users"],
            "summary": "Change my password (the current one is required); "
                       "my other sessions end",
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": _ref("PasswordChange")}}},
            "responses": {
                "200": _json("How many other sessions ended.", {
                    "type": "object", "required": ["ended_sessions"],
                    "properties": {"ended_sessions": {
                        "type": "integer", "minimum": 0}}}),
                "400": _error("\"Wrong format\", a missing field, or a "
                              "new password too short or too long."),
                "404": NOT_FOUND, "413": TOO_LARGE,
                "503": UNAVAILABLE}}, auth_type)},
    }


def describe(auth_type: Optional[str] = None,
             session_name: str = "_my_session_id") -> dict:
    """Return the OpenAPI 3.1 description for an AUTH_TYPE and cookie."""
    paths = _paths(auth_type)
    paths.update(docs_paths(PREFIX, NOT_FOUND))
    components: dict = {"schemas": SCHEMAS}
    document = {
        "openapi": "3.1.0",
        "info": {
            "title": "Users API", "version": "1.0.0",
            "description": "Users under /api/v1 with pluggable "
                           "authentication (AUTH_TYPE={}).".format(
                               auth_type or "unset")},
        "paths": paths, "components": components}
    scheme = _security_scheme(auth_type, session_name)
    if scheme is not None:
        name, scheme_object = scheme
        components["securitySchemes"] = {name: scheme_object}
        document["security"] = [{name: []}]
    return document

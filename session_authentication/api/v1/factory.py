#!/usr/bin/env python3
"""The app factory of the users API.

``create_app()`` builds an app from the environment (and overrides):
blueprint, CORS, JSON error handlers, the storage, and the
authentication chosen by AUTH_TYPE, checked before every request.
"""
import logging
from typing import Mapping, Optional

import redis
from flask import Flask, Response, current_app, jsonify
from flask import abort, request
from flask_cors import CORS
from sqlalchemy.exc import OperationalError, TimeoutError
from werkzeug.exceptions import HTTPException

from api.v1 import openapi
from api.v1.auth.registry import UnknownAuthType, build_auth
from api.v1.config import ConfigError, Settings
from api.v1.views import app_views
from api.v1.views.validation import ApiRequest, refuse_oversized_body
from http_common.api_docs import register_api_docs
from http_common.rate_limits import KeyedLimit, StorageDown, open_storage
from models import db

# The documentation routes (the OpenAPI description, the Swagger UI page
# and its files) need no authentication either.
EXCLUDED_PATHS = ["/api/v1/status/", "/api/v1/unauthorized/",
                  "/api/v1/forbidden/", "/api/v1/auth_session/login/",
                  "/api/v1/openapi.json/", "/api/v1/docs*"]
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
LOGIN_PATH = "/api/v1/auth_session/login"
ERROR_NAMES = {401: "Unauthorized", 403: "Forbidden", 404: "Not found"}
log = logging.getLogger("api")


def handle_http_error(error: HTTPException) -> Response:
    """Answer every HTTP error with a JSON body {"error": ...}."""
    response = error.get_response()
    response.data = jsonify(
        {"error": ERROR_NAMES.get(error.code, error.name)}).get_data()
    response.content_type = "application/json"
    return response


def handle_unavailable(error: Exception) -> tuple:
    """Answer 503 JSON when the database or Redis cannot be reached."""
    log.warning("dependency unavailable: %s", error)
    return jsonify({"error": "Service Unavailable"}), 503


def handle_unexpected(error: Exception) -> tuple:
    """Answer 500 JSON (never a traceback) for an unexpected error."""
    if isinstance(error, HTTPException):
        return handle_http_error(error)
    log.exception("unexpected error")
    return jsonify({"error": "Internal Server Error"}), 500


def check_authentication() -> None:
    """Authenticate the request unless its path is excluded.

    401 without credentials (no Authorization header, no session
    cookie); 403 when they identify no user; else request.current_user.
    CORS preflights (OPTIONS) carry no credentials and get no data, so
    they are answered without authentication.
    """
    # The request object itself, not the context-local proxy: each
    # attribute read through the proxy costs a context lookup.
    current = request._get_current_object()
    current.current_user = None
    mechanism = current_app.extensions["auth"]
    if mechanism is None or current.method == "OPTIONS":
        return
    if not mechanism.require_auth(current.path, EXCLUDED_PATHS):
        return
    if current.method == "POST" and current.path.rstrip("/") == \
            "/api/v1/users" and current_app.config["SETTINGS"].open_signup:
        return
    if mechanism.authorization_header(current) is None \
            and mechanism.session_cookie(current) is None:
        abort(401)
    current.current_user = mechanism.current_user(current)
    if current.current_user is None:
        abort(403)


def refuse_cross_origin_writes() -> None:
    """Refuse (403) a write that carries credentials (a cookie or an
    Authorization header), or a login, sent by a page of another origin.

    Browsers say where a request comes from: ``Origin`` (trusted when it
    is this host, or listed in CORS_ORIGINS) and ``Sec-Fetch-Site``
    (same-origin, or none for a request the user typed). Clients that
    are not browsers send neither and are not concerned.
    """
    current = request._get_current_object()
    if current.method not in UNSAFE_METHODS:
        return
    headers = current.headers
    if "Cookie" not in headers and "Authorization" not in headers \
            and current.path.rstrip("/") != LOGIN_PATH:
        return
    origin = headers.get("Origin")
    if origin is not None:
        trusted = current_app.config["SETTINGS"].cors_origins
        host = origin.partition("://")[2]
        if host != current.host and origin.rstrip("/") not in trusted:
            abort(403)
        return
    site = headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        abort(403)


def secure_headers(response: Response) -> Response:
    """Add the headers every answer carries: no MIME sniffing, and no
    caching of an answer that sets a cookie (a session id)."""
    headers = response.headers
    headers["X-Content-Type-Options"] = "nosniff"
    if "Set-Cookie" in headers:
        headers["Cache-Control"] = "no-store"
    return response


def create_app(config: Optional[Mapping] = None) -> Flask:
    """Build the API from the environment, then the given overrides.

    One app per process: the models of the process use this app's
    database (``models.db.configure``). Raises ConfigError for a
    setting it cannot start with, such as an unknown AUTH_TYPE or a
    database it cannot reach or prepare.
    """
    settings = Settings.load(config)
    # No static files: no /static/<filename> route.
    app = Flask(__name__, static_folder=None)
    app.request_class = ApiRequest
    # A path with an empty segment (//, %2F) is not found, in JSON, rather
    # than redirected with Werkzeug's HTML body.
    app.url_map.merge_slashes = False
    app.config.update(
        JSON_SORT_KEYS=True, MAX_CONTENT_LENGTH=settings.max_content_length,
        SESSION_COOKIE_SECURE=settings.cookie_secure, SETTINGS=settings)
    app.config["DATABASE_URL"] = db.normalize_url(
        settings.database_url or db.DEFAULT_URL)
    db.configure(app.config["DATABASE_URL"])
    try:
        db.engines()
    except db.StorageError as err:
        raise ConfigError(str(err))
    try:
        app.extensions["auth"] = build_auth(settings)
    except UnknownAuthType as err:
        raise ConfigError(str(err))
    try:
        app.extensions["login_limiter"] = KeyedLimit(
            open_storage(settings.rate_limit_storage), "users_api",
            "login", settings.login_rate_limit)
    except Exception as err:
        raise ConfigError("LOGIN_RATE_LIMIT {!r} or RATELIMIT_STORAGE_URI "
                          "{!r}: {}".format(settings.login_rate_limit,
                                            settings.rate_limit_storage,
                                            err)) from None
    app.register_blueprint(app_views)
    register_api_docs(app, openapi.PREFIX, openapi.describe(
        settings.auth_type, settings.session_name))
    origins = list(settings.cors_origins)
    if origins == ["*"]:
        CORS(app, resources={r"/api/v1/*": {"origins": "*"}})
    elif origins:
        CORS(app, resources={r"/api/v1/*": {"origins": origins}},
             supports_credentials=True)
    app.before_request(refuse_oversized_body)
    app.before_request(refuse_cross_origin_writes)
    app.before_request(check_authentication)
    app.after_request(secure_headers)
    app.register_error_handler(HTTPException, handle_http_error)
    for error in (OperationalError, TimeoutError, db.StorageError,
                  StorageDown,
                  redis.exceptions.ConnectionError,
                  redis.exceptions.TimeoutError):
        app.register_error_handler(error, handle_unavailable)
    app.register_error_handler(Exception, handle_unexpected)
    return app

#!/usr/bin/env python3
"""Flask app of the user authentication service (talks only to ``Auth``).

Development server: ``python3 app.py`` (0.0.0.0:5000, see API_HOST and
API_PORT). Production: ``granian --interface wsgi --workers N app:app``;
sessions live in the database, so any number of processes can serve.
Settings and the two profiles (``APP_PROFILE=seed|production``) are in
settings.py; docs/user-authentication-service.md explains them.
"""
import functools
import json
import os
import sys
from typing import Callable, Optional
from urllib.parse import parse_qsl

from flask import Flask, Response, abort, current_app, jsonify
from flask import redirect, request
from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException

import settings
from auth import (Auth, InvalidEmail, InvalidPassword, UnknownEmail,
                  UserAlreadyExists, normalize_email)
from http_common.api_docs import register_api_docs
from http_common.bounded_request import (BoundedRequest,
                                         refuse_oversized_body)
from http_common.rate_limits import (KeyedLimit, PasswordBackoff,
                                     StorageDown, open_storage)
from service_openapi import describe

NAMESPACE = "auth_service"
MAX_FIELD_CHARS = 1024
MAX_CONTENT_LENGTH = 16 * 1024
UNSAFE_METHODS = frozenset(("POST", "PUT", "PATCH", "DELETE"))
RESET_SENT = "if this email is registered, a reset token was sent to it"


def load_config(overrides: Optional[dict] = None) -> dict:
    """Return the settings: profile defaults, environment, overrides."""
    config = settings.load(overrides)
    config.setdefault("MAX_CONTENT_LENGTH", MAX_CONTENT_LENGTH)
    return config


def _auth() -> Auth:
    """Return the ``Auth`` object of the running app."""
    return current_app.extensions["auth"]


def _error(status: int, message: str) -> Response:
    """Build a JSON error answer with a status code."""
    response = jsonify({"message": message})
    response.status_code = status
    return response


def _fail(status: int, message: str) -> None:
    """Stop the request with a JSON error answer."""
    abort(_error(status, message))


def _body_fields() -> dict:
    """Parse the body once: URL-encoded or multipart form, or JSON object.

    Non-UTF-8 bytes, malformed JSON and other content types are refused
    with a 4xx JSON error rather than silently mangled.
    """
    mimetype = request.mimetype
    if mimetype == "application/json":
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            _fail(400, "body must be a JSON object")
        return data
    if mimetype == "multipart/form-data":
        fields = request.form.to_dict()
        if any("\ufffd" in value for value in fields.values()):
            _fail(400, "form fields must be UTF-8")
        return fields
    if mimetype not in ("", "application/x-www-form-urlencoded"):
        _fail(415, "send form fields or a JSON object")
    try:
        text = request.get_data(cache=False).decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, encoding="utf-8",
                          errors="strict", max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        _fail(400, "form fields must be UTF-8 and URL-encoded")
    fields: dict = {}
    for name, value in pairs:
        fields.setdefault(name, value)
    return fields


def _field(fields: dict, name: str) -> str:
    """Return a required, non-empty, bounded text field or answer 400."""
    value = fields.get(name)
    if value is None or value == "":
        _fail(400, "{} missing".format(name))
    if not isinstance(value, str):
        _fail(400, "{} must be a string".format(name))
    if len(value) > MAX_FIELD_CHARS or "\x00" in value \
            or not _utf8(value):
        _fail(400, "{} is too long or invalid".format(name))
    return value


def _utf8(value: str) -> bool:
    """Tell whether text has a UTF-8 form (a lone surrogate has none)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _cookie_attributes() -> dict:
    """Return the session cookie's attributes (set and deleted alike)."""
    config = current_app.config
    return {"path": "/", "httponly": True,
            "samesite": config["SESSION_COOKIE_SAMESITE"],
            "secure": config["SESSION_COOKIE_SECURE"]}


def _session_cookie() -> Optional[str]:
    """Return the session id the request's cookie carries, if any."""
    return request.cookies.get(current_app.config["SESSION_COOKIE_NAME"])


def _set_session_cookie(response: Response, session_id: str) -> None:
    """Attach the session cookie with safe attributes."""
    response.set_cookie(current_app.config["SESSION_COOKIE_NAME"],
                        session_id, **_cookie_attributes())


def _own_origin() -> str:
    """Return this request's own origin (scheme://host[:port])."""
    return "{}://{}".format(request.scheme, request.host).lower()


def _refuse_cross_origin() -> Optional[Response]:
    """Refuse (403) unsafe requests a browser sent from another origin.

    ``Origin`` must be this request's own origin or one of
    ALLOWED_ORIGINS; without ``Origin``, ``Sec-Fetch-Site`` must be
    ``same-origin`` or ``none``. A request with neither header (curl,
    scripts, the seed's transcripts) did not come from a web page and
    passes: cross-site request forgery needs a browser, which sends them.
    """
    if request.method not in UNSAFE_METHODS:
        return None
    origin = request.headers.get("Origin")
    if origin is not None:
        origin = origin.strip().lower()
        if origin == _own_origin() \
                or origin in current_app.config["ALLOWED_ORIGINS"]:
            return None
        return _error(403, "cross-origin request refused")
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site.strip().lower() not in (
            "same-origin", "none"):
        return _error(403, "cross-origin request refused")
    return None


def _secure_headers(response: Response) -> Response:
    """Mark every answer nosniff and not cacheable (cookies, tokens)."""
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    return response


def index() -> Response:
    """GET /: a welcome message."""
    return jsonify({"message": "Bienvenue"})


def users() -> Response:
    """POST /users: register an email and password from the form."""
    fields = _body_fields()
    email, password = _field(fields, "email"), _field(fields, "password")
    try:
        user = _auth().register_user(email, password)
    except UserAlreadyExists:
        return _error(400, "email already registered")
    except (InvalidEmail, InvalidPassword) as err:
        return _error(400, str(err))
    return jsonify({"email": user.email, "message": "user created"})


def _account(email: str) -> str:
    """Return the key under which an e-mail's login failures count."""
    try:
        return normalize_email(email)
    except InvalidEmail:
        return email.strip().lower()


def login() -> Response:
    """POST /sessions: check the credentials and set the session cookie.

    A check of an account (from this address) in back-off after
    repeated failures answers 429 without a password check; a session
    the request carried ends (rotation).
    """
    fields = _body_fields()
    email, password = _field(fields, "email"), _field(fields, "password")
    auth = _auth()
    backoff = current_app.extensions["backoff"]
    account, address = _account(email), _address()
    wait, failures = backoff.check(account, address)
    if wait is not None:
        response = _error(429, "too many failed logins, retry later")
        response.headers["Retry-After"] = str(wait)
        return response
    user = auth.check_login(email, password)
    if user is None:
        backoff.failed(account, address)
        abort(401)
    backoff.succeeded(account, address, failures)
    auth.end_session(_session_cookie())
    session_id = auth.start_session(user)
    if session_id is None:
        abort(401)
    response = jsonify({"email": user.email, "message": "logged in"})
    _set_session_cookie(response, session_id)
    return response


def logout() -> Response:
    """DELETE /sessions: end the cookie's session and redirect to GET /."""
    auth = _auth()
    user = auth.get_user_from_session_id(_session_cookie())
    if user is None:
        abort(403)
    auth.destroy_session(user.id)
    response = redirect("/")
    response.delete_cookie(current_app.config["SESSION_COOKIE_NAME"],
                           **_cookie_attributes())
    return response


def profile() -> Response:
    """GET /profile: the email of the cookie's user, else 403."""
    user = _auth().get_user_from_session_id(_session_cookie())
    if user is None:
        abort(403)
    return jsonify({"email": user.email})


def get_reset_password_token() -> Response:
    """POST /reset_password: start a password reset for an email.

    RESET_TOKEN_DELIVERY=response (seed): 403 for an unknown email,
    else the token in the answer. ``email``: the same answer for every
    valid address, and the token goes out by e-mail (outbox, job queue,
    mail worker).
    """
    email = _field(_body_fields(), "email")
    if current_app.config["RESET_TOKEN_DELIVERY"] == "email":
        try:
            account = normalize_email(email)
        except InvalidEmail as err:
            return _error(400, str(err))
        # Past the per-account limit the answer is the same, but no
        # e-mail goes out: one mailbox cannot be flooded.
        if current_app.extensions["mail_limit"].allow(account):
            _auth().request_password_reset(account)
        return jsonify({"email": email.strip(), "message": RESET_SENT})
    try:
        token = _auth().get_reset_password_token(email)
    except UnknownEmail:
        abort(403)
    return jsonify({"email": email, "reset_token": token})


def update_password() -> Response:
    """PUT /reset_password: set a new password with a valid reset token."""
    fields = _body_fields()
    email = _field(fields, "email")
    token = _field(fields, "reset_token")
    password = _field(fields, "new_password")
    try:
        _auth().update_password(token, password, email=email)
    except InvalidPassword as err:
        return _error(400, str(err))
    except ValueError:
        abort(403)
    return jsonify({"email": email, "message": "Password updated"})


def _http_error(error: HTTPException) -> Response:
    """Turn any HTTP error (401, 403, 404, 405, 413, 429...) into JSON."""
    if error.response is not None:
        return error.response
    response = error.get_response()
    response.set_data(json.dumps({"message": error.name}))
    response.content_type = "application/json"
    return response


def _database_error(error: DBAPIError) -> Response:
    """Answer 503 while the database cannot be reached."""
    current_app.logger.warning("database unavailable: %s", error)
    return _error(503, "database unavailable")


def _limiter_error(error: Exception) -> Response:
    """Answer 503 while the rate limiter's storage cannot be reached:
    the limits fail closed, never open."""
    current_app.logger.warning("rate limit storage unavailable: %s", error)
    return _error(503, "rate limit storage unavailable")


def _address() -> str:
    """Return the client address limits count for (REMOTE_ADDR)."""
    return request.remote_addr or "-"


def _limited(limit: KeyedLimit, view: Callable[[], Response]
             ) -> Callable[[], Response]:
    """Wrap a view: count each request per client address first, and
    answer 429 JSON (with Retry-After) past the limit."""
    @functools.wraps(view)
    def checked() -> Response:
        """Run the view if the client address is within the limit."""
        address = _address()
        if not limit.allow(address):
            response = _error(429, "Too Many Requests")
            response.headers["Retry-After"] = str(limit.retry_after(address))
            return response
        return view()
    return checked


def _register_routes(app: Flask, storage: object) -> None:
    """Add the routes, with rate limits on login, registration and reset
    (per client address; POST and PUT /reset_password share one)."""
    config = app.config

    def limit(name: str, setting: str) -> KeyedLimit:
        """Return the per-address limit of a setting."""
        return KeyedLimit(storage, NAMESPACE, name, config[setting])

    register = limit("register", "RATELIMIT_REGISTER")
    log_in = limit("login", "RATELIMIT_LOGIN")
    reset = limit("reset_password", "RATELIMIT_RESET")
    app.add_url_rule("/", view_func=index, methods=["GET"])
    app.add_url_rule("/users", view_func=_limited(register, users),
                     methods=["POST"])
    app.add_url_rule("/sessions", view_func=_limited(log_in, login),
                     methods=["POST"])
    app.add_url_rule("/sessions", view_func=logout, methods=["DELETE"])
    app.add_url_rule("/profile", view_func=profile, methods=["GET"])
    app.add_url_rule("/reset_password", methods=["POST"],
                     view_func=_limited(reset, get_reset_password_token))
    app.add_url_rule("/reset_password", methods=["PUT"],
                     view_func=_limited(reset, update_password))


def create_app(config: Optional[dict] = None,
               auth: Optional[Auth] = None) -> Flask:
    """Build the app: settings, ``Auth``, rate limits, routes, errors."""
    config = load_config(config)
    # No static files: no /static/<filename> route.
    app = Flask(__name__, static_folder=None)
    app.request_class = BoundedRequest
    # An empty path segment (//, %2F) is a JSON 404, not Werkzeug's
    # redirect with an HTML body.
    app.url_map.merge_slashes = False
    app.config.update(config)
    app.before_request(refuse_oversized_body)
    app.before_request(_refuse_cross_origin)
    app.after_request(_secure_headers)
    app.json.sort_keys = False
    app.extensions["auth"] = auth or Auth(config=config)
    # One storage for every limit (http_common.rate_limits).
    storage = open_storage(config["RATELIMIT_STORAGE_URI"])
    app.extensions["backoff"] = PasswordBackoff(
        storage, NAMESPACE, config["LOGIN_BACKOFF_AFTER"],
        pair_cap=config["LOGIN_BACKOFF_MAX"])
    app.extensions["mail_limit"] = KeyedLimit(
        storage, NAMESPACE, "reset_mails", config["RATELIMIT_RESET_MAILS"])
    _register_routes(app, storage)
    register_api_docs(app, "", describe(config["SESSION_COOKIE_NAME"]))
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(DBAPIError, _database_error)
    app.register_error_handler(StorageDown, _limiter_error)
    app.register_error_handler(RedisError, _limiter_error)
    return app


def main() -> None:
    """Check the database, then run the development server."""
    try:
        AUTH.ensure_ready()
    except Exception as err:
        first = str(err).strip().splitlines()[0] if str(err) else repr(err)
        sys.exit("user_authentication_service: database unavailable: "
                 + first)
    app.run(host=os.environ.get("API_HOST", "0.0.0.0"),
            port=int(os.environ.get("API_PORT", "5000")))


try:
    AUTH = Auth()
    app = create_app(auth=AUTH)
except settings.ProfileError as error:
    print("user_authentication_service: {}".format(error), file=sys.stderr)
    sys.exit(2)
except ValueError as error:
    sys.exit("user_authentication_service: bad configuration: {}".format(
        error))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Views of session authentication: log in and log out, and a user's
own sessions: list them, end one, end every other one."""
from typing import Optional, Tuple

from flask import Response, abort, current_app, jsonify, request

from api.v1.views import app_views
from models.user import User, burn_password_check

# The production profile answers every failed login alike.
GENERIC_FAILURE = ({"error": "wrong email or password"}, 401)


def _form_value(name: str) -> Optional[str]:
    """Return a form field (or JSON field) of the request as text."""
    value = request.form.get(name)
    if value is None and request.is_json:
        body = request.get_json(silent=True)
        if isinstance(body, dict) and isinstance(body.get(name), str):
            value = body[name]
    return value


def session_mechanism() -> object:
    """Return the app's session mechanism, or abort 404 when AUTH_TYPE
    is not a session mode."""
    auth = current_app.extensions["auth"]
    if not hasattr(auth, "create_session"):
        abort(404)
    return auth


def cookie_options(auth: object) -> dict:
    """Return the session cookie's attributes (the same when it is set
    and when it is deleted)."""
    settings = current_app.config["SETTINGS"]
    return {"path": "/", "httponly": True,
            "samesite": settings.cookie_samesite,
            "secure": settings.cookie_secure}


@app_views.route("/auth_session/login", methods=["POST"],
                 strict_slashes=False)
def session_login() -> Tuple[Response, int]:
    """Log a user in by email and password; set the session cookie."""
    from api.v1.app import auth

    settings = current_app.config["SETTINGS"]
    limiter = current_app.extensions["login_limiter"]
    address = request.remote_addr or "-"
    if not limiter.allow(address):
        return jsonify({"error": "Too Many Requests"}), 429, {
            "Retry-After": str(limiter.retry_after(address))}
    email = _form_value("email")
    if not email:
        return jsonify({"error": "email missing"}), 400
    password = _form_value("password")
    if not password:
        return jsonify({"error": "password missing"}), 400
    failures = None
    if auth is not None:
        failures = auth.throttle_check(email, address)
    user = User.find_by_email(email)
    if user is None:
        burn_password_check(password)
        if auth is not None:
            auth.throttle_failed(email, address)
        if settings.production:
            return jsonify(GENERIC_FAILURE[0]), GENERIC_FAILURE[1]
        return jsonify({"error": "no user found for this email"}), 404
    if not user.is_valid_password(password):
        if auth is not None:
            auth.throttle_failed(email, address)
        if settings.production:
            return jsonify(GENERIC_FAILURE[0]), GENERIC_FAILURE[1]
        return jsonify({"error": "wrong password"}), 401
    if auth is not None:
        auth.throttle_succeeded(email, address, failures)
    user.rehash_password(password)
    if not hasattr(auth, "create_session"):
        abort(404)
    # A fresh session per login; the one the request carried ends.
    # The new session is stored before the old one ends: a store that
    # fails in between leaves the client's current session working.
    session_id = auth.create_session(user.id)
    if session_id is None:
        abort(503)
    auth.destroy_session(request)
    response = jsonify(user.to_json())
    response.set_cookie(auth.session_name, session_id, **cookie_options(auth))
    return response, 200


@app_views.route("/auth_session/logout", methods=["DELETE"],
                 strict_slashes=False)
def session_logout() -> Tuple[Response, int]:
    """Log the user out: end the session server-side, answer {}."""
    from api.v1.app import auth

    if not hasattr(auth, "destroy_session") \
            or not auth.destroy_session(request):
        abort(404)
    response = jsonify({})
    response.delete_cookie(auth.session_name, **cookie_options(auth))
    return response, 200


@app_views.route("/auth_session/sessions", methods=["GET"],
                 strict_slashes=False)
def list_my_sessions() -> Response:
    """List the current user's live sessions (never their ids): handle
    ("id"), created_at, last_seen_at, and which one is this request's."""
    auth = session_mechanism()
    user = request.current_user
    return jsonify(auth.list_sessions(user.id, auth.session_cookie(request)))


@app_views.route("/auth_session/sessions/<handle>", methods=["DELETE"],
                 strict_slashes=False)
def end_my_session(handle: str) -> Tuple[Response, int]:
    """End one of the current user's sessions by its handle; 404 when
    the user has no such session."""
    auth = session_mechanism()
    if not auth.end_session(request.current_user.id, handle):
        abort(404)
    return jsonify({}), 200


@app_views.route("/auth_session/sessions", methods=["DELETE"],
                 strict_slashes=False)
def end_my_other_sessions() -> Tuple[Response, int]:
    """Log out everywhere else: end every session of the current user
    but this request's; answer how many ended."""
    auth = session_mechanism()
    ended = auth.end_other_sessions(request.current_user.id,
                                    auth.session_cookie(request))
    return jsonify({"ended": ended}), 200

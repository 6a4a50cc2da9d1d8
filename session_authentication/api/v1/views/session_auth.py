#!/usr/bin/env python3
"""Views of session authentication: log in and log out."""
from typing import Optional, Tuple

from flask import Response, abort, current_app, jsonify, request

from api.v1.views import app_views
from models.user import User, burn_password_check


def _form_value(name: str) -> Optional[str]:
    """Return a form field (or JSON field) of the request as text."""
    value = request.form.get(name)
    if value is None and request.is_json:
        body = request.get_json(silent=True)
        if isinstance(body, dict) and isinstance(body.get(name), str):
            value = body[name]
    return value


@app_views.route("/auth_session/login", methods=["POST"],
                 strict_slashes=False)
def session_login() -> Tuple[Response, int]:
    """Log a user in by email and password; set the session cookie."""
    from api.v1.app import auth

    limiter = current_app.extensions["login_limiter"]
    if not limiter.allow(request.remote_addr or "-"):
        return jsonify({"error": "Too Many Requests"}), 429
    email = _form_value("email")
    if not email:
        return jsonify({"error": "email missing"}), 400
    password = _form_value("password")
    if not password:
        return jsonify({"error": "password missing"}), 400
    users = User.search({"email": email})
    if not users:
        burn_password_check(password)
        return jsonify({"error": "no user found for this email"}), 404
    user = users[0]
    if not user.is_valid_password(password):
        return jsonify({"error": "wrong password"}), 401
    user.rehash_password(password)
    if not hasattr(auth, "create_session"):
        abort(404)
    # A fresh session per login; the one the request carried ends.
    auth.destroy_session(request)
    session_id = auth.create_session(user.id)
    if session_id is None:
        abort(503)
    response = jsonify(user.to_json())
    response.set_cookie(
        auth.session_name, session_id, path="/", httponly=True,
        samesite="Lax", secure=current_app.config["SESSION_COOKIE_SECURE"])
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
    response.delete_cookie(auth.session_name, path="/")
    return response, 200

#!/usr/bin/env python3
"""Index views: status, stats, and routes that exercise error handlers."""
from flask import Response, abort, jsonify

from api.v1.views import app_views
from models.user import User


@app_views.route("/status", methods=["GET"], strict_slashes=False)
def status() -> Response:
    """Report that the API is up: {"status": "OK"}."""
    return jsonify({"status": "OK"})


@app_views.route("/stats", methods=["GET"], strict_slashes=False)
def stats() -> Response:
    """Return how many objects of each kind are stored."""
    return jsonify({"users": User.count()})


@app_views.route("/unauthorized", methods=["GET"], strict_slashes=False)
def unauthorized() -> Response:
    """Answer 401 through the Unauthorized error handler."""
    abort(401)


@app_views.route("/forbidden", methods=["GET"], strict_slashes=False)
def forbidden() -> Response:
    """Answer 403 through the Forbidden error handler."""
    abort(403)

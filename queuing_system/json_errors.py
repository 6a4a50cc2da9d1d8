#!/usr/bin/env python3
"""JSON error answers shared by the queuing system's HTTP apps.

Redis (or queue) failures answer 503 JSON with one log line and no
traceback; other HTTP errors (404, 405...) answer JSON instead of HTML,
with the error's own headers (a 405's ``Allow``).
"""
from flask import Flask, current_app, jsonify
from flask.typing import ResponseReturnValue
from redis.exceptions import RedisError
from werkzeug.exceptions import HTTPException


def redis_unavailable(error: Exception) -> ResponseReturnValue:
    """Answer 503 JSON when Redis fails; log one line, no traceback."""
    current_app.logger.warning("Redis unavailable: %s", error)
    return jsonify({"status": "Service unavailable",
                    "error": "Redis unavailable"}), 503


def http_error(error: HTTPException) -> ResponseReturnValue:
    """Answer HTTP errors (404, 405...) as JSON instead of HTML, keeping
    the error's headers, such as the ``Allow`` of a 405 (RFC 9110)."""
    response = jsonify({"error": error.name})
    response.status_code = error.code
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers.add(name, value)
    return response


def register_json_errors(app: Flask, *unavailable: type) -> None:
    """Install both handlers; ``unavailable`` adds errors meaning 503."""
    for error in (RedisError,) + unavailable:
        app.register_error_handler(error, redis_unavailable)
    app.register_error_handler(HTTPException, http_error)

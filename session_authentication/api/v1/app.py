#!/usr/bin/env python3
"""The users API: a Flask app with pluggable authentication.

``app`` and ``auth`` are the module attributes the seeds import; ``auth``
always designates the mechanism of the app handling the current request
(see ``api.v1.factory.create_app`` for how an app is built).
"""
import sys

from flask import current_app, has_app_context
from werkzeug.local import LocalProxy

from api.v1.factory import ConfigError, create_app

__all__ = ["app", "auth", "create_app"]


def _current_auth() -> object:
    """Return the mechanism of the app in context (else of ``app``)."""
    if has_app_context():
        return current_app.extensions["auth"]
    return app.extensions["auth"]


def _startup_failure(error: Exception) -> None:
    """Stop with one clear line instead of a traceback."""
    print("users API cannot start: {}".format(error), file=sys.stderr)
    sys.exit(2)


try:
    app = create_app()
except ConfigError as error:
    if __name__ != "__main__":
        raise
    _startup_failure(error)

auth = LocalProxy(_current_auth)


if __name__ == "__main__":
    from os import getenv

    host = getenv("API_HOST", "0.0.0.0")
    port = getenv("API_PORT", "5000")
    app.run(host=host, port=port)

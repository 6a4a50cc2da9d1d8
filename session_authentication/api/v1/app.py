#!/usr/bin/env python3
"""The users API: a Flask app with pluggable authentication.

``app`` and ``auth`` are the module attributes the seeds import: ``app``
is built from the environment by ``api.v1.factory.create_app`` and
``auth`` is its authentication mechanism, an instance of the class that
AUTH_TYPE names (``Auth``, ``BasicAuth``, ``SessionAuth``,
``SessionExpAuth``, ``SessionDBAuth``, ``SessionRedisAuth``), or None
when AUTH_TYPE is unset.
"""
import sys
from os import getenv

from api.v1.factory import ConfigError, create_app

__all__ = ["app", "auth", "create_app"]

try:
    app = create_app()
except ConfigError as error:
    if __name__ != "__main__":
        raise
    print("users API cannot start: {}".format(error), file=sys.stderr)
    sys.exit(2)

auth = app.extensions["auth"]


if __name__ == "__main__":
    host = getenv("API_HOST", "0.0.0.0")
    port = getenv("API_PORT", "5000")
    app.run(host=host, port=port)

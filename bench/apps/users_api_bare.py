#!/usr/bin/env python3
"""The users API plus a bare JSON route, served together for the bench.

``bench_users_api`` runs this module on granian so that
``/api/v1/users/me`` and its anchor ``/api/v1/bench/bare`` share one app, one
server, one process model and one machine. The app is
``api.v1.app.app``, built from the environment; the bare route is
added here only, under a path that authentication skips.
"""
import sys
from pathlib import Path

from flask import jsonify
from flask.typing import ResponseReturnValue

SA_DIR = Path(__file__).resolve().parents[2] / "session_authentication"
if str(SA_DIR) not in sys.path:
    sys.path.insert(0, str(SA_DIR))

from api.v1 import factory  # noqa: E402
from api.v1.app import app  # noqa: E402

BARE_PATH = "/api/v1/bench/bare"
if BARE_PATH + "/" not in factory.EXCLUDED_PATHS:
    factory.EXCLUDED_PATHS.append(BARE_PATH + "/")


@app.get(BARE_PATH)
def bare() -> ResponseReturnValue:
    """Answer a constant JSON body: the anchor with no auth or storage."""
    return jsonify({"ok": True})

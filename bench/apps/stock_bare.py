#!/usr/bin/env python3
"""The stock app plus a bare JSON route, served together for the bench.

``bench_redis`` runs this module on granian so that
``/reserve_product/<id>`` and its anchor ``/bare`` share one server,
one process model and one machine; the contract app is not changed.
"""
import importlib
import sys
from pathlib import Path

from flask import jsonify
from flask.typing import ResponseReturnValue

QUEUING_DIR = Path(__file__).resolve().parents[2] / "queuing_system"
if str(QUEUING_DIR) not in sys.path:
    sys.path.insert(0, str(QUEUING_DIR))

stock = importlib.import_module("9-stock")
app = stock.create_app()


@app.get("/bare")
def bare() -> ResponseReturnValue:
    """Answer a constant JSON body: the anchor with no Redis work."""
    return jsonify({"status": "ok"})

#!/usr/bin/env python3
"""Kue's JSON API's OpenAPI description against its code and answers.

The description kue_api.py serves at /openapi.json is valid OpenAPI
3.1, lists every route and method of the app and nothing else, and
describes Kue's JSON shapes (docs/queuing-system.md): the answers of a
live server (granian, a job of each kind of state made by a queue in
the test process) fit it, whatever the seed's data.
"""
import re
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import requests
from flask import jsonify

from kue import Queue, create_queue
from tests.live_apps import LiveApp
from tests.openapi_support import (Exchange, assert_routes_described,
                                   assert_valid_openapi_31,
                                   validate_exchange)

WHERE = "queuing_system/kue_openapi.py"
DOCS = Path(__file__).parents[2] / "docs" / "queuing-system.md"


def served(app: Any) -> dict:
    """Return the description the app serves, checking the answer."""
    answer = app.test_client().get("/openapi.json")
    assert answer.status_code == 200
    assert answer.content_type == "application/json"
    return answer.get_json()


@pytest.fixture
def kue_app(redis_url: str) -> Iterator[Any]:
    """Yield the API's Flask app on the test Redis (no server)."""
    import kue_api

    queue = create_queue(redis_url)
    yield kue_api.create_app({"QUEUE": queue})
    queue.shutdown()


@pytest.fixture
def queue(redis_url: str) -> Iterator[Queue]:
    """Yield a queue on the test Redis, shut down after the test."""
    queue = create_queue(redis_url)
    yield queue
    queue.shutdown()


def test_description_is_openapi_31(kue_app: Any) -> None:
    """The served description is valid OpenAPI 3.1."""
    assert_valid_openapi_31(served(kue_app))


def test_every_route_and_method_is_described(kue_app: Any) -> None:
    """The description lists exactly the app's routes and methods."""
    assert_routes_described(kue_app, served(kue_app), WHERE)


def test_a_route_missing_from_the_description_is_named(
        kue_app: Any) -> None:
    """A route added without its description fails the check, by name."""
    kue_app.add_url_rule("/queue/pause", "pause", lambda: jsonify({}),
                         methods=["POST"])
    with pytest.raises(AssertionError, match="POST /queue/pause.*'pause'"):
        assert_routes_described(kue_app, served(kue_app), WHERE)


def test_job_schema_has_the_documented_keys(kue_app: Any) -> None:
    """The Job schema's properties are the keys docs/queuing-system.md
    lists for GET /job/:id (Kue's job.toJSON(), plus bullmq's name)."""
    row = next(line for line in DOCS.read_text().splitlines()
               if line.startswith("| `GET /job/:id` |"))
    documented = set(re.findall(r"`(\w+)`", row.split("|")[2]))
    documented -= {"made", "remaining", "max"}
    schema = served(kue_app)["components"]["schemas"]["Job"]
    assert set(schema["properties"]) == documented | {"name"}


def boom(job: Any) -> None:
    """Fail with a message, after logging a line."""
    job.log("about to fail")
    raise RuntimeError("boom")


def test_live_answers_fit(start_app: Callable[[str], LiveApp],
                          queue: Queue) -> None:
    """Every route's answers on a live server, for jobs in each state
    and for refused requests, fit the served description."""
    app = start_app("kue")
    description = requests.get(app.url + "/openapi.json", timeout=30).json()
    failed = queue.create("report", {"n": 1}).attempts(1).save()
    queue.process("report", 1, boom)
    assert failed.wait(20) and failed.state == "failed"
    queue.create("email", {"to": "a"}).priority("high").save()
    queue.create("email", {"to": "b"}).delay(60000).save()
    ref = "report:" + failed.id
    sent = [("GET", "/stats", None), ("GET", "/stats/types", None),
            ("GET", "/job/types", None), ("GET", "/job/" + ref, None),
            ("GET", "/job/email:1", None), ("GET", "/job/email:2", None),
            ("GET", "/job/" + ref + "/log", None),
            ("GET", "/jobs/0..9", None), ("GET", "/jobs/0..-1/desc", None),
            ("GET", "/jobs/failed/0..9", None),
            ("GET", "/jobs/inactive/0..9/asc", None),
            ("GET", "/jobs/email/delayed/0..9", None),
            ("GET", "/jobs/email/inactive/0..9/desc", None),
            ("GET", "/jobs/email/delayed/stats", None),
            ("POST", "/job", {"type": "sms", "data": [1]}),
            ("POST", "/job", [{"type": "sms"}, {"type": "fax"}]),
            ("PUT", "/job/email:1/priority/low", None),
            ("PUT", "/job/" + ref + "/state/inactive", None),
            ("DELETE", "/job/email:2", None),
            # Refused: each a described error.
            ("GET", "/job/nope", None), ("GET", "/job/email:99", None),
            ("GET", "/jobs/9..1", None), ("GET", "/jobs/0..9/up", None),
            ("GET", "/jobs/lost/0..9", None), ("POST", "/job", {}),
            ("PUT", "/job/email:1/state/lost", None),
            ("DELETE", "/job/email:99", None), ("PATCH", "/job/email:1", None),
            ("GET", "/", None), ("GET", "/app.js", None),
            ("GET", "/docs", None)]
    statuses = []
    for method, path, body in sent:
        answer = requests.request(method, app.url + path, json=body,
                                  timeout=30)
        statuses.append(answer.status_code)
        json_body = answer.json() if answer.headers[
            "Content-Type"].startswith("application/json") else None
        validate_exchange(description, Exchange(
            method, path, answer.status_code, json_body))
    assert statuses == [200] * 19 + [400, 404, 400, 400, 400, 400, 400,
                                     404, 405, 200, 200, 200], statuses

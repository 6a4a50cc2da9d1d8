#!/usr/bin/env python3
"""Kue's JSON API (``kue_api.py``) on a real granian server and Redis.

One server serves the module's tests (Redis is flushed before each);
jobs are made and run by a queue in the test process.
"""
import subprocess
from pathlib import Path
from typing import Any, Iterator

import pytest
import redis
import requests

from kue import Queue, create_queue
from tests.support import PYTHON, ServerProcess, base_env

JOB_KEYS = {"id", "type", "name", "data", "priority", "progress", "state",
            "error", "created_at", "updated_at", "attempts",
            "removeOnComplete"}


@pytest.fixture
def api(kue_api_server: ServerProcess, redis_url: str) -> str:
    """Return the API's base URL, with its Redis flushed."""
    return kue_api_server.url


@pytest.fixture
def queue(redis_url: str) -> Iterator[Queue]:
    """Yield a queue on the test Redis, shut down after the test."""
    queue = create_queue(redis_url)
    yield queue
    queue.shutdown()


def call(method: str, url: str, **kwargs: Any) -> requests.Response:
    """Send a request and check the answer is JSON."""
    response = requests.request(method, url, timeout=10, **kwargs)
    assert response.headers["Content-Type"].startswith("application/json")
    return response


def boom(job: Any) -> None:
    """Fail with a message, after logging a line."""
    job.log("about to fail")
    raise RuntimeError("boom")


def test_stats_types_and_job_shapes(api: str, queue: Queue) -> None:
    """/stats, /job/types, /job/:id and /job/:id/log in Kue's shapes."""
    waiting = queue.create("email", {"to": "a"}).priority("high").save()
    failed = queue.create("report", {"n": 1}).attempts(2).save()
    queue.process("report", 1, boom)
    assert failed.wait(20) and failed.state == "failed"
    stats = call("GET", api + "/stats").json()
    assert stats == {"inactiveCount": 1, "completeCount": 0,
                     "activeCount": 0, "failedCount": 1,
                     "delayedCount": 0, "workTime": None}
    assert call("GET", api + "/job/types").json() == ["email", "report"]
    job = call("GET", api + "/job/report:" + failed.id).json()
    assert JOB_KEYS <= set(job)
    assert (job["state"], job["error"], job["data"]) == (
        "failed", "boom", {"n": 1})
    assert job["attempts"] == {"made": 2, "remaining": 0, "max": 2}
    assert job["started_at"] and job["failed_at"] and "duration" in job
    assert call("GET", api + "/job/email:" + waiting.id).json()[
        "priority"] == -10
    assert call("GET", api + "/job/report:{}/log".format(failed.id)
                ).json() == ["about to fail", "about to fail"]
    assert call("GET", api + "/jobs/report/failed/stats").json() == {
        "count": 1}
    assert call("GET", api + "/stats/types").json()["report"][
        "failed"] == 1


def test_ranges(api: str, queue: Queue) -> None:
    """The three range routes, with order and inclusive bounds."""
    queue.create_bulk("a", [{"i": i} for i in range(4)])
    queue.create("b", {"i": 9}).delay(60000).save()
    ids = [job["id"] for job in call("GET", api + "/jobs/0..2").json()]
    assert ids == ["1", "1", "2"]
    newest = call("GET", api + "/jobs/inactive/0..1/desc").json()
    assert [job["id"] for job in newest] == ["4", "3"]
    assert [job["type"] for job in call(
        "GET", api + "/jobs/delayed/0..9").json()] == ["b"]
    typed = call("GET", api + "/jobs/a/inactive/1..2/asc").json()
    assert [(job["type"], job["id"]) for job in typed] == [
        ("a", "2"), ("a", "3")]


def test_post_job_creates_jobs(api: str, queue: Queue) -> None:
    """POST /job stores one job or an array, with Kue's options."""
    one = call("POST", api + "/job", json={
        "type": "email", "data": {"to": "x"}, "options": {
            "attempts": 3, "priority": "critical", "delay": 60000,
            "backoff": {"type": "exponential", "delay": 10},
            "ttl": 5000, "removeOnComplete": True}})
    assert one.status_code == 200
    assert one.json() == {"message": "job created", "id": "1",
                          "type": "email"}
    stored = queue.get_job("1", "email").json
    assert (stored["state"], stored["priority"], stored["ttl"]) == (
        "delayed", -15, 5000)
    many = call("POST", api + "/job", json=[
        {"type": "sms", "data": {"n": 1}}, {"type": "sms"}]).json()
    assert [item["id"] for item in many] == ["1", "2"]
    assert queue.inactive_count("sms") == 2


def test_put_state_priority_and_delete(api: str, queue: Queue) -> None:
    """Retry a failed job, change a priority, delete a job."""
    failed = queue.create("job").save()
    queue.process("job", 1, boom)
    assert failed.wait(20)
    queue.shutdown()
    ref = api + "/job/job:" + failed.id
    assert call("PUT", ref + "/state/inactive").json() == {
        "message": "updated state"}
    assert call("GET", ref).json()["state"] == "inactive"
    assert call("PUT", ref + "/priority/high").json() == {
        "message": "updated priority"}
    assert call("GET", ref).json()["priority"] == -10
    assert call("PUT", ref + "/priority/-3").status_code == 200
    assert call("GET", ref).json()["priority"] == -3
    assert call("DELETE", ref).json() == {
        "message": "job {} removed".format(failed.id)}
    assert call("GET", ref).status_code == 404


@pytest.mark.parametrize("method, path, body, status", [
    ("GET", "/job/999", None, 404),
    ("GET", "/job/abc", None, 400),
    ("GET", "/job/999/log", None, 404),
    ("GET", "/jobs/bogus/0..5", None, 400),
    ("GET", "/jobs/0..5/sideways", None, 400),
    ("GET", "/jobs/5..1", None, 400),
    ("GET", "/jobs/0..5000", None, 400),
    ("GET", "/jobs/a/bogus/0..5", None, 400),
    ("GET", "/nowhere", None, 404),
    ("DELETE", "/job/999", None, 404),
    ("PUT", "/job/999/state/inactive", None, 404),
    ("POST", "/job", b"{not json", 400),
    ("POST", "/job", b"\xff\xfe", 400),
    ("POST", "/job", b"[]", 400),
    ("POST", "/job", b"{}", 400),
    ("POST", "/job", b'{"type": ""}', 400),
    ("POST", "/job", b'{"type": 3}', 400),
    ("POST", "/job", b'{"type": "x", "options": []}', 400),
    ("POST", "/job", b'{"type": "x", "options": {"attempts": 0}}', 400),
    ("POST", "/job", b'{"type": "x", "options": {"delay": "soon"}}', 400),
    ("POST", "/job", b'{"type": "x", "options": {"priority": "asap"}}',
     400),
    ("POST", "/job", b'{"type": "x", "options": {"backoff": 5}}', 400),
    ("POST", "/job", b'[{"type": "x"}, {"type": ""}]', 400),
    ("POST", "/job", b'{"type": "x", "data": NaN}', 400),
    ("POST", "/job", b'{"type": "x", "options": {"attempts": 1e400}}', 400),
    ("POST", "/job",
     b'{"type": "x", "options": {"delay": 100000000000000000000000}}', 400),
    ("POST", "/job",
     b'{"type": "x", "options": {"priority": 100000000000000000000}}', 400),
    ("PUT", "/job/1/priority/99999999999999999999999", None, 404),
    ("POST", "/job", b'{"type": "x", "data": [Infinity]}', 400),
    ("POST", "/job", b'{"type": "' + b"t" * 201 + b'"}', 400),
    ("POST", "/job", b"[" + b'{"type": "x"},' * 300000 + b"1]", 413),
    ("PATCH", "/job/1", None, 405),
])
def test_bad_input_is_a_json_4xx(api: str, method: str, path: str,
                                 body: Any, status: int) -> None:
    """Bad ids, states, ranges and bodies: JSON 4xx, nothing stored."""
    headers = {"Content-Type": "application/json"}
    response = call(method, api + path, data=body, headers=headers)
    assert response.status_code == status, response.text
    assert "error" in response.json()
    assert call("GET", api + "/stats").json()["inactiveCount"] == 0


def test_post_needs_json_content_type(api: str) -> None:
    """A form or text body (what a foreign page can send) is refused."""
    for kind in ("text/plain", "application/x-www-form-urlencoded"):
        response = call("POST", api + "/job", data=b'{"type": "x"}',
                        headers={"Content-Type": kind})
        assert response.status_code == 415
    assert call("GET", api + "/stats").json()["inactiveCount"] == 0


@pytest.mark.parametrize("host, status", [
    ("evil.example", 403), ("evil.example:3000", 403),
    ("10.0.0.1:3000", 403), ("localhost:3000", 200),
    ("127.0.0.1", 200), ("[::1]:3000", 200)])
def test_host_header_must_be_loopback(api: str, host: str,
                                      status: int) -> None:
    """Without a password only loopback Host names are served."""
    response = call("GET", api + "/stats", headers={"Host": host})
    assert response.status_code == status


def test_bad_moves_are_refused(api: str, queue: Queue) -> None:
    """Moves workers own, bad priorities, ambiguous ids: 400 / 409."""
    queue.create("a").save()
    queue.create("b").save()
    response = call("PUT", api + "/job/a:1/state/complete")
    assert response.status_code == 400
    assert "cannot move a inactive job to complete" in response.json()[
        "error"]
    assert call("PUT", api + "/job/a:1/priority/asap").status_code == 400
    for level in ("99999999999999999999999", "-16", "1.5"):
        assert call("PUT", api + "/job/a:1/priority/" + level
                    ).status_code == 400
    ambiguous = call("GET", api + "/job/1")
    assert ambiguous.status_code == 400
    assert "several types (a, b)" in ambiguous.json()["error"]


def test_password_required_when_set(redis_url: str,
                                    queuing_dir: Path) -> None:
    """With KUE_UI_PASSWORD every route (and the page) asks for it."""
    server = ServerProcess([PYTHON, "kue_api.py"], queuing_dir, env={})
    server.env = base_env(REDIS_URL=redis_url, KUE_UI_PASSWORD="s3cret",
                          KUE_UI_PORT=str(server.port))
    server.start()
    try:
        for path in ("/", "/stats", "/app.js"):
            refused = requests.get(server.url + path, timeout=10)
            assert refused.status_code == 401
            assert refused.headers["WWW-Authenticate"].startswith("Basic")
        wrong = requests.get(server.url + "/stats", timeout=10,
                             auth=("kue", "nope"))
        assert wrong.status_code == 401
        right = requests.get(server.url + "/stats", timeout=10,
                             auth=("anyone", "s3cret"))
        assert right.status_code == 200
    finally:
        server.stop()


def test_public_address_without_password_is_refused(
        queuing_dir: Path) -> None:
    """Listening beyond loopback without a password stops start-up."""
    done = subprocess.run([PYTHON, "kue_api.py"], cwd=str(queuing_dir),
                          capture_output=True, text=True, timeout=30,
                          env=base_env(KUE_UI_HOST="0.0.0.0"))
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "kue_api: listening on 0.0.0.0 needs KUE_UI_PASSWORD (the "
        "dashboard can delete jobs)"]


def test_redis_down_is_a_503(redis_server_factory: Any,
                             queuing_dir: Path) -> None:
    """A Redis outage answers 503 JSON, not a 500."""
    redis_server = redis_server_factory()
    server = ServerProcess([PYTHON, "kue_api.py"], queuing_dir, env={})
    server.env = base_env(REDIS_URL=redis_server.url,
                          KUE_UI_PORT=str(server.port))
    server.start()
    try:
        assert requests.get(server.url + "/stats",
                            timeout=10).status_code == 200
        redis_server.stop()
        down = requests.get(server.url + "/stats", timeout=30)
        assert down.status_code == 503 and "error" in down.json()
    finally:
        server.stop()


def test_flushed_types_are_registered_again(api: str,
                                            redis_url: str) -> None:
    """The types set lives in Redis: POST /job registers its type."""
    call("POST", api + "/job", json={"type": "late"})
    client = redis.Redis.from_url(redis_url)
    assert client.hkeys("bull:kue:types") == [b"late"]
    client.close()


def test_a_job_done_within_one_millisecond_has_duration_0() -> None:
    """Started and failed in the same millisecond: ``duration`` is "0",
    not left out (it was, as if the job had no duration)."""
    from types import SimpleNamespace

    from kue_jobs import to_json

    bull = SimpleNamespace(
        opts={"attempts": 1}, progress=0, attemptsMade=1, id="1",
        name="report", data={}, returnvalue=None, priority=0,
        failedReason="boom", timestamp=1000, delay=0,
        processedOn=1733, finishedOn=1733)
    shape = to_json("report", bull, "failed")
    assert (shape["started_at"], shape["failed_at"], shape["duration"]) == (
        "1733", "1733", "0")
    assert "duration" not in to_json("report", bull, "active")

#!/usr/bin/env python3
"""Kue's JSON API and a dashboard on the job queue, served by granian.

    python3 kue_api.py        # http://127.0.0.1:3000/ (KUE_UI_HOST/PORT)

Kue's routes and JSON shapes (lib/http/routes/json.js): ``GET /stats``,
``GET /job/types``, ``GET /job/:id``, ``GET /job/:id/log``,
``GET /jobs/:from..:to/:order?``, ``GET /jobs/:state/:from..:to/:order?``,
``GET /jobs/:type/:state/:from..:to/:order?``,
``GET /jobs/:type/:state/stats``, ``POST /job``,
``PUT /job/:id/state/:state``, ``PUT /job/:id/priority/:priority``,
``DELETE /job/:id``; plus ``GET /stats/types`` (counts per type and
state) for the dashboard, served at ``/``, and the OpenAPI description
(kue_openapi.py) at ``/openapi.json`` with its Swagger UI page at
``/docs``. An ``:id`` is a job id, or
``TYPE:ID`` where ids of several types collide. Bad input answers 400,
a missing job 404, a Redis outage 503, always JSON ``{"error": ...}``.

Protected: it listens on 127.0.0.1 unless ``KUE_UI_HOST`` says
otherwise, and when ``KUE_UI_PASSWORD`` is set every request needs it
(HTTP Basic, any user name); a non-loopback address without a password
is refused at start-up.
"""
import hmac
import json
import ipaddress
import os
import sys
from pathlib import Path
from typing import Any, Optional

from flask import Flask, jsonify, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import BadRequest, HTTPException
from werkzeug.routing import BaseConverter

from http_common.api_docs import register_api_docs
from http_common.bounded_request import (BoundedRequest,
                                         refuse_oversized_body)
from json_errors import register_json_errors
from kue import Queue, QueueError, QueueUnavailable, create_queue
from kue_jobs import STATES
from kue_openapi import kue_description

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 3000
MAX_RANGE = 1000
MAX_JOBS_PER_POST = 1000
MAX_WHOLE = 2 ** 31 - 1
UI_FOLDER = Path(__file__).resolve().parent / "kue_ui"
ORDERS = ("asc", "desc")


class ApiError(Exception):
    """A request the API refuses: a status code and a message."""

    def __init__(self, status: int, message: str) -> None:
        """Keep the status code and the message for the JSON answer."""
        super().__init__(message)
        self.status = status


class RangeConverter(BaseConverter):
    """Kue's ``:from..:to`` path segment, as a (from, to) pair."""

    regex = r"\d{1,9}\.\.-?\d{1,9}"

    def to_python(self, value: str) -> tuple:
        """Split ``from..to`` into two integers."""
        start, _, end = value.partition("..")
        return int(start), int(end)

    def to_url(self, value: tuple) -> str:
        """Join a (from, to) pair as ``from..to``."""
        return "{}..{}".format(*value)


def parse_ref(ref: str) -> tuple:
    """Return (id, type or None) from ``ID`` or ``TYPE:ID``."""
    job_type, _, job_id = ref.rpartition(":")
    if not job_id.isdecimal() or len(job_id) > 18:
        raise ApiError(400, "a job id is a number (or TYPE:NUMBER), "
                            "got {!r}".format(ref))
    return job_id, job_type or None


def check_order(order: str) -> str:
    """Return a valid sort order or refuse it."""
    if order not in ORDERS:
        raise ApiError(400, "order is asc or desc, got {!r}".format(order))
    return order


def check_state(state: str) -> str:
    """Return a valid Kue state or refuse it."""
    if state not in STATES:
        raise ApiError(400, "unknown state {!r} (one of {})".format(
            state, ", ".join(STATES)))
    return state


def check_span(span: tuple) -> tuple:
    """Refuse reversed or oversized ranges (``to`` -1 means the end)."""
    start, end = span
    if end != -1 and (end < start or end - start >= MAX_RANGE):
        raise ApiError(400, "a range is from..to with to >= from and at "
                            "most {} jobs".format(MAX_RANGE))
    if end == -1:
        end = start + MAX_RANGE - 1
    return start, end


def whole(value: Any, name: str, least: int) -> int:
    """Return a whole number option (``least`` to 2**31 - 1) or refuse it."""
    if isinstance(value, bool) or not isinstance(value, int) or not (
            least <= value <= MAX_WHOLE):
        raise ApiError(400, "options.{} must be a whole number from {} to "
                            "{}".format(name, least, MAX_WHOLE))
    return value


def build_job(queue: Queue, spec: Any) -> Any:
    """Return an unsaved job from a ``POST /job`` item, or refuse it."""
    if not isinstance(spec, dict):
        raise ApiError(400, "a job is a JSON object")
    job_type = spec.get("type")
    if not isinstance(job_type, str) or not job_type.strip() or len(
            job_type) > 200:
        raise ApiError(400, "Must provide job type")
    options = spec.get("options")
    options = {} if options is None else options
    if not isinstance(options, dict):
        raise ApiError(400, "options must be a JSON object")
    data = spec.get("data", {})
    try:
        json.dumps(data, allow_nan=False)
    except ValueError:
        raise ApiError(400, "data must be JSON without NaN or Infinity"
                       ) from None
    job = queue.create(job_type, data)
    if "attempts" in options:
        job.attempts(whole(options["attempts"], "attempts", 1))
    if "delay" in options:
        job.delay(whole(options["delay"], "delay", 0))
    if "ttl" in options:
        job.ttl(whole(options["ttl"], "ttl", 1))
    if "priority" in options:
        job.priority(options["priority"])
    if options.get("removeOnComplete") is True:
        job.remove_on_complete()
    backoff = options.get("backoff")
    if backoff is True or isinstance(backoff, dict):
        kind = backoff.get("type", "fixed") if backoff is not True else (
            "fixed")
        if kind not in ("fixed", "exponential"):
            raise ApiError(400, "options.backoff.type is fixed or "
                                "exponential")
        job.backoff(backoff if backoff is True else {
            "type": kind, "delay": whole(backoff.get("delay", 0),
                                         "backoff.delay", 0)})
    elif backoff is not None:
        raise ApiError(400, "options.backoff is true or "
                            "{\"type\", \"delay\"}")
    return job


def password_ok(expected: str) -> bool:
    """Tell whether the request's Basic credentials carry the password."""
    auth = request.authorization
    given = auth.password if auth is not None and auth.type == "basic" else ""
    return hmac.compare_digest((given or "").encode(), expected.encode())


def create_app(config: Optional[dict] = None) -> Flask:
    """Build the API and dashboard app (nothing connects before a request).

    ``config`` may give ``QUEUE`` (a ``kue.Queue``), ``REDIS_URL`` and
    ``KUE_UI_PASSWORD``; the environment gives the latter two otherwise.
    """
    app = Flask(__name__, static_folder=str(UI_FOLDER), static_url_path="")
    # Bodies over MAX_CONTENT_LENGTH (sized or chunked): 413; JSON nested
    # too deeply: 400, not a RecursionError's 500.
    app.request_class = BoundedRequest
    app.url_map.converters["span"] = RangeConverter
    app.url_map.merge_slashes = False
    app.config.update(KUE_UI_PASSWORD=os.environ.get("KUE_UI_PASSWORD", ""),
                      REDIS_URL=os.environ.get("REDIS_URL") or None,
                      MAX_CONTENT_LENGTH=1024 * 1024, QUEUE=None)
    app.config.update(config or {})
    queue = app.config["QUEUE"] or create_queue(app.config["REDIS_URL"])
    register_json_errors(app, QueueUnavailable)
    register_api_docs(app, "", kue_description())
    app.before_request(refuse_oversized_body)

    @app.errorhandler(ApiError)
    def api_error(error: ApiError) -> ResponseReturnValue:
        """Answer a refused request with its status and message."""
        return jsonify({"error": str(error)}), error.status

    @app.errorhandler(QueueError)
    def queue_error(error: QueueError) -> ResponseReturnValue:
        """Answer what the queue refuses (a bad move, a bad priority)."""
        return jsonify({"error": str(error)}), 400

    @app.errorhandler(BadRequest)
    def bad_request(error: HTTPException) -> ResponseReturnValue:
        """Answer malformed JSON bodies with a JSON 400."""
        return jsonify({"error": "the body is not valid JSON"}), 400

    @app.before_request
    def require_password() -> Optional[ResponseReturnValue]:
        """Ask for the password (HTTP Basic) when one is set.

        Without one, only requests naming a loopback host are served:
        a web page whose domain is made to resolve to 127.0.0.1 (DNS
        rebinding) must not read or change the queue.
        """
        expected = app.config["KUE_UI_PASSWORD"]
        if not expected and not is_loopback(host_name(request.host)):
            return jsonify({"error": "unexpected Host header"}), 403
        if expected and not password_ok(expected):
            response = jsonify({"error": "password required"})
            response.headers["WWW-Authenticate"] = 'Basic realm="kue"'
            return response, 401
        return None

    @app.after_request
    def no_cache(response: Any) -> Any:
        """Keep answers (job data, counts) out of shared caches."""
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    def find(ref: str) -> tuple:
        """Return (type, id, Kue JSON) of a job reference, or 404."""
        job_id, job_type = parse_ref(ref)
        shape = queue.job_json(job_id, job_type)
        if shape is None:
            raise ApiError(404, "job {} not found".format(ref))
        return shape["type"], shape["id"], shape

    @app.get("/")
    def dashboard() -> ResponseReturnValue:
        """Serve the dashboard page."""
        return app.send_static_file("index.html")

    @app.get("/stats")
    def stats() -> ResponseReturnValue:
        """Kue's counts of every state, all types."""
        table = queue.counts_by_type().values()
        counts = {state: sum(row[state] for row in table)
                  for state in STATES}
        return jsonify({"inactiveCount": counts["inactive"],
                        "completeCount": counts["complete"],
                        "activeCount": counts["active"],
                        "failedCount": counts["failed"],
                        "delayedCount": counts["delayed"],
                        "workTime": None})

    @app.get("/stats/types")
    def stats_by_type() -> ResponseReturnValue:
        """Counts per type and state (the dashboard's table)."""
        return jsonify(queue.counts_by_type())

    @app.get("/job/types")
    def types() -> ResponseReturnValue:
        """Kue's list of job types."""
        return jsonify(queue.types())

    @app.get("/jobs/<span:span>", defaults={"order": "asc"})
    @app.get("/jobs/<span:span>/<order>")
    def job_range(span: tuple, order: str) -> ResponseReturnValue:
        """Jobs of every state, ``from..to`` by id."""
        start, end = check_span(span)
        return jsonify(queue.range_json(None, None, start, end,
                                        check_order(order)))

    @app.get("/jobs/<state>/<span:span>", defaults={"order": "asc"})
    @app.get("/jobs/<state>/<span:span>/<order>")
    def state_range(state: str, span: tuple,
                    order: str) -> ResponseReturnValue:
        """Jobs of a state, ``from..to`` by id."""
        start, end = check_span(span)
        return jsonify(queue.range_json(check_state(state), None, start,
                                        end, check_order(order)))

    @app.get("/jobs/<job_type>/<state>/<span:span>",
             defaults={"order": "asc"})
    @app.get("/jobs/<job_type>/<state>/<span:span>/<order>")
    def type_range(job_type: str, state: str, span: tuple,
                   order: str) -> ResponseReturnValue:
        """Jobs of a type in a state, ``from..to`` by id."""
        start, end = check_span(span)
        return jsonify(queue.range_json(check_state(state), job_type,
                                        start, end, check_order(order)))

    @app.get("/jobs/<job_type>/<state>/stats")
    def type_state_count(job_type: str, state: str) -> ResponseReturnValue:
        """Kue's count of a type's jobs in a state."""
        return jsonify({"count": queue.state_count(check_state(state),
                                                   job_type)})

    @app.get("/job/<ref>")
    def job(ref: str) -> ResponseReturnValue:
        """One job in Kue's JSON shape."""
        return jsonify(find(ref)[2])

    @app.get("/job/<ref>/log")
    def job_log(ref: str) -> ResponseReturnValue:
        """A job's log lines, oldest first."""
        job_type, job_id, _ = find(ref)
        return jsonify(queue.logs(job_id, job_type))

    @app.post("/job")
    def create() -> ResponseReturnValue:
        """Create one job (an object) or several (an array)."""
        if not request.is_json:
            raise ApiError(415, "send JSON (Content-Type: application/json)")
        body = request.get_json()
        items = body if isinstance(body, list) else [body]
        if not items or len(items) > MAX_JOBS_PER_POST:
            raise ApiError(400, "send 1 to {} jobs".format(
                MAX_JOBS_PER_POST))
        jobs = []
        for number, spec in enumerate(items):
            try:
                jobs.append(build_job(queue, spec))
            except (ApiError, QueueError) as error:
                prefix = "job {}: ".format(number) if len(items) > 1 else ""
                raise ApiError(400, prefix + str(error)) from None
        queue.save(jobs)
        created = [{"message": "job created", "id": job.id,
                    "type": job.type} for job in jobs]
        return jsonify(created if isinstance(body, list) else created[0])

    @app.put("/job/<ref>/state/<state>")
    def update_state(ref: str, state: str) -> ResponseReturnValue:
        """Move a job: ``inactive`` retries a failed or complete job."""
        job_type, job_id, _ = find(ref)
        queue.set_state(job_id, job_type, check_state(state))
        return jsonify({"message": "updated state"})

    @app.put("/job/<ref>/priority/<priority>")
    def update_priority(ref: str, priority: str) -> ResponseReturnValue:
        """Change a job's priority (a Kue name or number)."""
        job_type, job_id, shape = find(ref)
        if shape["state"] not in ("inactive", "delayed"):
            raise ApiError(400, "only a waiting job's priority can change "
                                "(this one is {})".format(shape["state"]))
        queue.set_priority(job_id, job_type, priority)
        return jsonify({"message": "updated priority"})

    @app.delete("/job/<ref>")
    def remove(ref: str) -> ResponseReturnValue:
        """Delete a job (a running one is refused with 409)."""
        job_type, job_id, _ = find(ref)
        try:
            queue.remove_job(job_id, job_type)
        except QueueError as error:
            raise ApiError(409, str(error)) from None
        return jsonify({"message": "job {} removed".format(job_id)})

    return app


def host_name(host: str) -> str:
    """Return the name in a Host header, without its port or brackets."""
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if ":" in host else host


def is_loopback(host: str) -> bool:
    """Tell whether an address to listen on is only reachable locally."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def settings() -> tuple:
    """Return (host, port, password) from the environment, or exit."""
    host = os.environ.get("KUE_UI_HOST") or DEFAULT_HOST
    text = os.environ.get("KUE_UI_PORT") or str(DEFAULT_PORT)
    if not text.isdecimal() or not 1 <= int(text) <= 65535:
        sys.exit("kue_api: KUE_UI_PORT must be a number from 1 to 65535, "
                 "got {!r}".format(text))
    password = os.environ.get("KUE_UI_PASSWORD", "")
    if not is_loopback(host) and not password:
        sys.exit("kue_api: listening on {} needs KUE_UI_PASSWORD (the "
                 "dashboard can delete jobs)".format(host))
    return host, int(text), password


def main() -> None:
    """Serve the API and dashboard with granian (one process)."""
    from granian import Granian
    from granian.constants import Interfaces

    host, port, password = settings()
    print("kue_api: dashboard and JSON API on http://{}:{}/{}".format(
        host, port, " (password required)" if password else ""),
        flush=True)
    Granian("kue_api:app", address=host, port=port,
            interface=Interfaces.WSGI, workers=1, blocking_threads=4,
            websockets=False, log_level="warning").serve()


app = create_app()

if __name__ == "__main__":
    main()

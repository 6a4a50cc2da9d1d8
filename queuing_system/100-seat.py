#!/usr/bin/env python3
"""Seat reservations through the job queue, over HTTP (task 100-seat).

Routes: ``GET /available_seats``, ``GET /reserve_seat`` (queues a job on
``reserve_seat``) and ``GET /process`` (processes ``reserve_seat`` in this
process). Seats left live in the Redis key ``available_seats`` and the
switch in ``reservation_enabled``; both are created (50 seats, enabled)
the first time they are used, and ``python3 100-seat.py`` resets them at
start as the original app did. Taking a seat is one Lua script: the
check, the decrement and the switch-off at 0 run atomically in Redis.

Anonymous clients cannot flood the queue: reservations waiting for a
worker are counted in ``reserve_seat:pending`` and a new one is admitted
only while fewer than the seats left plus ``RESERVATION_MARGIN`` (10)
wait (admission is one Lua script too); beyond that ``GET /reserve_seat``
answers 409 ``{"status": "Reservation failed"}`` and queues nothing.
Each client address may ask ``RATELIMIT_RESERVE`` times (default
``100/minute``; 429 JSON beyond), counted in ``RATELIMIT_STORAGE_URI``
(default: the app's Redis, so shared by every process).

Run ``python3 100-seat.py`` (``HOST``/``PORT``, default 0.0.0.0:1245), or
in production ``granian --interface wsgi 100-seat:app`` from this folder.
"""
import os
import sys
import threading
from typing import Any, Optional

import redis
from flask import Flask, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits.errors import StorageError
from redis.exceptions import RedisError

from apps_openapi import seat_description
from http_common.api_docs import register_api_docs
from kue import Queue, QueueUnavailable
from json_errors import register_json_errors
from redis_connection import make_client, redis_url

DEFAULT_HOST = "0.0.0.0"
DEFAULT_PORT = 1245
INITIAL_SEATS = 50
RESERVATION_MARGIN = 10
RATELIMIT_RESERVE = "100/minute"
PENDING_KEY = "reserve_seat:pending"
JOB_TYPE = "reserve_seat"
SEATS_KEY = "available_seats"
ENABLED_KEY = "reservation_enabled"

# KEYS[1] = available_seats, KEYS[2] = reservation_enabled,
# ARGV[1] = initial seats. Missing keys start a fresh sale.
_INIT = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('SET', KEYS[1], ARGV[1])
  redis.call('SET', KEYS[2], '1')
end
"""
READ_SCRIPT = _INIT + """
return {tonumber(redis.call('GET', KEYS[1])) or 0,
        redis.call('GET', KEYS[2]) or '0'}
"""
# KEYS[3] = pending reservations, ARGV[2] = margin. Returns the new
# pending count, -1 when reservations are blocked, -2 when the seats
# left plus the margin are already waiting in the queue.
ADMIT_SCRIPT = _INIT + """
if redis.call('GET', KEYS[2]) ~= '1' then
  return -1
end
local seats = tonumber(redis.call('GET', KEYS[1])) or 0
local pending = tonumber(redis.call('GET', KEYS[3])) or 0
if pending >= seats + tonumber(ARGV[2]) then
  return -2
end
return redis.call('INCR', KEYS[3])
"""
# KEYS[1] = pending reservations: one fewer (never below 0).
RELEASE_SCRIPT = """
if redis.call('DECR', KEYS[1]) < 0 then
  redis.call('SET', KEYS[1], '0')
end
"""
# KEYS[3] = the job's marker, ARGV[2] = its lifetime (s): a job that
# runs again (at-least-once delivery after a crash) finds its marker
# and takes no second seat (-1 = it found none). KEYS[4] = pending
# reservations, one fewer at a job's first run only.
TAKE_SCRIPT = _INIT + """
local taken = redis.call('GET', KEYS[3])
if taken then
  return tonumber(taken)
end
if redis.call('DECR', KEYS[4]) < 0 then
  redis.call('SET', KEYS[4], '0')
end
local seats = tonumber(redis.call('GET', KEYS[1])) or 0
if seats < 1 then
  redis.call('SET', KEYS[2], '0')
  redis.call('SET', KEYS[3], -1, 'EX', ARGV[2])
  return -1
end
seats = redis.call('DECR', KEYS[1])
if seats < 1 then
  redis.call('SET', KEYS[2], '0')
end
redis.call('SET', KEYS[3], seats, 'EX', ARGV[2])
return seats
"""
TAKEN_KEY = "reserve_seat:taken:{}"
TAKEN_TTL = 7 * 24 * 3600
RESET_SCRIPT = """
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], '1')
redis.call('SET', KEYS[3], '0')
"""


class NotEnoughSeats(Exception):
    """Raised by a reservation job when no seat is left."""

    def __init__(self) -> None:
        """Carry the message the producer logs."""
        super().__init__("Not enough seats available")


class SeatStore:
    """Seats left and the reservation switch in Redis, changed atomically."""

    def __init__(self, client: redis.Redis,
                 initial: int = INITIAL_SEATS) -> None:
        """Keep the client and register the Lua scripts on it."""
        self.client = client
        self.initial = initial
        self._read = client.register_script(READ_SCRIPT)
        self._take = client.register_script(TAKE_SCRIPT)
        self._reset = client.register_script(RESET_SCRIPT)
        self._admit = client.register_script(ADMIT_SCRIPT)
        self._release = client.register_script(RELEASE_SCRIPT)

    def _call(self, script: Any) -> Any:
        """Run one of the scripts on the two keys."""
        return script(keys=[SEATS_KEY, ENABLED_KEY], args=[self.initial])

    def reset(self) -> None:
        """Start a fresh sale: all seats, reservations enabled."""
        self._reset(keys=[SEATS_KEY, ENABLED_KEY, PENDING_KEY],
                    args=[self.initial])

    def admit(self, margin: int) -> int:
        """Count one more waiting reservation if there is room.

        Returns the number waiting, -1 when reservations are blocked,
        -2 when seats left plus ``margin`` reservations already wait.
        """
        return int(self._admit(keys=[SEATS_KEY, ENABLED_KEY, PENDING_KEY],
                               args=[self.initial, margin]))

    def release(self) -> None:
        """Count one fewer waiting reservation (its job was not queued)."""
        self._release(keys=[PENDING_KEY])

    def pending(self) -> int:
        """Return the number of reservations waiting for a worker."""
        return int(self.client.get(PENDING_KEY) or 0)

    def available(self) -> int:
        """Return the number of seats left."""
        return int(self._call(self._read)[0])

    def enabled(self) -> bool:
        """Tell whether reservations are accepted."""
        return self._call(self._read)[1] == "1"

    def take(self, job_id: Any) -> int:
        """Take one seat for a job; return seats left or raise
        ``NotEnoughSeats``. The same job never takes two seats."""
        left = int(self._take(
            keys=[SEATS_KEY, ENABLED_KEY, TAKEN_KEY.format(job_id),
                  PENDING_KEY],
            args=[self.initial, TAKEN_TTL]))
        if left < 0:
            raise NotEnoughSeats()
        return left


class SeatService:
    """The app's seat store and job queue, built on first use, once."""

    def __init__(self, url: str, initial: int) -> None:
        """Remember where Redis is; connect nothing yet."""
        self.url = url
        self.initial = initial
        self._store: Optional[SeatStore] = None
        self._queue: Optional[Queue] = None
        self._processing = False
        self._lock = threading.Lock()

    @property
    def store(self) -> SeatStore:
        """Return the seat store, building its client on first use."""
        with self._lock:
            if self._store is None:
                self._store = SeatStore(make_client(self.url), self.initial)
            return self._store

    @property
    def queue(self) -> Queue:
        """Return the job queue, built on first use."""
        with self._lock:
            if self._queue is None:
                self._queue = Queue(self.url, timeout=3.0)
            return self._queue

    @property
    def processing(self) -> bool:
        """Tell whether this process works on the reservation queue."""
        return self._processing

    def reserve_seat_job(self, job: Any) -> None:
        """Process one ``reserve_seat`` job: take a seat or fail."""
        self.store.take(job.id)

    def start_processing(self) -> None:
        """Process ``reserve_seat`` jobs in this process (idempotent)."""
        with self._lock:
            if self._processing:
                return
            self._processing = True
        try:
            self.queue.process(JOB_TYPE, 1, self.reserve_seat_job,
                               run_retry_delay=500)
        except Exception:
            self._processing = False
            raise


def seats() -> SeatService:
    """Return the seat service of the current app."""
    return current_app.extensions["seats"]


def reserve_seat_job(job: Any) -> None:
    """Process one ``reserve_seat`` job with this module's app (worker)."""
    app.extensions["seats"].reserve_seat_job(job)


def log_line(message: str) -> None:
    """Print one log line in one write (the seed logs to the console).

    Listeners run on the queue's thread and on request threads: one
    write per line keeps two lines from mixing.
    """
    sys.stdout.write(message + "\n")
    sys.stdout.flush()


def available_seats() -> ResponseReturnValue:
    """Show the number of seats left, as a string like the seed."""
    return jsonify(
        {"numberOfAvailableSeats": str(seats().store.available())})


def reserve_seat() -> ResponseReturnValue:
    """Queue a reservation job, unless reservations are blocked.

    HEAD queues nothing: it answers what GET would answer now.
    """
    service = seats()
    if request.method == "HEAD":
        if not service.store.enabled():
            return jsonify({"status": "Reservation are blocked"})
        return jsonify({"status": "Reservation in process"})
    admitted = service.store.admit(current_app.config["RESERVATION_MARGIN"])
    if admitted == -1:
        return jsonify({"status": "Reservation are blocked"})
    if admitted == -2:
        return jsonify({"status": "Reservation failed"}), 409
    job = service.queue.create(JOB_TYPE)
    try:
        job.save()
    except QueueUnavailable as error:
        service.store.release()
        current_app.logger.warning("reservation not queued: %s", error)
        return jsonify({"status": "Reservation failed"}), 503
    job.on("complete", lambda result: log_line(
        "Seat reservation job {} completed".format(job.id)))
    job.on("failed", lambda error: log_line(
        "Seat reservation job {} failed: {}".format(job.id, error)))
    return jsonify({"status": "Reservation in process"})


def process() -> ResponseReturnValue:
    """Start processing the reservation queue in this process (not on
    HEAD, which starts nothing)."""
    if request.method != "HEAD":
        seats().start_processing()
    return jsonify({"status": "Queue processing"})


def create_app(config: Optional[dict] = None) -> Flask:
    """Build the seat app: config from the environment, then overrides.

    Keys: ``REDIS_URL`` (default ``redis://127.0.0.1:6379/0``),
    ``INITIAL_SEATS`` (50), ``RESERVATION_MARGIN`` (10),
    ``RATELIMIT_RESERVE`` (``100/minute``) and ``RATELIMIT_STORAGE_URI``
    (default ``REDIS_URL``). Redis is reached by the first request.
    """
    # No static files: no /static/<filename> route.
    app = Flask(__name__, static_folder=None)
    # An empty path segment (//, %2F) is a JSON 404, not Werkzeug's
    # redirect with an HTML body.
    app.url_map.merge_slashes = False
    app.config["REDIS_URL"] = redis_url()
    app.config["INITIAL_SEATS"] = INITIAL_SEATS
    app.config["RESERVATION_MARGIN"] = _env_margin()
    app.config["RATELIMIT_RESERVE"] = (os.environ.get("RATELIMIT_RESERVE")
                                       or RATELIMIT_RESERVE)
    app.config["RATELIMIT_STORAGE_URI"] = os.environ.get(
        "RATELIMIT_STORAGE_URI")
    app.config.update(config or {})
    app.json.sort_keys = False
    app.extensions["seats"] = SeatService(app.config["REDIS_URL"],
                                          int(app.config["INITIAL_SEATS"]))
    limiter = Limiter(get_remote_address, app=app, swallow_errors=False,
                      storage_uri=app.config["RATELIMIT_STORAGE_URI"]
                      or app.config["REDIS_URL"])
    # HEAD changes nothing, counters included.
    per_client = limiter.limit(lambda: app.config["RATELIMIT_RESERVE"],
                               methods=["GET"])
    app.add_url_rule("/available_seats", view_func=available_seats)
    app.add_url_rule("/reserve_seat", view_func=per_client(reserve_seat))
    app.add_url_rule("/process", view_func=process)
    register_api_docs(app, "", seat_description())
    register_json_errors(app, QueueUnavailable, StorageError)
    return app


def _env_margin() -> int:
    """Return RESERVATION_MARGIN (default 10), or exit with a line."""
    text = os.environ.get("RESERVATION_MARGIN") or str(RESERVATION_MARGIN)
    if not text.isdecimal():
        sys.exit("100-seat: RESERVATION_MARGIN must be a whole number, "
                 "got {!r}".format(text))
    return int(text)


def listen_address() -> tuple:
    """Return (host, port) from ``HOST`` and ``PORT``, or exit with a line."""
    host = os.environ.get("HOST") or DEFAULT_HOST
    text = os.environ.get("PORT") or str(DEFAULT_PORT)
    if not text.isdecimal() or not 0 < int(text) < 65536:
        sys.exit("100-seat: PORT must be a number from 1 to 65535, got {!r}"
                 .format(text))
    return host, int(text)


def main() -> None:
    """Start a fresh sale, then serve with Flask's development server."""
    host, port = listen_address()
    try:
        app.extensions["seats"].store.reset()
    except RedisError as error:
        print("100-seat: Redis unavailable, seats set on first use: {}"
              .format(error), file=sys.stderr)
    app.run(host=host, port=port, threaded=True)


app = create_app()

if __name__ == "__main__":
    main()

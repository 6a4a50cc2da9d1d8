#!/usr/bin/env python3
"""What the client host does, run by its agent (``agent.py``).

Every function takes and returns JSON values. Long loads run under a
name: ``progress(name)`` reads their counters while they run and
``stop(name)`` ends a load that runs until told.
"""
import collections
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import redis
import requests

STATE: dict = {}
_LOCK = threading.RLock()
_QUEUES: dict = {}


def _state(name: str) -> dict:
    """Return the shared counters of a named load (made on first use)."""
    with _LOCK:
        return STATE.setdefault(name, {
            "counts": collections.Counter(), "stop": threading.Event(),
            "lists": collections.defaultdict(list)})


def _count(name: str, key: str, amount: int = 1) -> None:
    """Add to one counter of a named load."""
    with _LOCK:
        STATE[name]["counts"][key] += amount


def progress(name: str) -> dict:
    """Return the counters of a named load so far."""
    with _LOCK:
        return dict(_state(name)["counts"])


def stop(name: str) -> None:
    """Ask a named load to stop."""
    _state(name)["stop"].set()


def shutdown() -> None:
    """Stop every load and close the job queues (the agent ends)."""
    for state in STATE.values():
        state["stop"].set()
    for queue in _QUEUES.values():
        queue.shutdown(10)


def _answer(response: requests.Response) -> dict:
    """Turn a response into status, body (JSON or text) and cookies."""
    try:
        body = response.json()
    except ValueError:
        body = response.text
    return {"status": response.status_code, "body": body,
            "cookies": response.cookies.get_dict(),
            "location": response.headers.get("Location")}


def http(method: str, url: str, timeout: float = 15, **kwargs: Any) -> dict:
    """Send one request; return status, body and cookies."""
    return _answer(requests.request(method, url, timeout=timeout,
                                    allow_redirects=False, **kwargs))


def http_many(requests_: list, threads: int = 16,
              timeout: float = 30) -> list:
    """Send many requests at once (each ``[method, url, kwargs]``).

    Returns, in order, each answer, or ``{"status": 0, "error": ...}``
    when no answer came (connection refused or cut).
    """

    def one(spec: list) -> dict:
        """Send one request of the batch."""
        method, url, kwargs = spec
        try:
            return http(method, url, timeout=timeout, **kwargs)
        except requests.RequestException as error:
            return {"status": 0, "error": type(error).__name__}

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, requests_))


def sql(url: str, query: str) -> list:
    """Run one SQL query; return its rows as lists."""
    with psycopg.connect(url, connect_timeout=10) as conn:
        cursor = conn.execute(query)
        rows = cursor.fetchall() if cursor.description else []
    return [list(row) for row in rows]


def redis_command(url: str, *command: Any) -> Any:
    """Run one Redis command; return its reply."""
    client = redis.Redis.from_url(url, decode_responses=True,
                                  socket_timeout=10)
    try:
        return client.execute_command(*command)
    finally:
        client.close()


def create_users(name: str, targets: list, count: int, cookie: dict,
                 threads: int = 8) -> dict:
    """Create ``count`` users through the API hosts, round robin.

    ``targets`` are base URLs of the users API (``.../api/v1``);
    ``cookie`` authenticates (an admin's session). Each e-mail is sent
    once, to one host; the answers are sorted by what came back: a 201
    (``acked``: the e-mails), another status, or no answer at all
    (``unanswered``: connection refused or broken, outcome unknown).
    Counters per host and outcome are kept under ``name`` meanwhile.
    """
    state = _state(name)
    numbers = iter(range(count))
    numbers_lock = threading.Lock()

    def work(worker: int) -> None:
        """Create users until the numbers run out."""
        with requests.Session() as session:
            session.cookies.update(cookie)
            while True:
                with numbers_lock:
                    number = next(numbers, None)
                if number is None:
                    return
                target = targets[number % len(targets)]
                email = "u{}@multihost.example".format(number)
                key = "host{}".format(number % len(targets))
                try:
                    response = session.post(target + "/users", timeout=15,
                                            json={"email": email,
                                                  "password": "pw"})
                except requests.RequestException:
                    _count(name, key + ":unanswered")
                    with _LOCK:
                        state["lists"]["unanswered"].append(email)
                    continue
                status = response.status_code
                _count(name, "{}:{}".format(key, status))
                if status == 201:
                    with _LOCK:
                        state["lists"]["acked"].append(
                            [email, response.json()["id"]])
                else:
                    with _LOCK:
                        state["lists"]["other"].append([email, status])

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(work, range(threads)))
    with _LOCK:
        return {"counts": dict(state["counts"]),
                "acked": state["lists"]["acked"],
                "unanswered": state["lists"]["unanswered"],
                "other": state["lists"]["other"]}


def poll_statuses(name: str, targets: list, threads: int = 4,
                  pause: float = 0.01) -> dict:
    """Send every target's request in turn until stopped; count statuses.

    ``targets`` are ``[label, method, url, kwargs]``; ``threads``
    connections do so at once. Counters are ``label:status`` (0 when no
    answer came) and ``label:slow`` (answers that took over 2 s). The
    first connection also records, per label, the statuses in the order
    they changed (``label`` -> [200, 503, 200, ...]), readable meanwhile
    with ``changes(name)``.
    """
    state = _state(name)
    seen: dict = {target[0]: [] for target in targets}

    def work(number: int) -> None:
        """Loop over the targets until stopped."""
        with requests.Session() as session:
            while not state["stop"].is_set():
                for label, method, url, kwargs in targets:
                    started = time.monotonic()
                    try:
                        status = session.request(
                            method, url, timeout=10, allow_redirects=False,
                            **kwargs).status_code
                    except requests.RequestException:
                        status = 0
                    # Each request carries only its own cookies: a login
                    # answered 503 may have ended the session its cookie
                    # named (the outcome of a request cut short is
                    # unknown), which must not spill into the next one.
                    session.cookies.clear()
                    _count(name, "{}:{}".format(label, status))
                    if time.monotonic() - started > 2:
                        _count(name, label + ":slow")
                    if number == 0 and (not seen[label]
                                        or seen[label][-1] != status):
                        seen[label].append(status)
                        with _LOCK:
                            state["lists"][label] = list(seen[label])
                time.sleep(pause)

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(work, range(threads)))
    return {"counts": progress(name), "changes": seen}


def changes(name: str) -> dict:
    """Return, per label, the statuses a ``poll_statuses`` load saw."""
    with _LOCK:
        return {key: list(value)
                for key, value in _state(name)["lists"].items()}


def _queue(url: str) -> Any:
    """Return this agent's job queue on a Redis URL (one per URL)."""
    from kue import create_queue

    with _LOCK:
        queue = _QUEUES.get(url)
        if queue is None:
            queue = create_queue(url, remove_on_complete=False,
                                 remove_on_fail=False,
                                 events_max_len=1000000, timeout=30)
            _QUEUES[url] = queue
        return queue


def create_jobs(url: str, job_type: str, count: int,
                pause_ms: int = 20, first: int = 0, attempts: int = 1) -> list:
    """Queue ``count`` jobs (in bulks of 500); return their ids.

    With ``attempts`` above 1 a failed run is retried after 0.5 s,
    doubling (Kue's ``attempts`` and exponential ``backoff``).
    """
    queue = _queue(url)
    opts = {} if attempts <= 1 else {
        "attempts": attempts,
        "backoff": {"type": "exponential", "delay": 500}}
    ids = []
    for start in range(first, first + count, 500):
        items = [{"n": n, "ms": pause_ms}
                 for n in range(start, min(start + 500, first + count))]
        ids.extend(job.id for job in queue.create_bulk(job_type, items,
                                                       **opts))
    return ids


def job_counts(url: str, job_type: str) -> dict:
    """Return bullmq's counts of a job type (waiting, active, ...)."""
    return _queue(url).counts(job_type)


def completion_events(url: str, job_type: str) -> dict:
    """Read a type's whole event stream, as a producer hears it.

    Returns, per job id, how many ``completed`` events it had, and the
    number of ``failed`` events.
    """
    client = redis.Redis.from_url(url, decode_responses=True,
                                  socket_timeout=30)
    key = "bull:{}:events".format(job_type)
    completed: collections.Counter = collections.Counter()
    failed = 0
    last = "-"
    try:
        while True:
            entries = client.xrange(key, min=last, count=5000)
            if last != "-":
                entries = entries[1:]
            if not entries:
                break
            for entry_id, fields in entries:
                if fields.get("event") == "completed":
                    completed[fields["jobId"]] += 1
                elif fields.get("event") == "failed":
                    failed += 1
            last = entries[-1][0]
    finally:
        client.close()
    return {"completed": dict(completed), "failed": failed}

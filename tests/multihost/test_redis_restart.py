#!/usr/bin/env python3
"""Scenario 4: Redis crashes and restarts (append-only file) under load.

Users API on two hosts with ``session_redis_auth`` (login limits counted
in Redis too), the stock and seat apps, the authentication service and a
worker run while the client keeps sending requests; Redis is killed
(``kill -9``) and started again on its append-only file. While it is
down the apps that need it answer 503; they answer 200 again by
themselves once it is back. Sessions, stock, and jobs queued before the
crash are all still there; the jobs a worker was running at the crash
all complete (their processor, which writes to Redis too, fails when
the crash cuts it short: they are created with retries, as such jobs
must be), once each as the producer hears it, and the worker that
lived through the outage processes new jobs.
"""
import collections
import signal

from tests.multihost.conftest import (
    ADMIN, ADMIN_PASSWORD, SEAT_PORT, STOCK_PORT, Cluster, long_mode)
from tests.multihost.harness import wait_until

SESSIONS = 20
HELD_JOBS = 2000 if long_mode() else 300
AFTER_JOBS = 100
RUNNING_JOBS = 4000 if long_mode() else 1000
ATTEMPTS = 5
# Answers of each kind each app must give in each phase (up, down, up).
MIN_ANSWERS = 20
QUEUE = "mh_jobs:8=tests.multihost.jobs:record_run"


def test_redis_restart_keeps_sessions_and_jobs(cluster: Cluster) -> None:
    """503 while Redis is down, 200 after; nothing stored is lost."""
    call = cluster.agent.call
    url = cluster.data.redis_url(0)
    database = cluster.data.create_database()
    cluster.add_admin("api-a", database)
    limit = {"LOGIN_RATE_LIMIT": "100000/minute"}
    a = cluster.users_api("api-a", "session_redis_auth", database, **limit)
    b = cluster.users_api("api-b", "session_redis_auth", database, **limit)
    stock = cluster.queue_app("api-a", "9-stock", STOCK_PORT)
    seats = cluster.queue_app("api-b", "100-seat", SEAT_PORT)
    auth = cluster.auth_service("auth-a", cluster.data.create_database(),
                                RATELIMIT_LOGIN="100000/minute")
    cluster.worker("worker-a", [QUEUE])
    cookies = [cluster.login((a, b)[n % 2]) for n in range(SESSIONS)]
    assert call("http", "GET", stock + "/reserve_product/2")["status"] == 200
    assert call("http", "GET", seats + "/reserve_seat")["status"] == 200
    user = {"email": "bob@multihost.example", "password": "bob-pw"}
    assert call("http", "POST", auth + "/users", data=user)["status"] == 200
    held = call("create_jobs", url, "mh_held", HELD_JOBS)
    login = {"data": {"email": ADMIN, "password": ADMIN_PASSWORD}}
    targets = [
        ["users-a", "GET", a + "/users/me", {"cookies": cookies[0]}],
        ["users-b", "GET", b + "/users/me", {"cookies": cookies[0]}],
        ["login-b", "POST", b + "/auth_session/login", login],
        ["stock", "GET", stock + "/list_products/2", {}],
        ["seats", "GET", seats + "/available_seats", {}],
        ["auth-login", "POST", auth + "/sessions", {"data": user}],
    ]
    load = cluster.agent.start("poll_statuses", "outage", targets)

    def seen_all(statuses: list, labels: list) -> bool:
        """Tell whether each label's changes so far are ``statuses``,
        and each label had at least MIN_ANSWERS of the last one."""
        changes = call("changes", "outage")
        now = call("progress", "outage")
        key = "{}:" + str(statuses[-1])
        return all(changes.get(label) == statuses and now.get(
            key.format(label), 0) - before.get(key.format(label), 0)
            >= MIN_ANSWERS for label in labels)

    # Every app needs Redis: the auth service for its login limiter,
    # which fails closed (503) rather than letting guesses through.
    redis_labels = [target[0] for target in targets]
    before: dict = {}
    wait_until(lambda: seen_all([200], redis_labels), 60,
               "every app answers 200")
    # The processor itself writes to Redis: the runs the crash cuts
    # short fail, and their next attempt completes them.
    running = call("create_jobs", url, "mh_jobs", RUNNING_JOBS,
                   attempts=ATTEMPTS)
    at_crash = wait_until(
        lambda: (lambda counts: counts if counts["completed"]
                 >= RUNNING_JOBS // 10 else None)(
            call("job_counts", url, "mh_jobs")),
        120, "the worker is on the jobs")
    cluster.data.redis.stop(signal.SIGKILL)
    wait_until(lambda: seen_all([200, 503], redis_labels), 60,
               "every app that needs Redis answers 503")
    cluster.data.start_redis()
    before = call("progress", "outage")
    wait_until(lambda: seen_all([200, 503, 200], redis_labels), 120,
               "every app answers 200 again by itself")
    call("stop", "outage")
    result = load.result(60)
    counts = result["counts"]
    print("\nscenario 4: answers during the load {}; changes {}".format(
        dict(sorted(counts.items())), result["changes"]))
    for label in redis_labels:
        assert result["changes"][label] == [200, 503, 200], label
    odd = {key: n for key, n in counts.items()
           if key.split(":")[1] not in ("200", "503")}
    assert not odd, odd
    alive = collections.Counter(
        call("http", "GET", (a, b)[n % 2] + "/users/me",
             cookies=cookie)["status"] for n, cookie in enumerate(cookies))
    quantity = call("http", "GET", stock + "/list_products/2")["body"][
        "currentQuantity"]
    waiting = call("job_counts", url, "mh_held")
    cluster.worker("worker-b", ["mh_held:8=tests.multihost.jobs:record_run"])
    after = call("create_jobs", url, "mh_jobs", AFTER_JOBS,
                 first=RUNNING_JOBS)
    wait_until(lambda: call("job_counts", url, "mh_held")["completed"]
               == HELD_JOBS, 300, "the held jobs completed")
    wait_until(lambda: call("job_counts", url, "mh_jobs")["completed"]
               == RUNNING_JOBS + AFTER_JOBS, 300, "the jobs running at the "
               "crash and those queued after the restart completed on the "
               "worker that lived through it")
    held_events = call("completion_events", url, "mh_held")
    after_events = call("completion_events", url, "mh_jobs")
    runs = {key: int(value) for key, value in call(
        "redis_command", url, "HGETALL", "mh:runs").items()
        if key.startswith("mh_jobs:")}
    print("scenario 4: {} of {} sessions alive after the restart; stock "
          "of product 2: {}; {} held jobs waiting after the restart, all "
          "completed ({} events); {} jobs being run at the crash (counts "
          "then {}) and {} queued after it: {} completion events, {} "
          "extra runs".format(
              alive[200], SESSIONS, quantity, waiting["wait"],
              len(held_events["completed"]), RUNNING_JOBS, at_crash,
              AFTER_JOBS, len(after_events["completed"]),
              sum(runs.values()) - len(runs)))
    assert alive == {200: SESSIONS}
    assert quantity == 9
    assert waiting["wait"] == HELD_JOBS
    assert set(held_events["completed"]) == set(held)
    assert set(after_events["completed"]) == set(after) | set(running)
    assert set(after_events["completed"].values()) == {1}
    assert at_crash["completed"] < RUNNING_JOBS
    assert len(runs) == RUNNING_JOBS + AFTER_JOBS
    assert held_events["failed"] == after_events["failed"] == 0

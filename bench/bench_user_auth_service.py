#!/usr/bin/env python3
"""Benchmark of the user authentication service on granian.

1. ``POST /sessions`` (login: one bcrypt check plus a session write)
   requests/s as a ratio to raw ``bcrypt.checkpw`` per second times the
   worker processes, same cost (BCRYPT_ROUNDS=10) measured in the same
   run. Target: >= 0.9x. The raw rate is measured in one process, and
   also in as many processes at once as the server has workers.
2. ``GET /profile`` (cookie -> indexed session look-up) requests/s as a
   ratio to ``GET /`` (static JSON) on the same server. Target: >= 0.5x.

Storage: a throw-away SQLite file (the embedded default); with
BENCH_POSTGRES_URL (a database URL the bench may create tables in, such
as a scratch database) the server runs on PostgreSQL instead.
Run: ``bin/bench user_auth_service``.
"""
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import bcrypt
import requests

from bench.common import granian, save, table, wrk
from tests.support import ROOT, free_port

APP_DIR = ROOT / "user_authentication_service"
ROUNDS = 10
WORKERS = max(2, os.cpu_count() or 2)
THREADS = 4
EMAIL = "bench@example.com"
PASSWORD = "bench-password-1"
RAW_SECONDS = 4.0
LOGIN_SECONDS = 8
FAST_SECONDS = 6
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def checkpw_rate(seconds: float = RAW_SECONDS) -> float:
    """Return how many bcrypt.checkpw calls per second one process does."""
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(ROUNDS))
    candidate = PASSWORD.encode()
    count = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        bcrypt.checkpw(candidate, hashed)
        count += 1
    return count / (time.perf_counter() - started)


def parallel_checkpw_rate(processes: int) -> float:
    """Return the summed checkpw/s of several processes running at once."""
    with ProcessPoolExecutor(processes,
                             mp_context=get_context("spawn")) as pool:
        return sum(pool.map(checkpw_rate, [RAW_SECONDS] * processes))


def start_service(database_url: str, workdir: Path) -> object:
    """Serve the app on granian with the bench's cost and no rate limit."""
    env = {"DATABASE_URL": database_url, "BCRYPT_ROUNDS": str(ROUNDS),
           "PYTHONPATH": str(APP_DIR),
           "RATELIMIT_LOGIN": "1000000/minute",
           "RATELIMIT_REGISTER": "1000000/minute",
           "RATELIMIT_RESET": "1000000/minute",
           "GRANIAN_BLOCKING_THREADS": str(THREADS)}
    return granian(workdir, "app:app", free_port(), workers=WORKERS,
                   env=env)


def checked(result: dict, what: str) -> dict:
    """Refuse a wrk run in which some requests failed."""
    if result["non_2xx"] or result["socket_errors"]:
        raise SystemExit("bench: {} had failures: {} non-2xx, {}".format(
            what, result["non_2xx"], result["socket_errors"]))
    return result


def ms(seconds: float) -> str:
    """Format a latency in milliseconds."""
    return "{:.1f} ms".format(seconds * 1000)


def main() -> None:
    """Run both measurements and save the table."""
    workdir = Path(tempfile.mkdtemp(prefix="bench-uas-"))
    database_url = os.environ.get("BENCH_POSTGRES_URL") or \
        "sqlite:///{}".format(workdir / "a.db")
    storage = "PostgreSQL" if "BENCH_POSTGRES_URL" in os.environ \
        else "SQLite (WAL)"
    single = checkpw_rate()
    parallel = parallel_checkpw_rate(WORKERS)
    server = start_service(database_url, workdir)
    try:
        url = server.url
        requests.post(url + "/users", timeout=30,
                      data={"email": EMAIL, "password": PASSWORD})
        login = requests.post(url + "/sessions", timeout=30,
                              data={"email": EMAIL, "password": PASSWORD})
        login.raise_for_status()
        cookie = {"Cookie": "session_id=" + login.cookies["session_id"]}
        index = checked(wrk(url + "/", FAST_SECONDS, 16), "GET /")
        profile = checked(wrk(url + "/profile", FAST_SECONDS, 16,
                              headers=cookie), "GET /profile")
        body = "email={}&password={}".format(EMAIL, PASSWORD)
        logins = checked(wrk(url + "/sessions", LOGIN_SECONDS, 8,
                             method="POST", body=body, headers=FORM),
                         "POST /sessions")
    finally:
        server.stop()
    anchor = single * WORKERS
    rows = [
        ["raw bcrypt.checkpw, 1 process (cost {})".format(ROUNDS),
         "{:.1f}/s".format(single), "", "anchor unit", ""],
        ["raw bcrypt.checkpw x {} workers".format(WORKERS),
         "{:.1f}/s".format(anchor), "", "anchor", ""],
        ["raw bcrypt.checkpw, {} processes at once".format(WORKERS),
         "{:.1f}/s".format(parallel), "", "{:.2f}x".format(
             parallel / anchor), ""],
        ["POST /sessions (login)", "{:.1f}/s".format(logins["rps"]),
         ms(logins["p50"]) + " / " + ms(logins["p99"]),
         "{:.2f}x of checkpw x workers ({:.2f}x of parallel)".format(
             logins["rps"] / anchor, logins["rps"] / parallel),
         "met" if logins["rps"] / anchor >= 0.9 else "NOT met"],
        ["GET / (anchor)", "{:.0f}/s".format(index["rps"]),
         ms(index["p50"]) + " / " + ms(index["p99"]), "1.00x", ""],
        ["GET /profile", "{:.0f}/s".format(profile["rps"]),
         ms(profile["p50"]) + " / " + ms(profile["p99"]),
         "{:.2f}x of GET /".format(profile["rps"] / index["rps"]),
         "met" if profile["rps"] / index["rps"] >= 0.5 else "NOT met"],
    ]
    text = table(
        "User authentication service: granian, {} workers x {} threads, "
        "{}".format(WORKERS, THREADS, storage),
        ["what", "rate", "p50 / p99", "ratio", "target"], rows)
    text += ("\nTargets: login >= 0.9x raw checkpw/s x workers; "
             "/profile >= 0.5x GET /.\n")
    save("user_auth_service", text)


if __name__ == "__main__":
    main()

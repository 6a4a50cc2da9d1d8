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
BENCH_POSTGRES_URL (an admin URL such as
postgresql://postgres@127.0.0.1:5432/postgres) the server runs on a
throw-away PostgreSQL database created on that server instead.
Run: ``bin/bench user_auth_service``.
"""
import os
import re
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import bcrypt
import requests

from bench.common import granian, postgres_backend_cpu, save, table, wrk
from tests.support import ROOT, free_port, postgres_throwaway_url

APP_DIR = ROOT / "user_authentication_service"
ROUNDS = 10
WORKERS = max(2, os.cpu_count() or 2)
THREADS = 4
EMAIL = "bench@example.com"
PASSWORD = "bench-password-1"
RAW_SECONDS = 3.0
LOGIN_SECONDS = 5
FAST_SECONDS = 4
ROUNDS_EACH = 3
LOGIN_CONNECTIONS = 2 * WORKERS
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def checkpw_rate(seconds: float = RAW_SECONDS) -> float:
    """Return how many bcrypt.checkpw calls per second one process does."""
    return checkpw_rates(seconds)["wall"]


def checkpw_rates(seconds: float = RAW_SECONDS) -> dict:
    """Return checkpw calls per wall-clock second and per CPU second."""
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(ROUNDS))
    candidate = PASSWORD.encode()
    count = 0
    cpu = time.process_time()
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        bcrypt.checkpw(candidate, hashed)
        count += 1
    return {"wall": count / (time.perf_counter() - started),
            "cpu": count / (time.process_time() - cpu)}


def parallel_checkpw_rate(processes: int) -> float:
    """Return the summed checkpw/s of several processes running at once."""
    with ProcessPoolExecutor(processes,
                             mp_context=get_context("spawn")) as pool:
        return sum(pool.map(checkpw_rate, [RAW_SECONDS] * processes))


def group_cpu_seconds(pgid: int) -> float:
    """Return the CPU time (user + system) used by a process group."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def timed_wrk(pgid: int, what: str, url: str, seconds: int,
              connections: int, database_url: str = "",
              **options: object) -> dict:
    """Run wrk and add the server's CPU seconds per request to the
    result, and those of the database's backends on PostgreSQL."""
    postgres = database_url.startswith("postgresql")
    before = group_cpu_seconds(pgid)
    db_before = postgres_backend_cpu(database_url) if postgres else 0.0
    result = checked(wrk(url, seconds, connections, **options), what,
                     seconds)
    used = group_cpu_seconds(pgid) - before
    db_used = (postgres_backend_cpu(database_url) - db_before
               if postgres else 0.0)
    count = max(1.0, result["rps"] * seconds)
    result["cpu_per_request"] = used / count
    result["db_cpu_per_request"] = db_used / count
    return result


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


def checked(result: dict, what: str, seconds: int = 1) -> dict:
    """Refuse a wrk run in which some requests failed.

    wrk gives up on a request after 2 s; on a loaded machine a few slow
    logins can pass that, so up to 10% of client-side timeouts (and no
    other error) are tolerated and counted in the table.
    """
    errors = result["socket_errors"]
    counts = dict(re.findall(r"(\w+) (\d+)", errors))
    timeouts = int(counts.pop("timeout", 0))
    result["timeouts"] = timeouts
    others = any(int(value) for value in counts.values())
    if result["non_2xx"] or others or \
            timeouts > 0.1 * result["rps"] * seconds:
        raise SystemExit("bench: {} had failures: {} non-2xx, {}".format(
            what, result["non_2xx"], result["socket_errors"]))
    return result


def ms(seconds: float) -> str:
    """Format a latency in milliseconds."""
    return "{:.1f} ms".format(seconds * 1000)


def median(values: list) -> float:
    """Return the median of a list of numbers."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def measure(url: str, cookie: dict, pgid: int, database_url: str) -> dict:
    """Alternate anchor and subject runs ROUNDS_EACH times; keep all."""
    body = "email={}&password={}".format(EMAIL, PASSWORD)
    runs: dict = {"raw": [], "login": [], "index": [], "profile": []}
    for _ in range(ROUNDS_EACH):
        runs["index"].append(timed_wrk(pgid, "GET /", url + "/",
                                       FAST_SECONDS, 16, database_url))
        runs["profile"].append(timed_wrk(
            pgid, "GET /profile", url + "/profile", FAST_SECONDS, 16,
            database_url, headers=cookie))
        runs["raw"].append(checkpw_rates())
        runs["login"].append(timed_wrk(
            pgid, "POST /sessions", url + "/sessions", LOGIN_SECONDS,
            LOGIN_CONNECTIONS, database_url, method="POST", body=body,
            headers=FORM))
    return runs


def cpu_rows(runs: dict) -> list:
    """Rows of CPU per request (µs, medians): the server's, and on
    PostgreSQL its backends', whose CPU shares the machine's cores."""
    def us(name: str, key: str) -> float:
        """Median CPU µs per request of a series of runs."""
        return median([run[key] for run in runs[name]]) * 1e6

    rows = [["server CPU per request (granian): GET / / /profile / "
             "login", "{:.0f} / {:.0f} / {:.0f} µs".format(
                 us("index", "cpu_per_request"),
                 us("profile", "cpu_per_request"),
                 us("login", "cpu_per_request")), "", "", ""]]
    if any(run["db_cpu_per_request"] for run in runs["profile"]):
        index = us("index", "cpu_per_request")
        profile = (us("profile", "cpu_per_request")
                   + us("profile", "db_cpu_per_request"))
        rows += [
            ["PostgreSQL backends' CPU per request: /profile / login",
             "{:.0f} / {:.0f} µs".format(
                 us("profile", "db_cpu_per_request"),
                 us("login", "db_cpu_per_request")), "", "", ""],
            ["/profile, per CPU second of granian + backends (vs GET /)",
             "", "", "{:.2f}x".format(index / profile),
             "(what the 2 shared cores allow)"]]
    return rows


def main() -> None:
    """Run both measurements (interleaved, repeated) and save the table."""
    workdir = Path(tempfile.mkdtemp(prefix="bench-uas-"))
    admin_url = os.environ.get("BENCH_POSTGRES_URL")
    drop = server = None
    try:
        if admin_url:
            database_url, drop = postgres_throwaway_url(admin_url)
            storage = "PostgreSQL"
        else:
            database_url = "sqlite:///{}".format(workdir / "a.db")
            storage = "SQLite (WAL)"
        parallel = parallel_checkpw_rate(WORKERS)
        server = start_service(database_url, workdir)
        url = server.url
        requests.post(url + "/users", timeout=30,
                      data={"email": EMAIL, "password": PASSWORD})
        # Logins replace the session, so /profile uses a user of its own.
        requests.post(url + "/users", timeout=30,
                      data={"email": "p" + EMAIL, "password": PASSWORD})
        login = requests.post(url + "/sessions", timeout=30, data={
            "email": "p" + EMAIL, "password": PASSWORD})
        login.raise_for_status()
        cookie = {"Cookie": "session_id=" + login.cookies["session_id"]}
        runs = measure(url, cookie, server.proc.pid, database_url)
    finally:
        if server is not None:
            server.stop()
        if drop is not None:
            drop()
        shutil.rmtree(workdir, ignore_errors=True)
    login_ratios = [run["rps"] / (raw["wall"] * WORKERS)
                    for run, raw in zip(runs["login"], runs["raw"])]
    profile_ratios = [profile["rps"] / index["rps"] for profile, index
                      in zip(runs["profile"], runs["index"])]
    login_ratio, profile_ratio = median(login_ratios), median(profile_ratios)
    login_cpu = median([1.0 / (raw["cpu"] * run["cpu_per_request"])
                        for run, raw in zip(runs["login"], runs["raw"])])
    profile_cpu = median([index["cpu_per_request"]
                          / profile["cpu_per_request"] for profile, index
                          in zip(runs["profile"], runs["index"])])
    single = median([raw["wall"] for raw in runs["raw"]])
    timeouts = sum(run["timeouts"] for name in runs if name != "raw"
                   for run in runs[name])
    logins = median([run["rps"] for run in runs["login"]])

    def spread(values: list) -> str:
        """Show each round's ratio."""
        return ", ".join("{:.2f}".format(value) for value in values)

    def latency(name: str) -> str:
        """Show the median p50 and p99 of a series of wrk runs."""
        return "{} / {}".format(
            ms(median([run["p50"] for run in runs[name]])),
            ms(median([run["p99"] for run in runs[name]])))

    rows = [
        ["raw bcrypt.checkpw, 1 process (cost {})".format(ROUNDS),
         "{:.1f}/s".format(single), "", "", ""],
        ["anchor: raw checkpw/s x {} workers".format(WORKERS),
         "{:.1f}/s".format(single * WORKERS), "", "1.00x", ""],
        ["raw checkpw, {} processes at once".format(WORKERS),
         "{:.1f}/s".format(parallel), "",
         "{:.2f}x".format(parallel / (single * WORKERS)), ""],
        ["POST /sessions (login)", "{:.1f}/s".format(logins),
         latency("login"), "{:.2f}x (rounds: {})".format(
             login_ratio, spread(login_ratios)),
         ">= 0.9x: " + ("met" if login_ratio >= 0.9 else "NOT met")],
        ["login, per server CPU second (checkpw CPU / login CPU)", "",
         "", "{:.2f}x".format(login_cpu), "(contention-free view)"],
        ["GET / (anchor)", "{:.0f}/s".format(
            median([run["rps"] for run in runs["index"]])),
         latency("index"), "1.00x", ""],
        ["GET /profile", "{:.0f}/s".format(
            median([run["rps"] for run in runs["profile"]])),
         latency("profile"), "{:.2f}x (rounds: {})".format(
             profile_ratio, spread(profile_ratios)),
         ">= 0.5x: " + ("met" if profile_ratio >= 0.5 else "NOT met")],
        ["/profile, per server CPU second (vs GET /)", "", "",
         "{:.2f}x".format(profile_cpu), "(contention-free view)"],
    ] + cpu_rows(runs)
    text = table(
        "User authentication service: granian, {} workers x {} threads, "
        "{}".format(WORKERS, THREADS, storage),
        ["what", "rate (median)", "p50 / p99", "ratio (median)", "target"],
        rows)
    text += "\nClient-side timeouts (> 2 s) in all runs: {}.\n".format(
        timeouts)
    text += ("\nCPU rows: server CPU time (all granian processes, from "
             "/proc) per request, compared with bcrypt's CPU time per "
             "checkpw (login) or with GET / (profile); they do not depend "
             "on what else the machine runs. On PostgreSQL the "
             "database's backends (picked out by the throw-away "
             "database's name in their process titles, /proc) run on "
             "the same 2 cores: their CPU per request is shown too.")
    text += ("\nEach ratio pairs a run with its anchor measured just "
             "before it, {} rounds, median shown; login runs use {} "
             "connections, GET runs 16.\n".format(ROUNDS_EACH,
                                                   LOGIN_CONNECTIONS))
    save("user_auth_service" + ("_postgres" if admin_url else ""), text)


if __name__ == "__main__":
    main()

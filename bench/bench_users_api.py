#!/usr/bin/env python3
"""Benchmark of the users API (session_authentication) on granian.

1. ``GET /api/v1/users/me`` requests/s for every AUTH_TYPE, as a ratio
   to the bare JSON route ``/api/v1/bench/bare`` of the same app on the
   same server (bench/apps/users_api_bare.py): excluded from
   authentication, under /api/v1 so that the same CORS and
   before_request work runs as for the measured route. Memory session
   types run one worker process (the server refuses more), the others
   two, and each type is compared with the bare route under its own
   worker count. Bare and /users/me runs alternate; the best of each
   is kept.
2. ``POST /api/v1/auth_session/login`` requests/s as a ratio to raw
   ``bcrypt.checkpw`` per second times the worker processes (measured
   in as many processes at once), same bcrypt cost (BCRYPT_ROUNDS=10).
3. ``/users/me`` and login latency (one connection, p50 and p99) with
   1,000 and then 1,000,000 users stored; the users are inserted in
   bulk (SQLAlchemy Core executemany) with one precomputed bcrypt hash,
   and the time of the 1,000,000-row insert is reported.

Storage: throw-away SQLite files (and a throw-away Redis server), so
the numbers include the embedded database's costs. With
BENCH_POSTGRES_URL set (an admin URL such as
postgresql://postgres@127.0.0.1:5432/postgres) every part also runs on
throw-away PostgreSQL databases created there: parts 1 and 2 for the
AUTH_TYPEs that read SQL (``/users/me`` with basic_auth and
session_db_auth, login with session_db_auth), their rows labelled
"(PostgreSQL)", and part 3. BENCH_USERS_API_PARTS (default "1,2,3")
chooses the parts to run, e.g. "1,2" skips the million-user inserts.
Run: ``bin/bench users_api``.
"""
import os
import re
import shutil
import sys
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timedelta, timezone
from multiprocessing import get_context
from pathlib import Path
from typing import Callable, List, Optional, Tuple
from urllib.parse import urlencode

import bcrypt
import requests

from bench.common import granian, postgres_backend_cpu, save, table, wrk
from tests.support import ROOT, RedisServer, free_port

SA_DIR = ROOT / "session_authentication"
if str(SA_DIR) not in sys.path:
    sys.path.insert(0, str(SA_DIR))

ROUNDS = 10
EMAIL = "bench@example.com"
PASSWORD = "bench-password-1"
SESSION_NAME = "_my_session_id"
THREADS = 4
CONNECTIONS = 16
SECONDS = 2
REPEATS = 3
BARE_PATH = "/api/v1/bench/bare"
LATENCY_SECONDS = 2
LATENCY_REPEATS = 3
LOGIN_REPEATS = 2
LOGIN_SECONDS = 5
BIG = 1_000_000
SMALL = 1_000
CHUNK = 20_000
AUTH_TYPES = [("basic_auth", 2, THREADS), ("session_auth", 1, THREADS),
              ("session_exp_auth", 1, THREADS),
              ("session_db_auth", 2, THREADS),
              ("session_redis_auth", 2, THREADS),
              # One process, one thread: no other thread of the process
              # waits for the GIL while SQLite has released it.
              ("session_auth", 1, 1), ("session_exp_auth", 1, 1)]
LOGIN_TYPES = ["session_db_auth", "session_redis_auth"]
LATENCY_TYPES = ["session_db_auth", "basic_auth"]
# The AUTH_TYPEs whose requests read SQL, measured on PostgreSQL too.
POSTGRES_AUTH_TYPES = [("basic_auth", 2, THREADS),
                       ("session_db_auth", 2, THREADS)]
POSTGRES_LOGIN_TYPES = ["session_db_auth"]
POSTGRES_LABEL = " (PostgreSQL)"
PARTS = "1,2,3"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def seed_users(url: str, count: int, password_hash: str) -> float:
    """Create the schema and insert count users; return the insert time.

    Rows go in with SQLAlchemy Core executemany, in chunks, all with
    the same precomputed bcrypt hash; the bench user is the first row.
    Creation times are a microsecond apart, in id order, so that both
    the primary key and the (created_at, id) index grow at their end.
    """
    from sqlalchemy import insert

    from models import db
    from models.user import User

    db.configure(url)
    engine = db.engine()
    now = datetime.now(timezone.utc)
    statement = insert(User.__table__)
    started = time.perf_counter()
    # Random ids, inserted in index order: the primary key index grows
    # at its end instead of splitting pages all over the file.
    ids = sorted(str(uuid.uuid4()) for _ in range(count))
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA cache_size=-262144")
        for start in range(0, count, CHUNK):
            rows = [{"id": ids[number],
                     "created_at": now + timedelta(microseconds=number),
                     "updated_at": now,
                     "email": EMAIL if number == 0
                     else "user{}@bench.example".format(number),
                     "password": password_hash,
                     "first_name": "First{}".format(number),
                     "last_name": "Last{}".format(number)}
                    for number in range(start, min(start + CHUNK, count))]
            conn.execute(statement, rows)
    elapsed = time.perf_counter() - started
    db.reset()
    db.configure(None)
    return elapsed


def start_api(auth_type: str, database_url: str, redis_url: str,
              workers: int, threads: int = THREADS) -> object:
    """Serve the bench app (users API + bare route) on granian.

    Same settings as ``python3 -m api.v1.serve`` (WSGI, THREADS
    blocking threads per worker by default, no websockets).
    """
    env = {"AUTH_TYPE": auth_type, "DATABASE_URL": database_url,
           "REDIS_URL": redis_url, "BCRYPT_ROUNDS": str(ROUNDS),
           "LOGIN_RATE_LIMIT": "off", "SESSION_NAME": SESSION_NAME,
           "SESSION_DURATION": "3600",
           "GRANIAN_BLOCKING_THREADS": str(threads)}
    server = granian(ROOT / "bench" / "apps", "users_api_bare:app",
                     free_port(), workers=workers, env=env,
                     probe=BARE_PATH)
    server.database_url = database_url
    return server


def credentials(server: object, auth_type: str) -> dict:
    """Log in (or build the Basic header); return the request headers.

    Also checks that /users/me answers the bench user with them.
    """
    if auth_type == "basic_auth":
        import base64

        token = base64.b64encode(
            "{}:{}".format(EMAIL, PASSWORD).encode()).decode()
        headers = {"Authorization": "Basic " + token}
    else:
        answer = requests.post(
            server.url + "/api/v1/auth_session/login",
            data={"email": EMAIL, "password": PASSWORD}, timeout=30)
        if answer.status_code != 200:
            raise RuntimeError("login failed: {} {}".format(
                answer.status_code, answer.text))
        headers = {"Cookie": "{}={}".format(
            SESSION_NAME, answer.cookies[SESSION_NAME])}
    me = requests.get(server.url + "/api/v1/users/me", headers=headers,
                      timeout=30)
    if me.status_code != 200 or me.json().get("email") != EMAIL:
        raise RuntimeError("/users/me failed: {} {}".format(
            me.status_code, me.text))
    return headers


def checked(result: dict, what: str) -> dict:
    """Refuse a wrk run whose requests failed."""
    if result["non_2xx"] or result["socket_errors"]:
        raise RuntimeError("{}: {} non-2xx, socket errors {}".format(
            what, result["non_2xx"], result["socket_errors"]))
    return result


def load(url: str, what: str, **options: object) -> dict:
    """Warm a URL up for a second, then measure it with wrk."""
    seconds = options.pop("seconds", SECONDS)
    wrk(url, seconds=1, **options)
    return checked(wrk(url, seconds=seconds, **options), what)


def best_of(runs: List[dict]) -> dict:
    """Return the run with the most requests/s.

    Other work on the shared machine can only slow a run down, so the
    best of a few alternating runs is the steadiest estimate.
    """
    return max(runs, key=lambda run: run["rps"])


def process_tree_cpu(pid: int) -> float:
    """Return the CPU seconds (user + system) used so far by a process
    and all its descendants (the granian workers), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    parents, used = {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        used[int(entry.name)] = (int(fields[11]) + int(fields[12])) / ticks
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += used.get(current, 0.0)
        todo.extend(child for child, parent in parents.items()
                    if parent == current)
    return total


def timed_wrk(server: object, url: str, what: str,
              **options: object) -> dict:
    """Run wrk and add the server's CPU time per request (µs) to it.

    Unlike requests/s, CPU per request hardly depends on what else
    the shared machine is doing.
    """
    postgres = server.database_url.startswith("postgresql")
    before = process_tree_cpu(server.proc.pid)
    db_before = postgres_backend_cpu(server.database_url) if postgres \
        else 0.0
    result = checked(wrk(url, **options), what)
    used = process_tree_cpu(server.proc.pid) - before
    db_used = (postgres_backend_cpu(server.database_url) - db_before
               if postgres else 0.0)
    count = int(re.search(r"(\d+) requests in", result["raw"]).group(1))
    result["cpu_us"] = used / max(count, 1) * 1e6
    result["db_cpu_us"] = db_used / max(count, 1) * 1e6
    return result


def with_database(anchor: float, runs: List[dict],
                  best: dict) -> str:
    """On PostgreSQL, the CPU ratio counting the database's backends
    too (they run on the same cores): "; with PostgreSQL's CPU: ..."."""
    if not any(run["db_cpu_us"] for run in runs):
        return ""
    total = best["cpu_us"] + best["db_cpu_us"]
    return "; with PostgreSQL's {:.0f}: {:.0f} / {:.0f} = {:.2f}x".format(
        best["db_cpu_us"], anchor, total, anchor / total)


def parts() -> List[int]:
    """Return the parts to run, from BENCH_USERS_API_PARTS ("1,2,3")."""
    value = os.environ.get("BENCH_USERS_API_PARTS", "").strip() or PARTS
    try:
        chosen = sorted({int(part) for part in value.split(",") if part})
    except ValueError:
        chosen = []
    if not chosen or not set(chosen) <= {1, 2, 3}:
        raise SystemExit("bench users_api: BENCH_USERS_API_PARTS must "
                         "list parts among 1,2,3, not {!r}".format(value))
    return chosen


def measure_me(database_url: str, redis_url: str,
               auth_types: Optional[list] = None,
               label: str = "") -> List[list]:
    """Return the /users/me rows: each AUTH_TYPE against bare.

    ``label`` ends each row's measurement (the storage, when not
    SQLite).
    """
    rows = []
    for auth_type, workers, threads in auth_types or AUTH_TYPES:
        server = start_api(auth_type, database_url, redis_url, workers,
                           threads)
        try:
            headers = credentials(server, auth_type)
            bare_url = server.url + BARE_PATH
            me_url = server.url + "/api/v1/users/me"
            wrk(bare_url, seconds=1, connections=CONNECTIONS)
            wrk(me_url, seconds=1, connections=CONNECTIONS,
                headers=headers)
            bare, me = [], []
            for _ in range(REPEATS):
                bare.append(timed_wrk(server, bare_url, "bare",
                                      seconds=SECONDS,
                                      connections=CONNECTIONS))
                me.append(timed_wrk(server, me_url, auth_type,
                                    seconds=SECONDS,
                                    connections=CONNECTIONS,
                                    headers=headers))
        finally:
            server.stop()
        anchor, found = best_of(bare)["rps"], best_of(me)["rps"]
        ratio = found / anchor
        cpu_bare = min(run["cpu_us"] for run in bare)
        cheapest = min(me, key=lambda run: run["cpu_us"])
        cpu_me = cheapest["cpu_us"]
        rows.append(["GET /users/me, " + auth_type + label,
                     "{} x {}".format(workers, threads),
                     "{:.0f}".format(anchor), "{:.0f}".format(found),
                     "{:.2f}x".format(ratio),
                     "{:.0f} / {:.0f} = {:.2f}x".format(
                         cpu_bare, cpu_me, cpu_bare / cpu_me)
                     + with_database(cpu_bare, me, cheapest),
                     ">= 0.5x", "met" if ratio >= 0.5 else "NOT met"])
    return rows


# The anchor: plain bcrypt at the same cost (the API's format adds one
# HMAC-SHA256 of the password, a few microseconds).
RAW_HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(ROUNDS)).decode()


def checkpw_rate(password_hash: bytes, seconds: float) -> tuple:
    """Run raw bcrypt.checkpw for about seconds; return (count, wall
    time, CPU time)."""
    password = PASSWORD.encode()
    count = 0
    started, cpu = time.perf_counter(), time.process_time()
    while time.perf_counter() - started < seconds:
        if not bcrypt.checkpw(password, password_hash):
            raise RuntimeError("the bench hash does not match")
        count += 1
    return (count, time.perf_counter() - started,
            time.process_time() - cpu)


def raw_bcrypt(password_hash: str, processes: int) -> Tuple[float, float]:
    """Return raw checkpw/s of `processes` processes running at once,
    and the CPU µs one check takes."""
    with ProcessPoolExecutor(processes, mp_context=get_context("fork")
                             ) as pool:
        runs = list(pool.map(checkpw_rate,
                             [password_hash.encode()] * processes,
                             [LOGIN_SECONDS] * processes))
    rate = sum(count / elapsed for count, elapsed, _ in runs)
    cpu = sum(used for _, _, used in runs) / sum(n for n, _, _ in runs)
    return rate, cpu * 1e6


def measure_login(database_url: str, redis_url: str,
                  login_types: Optional[list] = None,
                  label: str = "") -> List[list]:
    """Return the login rows: login/s against raw bcrypt x workers."""
    rows = []
    body = urlencode({"email": EMAIL, "password": PASSWORD})
    for auth_type in login_types or LOGIN_TYPES:
        workers = 2
        server = start_api(auth_type, database_url, redis_url, workers)
        try:
            credentials(server, auth_type)
            url = server.url + "/api/v1/auth_session/login"
            options = dict(connections=2 * workers, method="POST",
                           body=body, headers=FORM)
            wrk(url, seconds=1, **options)
            login = timed_wrk(server, url, "login " + auth_type,
                              seconds=LOGIN_SECONDS, **options)
        finally:
            server.stop()
        anchor, cpu_raw = raw_bcrypt(RAW_HASH, workers)
        ratio = login["rps"] / anchor
        rows.append(["POST login, " + auth_type + label,
                     "{} x {}".format(workers, THREADS),
                     "{:.1f} (raw checkpw/s x{})".format(anchor, workers),
                     "{:.1f}".format(login["rps"]),
                     "{:.2f}x".format(ratio),
                     "{:.0f} / {:.0f} = {:.2f}x".format(
                         cpu_raw, login["cpu_us"],
                         cpu_raw / login["cpu_us"])
                     + with_database(cpu_raw, [login], login),
                     ">= 0.9x", "met" if ratio >= 0.9 else "NOT met"])
    return rows


def measure_latency(small_url: str, big_url: str, redis_url: str
                    ) -> List[list]:
    """Compare one-connection latency at 1,000,000 and 1,000 users.

    Both servers run at once and their wrk runs alternate, so the
    machine's other load hits both alike; the best (lowest) p50 and p99
    of the runs are kept.
    """
    body = urlencode({"email": EMAIL, "password": PASSWORD})
    rows = []
    for auth_type in LATENCY_TYPES:
        servers = [start_api(auth_type, url, redis_url, 2)
                   for url in (small_url, big_url)]
        try:
            headers = [credentials(server, auth_type)
                       for server in servers]
            checks = [("GET /users/me", "/api/v1/users/me",
                       dict(headers=None), LATENCY_REPEATS)]
            if auth_type in LOGIN_TYPES:
                checks.append(("POST login", "/api/v1/auth_session/login",
                               dict(method="POST", body=body,
                                    headers=FORM), LOGIN_REPEATS))
            for what, path, options, repeats in checks:
                found = [[], []]
                for number in range(repeats + 1):
                    for index, server in enumerate(servers):
                        extra = dict(options)
                        if extra["headers"] is None:
                            extra["headers"] = headers[index]
                        run = checked(wrk(
                            server.url + path, connections=1,
                            seconds=1 if number == 0 else LATENCY_SECONDS,
                            **extra), what)
                        if number:
                            found[index].append(run)
                rows.append(latency_row(
                    "{}, {}".format(what, auth_type), found))
        finally:
            for server in servers:
                server.stop()
    return rows


def latency_row(what: str, found: List[List[dict]]) -> list:
    """Render p50/p99 at 1k and 1M users (best runs) and their ratio."""
    low = [min(run[key] for run in found[0]) for key in ("p50", "p99")]
    high = [min(run[key] for run in found[1]) for key in ("p50", "p99")]
    ratio = high[0] / low[0]
    return [what,
            "{:.2f} / {:.2f}".format(low[0] * 1e3, low[1] * 1e3),
            "{:.2f} / {:.2f}".format(high[0] * 1e3, high[1] * 1e3),
            "{:.2f}x / {:.2f}x".format(ratio, high[1] / low[1]),
            "<= 1.2x (p50)", "met" if ratio <= 1.2 else "NOT met"]


def scale(engine_name: str, make_url: Callable[[], Tuple[str, Callable]],
          redis_url: str, password_hash: str) -> Tuple[list, float]:
    """Run part 3 on one database engine: 1k and 1M users."""
    small_url, drop_small = make_url()
    big_url, drop_big = make_url()
    try:
        seed_users(small_url, SMALL, password_hash)
        insert_time = seed_users(big_url, BIG, password_hash)
        rows = measure_latency(small_url, big_url, redis_url)
    finally:
        drop_small()
        drop_big()
    return ([[row[0] + " ({})".format(engine_name)] + row[1:]
             for row in rows], insert_time)


def sqlite_url_factory(folder: Path) -> Callable[[], Tuple[str, Callable]]:
    """Return a maker of throw-away SQLite database URLs in a folder."""
    def make() -> Tuple[str, Callable]:
        """Return a new SQLite file URL and a function removing it."""
        path = folder / "users-{}.db".format(uuid.uuid4().hex[:8])

        def drop() -> None:
            """Remove the database file and its WAL companions."""
            for suffix in ("", "-wal", "-shm", "-migrate-lock"):
                Path(str(path) + suffix).unlink(missing_ok=True)

        return "sqlite:///{}".format(path), drop
    return make


def postgres_url_factory(admin_url: str
                         ) -> Callable[[], Tuple[str, Callable]]:
    """Return a maker of throw-away PostgreSQL database URLs."""
    from tests.support import postgres_throwaway_url

    def make() -> Tuple[str, Callable]:
        """Create a throw-away database; return its URL and dropper."""
        return postgres_throwaway_url(admin_url)
    return make


def notes(chosen: List[int], postgres: bool,
          insert_times: List[Tuple[str, float]]) -> str:
    """Describe how the tables were measured."""
    storage = ("storage: a SQLite file (WAL) and a throw-away local "
               "Redis server")
    if postgres:
        storage += ("; rows marked (PostgreSQL): a throw-away database "
                    "on BENCH_POSTGRES_URL's server, 1,000 users")
    lines = [
        "",
        "Parts run: {} (BENCH_USERS_API_PARTS).".format(
            ",".join(str(part) for part in chosen)),
        "Notes: granian WSGI with the settings of `python3 -m "
        "api.v1.serve` ({} blocking threads per worker unless the row "
        "says otherwise); wrk with 1 thread and {} connections. wrk, "
        "the server, Redis and the other engineers' jobs share the "
        "same 2 cores, so absolute figures are low and noisy: bare and "
        "measured runs alternate ({} x {}s each after a 1s warm-up) "
        "and the best of each is kept. Bare anchor = `GET {}` of the "
        "same app on the same server (authentication skipped; CORS "
        "and before_request still run). The CPU column is the server "
        "processes' user+system CPU per request (from /proc), which "
        "hardly depends on the machine's other load: a steadier view "
        "of the same ratio; on PostgreSQL rows it also gives the "
        "ratio counting the CPU of the database's backends (from /proc, "
        "picked out by the throw-away database's name), which share "
        "the same cores. bcrypt cost {} for users, login and raw "
        "checkpw (raw = as many processes as workers, at once); "
        "LOGIN_RATE_LIMIT=off; SESSION_DURATION=3600; {}.".format(
            THREADS, CONNECTIONS, REPEATS, SECONDS, BARE_PATH, ROUNDS,
            storage)]
    if 3 in chosen:
        lines.append(
            "Latency: one connection (no queueing), 2 workers, both "
            "servers (1k and 1M users) up at once with alternating runs "
            "({} x {}s for /users/me, {} x {}s for login), best p50 and "
            "p99 kept, in ms.".format(LATENCY_REPEATS, LATENCY_SECONDS,
                                       LOGIN_REPEATS, LATENCY_SECONDS))
    for name, seconds in insert_times:
        lines.append("Bulk insert of {:,} users ({}, Core executemany, "
                     "one precomputed hash): {:.1f}s ({:,.0f} rows/s)."
                     .format(BIG, name, seconds, BIG / seconds))
    return "\n".join(lines) + "\n"


def throughput_rows(chosen: List[int], make_url: Callable[[], Tuple[
        str, Callable]], redis_url: str, password_hash: str,
        postgres: bool) -> List[list]:
    """Run parts 1 and 2 (those chosen) on one throw-away database.

    On PostgreSQL only the AUTH_TYPEs that read SQL are measured, and
    their rows are labelled.
    """
    url, drop = make_url()
    try:
        seed_users(url, SMALL, password_hash)
        rows = []
        if 1 in chosen:
            rows += measure_me(
                url, redis_url,
                POSTGRES_AUTH_TYPES if postgres else AUTH_TYPES,
                POSTGRES_LABEL if postgres else "")
        if 2 in chosen:
            rows += measure_login(
                url, redis_url,
                POSTGRES_LOGIN_TYPES if postgres else LOGIN_TYPES,
                POSTGRES_LABEL if postgres else "")
    finally:
        drop()
    return rows


def main(argv: Optional[List[str]] = None) -> None:
    """Run the chosen parts and save their tables."""
    started = time.monotonic()
    chosen = parts()
    os.environ["BCRYPT_ROUNDS"] = str(ROUNDS)
    from models.user import hash_password

    # The API's own hash format at the cost the servers run with, so
    # that no login of the bench replaces it (models.user.needs_rehash).
    password_hash = hash_password(PASSWORD)
    folder = Path(tempfile.mkdtemp(prefix="bench-users-api-"))
    admin = os.environ.get("BENCH_POSTGRES_URL")
    engines = [("SQLite", sqlite_url_factory(folder), False)]
    if admin:
        engines.append(("PostgreSQL", postgres_url_factory(admin), True))
    throughput, latency, insert_times = [], [], []
    redis_server = RedisServer().start()
    try:
        if 1 in chosen or 2 in chosen:
            for _name, make_url, postgres in engines:
                throughput += throughput_rows(chosen, make_url,
                                              redis_server.url,
                                              password_hash, postgres)
        if 3 in chosen:
            for name, make_url, _postgres in engines:
                more, insert_time = scale(name, make_url,
                                          redis_server.url, password_hash)
                latency += more
                insert_times.append((name, insert_time))
    finally:
        redis_server.stop()
        shutil.rmtree(folder, ignore_errors=True)
    text = ""
    if throughput:
        text += table(
            "Users API: requests/s as ratios to anchors in the same run",
            ["measurement", "workers x threads", "anchor req/s", "req/s",
             "ratio",
             "server CPU µs/req: anchor / measured = ratio",
             "target", "status"], throughput)
    if latency:
        text += ("\n" if text else "") + table(
            "Users API: latency with 1,000 vs 1,000,000 users stored",
            ["measurement", "1k users p50 / p99 ms",
             "1M users p50 / p99 ms", "ratio p50 / p99", "target",
             "status"], latency)
    text += notes(chosen, bool(admin), insert_times)
    text += "\nWhole run: {:.0f}s.\n".format(time.monotonic() - started)
    save("users_api", text)


if __name__ == "__main__":
    main()

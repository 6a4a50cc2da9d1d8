#!/usr/bin/env python3
"""Benchmark of the users API at 1,000 and 1,000,000 stored users.

One-connection latency (p50 and p99, wrk) of:
- ``GET /api/v1/users?limit=100``: the first page of the user list;
- ``GET /api/v1/users?limit=100&after=<cursor>``: a deep page, the one
  after the middle user (row 500 of 1,000; row 500,000 of 1,000,000);
- ``GET /api/v1/users/me`` (session_db_auth), for the same comparison.

The anchor of each row is the same request on the 1,000-user database,
served at the same time by a second server: runs alternate between the
two, so the machine's other load hits both alike, and the best (lowest)
p50 and p99 of each are kept. Users are inserted in bulk
(bench.bench_users_api.seed_users: SQLAlchemy Core executemany into a
SQLite file, one precomputed bcrypt hash), never through the API.
With BENCH_POSTGRES_URL set, the same on throw-away PostgreSQL
databases. Run: ``bin/bench users_pages``.
"""
import os
import random
import shutil
import tempfile
import time
from pathlib import Path
from typing import Callable, List, Optional, Tuple

from bench.bench_users_api import (BIG, EMAIL, PASSWORD, ROUNDS, SMALL,
                                   checked, credentials,
                                   postgres_url_factory, seed_users,
                                   sqlite_url_factory, start_api)
from bench.common import save, table, wrk
from tests.support import RedisServer

AUTH_TYPE = "session_db_auth"
QUERY_ROUNDS = 3
RANDOM_GETS = 5000
PAGE_CALLS = 200
PAGE = 100
REPEATS = 4
SECONDS = 2
TARGET = 1.2


def middle_cursor(url: str, count: int) -> str:
    """Return the cursor of the user in the middle of the list."""
    from sqlalchemy import select

    from api.v1.views.pagination import encode_cursor
    from models import db
    from models.user import User

    db.configure(url)
    table_ = User.__table__
    with db.engine().connect() as conn:
        row = conn.execute(select(table_).order_by(
            table_.c.created_at, table_.c.id).offset(count // 2 - 1)
            .limit(1)).first()
    cursor = encode_cursor(User.from_row(row))
    db.reset()
    db.configure(None)
    return cursor


def percentiles(times: List[float]) -> Tuple[float, float]:
    """Return the p50 and p99 of durations."""
    times = sorted(times)
    return times[len(times) // 2], times[int(len(times) * 0.99)]


def timed_calls(call: Callable, arguments: list) -> Tuple[float, float]:
    """Time one call per argument; return its p50 and p99."""
    times = []
    for argument in arguments:
        started = time.perf_counter()
        call(argument)
        times.append(time.perf_counter() - started)
    return percentiles(times)


def measure_queries(small: Tuple[str, int], big: Tuple[str, int]
                    ) -> List[list]:
    """Time the model calls behind the requests in this process, at 1k
    and 1M users, rounds alternating between the two databases.

    In-process timings leave out the HTTP server, wrk and their
    scheduling, the noisiest part on a loaded machine: what is left is
    what the table's size can change (B-tree depth, page cache).
    ``User.get`` reads random users (5,000 of them, most pages of the
    1M table not yet in this connection's cache), unlike the
    wrk rows, which read one user again and again.
    """
    from models import db
    from models.user import User

    # The database's own reads: with the row cache on, the 5,000 random
    # ids of 1,000 users would be served from it and those of 1,000,000
    # not, which measures the cache, not the table's size.
    cache_setting = os.environ.get("DB_ROW_CACHE")
    os.environ["DB_ROW_CACHE"] = "off"
    try:
        return _timed_model_calls(small, big, db, User)
    finally:
        if cache_setting is None:
            os.environ.pop("DB_ROW_CACHE", None)
        else:
            os.environ["DB_ROW_CACHE"] = cache_setting


def _timed_model_calls(small: tuple, big: tuple, db: object,
                       User: type) -> List[list]:
    """Time the model calls on both databases, alternating rounds."""
    found: dict = {}
    inputs = []
    for url, _count in (small, big):
        db.configure(url)
        with db.engine().connect() as conn:
            ids = [row[0] for row in conn.exec_driver_sql(
                "SELECT id FROM api_users")]
        inputs.append((url, random.Random(7).choices(ids, k=RANDOM_GETS)))
        db.reset()
    for _round in range(QUERY_ROUNDS):
        for index, (url, ids) in enumerate(inputs):
            db.configure(url)
            count = (small, big)[index][1]
            key = middle_key(count)
            checks = [
                ("User.get(<random id>)", User.get, ids),
                ("User.page(100) (first page)", lambda _: User.page(PAGE),
                 range(PAGE_CALLS)),
                ("User.page(100, <middle key>)",
                 lambda _: User.page(PAGE, key), range(PAGE_CALLS))]
            for what, call, arguments in checks:
                call(arguments[0])
                found.setdefault(what, ([], []))[index].append(
                    timed_calls(call, arguments))
            db.reset()
    db.configure(None)
    rows = []
    for what, (low_runs, high_runs) in found.items():
        low = [min(run[k] for run in low_runs) for k in (0, 1)]
        high = [min(run[k] for run in high_runs) for k in (0, 1)]
        ratios = [high[0] / low[0], high[1] / low[1]]
        rows.append([what + ", in process",
                     "{:.0f} / {:.0f}".format(low[0] * 1e6, low[1] * 1e6),
                     "{:.0f} / {:.0f}".format(high[0] * 1e6, high[1] * 1e6),
                     "{:.2f}x / {:.2f}x".format(*ratios)])
    return rows


def middle_key(count: int) -> tuple:
    """Return the (created_at, id) key of the middle user of the
    configured database."""
    from sqlalchemy import select

    from models import db
    from models.user import User

    table_ = User.__table__
    with db.engine().connect() as conn:
        row = conn.execute(select(table_.c.created_at, table_.c.id)
                           .order_by(table_.c.created_at, table_.c.id)
                           .offset(count // 2 - 1).limit(1)).first()
    return tuple(row)


def measure(small: Tuple[str, int], big: Tuple[str, int],
            redis_url: str) -> List[list]:
    """Return the latency rows: each request at 1M vs 1k users."""
    servers = [start_api(AUTH_TYPE, url, redis_url, 2)
               for url, _count in (small, big)]
    try:
        headers = [credentials(server, AUTH_TYPE) for server in servers]
        cursors = [middle_cursor(url, count) for url, count in (small, big)]
        checks = [
            ("GET /users?limit={} (first page)".format(PAGE),
             lambda index: "/api/v1/users?limit={}".format(PAGE)),
            ("GET /users?limit={}&after= (middle page)".format(PAGE),
             lambda index: "/api/v1/users?limit={}&after={}".format(
                 PAGE, cursors[index])),
            ("GET /users/me", lambda index: "/api/v1/users/me")]
        rows = []
        for what, path_of in checks:
            found = [[], []]
            for number in range(REPEATS + 1):
                for index, server in enumerate(servers):
                    run = checked(wrk(
                        server.url + path_of(index), connections=1,
                        seconds=1 if number == 0 else SECONDS,
                        headers=headers[index]), what)
                    if number:
                        found[index].append(run)
            rows.append(row(what, found))
        return rows
    finally:
        for server in servers:
            server.stop()


def row(what: str, found: List[List[dict]]) -> list:
    """Render best p50/p99 at 1k and 1M users and their ratios."""
    low = [min(run[key] for run in found[0]) for key in ("p50", "p99")]
    high = [min(run[key] for run in found[1]) for key in ("p50", "p99")]
    ratios = [high[0] / low[0], high[1] / low[1]]
    met = all(ratio <= TARGET for ratio in ratios)
    return [what,
            "{:.2f} / {:.2f}".format(low[0] * 1e3, low[1] * 1e3),
            "{:.2f} / {:.2f}".format(high[0] * 1e3, high[1] * 1e3),
            "{:.2f}x / {:.2f}x".format(*ratios),
            "<= {}x (p50 and p99)".format(TARGET),
            "met" if met else "NOT met"]


def scale(name: str, make_url: Callable[[], Tuple[str, Callable]],
          redis_url: str, password_hash: str) -> Tuple[List[list], float]:
    """Seed 1k and 1M users on one engine and measure; return the rows
    (named after the engine) and the 1M-row insert time."""
    small_url, drop_small = make_url()
    big_url, drop_big = make_url()
    try:
        seed_users(small_url, SMALL, password_hash)
        insert_time = seed_users(big_url, BIG, password_hash)
        rows = measure((small_url, SMALL), (big_url, BIG), redis_url)
        rows += [line + ["", ""] for line in measure_queries(
            (small_url, SMALL), (big_url, BIG))]
    finally:
        drop_small()
        drop_big()
    return [[line[0] + " ({})".format(name)] + line[1:]
            for line in rows], insert_time


def main(argv: Optional[List[str]] = None) -> None:
    """Run the measurements and save one table."""
    started = time.monotonic()
    os.environ["BCRYPT_ROUNDS"] = str(ROUNDS)
    from models.user import hash_password

    password_hash = hash_password(PASSWORD)
    folder = Path(tempfile.mkdtemp(prefix="bench-users-pages-"))
    redis_server = RedisServer().start()
    inserts = []
    try:
        rows, seconds = scale("SQLite", sqlite_url_factory(folder),
                              redis_server.url, password_hash)
        inserts.append(("SQLite", seconds))
        admin = os.environ.get("BENCH_POSTGRES_URL")
        if admin:
            more, seconds = scale("PostgreSQL", postgres_url_factory(admin),
                                  redis_server.url, password_hash)
            rows += more
            inserts.append(("PostgreSQL", seconds))
    finally:
        redis_server.stop()
        shutil.rmtree(folder, ignore_errors=True)
    text = table(
        "Users API: latency with 1,000 vs 1,000,000 users stored "
        "(anchor: the same request at 1,000 users, same run)",
        ["measurement", "1k users p50 / p99 (ms; µs in process)",
         "1M users p50 / p99 (ms; µs in process)",
         "ratio p50 / p99", "target", "status"], rows)
    text += (
        "\nNotes: granian WSGI, 2 workers x 4 threads, AUTH_TYPE={}, seed "
        "profile, the bench user ({}) logged in; wrk, 1 connection (no "
        "queueing); both servers (1k and 1M users) up at once, runs "
        "alternating ({} x {}s after a 1s warm-up), best p50 and p99 "
        "kept, in ms. Pages of {} users (about 20 KB of JSON). The "
        "middle page is the one after user {:,} of 1,000 / {:,} of "
        "1,000,000. Rows \"in process\": the model calls behind those "
        "requests timed in the bench process (µs, best p50 and p99 of {} "
        "rounds alternating between the databases; {:,} random ids for "
        "User.get, {} calls per page; row cache off), without the HTTP "
        "server and wrk: what the table's size can change.\n").format(
            AUTH_TYPE, EMAIL, REPEATS, SECONDS, PAGE, SMALL // 2, BIG // 2,
            QUERY_ROUNDS, RANDOM_GETS, PAGE_CALLS)
    for name, seconds in inserts:
        text += ("Bulk insert of {:,} users ({}): {:.1f}s ({:,.0f} "
                 "rows/s).\n").format(BIG, name, seconds, BIG / seconds)
    text += "\nWhole run: {:.0f}s.\n".format(time.monotonic() - started)
    save("users_pages", text)


if __name__ == "__main__":
    main()

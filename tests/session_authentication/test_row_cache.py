#!/usr/bin/env python3
"""The row caches of the users API, on PostgreSQL and SQLite.

Rows read on the hot path (a user by id or e-mail, a session with its
user) are read once per process and then served from its cache until
the database says they may have changed: a trigger's NOTIFY on
PostgreSQL (migration 0005), the WAL-index header on SQLite (any
commit). Another host is a plain psycopg connection (the test waits for
the notification to reach the listening socket: the same message an HTTP
request from another host could not overtake) or, for SQLite, a real
child process, whose commit is seen by the very next read.
"""
import select
import sqlite3
import subprocess
import sys
from typing import Iterator, List

import psycopg
import pytest

from api.v1.auth.session_db_auth import SESSION_USER_CACHED
from models import db
from models.fast_read import FastRead
from models.user import User
from models.user_session import UserSession


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> List[int]:
    """Return a list whose length is the number of reads that reached
    the database."""
    counted: List[int] = []
    real_read = FastRead._read

    def counted_read(self: FastRead, *args: object) -> list:
        """Count a read that reaches the database, then do it."""
        counted.append(1)
        return real_read(self, *args)

    monkeypatch.setattr(FastRead, "_read", counted_read)
    return counted


def use_database(url: str, reads: List[int],
                 monkeypatch: pytest.MonkeyPatch) -> Iterator[List[int]]:
    """Point the models at a throw-away database while a test runs."""
    monkeypatch.setenv("BCRYPT_ROUNDS", "4")
    db.reset()
    db.configure(url)
    yield reads
    db.reset()
    db.configure(None)


@pytest.fixture
def storage(database_url: str, reads: List[int],
            monkeypatch: pytest.MonkeyPatch) -> Iterator[List[int]]:
    """Either database (the tests both caches must pass)."""
    yield from use_database(database_url, reads, monkeypatch)


@pytest.fixture
def postgres(postgres_url: str, reads: List[int],
             monkeypatch: pytest.MonkeyPatch) -> Iterator[List[int]]:
    """A throw-away PostgreSQL database."""
    yield from use_database(postgres_url, reads, monkeypatch)


@pytest.fixture
def sqlite(sqlite_url: str, reads: List[int],
           monkeypatch: pytest.MonkeyPatch) -> Iterator[List[int]]:
    """A throw-away SQLite file."""
    yield from use_database(sqlite_url, reads, monkeypatch)


@pytest.fixture
def other_host(postgres_url: str) -> Iterator[psycopg.Connection]:
    """A connection of another process, writing to the same database."""
    with psycopg.connect(postgres_url.replace("+psycopg", ""),
                         autocommit=True) as conn:
        yield conn


def wait_for_notification() -> None:
    """Wait until the listening connection has received a message."""
    cache = db.engines().row_cache
    ready, _, _ = select.select([cache.conn.fileno()], [], [], 5)
    assert ready, "no notification within 5 s"


def new_user(email: str = "bob@hbtn.io") -> User:
    """Store and return a user."""
    user = User(email=email, first_name="Bob")
    user.password = "pwd"
    user.save()
    return user


def path_of(sqlite_url: str) -> str:
    """Return the file of a sqlite:/// URL."""
    return sqlite_url.split("///", 1)[1]


def other_process(sqlite_url: str, statement: str) -> None:
    """Run one SQL statement in another process, committed."""
    code = ("import sqlite3, sys\n"
            "conn = sqlite3.connect(sys.argv[1], timeout=30)\n"
            "conn.execute(sys.argv[2])\n"
            "conn.commit()\n"
            "conn.close()\n")
    subprocess.run([sys.executable, "-c", code, path_of(sqlite_url),
                    statement], check=True, timeout=60)


# Both databases.


def test_a_row_found_is_read_once(storage: List[int]) -> None:
    """By id and by e-mail: one read each, then hits; a miss is never
    cached (a user created later is found at once)."""
    user = new_user()
    for _ in range(20):
        assert User.get(user.id).first_name == "Bob"
        assert User.find_by_email("bob@hbtn.io").id == user.id
    assert len(storage) == 2
    assert User.get("no-such-id") is None
    later = new_user("later@hbtn.io")
    assert User.get(later.id).email == "later@hbtn.io"


def test_a_change_in_this_process_is_seen_at_once(
        storage: List[int]) -> None:
    """A commit of this process empties its cache before the
    notification comes back: no wait."""
    user = new_user()
    assert User.get(user.id).first_name == "Bob"
    user.first_name = "Rob"
    user.save()
    assert User.get(user.id).first_name == "Rob"
    user.remove()
    assert User.get(user.id) is None


def test_db_row_cache_off_reads_every_time(
        storage: List[int], monkeypatch: pytest.MonkeyPatch) -> None:
    """DB_ROW_CACHE=off (behind a transaction-pooling proxy): no cache."""
    monkeypatch.setenv("DB_ROW_CACHE", "off")
    db.reset()
    assert db.engines().row_cache is None
    user = new_user()
    for _ in range(3):
        assert User.get(user.id) is not None
    assert len(storage) == 3


# PostgreSQL.


@pytest.mark.parametrize("change", ["update", "delete", "truncate"])
def test_a_change_on_another_host_reaches_the_cache(
        postgres: List[int], other_host: psycopg.Connection,
        change: str) -> None:
    """Updated, deleted or truncated by another process: the next read
    after its notification arrived sees it."""
    user = new_user()
    assert User.get(user.id).first_name == "Bob"
    if change == "update":
        other_host.execute("UPDATE api_users SET first_name = 'Rob' "
                           "WHERE id = %s", (user.id,))
    elif change == "delete":
        other_host.execute("DELETE FROM api_users WHERE id = %s",
                           (user.id,))
    else:
        other_host.execute("TRUNCATE api_users")
    wait_for_notification()
    found = User.get(user.id)
    assert (found and found.first_name) == (
        "Rob" if change == "update" else None)


def test_a_session_and_its_user_are_cached_together(
        postgres: List[int], other_host: psycopg.Connection) -> None:
    """The session lookup is a hit until its row or its user's changes;
    a new last_seen_at alone sends no notification."""
    user = new_user()
    other = new_user("other@hbtn.io")
    UserSession(user_id=user.id, session_id="s1").save()
    row = SESSION_USER_CACHED.first(session_id="s1")
    assert row[0] == "bob@hbtn.io"
    other_host.execute("UPDATE api_user_sessions SET last_seen_at = now() "
                       "WHERE session_id = 's1'")
    # Notifications arrive in commit order: once this later one is in,
    # one for the last_seen_at update would be too.
    other_host.execute("UPDATE api_users SET first_name = 'X' "
                       "WHERE id = %s", (other.id,))
    wait_for_notification()
    reads = len(postgres)
    assert SESSION_USER_CACHED.first(session_id="s1")[0] == "bob@hbtn.io"
    assert len(postgres) == reads
    other_host.execute("UPDATE api_users SET email = 'rob@hbtn.io' "
                       "WHERE id = %s", (user.id,))
    wait_for_notification()
    assert SESSION_USER_CACHED.first(session_id="s1")[0] == "rob@hbtn.io"
    other_host.execute("DELETE FROM api_user_sessions "
                       "WHERE session_id = 's1'")
    wait_for_notification()
    assert SESSION_USER_CACHED.first(session_id="s1") is None


def test_a_listener_ended_by_the_server_empties_the_cache(
        postgres: List[int], other_host: psycopg.Connection) -> None:
    """pg_terminate_backend on the listener: the next reads go to the
    database until a new listener is up, then hits again."""
    user = new_user()
    assert User.get(user.id) is not None
    cache = db.engines().row_cache
    other_host.execute("SELECT pg_terminate_backend(%s)",
                       (cache.conn.pgconn.backend_pid,))
    wait_for_notification()
    reads = len(postgres)
    assert User.get(user.id) is not None
    assert User.get(user.id) is not None
    assert len(postgres) == reads + 2
    assert not cache.listening
    cache.down_until = 0  # retry at once instead of after a second
    assert User.get(user.id) is not None
    assert User.get(user.id) is not None
    assert len(postgres) == reads + 3
    assert cache.listening


# SQLite.


@pytest.mark.parametrize("change", ["update", "delete", "unrelated"])
def test_a_commit_of_another_process_is_seen_by_the_next_read(
        sqlite_url: str, sqlite: List[int], change: str) -> None:
    """Any commit elsewhere, even of another table, empties the cache
    before the next read: no wait."""
    user = new_user()
    assert User.get(user.id).first_name == "Bob"
    other_process(sqlite_url, {
        "update": "UPDATE api_users SET first_name = 'Rob' "
                  "WHERE id = '{}'".format(user.id),
        "delete": "DELETE FROM api_users WHERE id = '{}'".format(user.id),
        "unrelated": "DELETE FROM api_user_sessions "
                     "WHERE session_id = 'none'",
    }[change])
    reads = len(sqlite)
    found = User.get(user.id)
    assert len(sqlite) == reads + 1
    assert (found and found.first_name) == {
        "update": "Rob", "delete": None, "unrelated": "Bob"}[change]


def test_a_session_and_its_user(sqlite_url: str,
                                sqlite: List[int]) -> None:
    """The session lookup is a hit until a commit; a session deleted by
    another connection is gone at the next read."""
    user = new_user()
    UserSession(user_id=user.id, session_id="s1").save()
    assert SESSION_USER_CACHED.first(session_id="s1")[0] == "bob@hbtn.io"
    reads = len(sqlite)
    assert SESSION_USER_CACHED.first(session_id="s1")[0] == "bob@hbtn.io"
    assert len(sqlite) == reads
    conn = sqlite3.connect(path_of(sqlite_url), timeout=30)
    conn.execute("DELETE FROM api_user_sessions WHERE session_id = 's1'")
    conn.commit()
    conn.close()
    assert SESSION_USER_CACHED.first(session_id="s1") is None

#!/usr/bin/env python3
"""The PostgreSQL row cache of the users API (NOTIFY-invalidated).

Rows read on the hot path (a user by id or e-mail, a session with its
user) are read once per process and then served from its cache until a
trigger (migration 0005) says they changed. Another host is a plain
psycopg connection writing to the same throw-away database; the test
waits for the notification to reach the listening socket (the same
message an HTTP request from another host could not overtake).
"""
import select
from typing import Iterator, List

import psycopg
import pytest

from api.v1.auth.session_db_auth import SESSION_USER_CACHED
from models import db
from models.fast_read import FastRead
from models.user import User
from models.user_session import UserSession


@pytest.fixture
def storage(postgres_url: str, monkeypatch: pytest.MonkeyPatch
            ) -> Iterator[List[int]]:
    """Point the models at a throw-away PostgreSQL database; yield a list
    whose length is the number of reads that reached the database."""
    monkeypatch.setenv("BCRYPT_ROUNDS", "4")
    reads: List[int] = []
    real_read = FastRead._read

    def counted(self: FastRead, *args: object) -> list:
        """Count a read that reaches the database, then do it."""
        reads.append(1)
        return real_read(self, *args)

    monkeypatch.setattr(FastRead, "_read", counted)
    db.reset()
    db.configure(postgres_url)
    yield reads
    db.reset()
    db.configure(None)


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


@pytest.mark.parametrize("change", ["update", "delete", "truncate"])
def test_a_change_on_another_host_reaches_the_cache(
        storage: List[int], other_host: psycopg.Connection,
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


def test_a_session_and_its_user_are_cached_together(
        storage: List[int], other_host: psycopg.Connection) -> None:
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
    reads = len(storage)
    assert SESSION_USER_CACHED.first(session_id="s1")[0] == "bob@hbtn.io"
    assert len(storage) == reads
    other_host.execute("UPDATE api_users SET email = 'rob@hbtn.io' "
                       "WHERE id = %s", (user.id,))
    wait_for_notification()
    assert SESSION_USER_CACHED.first(session_id="s1")[0] == "rob@hbtn.io"
    other_host.execute("DELETE FROM api_user_sessions "
                       "WHERE session_id = 's1'")
    wait_for_notification()
    assert SESSION_USER_CACHED.first(session_id="s1") is None


def test_a_listener_ended_by_the_server_empties_the_cache(
        storage: List[int], other_host: psycopg.Connection) -> None:
    """pg_terminate_backend on the listener: the next reads go to the
    database until a new listener is up, then hits again."""
    user = new_user()
    assert User.get(user.id) is not None
    cache = db.engines().row_cache
    other_host.execute("SELECT pg_terminate_backend(%s)",
                       (cache.conn.pgconn.backend_pid,))
    wait_for_notification()
    reads = len(storage)
    assert User.get(user.id) is not None
    assert User.get(user.id) is not None
    assert len(storage) == reads + 2
    assert not cache.listening
    cache.down_until = 0  # retry at once instead of after a second
    assert User.get(user.id) is not None
    assert User.get(user.id) is not None
    assert len(storage) == reads + 3
    assert cache.listening


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

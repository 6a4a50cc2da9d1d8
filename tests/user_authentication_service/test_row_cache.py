#!/usr/bin/env python3
"""The auth service's row cache (a user by session id), PostgreSQL and SQLite.

Each authenticated request looks its user up by session id; on
PostgreSQL that row is read once per process and then served from a
cache that the ``users`` table's trigger invalidates (NOTIFY). Another
host is a plain psycopg connection on the same throw-away database; the
test waits for the notification to reach the listening socket.
"""
import select
import time
from typing import Iterator, List

import psycopg
import pytest
from sqlalchemy.orm.exc import NoResultFound

from db import DB


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> List[int]:
    """Count the look-ups that reach the database."""
    counted: List[int] = []
    real = DB._find_row

    def find_row(self: DB, *args: object) -> object:
        """Count a look-up, then run it."""
        counted.append(1)
        return real(self, *args)

    monkeypatch.setattr(DB, "_find_row", find_row)
    return counted


@pytest.fixture
def other_host(postgres_url: str) -> Iterator[psycopg.Connection]:
    """A connection of another process, on the same database."""
    with psycopg.connect(postgres_url.replace("+psycopg", ""),
                         autocommit=True) as conn:
        yield conn


def wait_for_notification(db: DB) -> None:
    """Wait until the listening connection has received a message."""
    ready, _, _ = select.select([db._row_cache.conn.fileno()], [], [], 5)
    assert ready, "no notification within 5 s"


def user_with_session(db: DB, session_id: str) -> object:
    """Store bob@hbtn.io with this session id; return the user."""
    user = db.add_user("bob@hbtn.io", "hash")
    db.update_user(user.id, session_id=session_id)
    return user


def session_user(db: DB, session_id: str) -> object:
    """Return the user of a session id, or None."""
    try:
        return db.find_user_by(session_id=session_id)
    except NoResultFound:
        return None


def test_a_session_lookup_is_read_once(postgres_url: str,
                                       reads: List[int]) -> None:
    """Twenty look-ups of one session id: one read; other look-ups
    (by e-mail) are not cached."""
    db = DB(postgres_url)
    user_with_session(db, "k1")
    for _ in range(20):
        assert session_user(db, "k1").email == "bob@hbtn.io"
    assert len(reads) == 1
    db.find_user_by(email="bob@hbtn.io")
    db.find_user_by(email="bob@hbtn.io")
    assert len(reads) == 3


@pytest.mark.parametrize("change", ["logout", "delete", "truncate",
                                    "taken", "password"])
def test_a_change_on_another_host_reaches_the_cache(
        postgres_url: str, reads: List[int],
        other_host: psycopg.Connection, change: str) -> None:
    """The session ended, the user deleted, the table truncated, another
    row given the same session id or the password changed elsewhere:
    the next look-up after the notification reads the database."""
    db = DB(postgres_url)
    user = db.add_user("bob@hbtn.io", "hash")
    other = db.add_user("eve@hbtn.io", "hash")
    db.update_user(user.id, session_id="k1")
    assert session_user(db, "k1").id == user.id
    statement, args = {
        "logout": ("UPDATE users SET session_id = NULL WHERE id = %s",
                   (user.id,)),
        "delete": ("DELETE FROM users WHERE id = %s", (user.id,)),
        "truncate": ("TRUNCATE users CASCADE", ()),
        "taken": ("UPDATE users SET session_id = 'k1' WHERE id = %s",
                  (other.id,)),
        "password": ("UPDATE users SET hashed_password = 'new' "
                     "WHERE id = %s", (user.id,)),
    }[change]
    other_host.execute(statement, args)
    wait_for_notification(db)
    before = len(reads)
    found = session_user(db, "k1")
    assert len(reads) == before + 1
    if change in ("logout", "delete", "truncate"):
        assert found is None
    elif change == "password":
        assert found.hashed_password == "new"


def test_a_login_or_logout_in_this_process_is_seen_at_once(
        postgres_url: str, reads: List[int]) -> None:
    """A session started or ended by this process (the one-statement
    login write included) empties its cache: no wait."""
    db = DB(postgres_url)
    user = db.add_user("bob@hbtn.io", "hash")
    assert db.start_session(user.id, "k1", time.time())
    assert session_user(db, "k1").id == user.id
    assert db.start_session(user.id, "k2", time.time())
    assert session_user(db, "k1") is None
    assert session_user(db, "k2").id == user.id
    db.end_session(user.id)
    assert session_user(db, "k2") is None


def test_db_row_cache_off(postgres_url: str, reads: List[int],
                          monkeypatch: pytest.MonkeyPatch) -> None:
    """DB_ROW_CACHE=off: every look-up reads the database."""
    monkeypatch.setenv("DB_ROW_CACHE", "off")
    db = DB(postgres_url)
    user = user_with_session(db, "k1")
    for _ in range(3):
        assert session_user(db, "k1").id == user.id
    assert len(reads) == 3
    assert db._row_cache is None


def test_sqlite_session_lookup_cached_until_any_commit(
        sqlite_url: str, reads: List[int]) -> None:
    """SQLite: the look-up is read once; a commit of another connection
    (another process would do the same) is seen by the next read."""
    import sqlite3

    db = DB(sqlite_url)
    user = user_with_session(db, "k1")
    for _ in range(20):
        assert session_user(db, "k1").id == user.id
    assert len(reads) == 1
    conn = sqlite3.connect(sqlite_url.split("///", 1)[1], timeout=30)
    conn.execute("UPDATE users SET session_id = NULL WHERE id = ?",
                 (user.id,))
    conn.commit()
    conn.close()
    assert session_user(db, "k1") is None
    assert len(reads) == 2

#!/usr/bin/env python3
"""The SQLite row cache of the users API (WAL-index header watch).

Rows read on the hot path are read once per process and then served
from its cache until any commit moves the header of the database's
WAL-index (``http_common/sqlite_wal_cache.py``). Another process is a
real one (a Python child writing with the sqlite3 module): its commit is
seen by the very next read, with no wait.
"""
import sqlite3
import subprocess
import sys
from typing import Iterator, List

import pytest

from api.v1.auth.session_db_auth import SESSION_USER_CACHED
from models import db
from models.fast_read import FastRead
from models.user import User
from models.user_session import UserSession


@pytest.fixture
def storage(sqlite_url: str, monkeypatch: pytest.MonkeyPatch
            ) -> Iterator[List[int]]:
    """Point the models at a throw-away SQLite file; yield a list whose
    length is the number of reads that reached the database."""
    monkeypatch.setenv("BCRYPT_ROUNDS", "4")
    reads: List[int] = []
    real_read = FastRead._read

    def counted(self: FastRead, *args: object) -> list:
        """Count a read that reaches the database, then do it."""
        reads.append(1)
        return real_read(self, *args)

    monkeypatch.setattr(FastRead, "_read", counted)
    db.reset()
    db.configure(sqlite_url)
    yield reads
    db.reset()
    db.configure(None)


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


@pytest.mark.parametrize("change", ["update", "delete", "unrelated"])
def test_a_commit_of_another_process_is_seen_by_the_next_read(
        sqlite_url: str, storage: List[int], change: str) -> None:
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
    reads = len(storage)
    found = User.get(user.id)
    assert len(storage) == reads + 1
    assert (found and found.first_name) == {
        "update": "Rob", "delete": None, "unrelated": "Bob"}[change]


def test_a_session_and_its_user(sqlite_url: str,
                                storage: List[int]) -> None:
    """The session lookup is a hit until a commit; a session deleted by
    another connection is gone at the next read."""
    user = new_user()
    UserSession(user_id=user.id, session_id="s1").save()
    assert SESSION_USER_CACHED.first(session_id="s1")[0] == "bob@hbtn.io"
    reads = len(storage)
    assert SESSION_USER_CACHED.first(session_id="s1")[0] == "bob@hbtn.io"
    assert len(storage) == reads
    conn = sqlite3.connect(path_of(sqlite_url), timeout=30)
    conn.execute("DELETE FROM api_user_sessions WHERE session_id = 's1'")
    conn.commit()
    conn.close()
    assert SESSION_USER_CACHED.first(session_id="s1") is None


def test_a_change_in_this_process_is_seen_at_once(
        storage: List[int]) -> None:
    """This process's own commits move the header too."""
    user = new_user()
    assert User.get(user.id).first_name == "Bob"
    user.first_name = "Rob"
    user.save()
    assert User.get(user.id).first_name == "Rob"
    user.remove()
    assert User.get(user.id) is None


def test_db_row_cache_off(storage: List[int],
                          monkeypatch: pytest.MonkeyPatch) -> None:
    """DB_ROW_CACHE=off: every read goes to the file."""
    monkeypatch.setenv("DB_ROW_CACHE", "off")
    db.reset()
    assert db.engines().row_cache is None
    user = new_user()
    for _ in range(3):
        assert User.get(user.id) is not None
    assert len(storage) == 3

#!/usr/bin/env python3
"""The DB and Auth layers: contracts, errors, persistence, thread safety."""
import threading
from typing import Any, Callable

import bcrypt
import pytest
from sqlalchemy.exc import InvalidRequestError
from sqlalchemy.orm.exc import NoResultFound

from tests.user_authentication_service.conftest import count_users


@pytest.fixture
def db(database_url: str) -> Any:
    """Return a DB on the test's throw-away database."""
    from db import DB

    return DB(database_url)


def test_find_user_by_found_missing_and_invalid(db: Any) -> None:
    """find_user_by returns the row, NoResultFound, InvalidRequestError."""
    user = db.add_user("a@b.c", "hash")
    assert db.find_user_by(email="a@b.c").id == user.id
    assert db.find_user_by(id=user.id, email="a@b.c").email == "a@b.c"
    assert db.find_user_by(session_id=None, email="a@b.c").id == user.id
    with pytest.raises(NoResultFound):
        db.find_user_by(email="nobody@b.c")
    with pytest.raises(InvalidRequestError):
        db.find_user_by(no_email="a@b.c")
    with pytest.raises(InvalidRequestError):
        db.find_user_by()


def test_update_user_changes_and_refuses_unknown_attributes(db: Any) -> None:
    """update_user commits known columns and raises ValueError otherwise."""
    user = db.add_user("a@b.c", "hash")
    assert db.update_user(user.id, hashed_password="new") is None
    assert db.find_user_by(id=user.id).hashed_password == "new"
    with pytest.raises(ValueError):
        db.update_user(user.id, nickname="x")
    with pytest.raises(ValueError):
        db.update_user(user.id, id=99)
    with pytest.raises(NoResultFound):
        db.update_user(user.id + 1000, session_id="x")


def test_update_user_to_a_taken_email_is_value_error(db: Any) -> None:
    """Changing an email to another user's raises ValueError, not a crash."""
    db.add_user("a@b.c", "hash")
    other = db.add_user("b@b.c", "hash")
    with pytest.raises(ValueError):
        db.update_user(other.id, email="a@b.c")


def test_data_persists_across_db_instances(database_url: str) -> None:
    """A second DB on the same database keeps the first one's rows."""
    from db import DB

    DB(database_url).add_user("a@b.c", "hash")
    assert DB(database_url).find_user_by(email="a@b.c").email == "a@b.c"
    assert count_users(database_url) == 1


def test_db_connects_lazily(tmp_path: Any) -> None:
    """Building a DB touches no file; the first query creates the schema."""
    from db import DB

    path = tmp_path / "lazy.db"
    db = DB("sqlite:///{}".format(path))
    assert not path.exists()
    with pytest.raises(NoResultFound):
        db.find_user_by(email="a@b.c")
    assert path.exists()


def test_session_is_private_memoized_and_per_thread(db: Any) -> None:
    """_session is the same object within a thread, another in others."""
    here = db._session
    assert db._session is here
    seen = []
    thread = threading.Thread(target=lambda: seen.append(db._session))
    thread.start()
    thread.join()
    assert seen and seen[0] is not here


def test_register_user_duplicate_value_error(auth: Any) -> None:
    """A second registration raises ValueError with the seed's message."""
    user = auth.register_user("me@me.com", "pwd")
    assert user.email == "me@me.com"
    assert user.hashed_password.startswith("$bcrypt-sha256$v1$$2b$04$")
    with pytest.raises(ValueError, match="^User me@me.com already exists$"):
        auth.register_user("me@me.com", "pwd")


def test_register_race_integrity_error_is_value_error(
        auth: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """When the email appears between check and insert: ValueError."""
    auth.register_user("me@me.com", "pwd")
    real = auth._db.find_user_by

    def miss_once(**kwargs: Any) -> Any:
        """Pretend the email is free, as a concurrent request would see."""
        monkeypatch.setattr(auth._db, "find_user_by", real)
        raise NoResultFound()

    monkeypatch.setattr(auth._db, "find_user_by", miss_once)
    with pytest.raises(ValueError, match="already exists"):
        auth.register_user("me@me.com", "pwd")


def test_concurrent_registrations_in_threads(auth: Any,
                                             database_url: str) -> None:
    """Threads sharing one Auth register one email: exactly one wins."""
    results = []
    barrier = threading.Barrier(8)

    def register() -> None:
        """Wait for the others, then try to register the shared email."""
        barrier.wait()
        try:
            auth.register_user("race@me.com", "pwd")
            results.append("ok")
        except ValueError:
            results.append("taken")

    threads = [threading.Thread(target=register) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["ok"] + ["taken"] * 7
    assert count_users(database_url) == 1


def test_valid_login_and_sessions(auth: Any) -> None:
    """valid_login, create/get/destroy session behave as the seed says."""
    auth.register_user("bob@bob.com", "MyPwdOfBob")
    assert auth.valid_login("bob@bob.com", "MyPwdOfBob") is True
    assert auth.valid_login("bob@bob.com", "WrongPwd") is False
    assert auth.valid_login("unknown@email", "MyPwdOfBob") is False
    assert auth.valid_login("bob@bob.com", "x" * 100) is False
    assert auth.valid_login("bob@bob.com", "\ud800") is False
    assert auth.create_session("unknown@email.com") is None
    session_id = auth.create_session("bob@bob.com")
    user = auth.get_user_from_session_id(session_id)
    assert user.email == "bob@bob.com"
    assert auth.get_user_from_session_id(None) is None
    assert auth.get_user_from_session_id("nope") is None
    assert auth.destroy_session(user.id) is None
    assert auth.get_user_from_session_id(session_id) is None
    assert auth.destroy_session(user.id + 1000) is None


def test_unknown_email_costs_a_bcrypt_check(
        auth: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unknown email runs bcrypt.checkpw, as a wrong password does."""
    auth.register_user("bob@bob.com", "pwd")
    calls = []
    real = bcrypt.checkpw

    def counting(password: bytes, hashed: bytes) -> bool:
        """Count checks and pass them to bcrypt, recording the cost."""
        calls.append(hashed[:7])
        return real(password, hashed)

    monkeypatch.setattr(bcrypt, "checkpw", counting)
    assert auth.valid_login("bob@bob.com", "wrong") is False
    assert auth.valid_login("ghost@bob.com", "wrong") is False
    assert calls == [b"$2b$04$", b"$2b$04$"]


@pytest.mark.parametrize("email,password", [
    ("", "pwd"), ("no-at-sign", "pwd"), ("a b@c.d", "pwd"),
    ("a@" + "b" * 250, "pwd"), ("a@b.c", ""), ("a@b.c", "x" * 1025),
    ("a@b.c", "\ud800")])
def test_register_refuses_bad_input_and_stores_nothing(
        auth: Any, database_url: str, email: str, password: str) -> None:
    """Bad emails and passwords raise ValueError and store no row."""
    with pytest.raises(ValueError):
        auth.register_user(email, password)
    auth.ensure_ready()
    assert count_users(database_url) == 0


def test_lookups_survive_dropped_connections(postgres_url: str) -> None:
    """After the server drops every connection, look-ups still answer.

    PostgreSQL only: the backends of the throw-away database are
    terminated, as a server restart would; the pooled connections are
    dead and the next look-up must recover by itself.
    """
    import psycopg

    from db import DB

    db = DB(postgres_url)
    user = db.add_user("a@b.c", "hash")
    db.update_user(user.id, session_id="s1")
    assert db.find_user_by(session_id="s1").id == user.id
    name = postgres_url.rsplit("/", 1)[1]
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()", (name,))
    assert db.find_user_by(session_id="s1").id == user.id
    assert db.find_user_by(email="a@b.c").session_id == "s1"
    with pytest.raises(NoResultFound):
        db.find_user_by(session_id="nope")


def test_failing_query_hides_its_parameters(db: Any) -> None:
    """An SQL error never shows the query's values (session ids, e-mails)."""
    from sqlalchemy.exc import IntegrityError

    db.add_user("secret@b.c", "hash")
    with pytest.raises(IntegrityError) as caught:
        db._engine.connect().exec_driver_sql(
            "INSERT INTO users (id, email, hashed_password) VALUES "
            "(?, ?, ?)" if db._engine.dialect.name == "sqlite" else
            "INSERT INTO users (id, email, hashed_password) VALUES "
            "(%s, %s, %s)", (1, "secret@b.c", "session-123"))
    assert "secret@b.c" not in str(caught.value)
    assert "session-123" not in str(caught.value)
    assert "hidden" in str(caught.value)


def test_emails_trimmed_and_case_insensitive(auth: Any) -> None:
    """``A@X.io`` and `` a@x.io `` are one account, stored lower-case;
    a malformed address is refused and finds no one."""
    user = auth.register_user(" Bob@Hbtn.IO ", "pwd")
    assert user.email == "bob@hbtn.io"
    with pytest.raises(ValueError, match="User bob@hbtn.io already exists"):
        auth.register_user("bob@hbtn.io", "pwd")
    assert auth.valid_login("BOB@hbtn.io", "pwd")
    assert auth.create_session("bob@HBTN.io") is not None
    assert not auth.valid_login("bob@hbtn", "pwd")
    assert auth.create_session("bob@hbtn") is None


def _delete_user(database_url: str, email: str) -> None:
    """Delete a user row straight in the database, as another host would."""
    from sqlalchemy import create_engine, text

    url = database_url.replace("postgresql://", "postgresql+psycopg://")
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM auth_service_sessions WHERE "
                              "user_id IN (SELECT id FROM users WHERE "
                              "email = :email)"), {"email": email})
            conn.execute(text("DELETE FROM users WHERE email = :email"),
                         {"email": email})
    finally:
        engine.dispose()


def _count_session_times(database_url: str) -> int:
    """Count the rows of the session timestamps table."""
    from sqlalchemy import create_engine, text

    url = database_url.replace("postgresql://", "postgresql+psycopg://")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(
                "SELECT COUNT(*) FROM auth_service_sessions")).scalar()
    finally:
        engine.dispose()


def test_start_session_reuses_the_user_and_refuses_a_deleted_one(
        auth: Any, database_url: str) -> None:
    """start_session(user) needs no second look-up; for a user deleted
    since it was found it returns None and writes nothing."""
    auth.register_user("bob@bob.com", "pwd")
    user = auth.check_login("bob@bob.com", "pwd")
    session_id = auth.start_session(user)
    assert auth.get_user_from_session_id(session_id).id == user.id
    again = auth.start_session(user)
    assert again != session_id
    assert auth.get_user_from_session_id(session_id) is None
    assert auth.get_user_from_session_id(again).id == user.id
    _delete_user(database_url, "bob@bob.com")
    assert auth.start_session(user) is None
    assert auth.create_session("bob@bob.com") is None
    assert _count_session_times(database_url) == 0


def test_login_of_a_user_deleted_meanwhile_is_401(
        make_app: Callable, database_url: str,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """POST /sessions for a user deleted between the password check and
    the session write answers 401 (not 500 or 503) and stores nothing."""
    from auth import Auth

    client = make_app().test_client()
    form = {"email": "gone@me.com", "password": "pwd"}
    assert client.post("/users", data=form).status_code == 200
    real = Auth.check_login

    def then_deleted(self: Any, email: str, password: str) -> Any:
        """Check the password, then let another host delete the user."""
        user = real(self, email, password)
        _delete_user(database_url, "gone@me.com")
        return user

    monkeypatch.setattr(Auth, "check_login", then_deleted)
    answer = client.post("/sessions", data=form)
    assert answer.status_code == 401
    assert "session_id" not in answer.headers.get("Set-Cookie", "")
    assert count_users(database_url) == 0
    assert _count_session_times(database_url) == 0

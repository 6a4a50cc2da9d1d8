#!/usr/bin/env python3
"""The seeds' Python-level rules, through the seeds' own entry points.

``auth`` in ``api.v1.app`` is a plain instance of the class AUTH_TYPE
names; SessionExpAuth's session dictionary holds a naive
``datetime.now()``; SessionDBAuth takes any user id string; every model
has the file store's ``load_from_file``/``save_to_file``; deleting a
user ends its sessions in every store.
"""
import subprocess
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterator

import pytest
import redis
from flask import Flask, Request

from api.v1.auth.session_auth import SessionAuth
from api.v1.auth.session_db_auth import SessionDBAuth
from api.v1.auth.session_exp_auth import SessionExpAuth
from api.v1.auth.session_redis_auth import SessionRedisAuth
from models import db
from models.user import User
from models.user_session import UserSession
from tests.support import PYTHON


class NaiveClock:
    """A naive local clock (as ``datetime.now()``) moved by hand."""

    def __init__(self) -> None:
        """Start at the current local time."""
        self.now = datetime.now()

    def __call__(self) -> datetime:
        """Return the current fake time."""
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self.now += timedelta(seconds=seconds)


def cookie_request(session_id: str) -> Request:
    """Build a real Flask request carrying a session cookie."""
    with Flask(__name__).test_request_context(
            "/", headers={"Cookie": "_my_session_id=" + session_id}) as ctx:
        return ctx.request


@pytest.fixture
def storage(database_url: str, monkeypatch: pytest.MonkeyPatch
            ) -> Iterator[str]:
    """Point the models at a throw-away database (SQLite, PostgreSQL),
    in a time zone far from UTC so naive/aware mix-ups would show."""
    monkeypatch.setenv("BCRYPT_ROUNDS", "4")
    monkeypatch.setenv("SESSION_NAME", "_my_session_id")
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    db.reset()
    db.configure(database_url)
    yield database_url
    db.reset()
    db.configure(None)
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize("auth_type, class_name", [
    (None, "NoneType"), ("auth", "Auth"), ("basic_auth", "BasicAuth"),
    ("session_auth", "SessionAuth"), ("session_exp_auth", "SessionExpAuth"),
    ("session_db_auth", "SessionDBAuth"),
    ("session_redis_auth", "SessionRedisAuth"),
])
def test_auth_is_a_plain_instance_of_the_auth_type_class(
        auth_type: str, class_name: str, api_env: dict,
        tmp_path: Path) -> None:
    """``from api.v1.app import auth`` in a fresh process is an instance
    of exactly the class AUTH_TYPE names (None when unset)."""
    env = dict(api_env)
    env.pop("AUTH_TYPE", None)
    if auth_type:
        env["AUTH_TYPE"] = auth_type
    done = subprocess.run(
        [PYTHON, "-c", "from api.v1.app import auth\n"
         "print(type(auth).__name__, type(auth).__module__)"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    name, module = done.stdout.split()
    assert name == class_name
    if auth_type and auth_type != "auth":
        assert module == "api.v1.auth." + auth_type


def test_session_exp_created_at_is_naive_datetime_now() -> None:
    """The session dictionary's created_at is a naive datetime.now()."""
    auth = SessionExpAuth(session_duration=60)
    before = datetime.now()
    session_id = auth.create_session("abcde")
    after = datetime.now()
    entry = SessionExpAuth.user_id_by_session_id[session_id]
    assert set(entry) == {"user_id", "created_at"}
    assert entry["user_id"] == "abcde"
    assert type(entry["created_at"]) is datetime
    assert entry["created_at"].tzinfo is None
    assert before <= entry["created_at"] <= after
    assert auth.user_id_for_session_id(session_id) == "abcde"
    entry["created_at"] = datetime.now() - timedelta(seconds=61)
    assert auth.user_id_for_session_id(session_id) is None


def test_session_db_auth_any_user_id(storage: str) -> None:
    """create_session takes any user id string; the session then reads
    back, expires after SESSION_DURATION and is destroyed as any other."""
    clock = NaiveClock()
    auth = SessionDBAuth(session_duration=60, clock=clock)
    session_id = auth.create_session("abcde")
    assert isinstance(session_id, str)
    assert auth.user_id_for_session_id(session_id) == "abcde"
    assert [row.user_id for row in UserSession.search(
        {"session_id": session_id})] == ["abcde"]
    assert auth.current_user(cookie_request(session_id)) is None
    clock.advance(59)
    assert auth.user_id_for_session_id(session_id) == "abcde"
    clock.advance(2)
    assert auth.user_id_for_session_id(session_id) is None
    assert UserSession.count() == 0
    other = auth.create_session("fghij")
    assert auth.destroy_session(cookie_request(other)) is True
    assert auth.user_id_for_session_id(other) is None
    assert auth.destroy_session(cookie_request(other)) is False


def test_session_db_auth_reads_session_duration_from_env(
        storage: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """SessionDBAuth() with no arguments reads SESSION_DURATION."""
    monkeypatch.setenv("SESSION_DURATION", "60")
    auth = SessionDBAuth()
    assert auth.session_duration == 60
    session_id = auth.create_session("abcde")
    assert auth.user_id_for_session_id(session_id) == "abcde"
    row = UserSession.search({"session_id": session_id})[0]
    row.created_at = datetime.now(timezone.utc) - timedelta(seconds=61)
    row.save()
    assert auth.user_id_for_session_id(session_id) is None


@pytest.mark.parametrize("model", [User, UserSession])
def test_load_and_save_to_file_on_every_model(
        model: type, storage: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, api_env: dict) -> None:
    """load_from_file/save_to_file exist and are harmless on SQL: what
    another process saved is seen after load_from_file, no file is
    written."""
    monkeypatch.chdir(tmp_path)
    assert model.load_from_file() is None
    code = ("from models.user_session import UserSession\n"
            "from models.user import User\n"
            "User(email='bob@hbtn.io').save()\n"
            "UserSession(user_id='abcde', session_id='s1').save()\n")
    env = dict(api_env, DATABASE_URL=storage)
    subprocess.run([PYTHON, "-c", code], cwd=tmp_path, env=env,
                   check=True, timeout=60)
    model.load_from_file()
    assert model.count() == 1
    obj = model.all()[0]
    obj.save()
    assert model.save_to_file() is None
    assert model.count() == 1
    assert list(tmp_path.glob(".db_*.json")) == []


def test_memory_stores_end_a_deleted_users_sessions() -> None:
    """destroy_user_sessions empties the memory stores of that user."""
    for auth in (SessionAuth(), SessionExpAuth(session_duration=60)):
        mine = auth.create_session("gone")
        other = auth.create_session("kept")
        auth.destroy_user_sessions("gone")
        assert mine not in auth.user_id_by_session_id
        assert auth.user_id_for_session_id(other) == "kept"


def test_redis_store_ends_a_deleted_users_sessions(redis_url: str) -> None:
    """destroy_user_sessions deletes every key of that user in Redis."""
    auth = SessionRedisAuth(session_duration=60, redis_url=redis_url)
    first = auth.create_session("gone")
    auth.create_session("gone")
    kept = auth.create_session("kept")
    logged_out = auth.create_session("gone")
    assert auth.destroy_session(cookie_request(logged_out)) is True
    auth.destroy_user_sessions("gone")
    assert auth.user_id_for_session_id(first) is None
    assert auth.user_id_for_session_id(kept) == "kept"
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    assert sorted(client.scan_iter("users_api:*")) == sorted(
        [auth.key(kept), auth.user_key("kept")])
    client.close()


@pytest.mark.parametrize("auth_type", [
    "session_auth", "session_exp_auth", "session_db_auth",
    "session_redis_auth"])
def test_deleting_a_user_ends_its_sessions_over_http(
        auth_type: str, start_api: Callable, make_user: Callable,
        redis_url: str, database_url: str) -> None:
    """DELETE /users/<id> ends that user's sessions in every store: its
    cookie stops working and no row or key of it is left."""
    make_user("admin@hbtn.io", "pwd")
    bob_id = make_user("bob@hbtn.io", "pwd")
    api = start_api(auth_type, SESSION_DURATION="600", REDIS_URL=redis_url)
    admin = api.login("admin@hbtn.io", "pwd").cookies
    bob = api.login("bob@hbtn.io", "pwd").cookies
    assert api.get("/users/me", cookies=bob).status_code == 200
    assert api.delete("/users/" + bob_id, cookies=admin).status_code == 200
    assert api.get("/users/me", cookies=bob).status_code == 403
    assert api.get("/users/me", cookies=admin).status_code == 200
    db.reset()
    db.configure(database_url)
    try:
        assert UserSession.search({"user_id": bob_id}) == []
    finally:
        db.reset()
        db.configure(None)
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    keys = list(client.scan_iter("users_api:*"))
    client.close()
    assert not [key for key in keys if bob_id in key
                or bob["_my_session_id"] in key]

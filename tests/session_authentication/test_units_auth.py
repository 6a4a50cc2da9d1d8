#!/usr/bin/env python3
"""Unit tests of the authentication classes, on real storage.

Requests are real Flask request objects built by a test request context;
clocks are injected where expiry is tested (no sleeping).
"""
import base64
from datetime import datetime, timedelta, timezone
from typing import Iterator

import pytest
import redis
from flask import Flask, Request

import models.user
from api.v1.auth.auth import Auth
from api.v1.auth.basic_auth import BasicAuth
from api.v1.auth.registry import UnknownAuthType, auth_class, build_auth
from api.v1.auth.session_auth import SessionAuth
from api.v1.auth.session_db_auth import SessionDBAuth
from api.v1.auth.session_exp_auth import SessionExpAuth
from api.v1.auth.session_redis_auth import SessionRedisAuth
from api.v1.config import Settings
from models import db
from models.user import User
from models.user_session import UserSession

EXCLUDED = ["/api/v1/status/", "/api/v1/stat*", "/api/v1/forbidden"]


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        """Start at a fixed UTC instant."""
        self.now = datetime(2026, 1, 1, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        """Return the current fake time."""
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self.now += timedelta(seconds=seconds)


def make_request(headers: dict = None) -> Request:
    """Build a real Flask request with the given headers."""
    app = Flask(__name__)
    with app.test_request_context("/", headers=headers or {}) as ctx:
        return ctx.request


@pytest.fixture
def storage(sqlite_url: str, monkeypatch: pytest.MonkeyPatch
            ) -> Iterator[str]:
    """Point the models at a throw-away SQLite file."""
    monkeypatch.setenv("BCRYPT_ROUNDS", "4")
    db.reset()
    db.configure(sqlite_url)
    yield sqlite_url
    db.reset()
    db.configure(None)


@pytest.mark.parametrize("path, excluded, expected", [
    (None, EXCLUDED, True),
    ("/api/v1/users", None, True),
    ("/api/v1/users", [], True),
    ("/api/v1/status", EXCLUDED, False),
    ("/api/v1/status/", EXCLUDED, False),
    ("/api/v1/stats", EXCLUDED, False),
    ("/api/v1/forbidden/", EXCLUDED, False),
    ("/api/v1/users", EXCLUDED, True),
    ("/api/v1/user", ["/api/v1/users/"], True),
])
def test_require_auth(path: str, excluded: list, expected: bool) -> None:
    """require_auth is slash tolerant and understands a trailing *."""
    assert Auth().require_auth(path, excluded) is expected


def test_authorization_header_and_current_user() -> None:
    """The base class reads the header and authenticates no one."""
    auth = Auth()
    assert auth.authorization_header() is None
    assert auth.authorization_header(make_request()) is None
    assert auth.authorization_header(make_request(
        {"Authorization": "Test"})) == "Test"
    assert auth.current_user() is None


def test_session_cookie_named_by_env(monkeypatch: pytest.MonkeyPatch
                                     ) -> None:
    """session_cookie reads the cookie that SESSION_NAME names."""
    monkeypatch.setenv("SESSION_NAME", "my_cookie")
    auth = Auth()
    assert auth.session_cookie() is None
    assert auth.session_cookie(make_request(
        {"Cookie": "my_cookie=Hello"})) == "Hello"
    assert auth.session_cookie(make_request(
        {"Cookie": "_my_session_id=Hello"})) is None


@pytest.mark.parametrize("header, expected", [
    (None, None), (89, None), ("Holberton", None), ("Basic", None),
    ("Basic Holberton", "Holberton"), ("Basic SG9sYmVydG9u", "SG9sYmVydG9u"),
    ("Bearer SG9s", None),
])
def test_extract_base64(header: object, expected: object) -> None:
    """Only a str starting with "Basic " yields what follows it."""
    assert BasicAuth().extract_base64_authorization_header(
        header) == expected


@pytest.mark.parametrize("value, expected", [
    (None, None), (89, None), ("Holberton School", None),
    ("SG9sYmVydG9u", "Holberton"), ("SG9sYmVydG9uU2Nob29s", "HolbertonSchool"),
    ("//79", None), ("é", None), ("SG9s!mVydG9u", None),
])
def test_decode_base64(value: object, expected: object) -> None:
    """Only valid Base64 of UTF-8 text decodes."""
    assert BasicAuth().decode_base64_authorization_header(
        value) == expected


@pytest.mark.parametrize("value, expected", [
    (None, (None, None)), (89, (None, None)),
    ("Holberton School", (None, None)),
    ("Holberton:School", ("Holberton", "School")),
    ("bob@gmail.com:toto1234", ("bob@gmail.com", "toto1234")),
    ("bob@hbtn.io:pass:with:colons", ("bob@hbtn.io", "pass:with:colons")),
    (":", ("", "")),
])
def test_extract_user_credentials(value: object, expected: tuple) -> None:
    """Credentials split at the first colon; passwords may hold colons."""
    assert BasicAuth().extract_user_credentials(value) == expected


def basic(email: str, pwd: str) -> dict:
    """Return an Authorization header for Basic credentials."""
    token = base64.b64encode("{}:{}".format(email, pwd).encode()).decode()
    return {"Authorization": "Basic " + token}


def test_user_object_from_credentials(storage: str) -> None:
    """A user comes back only for a known email and its password."""
    user = User(email="bob@hbtn.io")
    user.password = "pass:with:colons"
    user.save()
    auth = BasicAuth()
    assert auth.user_object_from_credentials(None, "x") is None
    assert auth.user_object_from_credentials("bob@hbtn.io", 89) is None
    assert auth.user_object_from_credentials("no@hbtn.io", "x") is None
    assert auth.user_object_from_credentials("bob@hbtn.io", "x") is None
    assert auth.user_object_from_credentials(
        "bob@hbtn.io", "pass:with:colons") == user
    assert auth.current_user(make_request(
        basic("bob@hbtn.io", "pass:with:colons"))) == user
    assert auth.current_user(make_request(
        basic("bob@hbtn.io", "pass"))) is None
    assert auth.current_user(make_request(
        {"Authorization": "Basic !!!"})) is None
    assert auth.current_user(make_request()) is None


def test_verified_credentials_skip_bcrypt_until_password_changes(
        storage: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A verified credential is not bcrypt-checked again, until the
    stored hash changes; a wrong password is always checked.
    """
    user = User(email="bob@hbtn.io")
    user.password = "old"
    user.save()
    checks = []
    real_check = models.user.check_password

    def counting_check(pwd: str, hashed: str) -> bool:
        """Count bcrypt checks, then run the real one."""
        checks.append(pwd)
        return real_check(pwd, hashed)

    monkeypatch.setattr(models.user, "check_password", counting_check)
    auth = BasicAuth()
    for _ in range(3):
        assert auth.user_object_from_credentials("bob@hbtn.io", "old")
    assert checks == ["old"]
    assert auth.user_object_from_credentials("bob@hbtn.io", "bad") is None
    assert auth.user_object_from_credentials("bob@hbtn.io", "bad") is None
    assert checks == ["old", "bad", "bad"]
    user.password = "new"
    user.save()
    assert auth.user_object_from_credentials("bob@hbtn.io", "old") is None
    assert auth.user_object_from_credentials("bob@hbtn.io", "new") == user


def test_session_auth_memory_store(storage: str) -> None:
    """SessionAuth maps session ids to user ids in a class-wide dict."""
    SessionAuth.user_id_by_session_id.clear()
    auth = SessionAuth()
    assert auth.create_session(None) is None
    assert auth.create_session(89) is None
    session_id = auth.create_session("abcde")
    assert SessionAuth.user_id_by_session_id == {session_id: "abcde"}
    assert auth.user_id_for_session_id(session_id) == "abcde"
    assert auth.user_id_for_session_id(89) is None
    assert auth.destroy_session(None) is False
    assert auth.destroy_session(make_request()) is False
    assert auth.destroy_session(make_request(
        {"Cookie": "_my_session_id=nope"})) is False
    assert auth.destroy_session(make_request(
        {"Cookie": "_my_session_id=" + session_id})) is True
    assert auth.user_id_for_session_id(session_id) is None


def test_session_exp_auth_expiry_with_clock() -> None:
    """A session is valid for session_duration seconds, then refused."""
    clock = Clock()
    auth = SessionExpAuth(session_duration=60, clock=clock)
    session_id = auth.create_session("abcde")
    entry = auth.user_id_by_session_id[session_id]
    assert entry == {"user_id": "abcde", "created_at": clock.now}
    clock.advance(60)
    assert auth.user_id_for_session_id(session_id) == "abcde"
    clock.advance(1)
    assert auth.user_id_for_session_id(session_id) is None
    assert session_id not in auth.user_id_by_session_id


def test_session_exp_auth_duration_rules(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """SESSION_DURATION unset or not an int is 0; 0 never expires."""
    monkeypatch.delenv("SESSION_DURATION", raising=False)
    assert SessionExpAuth().session_duration == 0
    monkeypatch.setenv("SESSION_DURATION", "abc")
    assert SessionExpAuth().session_duration == 0
    monkeypatch.setenv("SESSION_DURATION", "42")
    assert SessionExpAuth().session_duration == 42
    clock = Clock()
    auth = SessionExpAuth(session_duration=0, clock=clock)
    session_id = auth.create_session("abcde")
    clock.advance(10 ** 8)
    assert auth.user_id_for_session_id(session_id) == "abcde"
    auth.user_id_by_session_id["bare"] = {"user_id": "abcde"}
    assert SessionExpAuth(session_duration=5).user_id_for_session_id(
        "bare") is None
    assert auth.user_id_for_session_id(None) is None
    assert auth.user_id_for_session_id("unknown") is None


def test_session_db_auth_rows_expiry_and_purge(storage: str) -> None:
    """SessionDBAuth stores rows, refuses and deletes expired ones."""
    user = User(email="bob@hbtn.io")
    user.save()
    clock = Clock()
    auth = SessionDBAuth(session_duration=60, clock=clock)
    assert auth.create_session(None) is None
    first = auth.create_session(user.id)
    second = auth.create_session(user.id)
    assert UserSession.count() == 2
    assert auth.user_id_for_session_id(first) == user.id
    request = make_request({"Cookie": "_my_session_id=" + first})
    assert auth.current_user(request) == user
    clock.advance(61)
    assert auth.current_user(request) is None
    assert UserSession.search({"session_id": first}) == []
    assert auth.purge_expired() == 1
    assert UserSession.count() == 0
    assert auth.user_id_for_session_id(second) is None


def test_session_db_auth_idle_timeout_and_purge(storage: str) -> None:
    """With an idle timeout, use keeps a row alive (its last_seen_at is
    written at most every tenth of the timeout), an idle row is refused,
    and purge_expired deletes idle rows as well as expired ones, keeping
    the live one."""
    user = User(email="bob@hbtn.io")
    user.save()
    clock = Clock()
    auth = SessionDBAuth(session_duration=3600, clock=clock)
    auth.idle_timeout = 100
    active, idle = auth.create_session(user.id), auth.create_session(user.id)
    for _ in range(3):
        clock.advance(60)
        assert auth.user_id_for_session_id(active) == user.id
    row = UserSession.search({"session_id": active})[0]
    assert row.last_seen_at is not None
    assert auth.user_id_for_session_id(idle) is None
    third = auth.create_session(user.id)
    clock.advance(101)
    assert auth.purge_expired() == 2
    assert auth.user_id_for_session_id(third) is None
    survivor = auth.create_session(user.id)
    for _ in range(59):
        clock.advance(60)
        assert auth.user_id_for_session_id(survivor) == user.id
    assert auth.purge_expired() == 0
    clock.advance(99)
    # 3,639 s old but used 99 s ago: past its lifetime, not idle.
    assert auth.purge_expired() == 1
    assert UserSession.count() == 0


def test_session_db_auth_logout_deletes_row(storage: str) -> None:
    """destroy_session removes the request's UserSession row."""
    user = User(email="bob@hbtn.io")
    user.save()
    auth = SessionDBAuth(session_duration=0)
    session_id = auth.create_session(user.id)
    request = make_request({"Cookie": "_my_session_id=" + session_id})
    assert auth.destroy_session(request) is True
    assert UserSession.count() == 0
    assert auth.destroy_session(request) is False


def test_session_redis_auth_ttl(redis_url: str) -> None:
    """Redis sessions carry SESSION_DURATION as their native TTL."""
    client = redis.Redis.from_url(redis_url)
    expiring = SessionRedisAuth(session_duration=30, redis_url=redis_url)
    session_id = expiring.create_session("abcde")
    key = expiring.key(session_id)
    assert 0 < client.ttl(key) <= 30
    assert expiring.user_id_for_session_id(session_id) == "abcde"
    forever = SessionRedisAuth(session_duration=0, redis_url=redis_url)
    assert client.ttl(forever.key(forever.create_session("x"))) == -1
    assert expiring.destroy_session(make_request(
        {"Cookie": "_my_session_id=" + session_id})) is True
    assert client.exists(key) == 0
    assert expiring.user_id_for_session_id("a" * 500) is None


def test_registry_names_every_auth_type() -> None:
    """Every AUTH_TYPE maps to its class; unknown names are refused."""
    assert auth_class("basic_auth") is BasicAuth
    assert auth_class("session_db_auth") is SessionDBAuth
    assert build_auth(Settings.load({"AUTH_TYPE": ""})) is None
    assert type(build_auth(Settings.load({"AUTH_TYPE": "auth"}))) is Auth
    assert build_auth(Settings.load({
        "AUTH_TYPE": "session_exp_auth",
        "SESSION_DURATION": 7})).session_duration == 7
    with pytest.raises(UnknownAuthType):
        build_auth(Settings.load({"AUTH_TYPE": "magic_auth"}))

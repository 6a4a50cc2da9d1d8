#!/usr/bin/env python3
"""Keyset pagination of ``GET /api/v1/users``: ``limit``, ``after``
cursors and the ``Link: <...>; rel="next"`` header, in both profiles,
on SQLite and PostgreSQL (in-process apps on the test's database)."""
import base64
import re
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterator, List, Optional

import pytest
from flask import Flask
from sqlalchemy import insert

from api.v1.views.pagination import DEFAULT_LIMIT, MAX_LIMIT
from models import db
from models.user import User

LINK = re.compile(r'<(/api/v1/users\?limit=(\d+)&after=([A-Za-z0-9_-]+))>; '
                  r'rel="next"')
ADMIN = ("admin@hbtn.io", "admin password 1")
START = datetime(2026, 1, 1, tzinfo=timezone.utc)


@pytest.fixture
def build_app(database_url: str, tmp_path: object,
              monkeypatch: pytest.MonkeyPatch
              ) -> Iterator[Callable[..., Flask]]:
    """Yield a builder of in-process apps on the test's database."""
    from api.v1.factory import create_app

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BCRYPT_ROUNDS", "10")

    def build(**overrides: str) -> Flask:
        """Build the API with Basic authentication and the overrides."""
        config = {"DATABASE_URL": database_url, "AUTH_TYPE": "basic_auth",
                  "LOGIN_RATE_LIMIT": "off"}
        config.update(overrides)
        return create_app(config)

    yield build
    db.configure(None)
    db.reset()


def add_users(count: int, same_time_every: int = 3) -> None:
    """Insert users in bulk; every ``same_time_every`` share one
    created_at, so that the id has to break ties."""
    now = datetime.now(timezone.utc)
    rows = [{"id": "{:08d}-user".format(number),
             "created_at": START + timedelta(
                 seconds=number // same_time_every, microseconds=7),
             "updated_at": now, "email": "u{}@hbtn.io".format(number)}
            for number in range(count)]
    with db.engine().begin() as conn:
        conn.execute(insert(User.__table__), rows)


def add_admin() -> dict:
    """Store an admin; return its Basic Authorization header."""
    admin = User(email=ADMIN[0], _is_admin=True)
    admin.password = ADMIN[1]
    admin.save()
    token = base64.b64encode(":".join(ADMIN).encode()).decode()
    return {"Authorization": "Basic " + token}


def walk(client: object, first: str, headers: dict) -> List[List[str]]:
    """Follow the Link headers from a first URL; return each page's ids."""
    pages, url = [], first
    while url:
        answer = client.get(url, headers=headers)
        assert answer.status_code == 200, answer.get_json()
        pages.append([user["id"] for user in answer.get_json()])
        link = answer.headers.get("Link")
        url = None
        if link is not None:
            match = LINK.fullmatch(link)
            assert match, link
            url = match.group(1)
        assert len(pages) < 100, "the pages never end"
    return pages


def ordered_ids() -> List[str]:
    """Return every user id in (created_at, id) order."""
    return [user.id for user in sorted(
        User.all(), key=lambda user: (user.created_at, user.id))]


def test_seed_without_parameters_is_the_whole_plain_list(
        build_app: Callable) -> None:
    """Seed profile, no parameter: every user in one list, no Link."""
    app = build_app()
    headers = add_admin()
    add_users(DEFAULT_LIMIT + 5)
    answer = app.test_client().get("/api/v1/users", headers=headers)
    assert answer.status_code == 200
    assert "Link" not in answer.headers
    assert [user["id"] for user in answer.get_json()] == [
        user.id for user in User.all()]
    assert len(answer.get_json()) == DEFAULT_LIMIT + 6


@pytest.mark.parametrize("limit", [1, 3, 4, 7])
def test_pages_list_every_user_once_in_key_order(
        build_app: Callable, limit: int) -> None:
    """Following the Link headers lists every user exactly once, in
    (created_at, id) order, ties included; the last page has no Link."""
    app = build_app()
    headers = add_admin()
    add_users(20)
    pages = walk(app.test_client(),
                 "/api/v1/users?limit={}".format(limit), headers)
    assert [len(page) for page in pages[:-1]] == [limit] * (len(pages) - 1)
    assert 1 <= len(pages[-1]) <= limit
    assert sum(pages, []) == ordered_ids()


def test_pages_stay_right_when_users_come_and_go(
        build_app: Callable) -> None:
    """A user removed or added between two pages neither shifts nor
    repeats the rest: the cursor is a key, not an offset."""
    app = build_app()
    headers = add_admin()
    add_users(10, same_time_every=1)
    client = app.test_client()
    first = client.get("/api/v1/users?limit=4", headers=headers)
    seen = [user["id"] for user in first.get_json()]
    User.get(seen[-1]).remove()
    User.get(seen[0]).remove()
    late = User(email="late@hbtn.io")
    late.save()
    rest = walk(client, LINK.fullmatch(first.headers["Link"]).group(1),
                headers)
    expected = [user_id for user_id in ordered_ids()
                if user_id not in seen]
    assert sum(rest, []) == expected
    assert expected[-1] == late.id


def test_production_pages_by_default_and_caps_the_limit(
        build_app: Callable) -> None:
    """Production, no parameter: the first DEFAULT_LIMIT users and a
    Link to the rest; limit may go up to MAX_LIMIT."""
    app = build_app(APP_PROFILE="production")
    headers = add_admin()
    add_users(DEFAULT_LIMIT + 5)
    client = app.test_client()
    pages = walk(client, "/api/v1/users", headers)
    assert [len(page) for page in pages] == [DEFAULT_LIMIT, 6]
    assert sum(pages, []) == ordered_ids()
    whole = client.get("/api/v1/users?limit={}".format(MAX_LIMIT),
                       headers=headers)
    assert whole.status_code == 200
    assert len(whole.get_json()) == DEFAULT_LIMIT + 6
    assert "Link" not in whole.headers


def test_production_list_is_still_for_admins_only(
        build_app: Callable) -> None:
    """Production: a user who is not an admin gets 403, with or
    without page parameters."""
    app = build_app(APP_PROFILE="production")
    user = User(email="bob@hbtn.io")
    user.password = "bob password 1"
    user.save()
    token = base64.b64encode(b"bob@hbtn.io:bob password 1").decode()
    for url in ("/api/v1/users", "/api/v1/users?limit=2"):
        answer = app.test_client().get(
            url, headers={"Authorization": "Basic " + token})
        assert answer.status_code == 403


def cursor_of(text: bytes) -> str:
    """Return the Base64url text of raw cursor bytes."""
    return base64.urlsafe_b64encode(text).decode().rstrip("=")


@pytest.mark.parametrize("query, error", [
    ("limit=0", "limit"), ("limit=-1", "limit"),
    ("limit={}".format(MAX_LIMIT + 1), "limit"), ("limit=abc", "limit"),
    ("limit=", "limit"), ("limit=1.5", "limit"), ("limit=%C3%A9", "limit"),
    ("limit=99999999999999999999", "limit"), ("limit=%00", "limit"),
    ("after=", "after"), ("after=!!", "after"), ("after=%FF", "after"),
    ("after=" + "A" * 300, "after"),
    ("after=" + cursor_of(b"not a cursor"), "after"),
    ("after=" + cursor_of(b"2026-01-01T00:00:00.000000|"), "after"),
    ("after=" + cursor_of(b"\xff\xfe|x"), "after"),
    ("after=" + cursor_of(b"2026-01-01T00:00:00.000000|a\x00b"), "after"),
    ("limit=2&after=" + cursor_of(b"2026-13-01T00:00:00.000000|x"),
     "after"),
])
@pytest.mark.parametrize("profile", ["seed", "production"])
def test_bad_page_parameters_are_400_json(
        build_app: Callable, query: str, error: str,
        profile: str) -> None:
    """A limit or cursor that is not valid: 400 with a JSON error that
    names the parameter, in both profiles."""
    app = build_app(APP_PROFILE=profile)
    headers = add_admin()
    answer = app.test_client().get("/api/v1/users?" + query,
                                   headers=headers)
    assert answer.status_code == 400
    assert answer.get_json()["error"].startswith(error)


def test_page_reads_use_the_key_index(build_app: Callable) -> None:
    """SQLite seeks the (created_at, id) index for a page: no scan of
    the table and no sort (what keeps a deep page as fast as the
    first at a million users)."""
    build_app()
    if db.engine().dialect.name != "sqlite":
        pytest.skip("the plan is checked on SQLite only")
    statements: List[str] = []

    def keep(conn: object, cursor: object, statement: str,
             parameters: object, context: object,
             executemany: bool) -> None:
        """Remember each statement sent to the database."""
        statements.append(statement)

    from sqlalchemy import event

    add_users(5)
    event.listen(db.engine(), "before_cursor_execute", keep)
    try:
        users, more = User.page(2, (START, "x"))
    finally:
        event.remove(db.engine(), "before_cursor_execute", keep)
    assert more and len(users) == 2
    query = [text for text in statements if "api_users" in text][-1]
    with db.engine().connect() as conn:
        plan = " ".join(str(row[-1]) for row in conn.exec_driver_sql(
            "EXPLAIN QUERY PLAN " + query,
            (START.replace(tzinfo=None).isoformat(" "), "x", 3, 0)))
    assert "ix_api_users_created_at_id" in plan, plan
    assert "TEMP B-TREE" not in plan, plan


def test_page_of_a_model_after_the_last_key_is_empty(
        build_app: Callable) -> None:
    """Base.page after the last key: no object, nothing more."""
    build_app()
    add_users(3)
    last: Optional[User] = User.all()[-1]
    assert User.page(5, (last.created_at, last.id)) == ([], False)

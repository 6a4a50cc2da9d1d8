#!/usr/bin/env python3
"""A PostgreSQL outage under a running users API answers 503 JSON.

The test's throw-away database is dropped (its connections terminated)
while the production server runs: every request that needs the database
then gets 503 {"error": "Service Unavailable"}, never a 500 or a
traceback, and the routes that need no storage keep working.
"""
from typing import Callable

import psycopg
import pytest

from tests.conftest import POSTGRES_ADMIN_URL


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_database_dropped_under_the_server_gives_503(
        database_url: str, make_user: Callable,
        start_api: Callable) -> None:
    """Session and Basic lookups answer 503 while the database is gone."""
    make_user("bob@hbtn.io", "pwd")
    api = start_api("session_db_auth", production=True)
    login = api.login("bob@hbtn.io", "pwd")
    assert login.status_code == 200
    cookies = {"_my_session_id": login.cookies["_my_session_id"]}
    assert api.get("/users/me", cookies=cookies).status_code == 200
    name = database_url.rsplit("/", 1)[1]
    admin = POSTGRES_ADMIN_URL.replace("postgresql+psycopg://",
                                       "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute('DROP DATABASE "{}" WITH (FORCE)'.format(name))
    for _ in range(3):
        answer = api.get("/users/me", cookies=cookies)
        assert answer.status_code == 503
        assert answer.json() == {"error": "Service Unavailable"}
    answer = api.login("bob@hbtn.io", "pwd")
    assert (answer.status_code, answer.json()) == (
        503, {"error": "Service Unavailable"})
    assert api.get("/status").json() == {"status": "OK"}
    assert "Traceback" not in api.server.output()

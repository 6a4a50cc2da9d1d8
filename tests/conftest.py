#!/usr/bin/env python3
"""Shared fixtures: real Redis, throw-away databases, free ports.

Redis: ``TEST_REDIS_URL`` when set (the suite FLUSHes that database, so
never point it at data you keep), else a server the suite starts itself
on a free port. PostgreSQL: ``TEST_POSTGRES_URL`` when set (each test
gets a throw-away database created and dropped on that server), else the
PostgreSQL variants of the tests are skipped with that reason.
"""
import os
from pathlib import Path
from typing import Callable, Iterator

import pytest
import redis

from tests.support import RedisServer

POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "")


def pytest_report_header(config: pytest.Config) -> list:
    """Say in the header which real services this run talks to."""
    lines = []
    if POSTGRES_ADMIN_URL:
        lines.append("postgres: throw-away databases on TEST_POSTGRES_URL")
    else:
        lines.append("postgres: TEST_POSTGRES_URL is not set, "
                     "PostgreSQL variants are skipped")
    if os.environ.get("TEST_REDIS_URL"):
        lines.append("redis: TEST_REDIS_URL (flushed by the suite)")
    else:
        lines.append("redis: a server started by the suite on a free port")
    return lines


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    """Yield the URL of the suite's Redis server for the whole run."""
    given = os.environ.get("TEST_REDIS_URL")
    if given:
        yield given
        return
    server = RedisServer().start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server: str) -> Iterator[str]:
    """Yield the suite's Redis URL with its database flushed first."""
    client = redis.Redis.from_url(redis_server)
    client.flushdb()
    client.close()
    yield redis_server


@pytest.fixture
def redis_server_factory() -> Iterator[Callable[[], RedisServer]]:
    """Yield a function that starts extra Redis servers (stopped after).

    For tests that stop Redis on purpose (outages) and start it again.
    """
    started = []

    def make(port: int = 0) -> RedisServer:
        """Start and return a new Redis server."""
        server = RedisServer(port or None).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


def _sqlite_url(tmp_path: Path) -> str:
    """Return the URL of a fresh SQLite file in the test's folder."""
    return "sqlite:///{}".format(tmp_path / "test.db")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """Return the URL of a throw-away SQLite file for this test."""
    return _sqlite_url(tmp_path)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """Yield the URL of a throw-away PostgreSQL database (or skip)."""
    if not POSTGRES_ADMIN_URL:
        pytest.skip("TEST_POSTGRES_URL is not set")
    from tests.support import postgres_throwaway_url

    url, drop = postgres_throwaway_url(POSTGRES_ADMIN_URL)
    try:
        yield url
    finally:
        drop()


@pytest.fixture(params=["sqlite", pytest.param(
    "postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Return a throw-away database URL: once SQLite, once PostgreSQL."""
    if request.param == "sqlite":
        return _sqlite_url(tmp_path)
    return request.getfixturevalue("postgres_url")

#!/usr/bin/env python3
"""The Redis-invalidated session cache of session_redis_auth, on a real Redis.

Two ``SessionRedisAuth`` objects stand for two API processes (each has
its own cache, connections and listener); a third, plain client changes
keys as any other host would. A session read by both is served from
their caches, and is gone from both at once when it is deleted,
flushed, changed or expired anywhere; a broken listener empties the
cache.
"""
import signal
import sys
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest
import redis

SA_DIR = Path(__file__).resolve().parents[2] / "session_authentication"
if str(SA_DIR) not in sys.path:
    sys.path.insert(0, str(SA_DIR))

from api.v1.auth.session_redis_auth import (  # noqa: E402
    KEY_PREFIX, SessionRedisAuth)

SESSION = "s" * 43


@pytest.fixture
def two_processes(redis_url: str) -> Iterator[tuple]:
    """Yield two session stores on the test Redis, and a plain client."""
    stores = [SessionRedisAuth(redis_url=redis_url, session_duration=60)
              for _ in range(2)]
    other = redis.Redis.from_url(redis_url, decode_responses=True)
    yield stores[0], stores[1], other
    for store in stores:
        store.redis.close()
    other.close()


def gets(client: redis.Redis) -> int:
    """Return how many GET commands the server has run so far."""
    stats = client.info("commandstats").get("cmdstat_get", {})
    return int(stats.get("calls", 0))


def test_a_live_session_is_read_from_the_cache(two_processes: tuple) -> None:
    """After the first read, reads cost no GET until the cache's second."""
    one, _, other = two_processes
    other.set(KEY_PREFIX + SESSION, "user-1", ex=60)
    assert one._load_session(SESSION)[0] == "user-1"
    before = gets(other)
    for _ in range(100):
        assert one._load_session(SESSION)[0] == "user-1"
    assert gets(other) == before


@pytest.mark.parametrize("change", ["delete", "flushdb", "set", "logout"])
def test_a_change_anywhere_reaches_every_cache_at_once(
        two_processes: tuple, change: str) -> None:
    """Deleted, flushed or changed by another client, or ended by the
    other process: neither process serves the old value once Redis's
    invalidation has reached it."""
    one, two, other = two_processes
    key = KEY_PREFIX + SESSION
    other.set(key, "user-1", ex=60)
    assert one._load_session(SESSION)[0] == "user-1"
    assert two._load_session(SESSION)[0] == "user-1"
    if change == "delete":
        other.delete(key)
    elif change == "flushdb":
        other.flushdb()
    elif change == "set":
        other.set(key, "user-2", ex=60)
    else:
        two._delete_session(SESSION)
    expected = "user-2" if change == "set" else None
    for store in (one, two):
        # Redis writes the invalidation to the listener in the event
        # loop turn that answers the change, maybe just after the
        # answer: the window is that of a message on the wire, which an
        # HTTP request to another process cannot overtake, but a read
        # in this same test can.
        assert store.cache.listener.can_read(timeout=5)
        record = store._load_session(SESSION)
        assert (record and record[0]) == expected


def test_an_entry_lives_no_longer_than_its_key(two_processes: tuple) -> None:
    """A key with 300 ms left is not served from the cache after them."""
    one, _, other = two_processes
    other.set(KEY_PREFIX + SESSION, "user-1", px=300)
    assert one._load_session(SESSION)[0] == "user-1"
    time.sleep(0.35)
    assert one._load_session(SESSION) is None


def test_a_broken_listener_empties_the_cache(two_processes: tuple) -> None:
    """Listener killed (no invalidation can come): the next read goes to
    Redis and sees a change made meanwhile; the cache then comes back."""
    one, _, other = two_processes
    key = KEY_PREFIX + SESSION
    other.set(key, "user-1", ex=60)
    assert one._load_session(SESSION)[0] == "user-1"
    other.client_kill_filter(_id=one.cache.client_id)
    other.set(key, "user-2", ex=60)
    assert one._load_session(SESSION)[0] == "user-2"
    one.cache.down_until = 0  # retry at once instead of after a second
    assert one._load_session(SESSION)[0] == "user-2"
    other.delete(key)
    assert one._load_session(SESSION) is None


def test_a_frozen_redis_is_trusted_for_one_second_at_most(
        redis_server_factory: Callable) -> None:
    """Redis frozen (no session can end meanwhile): a session read just
    before is still served; a second later it needs Redis (an error)."""
    server = redis_server_factory()
    store = SessionRedisAuth(redis_url=server.url, session_duration=60)
    other = redis.Redis.from_url(server.url)
    try:
        other.set(KEY_PREFIX + SESSION, "user-1", ex=60)
        assert store._load_session(SESSION)[0] == "user-1"
        server.proc.send_signal(signal.SIGSTOP)
        try:
            assert store._load_session(SESSION)[0] == "user-1"
            time.sleep(store.cache.max_age)
            with pytest.raises(redis.RedisError):
                store._load_session(SESSION)
        finally:
            server.proc.send_signal(signal.SIGCONT)
    finally:
        store.redis.close()
        other.close()

#!/usr/bin/env python3
"""http_common.rate_limits, the one rate-limit design of both auth
apps, on real storages: memory:// and the suite's Redis."""
from typing import Callable, Iterator

import pytest
import redis

from http_common.rate_limits import (KeyedLimit, PasswordBackoff,
                                     StorageDown, account_key,
                                     open_storage, parse_limits)

EMAIL = "Bob@HBTN.io"
ADDRESS = "198.51.100.7"


@pytest.fixture(params=["memory", "redis"])
def storage_uri(request: pytest.FixtureRequest) -> Iterator[str]:
    """Yield a storage URI: memory://, or the suite's (flushed) Redis."""
    if request.param == "memory":
        yield "memory://"
    else:
        yield request.getfixturevalue("redis_url")


@pytest.mark.parametrize("spec, count", [
    ("", 0), ("off", 0), ("OFF", 0), ("0", 0), ("none", 0),
    ("3/minute", 1), ("30/minute;300/hour", 2)])
def test_parse_limits(spec: str, count: int) -> None:
    """Limits parse to items; the off words give none."""
    assert len(parse_limits(spec)) == count


@pytest.mark.parametrize("spec", ["abc", "3/fortnight", "-1/minute"])
def test_parse_limits_refuses_garbage(spec: str) -> None:
    """Text that is not limits is a ValueError (a start-up error)."""
    with pytest.raises(ValueError):
        parse_limits(spec)


def test_keyed_limit_counts_per_key(storage_uri: str) -> None:
    """3/minute: the 4th hit of a key is refused, another key is not;
    ``blocked`` tells without counting; Retry-After is within the
    window; an off limit lets everything through."""
    limit = KeyedLimit(open_storage(storage_uri), "test", "login",
                       "3/minute")
    assert [limit.allow("a") for _ in range(4)] == [True] * 3 + [False]
    assert limit.blocked("a") and not limit.blocked("b")
    assert limit.allow("b")
    assert 1 <= limit.retry_after("a") <= 61
    off = KeyedLimit(open_storage(storage_uri), "test", "other", "off")
    assert all(off.allow("a") for _ in range(50))
    assert not off.blocked("a")


def test_backoff_doubles_per_pair_and_clears_on_success(
        storage_uri: str) -> None:
    """From the threshold-th failure of a pair, its checks wait
    (1 s, then longer); another address of the account does not; a
    success clears the pair."""
    backoff = PasswordBackoff(open_storage(storage_uri), "test", 3)
    account = account_key(EMAIL)
    for _ in range(2):
        assert backoff.check(account, ADDRESS)[0] is None
        backoff.failed(account, ADDRESS)
    assert backoff.check(account, ADDRESS) == (None, 2)
    backoff.failed(account, ADDRESS)
    wait, failures = backoff.check(account, ADDRESS)
    assert failures == 3 and wait is not None and 1 <= wait <= 2
    backoff.failed(account, ADDRESS)
    backoff.failed(account, ADDRESS)
    longer = backoff.check(account, ADDRESS)[0]
    assert longer is not None and 4 <= longer <= 5
    assert backoff.check(account, "198.51.100.8") == (None, 0)
    backoff.succeeded(account, ADDRESS, 5)
    assert backoff.check(account, ADDRESS) == (None, 0)


def test_backoff_per_account_is_capped(storage_uri: str) -> None:
    """Failures of one account from many addresses (4 x the threshold)
    make every address wait, never longer than the account cap."""
    backoff = PasswordBackoff(open_storage(storage_uri), "test", 2,
                              account_cap=60)
    account = account_key(EMAIL)
    for number in range(30):
        backoff.failed(account, "203.0.113.{}".format(number))
    wait = backoff.check(account, "192.0.2.1")[0]
    assert wait is not None and 1 <= wait <= 61


def test_counters_shared_through_redis_without_clear_names(
        redis_url: str) -> None:
    """Two storages on one Redis (two processes or hosts) see each
    other's counts; keys are LIMITER/<namespace>/... and hold no
    e-mail or address; namespaces keep the apps apart."""
    first = PasswordBackoff(open_storage(redis_url), "app_one", 1)
    second = PasswordBackoff(open_storage(redis_url), "app_one", 1)
    other_app = PasswordBackoff(open_storage(redis_url), "app_two", 1)
    account = account_key(EMAIL)
    first.failed(account, ADDRESS)
    assert second.check(account, ADDRESS)[0] is not None
    assert other_app.check(account, ADDRESS) == (None, 0)
    one = KeyedLimit(open_storage(redis_url), "app_one", "login", "1/minute")
    two = KeyedLimit(open_storage(redis_url), "app_one", "login", "1/minute")
    assert one.allow(ADDRESS) and not two.allow(ADDRESS)
    client = redis.Redis.from_url(redis_url)
    try:
        keys = [key.decode() for key in client.scan_iter("*")]
    finally:
        client.close()
    assert len(keys) == 4  # pair count and block, account count, login
    assert all(key.startswith("LIMITS:LIMITER/app_one/") for key in keys)
    assert not any(account in key or ADDRESS in key for key in keys)


def test_storage_down_raises_then_recovers(
        redis_server_factory: Callable) -> None:
    """With Redis down every call raises StorageDown (the apps answer
    503: fail closed); the same objects work when it is back."""
    server = redis_server_factory()
    storage = open_storage(server.url)
    limit = KeyedLimit(storage, "test", "login", "5/minute")
    backoff = PasswordBackoff(storage, "test", 3)
    assert limit.allow(ADDRESS)
    server.stop()
    for call in (lambda: limit.allow(ADDRESS),
                 lambda: backoff.check("bob", ADDRESS),
                 lambda: backoff.failed("bob", ADDRESS)):
        with pytest.raises(StorageDown):
            call()
    server.start()
    assert limit.allow(ADDRESS)
    assert backoff.check("bob", ADDRESS) == (None, 0)

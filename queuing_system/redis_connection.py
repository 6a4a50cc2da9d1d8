#!/usr/bin/env python3
"""One place to build Redis clients for the queuing system's scripts.

Stable API (other modules of ``queuing_system/`` may import it):

- ``DEFAULT_URL``: ``redis://127.0.0.1:6379/0``.
- ``redis_url()``: the ``REDIS_URL`` environment variable, else the default.
- ``make_client(url=None, **options)``: a ``redis.Redis`` with string
  replies, a 2 s connect timeout, a 5 s read timeout and two quick retries
  (exponential backoff, 100 ms then 200 ms) on connection errors only;
  any keyword overrides these defaults.
- ``make_async_client(url=None, **options)``: the same for
  ``redis.asyncio``.
- ``connect_timeout()``: how long the scripts keep trying to connect
  before they give up (``REDIS_CONNECT_TIMEOUT``, seconds, default 10).
- ``wait_connected(client, give_up_after=None)`` and its coroutine twin
  ``async_wait_connected``: PING with backoff until Redis answers, print
  the seed's ``Redis client connected to the server`` once, or one
  ``Redis client not connected to the server: <error>`` line per failed
  attempt; return False once ``give_up_after`` seconds have passed.
- ``redis_print(reply)``: Node's ``redis.print``, printing ``Reply: OK``.

Nothing here connects at import time; a client connects on first use.
Timeouts are deliberately not retried: a command that timed out may
have run, and running a decrement twice would lose stock.
"""
import asyncio
import os
import time
from typing import Any, Optional

import redis
import redis.asyncio
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

DEFAULT_URL = "redis://127.0.0.1:6379/0"
DEFAULT_CONNECT_TIMEOUT = 10.0
CONNECTED = "Redis client connected to the server"
NOT_CONNECTED = "Redis client not connected to the server: {}"


def redis_url() -> str:
    """Return the Redis URL from ``REDIS_URL``, or the local default."""
    return os.environ.get("REDIS_URL") or DEFAULT_URL


def connect_timeout() -> float:
    """Return the connect give-up delay from ``REDIS_CONNECT_TIMEOUT``.

    A missing, non-numeric or negative value falls back to 10 seconds.
    """
    try:
        value = float(os.environ.get("REDIS_CONNECT_TIMEOUT", ""))
    except ValueError:
        return DEFAULT_CONNECT_TIMEOUT
    if value != value or value < 0:
        return DEFAULT_CONNECT_TIMEOUT
    return value


def _options(overrides: dict) -> dict:
    """Merge caller options over the project's client defaults."""
    options = {
        "decode_responses": True,
        "socket_connect_timeout": 2.0,
        "socket_timeout": 5.0,
        "health_check_interval": 30,
    }
    options.update(overrides)
    return options


def make_client(url: Optional[str] = None, **options: Any) -> redis.Redis:
    """Build a synchronous Redis client for a URL (default ``REDIS_URL``)."""
    from redis.retry import Retry

    options.setdefault("retry", Retry(
        ExponentialBackoff(cap=0.5, base=0.05), 2,
        supported_errors=(RedisConnectionError,)))
    return redis.Redis.from_url(url or redis_url(), **_options(options))


def make_async_client(url: Optional[str] = None,
                      **options: Any) -> redis.asyncio.Redis:
    """Build an asyncio Redis client for a URL (default ``REDIS_URL``)."""
    from redis.asyncio.retry import Retry

    options.setdefault("retry", Retry(
        ExponentialBackoff(cap=0.5, base=0.05), 2,
        supported_errors=(RedisConnectionError,)))
    return redis.asyncio.Redis.from_url(
        url or redis_url(), **_options(options))


def error_text(error: BaseException) -> str:
    """Return the client's own text for a connection error."""
    return str(error) or type(error).__name__


def _delays(give_up_after: float) -> tuple:
    """Return the deadline and the first backoff delay of a connect loop."""
    return time.monotonic() + give_up_after, 0.1


def wait_connected(client: redis.Redis,
                   give_up_after: Optional[float] = None) -> bool:
    """Ping until Redis answers, printing the seed's connection lines.

    Returns True once connected, False when ``give_up_after`` seconds
    (default ``connect_timeout()``) passed without an answer.
    """
    limit = connect_timeout() if give_up_after is None else give_up_after
    deadline, delay = _delays(limit)
    while True:
        try:
            client.ping()
        except RedisError as error:
            print(NOT_CONNECTED.format(error_text(error)), flush=True)
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(delay, left))
            delay = min(delay * 2, 1.0)
        else:
            print(CONNECTED, flush=True)
            return True


async def async_wait_connected(client: redis.asyncio.Redis,
                               give_up_after: Optional[float] = None
                               ) -> bool:
    """Ping until Redis answers (asyncio), printing the seed's lines.

    Behaves like ``wait_connected`` for an asyncio client.
    """
    limit = connect_timeout() if give_up_after is None else give_up_after
    deadline, delay = _delays(limit)
    while True:
        try:
            await client.ping()
        except RedisError as error:
            print(NOT_CONNECTED.format(error_text(error)), flush=True)
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            await asyncio.sleep(min(delay, left))
            delay = min(delay * 2, 1.0)
        else:
            print(CONNECTED, flush=True)
            return True


def redis_print(reply: Any) -> None:
    """Print a command's reply the way Node's ``redis.print`` does."""
    if isinstance(reply, bool):
        reply = "OK" if reply else "0"
    print("Reply: {}".format(reply), flush=True)

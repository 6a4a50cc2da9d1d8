#!/usr/bin/env python3
"""Publish four messages on ``holberton school channel`` (task 5).

``publish_message(message, time_ms)`` schedules, like ``setTimeout``,
the line ``About to send <message>`` and the publication after
``time_ms`` milliseconds; the script exits once all four are sent.
"""
import functools
import sys
import threading
from typing import Optional

import redis
from redis.exceptions import RedisError

from redis_connection import (NOT_CONNECTED, error_text, make_client,
                              wait_connected)

CHANNEL = "holberton school channel"


@functools.lru_cache(maxsize=None)
def default_client() -> redis.Redis:
    """Return this process's Redis client, built on first use."""
    return make_client()


def _send(client: redis.Redis, message: str) -> None:
    """Announce and publish one message, reporting a Redis failure."""
    print("About to send {}".format(message), flush=True)
    try:
        client.publish(CHANNEL, message)
    except RedisError as error:
        print(NOT_CONNECTED.format(error_text(error)), flush=True)


def publish_message(message: str, time_ms: int,
                    client: Optional[redis.Redis] = None
                    ) -> threading.Timer:
    """Publish ``message`` on the channel after ``time_ms`` milliseconds.

    Returns at once with the started timer, which callers may join.
    """
    timer = threading.Timer(max(time_ms, 0) / 1000.0, _send,
                            (client or default_client(), message))
    timer.start()
    return timer


def main() -> int:
    """Connect, publish the seed's four messages, wait for them."""
    if not wait_connected(default_client()):
        return 1
    timers = [
        publish_message("Holberton Student #1 starts course", 100),
        publish_message("Holberton Student #2 starts course", 200),
        publish_message("KILL_SERVER", 300),
        publish_message("Holberton Student #3 starts course", 400),
    ]
    for timer in timers:
        timer.join()
    default_client().close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

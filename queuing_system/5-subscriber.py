#!/usr/bin/env python3
"""Subscribe to ``holberton school channel`` and print messages (task 5).

Prints each message received; on ``KILL_SERVER`` it unsubscribes and
exits with status 0.
"""
import sys

import redis
from redis.exceptions import RedisError

from redis_connection import (NOT_CONNECTED, error_text, make_client,
                              wait_connected)

CHANNEL = "holberton school channel"
KILL = "KILL_SERVER"


def listen(client: redis.Redis, channel: str = CHANNEL) -> None:
    """Print every message of the channel until ``KILL_SERVER`` arrives."""
    pubsub = client.pubsub()
    try:
        pubsub.subscribe(channel)
        for message in pubsub.listen():
            if message["type"] != "message":
                continue
            print(message["data"], flush=True)
            if message["data"] == KILL:
                pubsub.unsubscribe(channel)
                return
    finally:
        pubsub.close()


def main() -> int:
    """Connect, listen until told to stop; return the exit status."""
    # No read timeout: a subscriber waits for messages indefinitely.
    client = make_client(socket_timeout=None)
    try:
        if not wait_connected(client):
            return 1
        listen(client)
        return 0
    except RedisError as error:
        print(NOT_CONNECTED.format(error_text(error)), flush=True)
        return 1
    finally:
        client.close()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Basic Redis operations: set a school's value and display it (task 2).

Run from this folder: ``python3 1-redis_op.py`` prints the seed's
``School`` / ``Reply: OK`` / ``100`` after the connection line.
"""
import functools
import sys

import redis

from redis_connection import make_client, redis_print, wait_connected


@functools.lru_cache(maxsize=None)
def client() -> redis.Redis:
    """Return this process's Redis client, built on first use."""
    return make_client()


def set_new_school(school_name: str, value: str) -> None:
    """Set ``value`` for the key ``school_name`` and print the reply."""
    redis_print(client().set(school_name, value))


def display_school_value(school_name: str) -> None:
    """Print the value stored under the key ``school_name``."""
    print(client().get(school_name), flush=True)


def main() -> int:
    """Connect, then make the seed's three calls; return exit status."""
    if not wait_connected(client()):
        return 1
    display_school_value('Holberton')
    set_new_school('HolbertonSanFrancisco', '100')
    display_school_value('HolbertonSanFrancisco')
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Store a hash in Redis and display it (task 4).

``hset`` the six cities of ``HolbertonSchools`` (``Reply: 1`` each on a
fresh key), then print ``hgetall``'s answer: a Python dict in insertion
order, the Python rendering of Node's printed object.
"""
import sys

import redis

from redis_connection import make_client, redis_print, wait_connected

HASH_KEY = "HolbertonSchools"
SCHOOLS = (
    ("Portland", "50"),
    ("Seattle", "80"),
    ("New York", "20"),
    ("Bogota", "20"),
    ("Cali", "40"),
    ("Paris", "2"),
)


def create_hash(client: redis.Redis) -> None:
    """Store each city of ``SCHOOLS`` in the hash, printing each reply."""
    for field, value in SCHOOLS:
        redis_print(client.hset(HASH_KEY, field, value))


def display_hash(client: redis.Redis) -> None:
    """Print the whole hash as a dict, fields in insertion order."""
    print(client.hgetall(HASH_KEY), flush=True)


def main() -> int:
    """Connect, create the hash and display it; return exit status."""
    client = make_client()
    try:
        if not wait_connected(client):
            return 1
        create_hash(client)
        display_hash(client)
        return 0
    finally:
        client.close()


if __name__ == "__main__":
    sys.exit(main())

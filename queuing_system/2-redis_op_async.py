#!/usr/bin/env python3
"""The basic Redis operations again, with async/await (task 3).

Uses ``redis.asyncio``; ``python3 2-redis_op_async.py`` prints the same
lines as ``1-redis_op.py``.
"""
import asyncio
import sys
from typing import Optional

import redis.asyncio

from redis_connection import (async_wait_connected, make_async_client,
                              redis_print)


class _Holder:
    """Keeps the client of the running event loop, built on first use."""

    client: Optional[redis.asyncio.Redis] = None


def client() -> redis.asyncio.Redis:
    """Return the asyncio Redis client of this process."""
    if _Holder.client is None:
        _Holder.client = make_async_client()
    return _Holder.client


async def set_new_school(school_name: str, value: str) -> None:
    """Set ``value`` for the key ``school_name`` and print the reply."""
    redis_print(await client().set(school_name, value))


async def display_school_value(school_name: str) -> None:
    """Print the value stored under the key ``school_name``."""
    print(await client().get(school_name), flush=True)


async def run() -> int:
    """Connect, then await the seed's three calls in order."""
    try:
        if not await async_wait_connected(client()):
            return 1
        await display_school_value('Holberton')
        await set_new_school('HolbertonSanFrancisco', '100')
        await display_school_value('HolbertonSanFrancisco')
        return 0
    finally:
        await client().aclose()
        _Holder.client = None


def main() -> int:
    """Run the async demo on a fresh event loop; return exit status."""
    return asyncio.run(run())


if __name__ == "__main__":
    sys.exit(main())

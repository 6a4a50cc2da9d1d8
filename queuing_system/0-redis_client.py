#!/usr/bin/env python3
"""Connect to Redis and say whether it worked (seed task 1).

Prints ``Redis client connected to the server`` once Redis answers, or
``Redis client not connected to the server: <error>`` for each failed
attempt; retries with backoff and exits with status 1 after
``REDIS_CONNECT_TIMEOUT`` seconds (default 10) without an answer.
"""
import sys

from redis_connection import make_client, wait_connected


def main() -> int:
    """Connect to ``REDIS_URL`` and return the process exit status."""
    client = make_client()
    try:
        return 0 if wait_connected(client) else 1
    finally:
        client.close()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Production server of the users API: granian, several WSGI processes.

    python3 -m api.v1.serve [--workers N] [--threads T]

Listens on API_HOST:API_PORT (default 0.0.0.0:5000) with WEB_CONCURRENCY
worker processes (default: one per CPU core) of WEB_THREADS threads.
Sessions kept in process memory (AUTH_TYPE session_auth and
session_exp_auth) cannot be shared by several processes: those modes are
served by one process, and asking for more is refused.
"""
import argparse
import os
import sys
from typing import List, Optional

from granian import Granian
from granian.constants import Interfaces

from api.v1.auth.registry import MEMORY_SESSION_TYPES


def _int_env(name: str, default: int) -> int:
    """Read a positive integer environment variable, else the default."""
    try:
        value = int(os.environ.get(name, default))
    except ValueError:
        value = default
    return max(value, 1)


def _positive_int(text: str) -> int:
    """Read a command-line count that must be 1 or more."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(
            "{!r} is not a positive integer".format(text))
    return value


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Read the command line (defaults from the environment)."""
    parser = argparse.ArgumentParser(
        prog="python3 -m api.v1.serve",
        description="Serve the users API with granian (WSGI).")
    parser.add_argument("--workers", type=_positive_int, default=None,
                        help="worker processes (WEB_CONCURRENCY, "
                             "default: CPU cores)")
    parser.add_argument("--threads", type=_positive_int, default=None,
                        help="threads per worker (WEB_THREADS, default 4)")
    return parser.parse_args(argv)


def fail(message: str) -> None:
    """Stop with one clear line and status 2."""
    print("users API cannot start: {}".format(message), file=sys.stderr)
    sys.exit(2)


def main(argv: Optional[List[str]] = None) -> None:
    """Check the configuration once, then serve it on granian."""
    args = parse_args(argv)
    auth_type = os.environ.get("AUTH_TYPE", "")
    asked = args.workers or (int(os.environ["WEB_CONCURRENCY"])
                             if os.environ.get("WEB_CONCURRENCY",
                                               "").isdigit() else None)
    if auth_type in MEMORY_SESSION_TYPES:
        if asked and asked > 1:
            fail("AUTH_TYPE={} keeps sessions in one process's memory, "
                 "so it cannot run {} worker processes; use "
                 "session_db_auth or session_redis_auth to scale out, "
                 "or --workers 1".format(auth_type, asked))
        workers = 1
    else:
        workers = asked or os.cpu_count() or 1
    threads = args.threads or _int_env("WEB_THREADS", 4)
    host = os.environ.get("API_HOST", "0.0.0.0")
    port = _int_env("API_PORT", 5000)

    from api.v1.factory import ConfigError, create_app
    from models import db

    try:
        app = create_app()
        mechanism = app.extensions["auth"]
        if hasattr(mechanism, "redis"):
            mechanism.redis.ping()
    except ConfigError as err:
        fail(str(err))
    except Exception as err:
        fail("{}: {}".format(type(err).__name__, err))
    database = db.database_url()
    db.reset()
    print("users API (AUTH_TYPE={}, database {}) listening on "
          "http://{}:{} with {} worker process(es) of {} threads".format(
              auth_type or "none", database.split("@")[-1], host, port,
              workers, threads), flush=True)
    Granian("api.v1.app:app", address=host, port=port,
            interface=Interfaces.WSGI, workers=workers,
            blocking_threads=threads, websockets=False,
            log_level="warning").serve()


if __name__ == "__main__":
    main()

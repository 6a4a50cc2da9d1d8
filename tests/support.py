#!/usr/bin/env python3
"""Helpers that start and stop the real services and processes tests use.

Everything here runs real components: a Redis server binary on a free
port, throw-away PostgreSQL databases, and application server processes
started on free ports and stopped by PID.
"""
import collections
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Optional, Tuple

import requests

from tools.redis_server import redis_server_binary

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


FIRST_TEST_PORT = 20000
KEPT_CLAIMS = 256
_claims: collections.deque = collections.deque()
_random = random.Random()


def _test_ports() -> range:
    """Return the ports handed to test servers: those below the range of
    ephemeral ports (``ip_local_port_range``).

    The kernel takes the local port of every outgoing connection, and
    of every bind to port 0, from the ephemeral range, so no client
    socket, nor another program's "free port", can take a port of this
    range between ``free_port`` and the server's own bind (which granian
    makes seconds later, in each worker once the app is loaded).
    """
    try:
        text = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text()
        first_ephemeral = int(text.split()[0])
    except (OSError, ValueError, IndexError):
        first_ephemeral = 32768
    return range(FIRST_TEST_PORT, max(FIRST_TEST_PORT, first_ephemeral))


def _claim(port: int) -> bool:
    """Claim a port for this process among all runs of the suite here.

    The claim is an abstract Unix socket named after the port: one
    process only can bind a name, the kernel drops it when the process
    ends, and it leaves no file. Concurrent runs and xdist workers thus
    never hand out the same port while a claim lives (the last
    KEPT_CLAIMS claims of a process are kept).
    """
    claim = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        claim.bind("\0user-data-backend-test-port-{}".format(port))
    except OSError:
        claim.close()
        return False
    _claims.append(claim)
    while len(_claims) > KEPT_CLAIMS:
        _claims.popleft().close()
    return True


def _bindable(port: int) -> bool:
    """Tell whether nothing on this machine uses a TCP port right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """Return a TCP port that nothing uses, claimed for this test run.

    On Linux the port lies below the ephemeral range and is claimed
    (see ``_test_ports`` and ``_claim``); elsewhere, or when that range
    is too small, the kernel picks one (bind to port 0).
    """
    ports = _test_ports()
    if sys.platform.startswith("linux") and len(ports) >= 1000:
        for _ in range(100):
            port = _random.choice(ports)
            if _claim(port):
                if _bindable(port):
                    return port
                _claims.pop().close()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20.0,
                  proc: Optional[subprocess.Popen] = None) -> None:
    """Block until something accepts connections on the port, or fail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(
                "process exited with status {} before listening on {}"
                .format(proc.returncode, port))
        try:
            with socket.create_connection(("127.0.0.1", port), 0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError("nothing listens on port {}".format(port))


class RedisServer:
    """A throw-away Redis server process on a free port, kept off disk.

    Its working folder is a temporary one, made by the constructor (a
    test may put a dump.rdb there before ``start``) and removed by
    ``stop``; a server started again after ``stop`` gets a fresh one.
    """

    def __init__(self, port: Optional[int] = None) -> None:
        """Prepare a server on the given port (a free one by default)."""
        self.port = port or free_port()
        self.proc: Optional[subprocess.Popen] = None
        self.dir = tempfile.mkdtemp(prefix="redis-test-")

    @property
    def url(self) -> str:
        """Return the redis:// URL of database 0 of this server."""
        return "redis://127.0.0.1:{}/0".format(self.port)

    def start(self) -> "RedisServer":
        """Start the server and wait until it accepts connections."""
        os.makedirs(self.dir, exist_ok=True)
        try:
            self.proc = subprocess.Popen(
                [redis_server_binary(), "--port", str(self.port),
                 "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--dir", self.dir, "--daemonize", "no"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_for_port(self.port, proc=self.proc)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the server at once (SIGKILL), as an outage would.

        Also removes its working folder.
        """
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)


class ServerProcess:
    """An application server process on a free port, stopped by PID.

    Every started server is listed in ``ServerProcess.started`` until the
    next test begins, so a failing test's report can show its output.
    """

    started: list = []

    def __init__(self, args: list, cwd: Path, env: dict,
                 port: Optional[int] = None) -> None:
        """Describe the command, its folder, its environment and port."""
        self.args = args
        self.cwd = Path(cwd)
        self.port = port or free_port()
        self.env = dict(env)
        self.proc: Optional[subprocess.Popen] = None
        # An unnamed file: it vanishes with the object, even on failure.
        self.log = tempfile.TemporaryFile(prefix="server-", suffix=".log")

    @property
    def url(self) -> str:
        """Return the base http:// URL the server listens on."""
        return "http://127.0.0.1:{}".format(self.port)

    def start(self, timeout: float = 30.0) -> "ServerProcess":
        """Start the process and wait until its port accepts connections."""
        self.proc = subprocess.Popen(
            self.args, cwd=str(self.cwd), env=self.env,
            stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True)
        ServerProcess.started.append(self)
        try:
            wait_for_port(self.port, timeout, self.proc)
        except Exception:
            raise RuntimeError("server failed to start:\n" + self.output())
        return self

    def output(self) -> str:
        """Return what the process printed so far."""
        fd = self.log.fileno()
        # pread leaves alone the offset the process writes at.
        data = os.pread(fd, os.fstat(fd).st_size, 0)
        return data.decode(errors="replace")

    def describe(self) -> str:
        """Name the command, its port and, once ended, its exit status."""
        status = self.proc.poll() if self.proc is not None else None
        return "{} on port {}{}".format(
            " ".join(str(arg) for arg in self.args), self.port,
            "" if status is None else ", exited with {}".format(status))

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send a signal to the whole process group and wait for it."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)

    def stop(self) -> None:
        """Stop the server with SIGTERM (SIGKILL if it lingers)."""
        self.kill(signal.SIGTERM)


def child_processes(parent: int) -> list:
    """List (pid, command line) of the live child processes of a process.

    Reads /proc (Linux); zombies, already ended but not yet waited for,
    are not counted. Elsewhere the list is empty.
    """
    children = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        if int(fields[1]) == parent and fields[0] != "Z":
            children.append((int(entry.name), command.replace(
                b"\0", b" ").decode(errors="replace").strip()))
    return sorted(children)


def base_env(**extra: str) -> dict:
    """Return the current environment with the project's venv first."""
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    env["PATH"] = str(Path(PYTHON).parent) + os.pathsep + env.get("PATH", "")
    env.update({key: str(value) for key, value in extra.items()})
    return env


def http_get_ok(url: str, timeout: float = 10.0) -> requests.Response:
    """Poll a URL until it answers (any status), then return the answer."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return requests.get(url, timeout=2)
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def postgres_throwaway_url(admin_url: str) -> tuple:
    """Create a throw-away PostgreSQL database; return (url, drop function).

    ``admin_url`` points at a database the suite may connect to (such as
    ``postgresql://postgres@127.0.0.1:5432/test``); the new database gets
    a unique name and the returned function drops it again.
    """
    import psycopg

    plain = admin_url.replace("postgresql+psycopg://", "postgresql://")
    name = "t_" + uuid.uuid4().hex[:16]
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute('CREATE DATABASE "{}"'.format(name))
    base, _, _ = plain.rpartition("/")
    url = "{}/{}".format(base, name)

    def drop() -> None:
        """Drop the throw-away database, ending its sessions first."""
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(
                'DROP DATABASE IF EXISTS "{}" WITH (FORCE)'.format(name))

    return url, drop


def multipart(**fields: str) -> Tuple[bytes, str]:
    """Return a multipart/form-data body of the fields and its type."""
    boundary = "fuzzboundary"
    parts = [("--{}\r\nContent-Disposition: form-data; name=\"{}\"\r\n\r\n"
              "{}\r\n").format(boundary, name, value)
             for name, value in fields.items()]
    body = "".join(parts) + "--{}--\r\n".format(boundary)
    return body.encode(), "multipart/form-data; boundary=" + boundary

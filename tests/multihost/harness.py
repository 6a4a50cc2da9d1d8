#!/usr/bin/env python3
"""Several hosts on one machine: Linux network namespaces on a bridge.

``Network.create()`` makes one namespace per host, named
``mh<pid>-<host>`` after the test run's process, and one more,
``mh<pid>-net``, that holds the bridge ``br0``: every host gets a veth
pair whose outer end is a port of that bridge and whose inner end is the
host's ``eth0``, with one address of 198.18.0.0/24 (RFC 2544's range for
network tests). Nothing is added to the root namespace (no link, no
address, no route), and no host has a default route, so no packet of a
host can leave the machine or reach the machine's own services.
``Network.destroy()`` kills every process inside the namespaces and
deletes them; ``remove_leftovers()`` does the same for the namespaces of
runs that were killed outright (their process is gone).

A ``Host`` runs commands inside its namespace (``ip netns exec``), as
child processes of the test run, killed by PID. The test process itself
never opens a socket to a host: the client host's ``Agent`` does, a
Python process in that namespace that runs functions of
``tests.multihost.ops`` on request (a JSON line per call, answers in
JSON lines) and hands back their results.
"""
import concurrent.futures
import itertools
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

from tests.support import PYTHON, ROOT, base_env
from tools.redis_server import redis_server_binary

SUBNET = "198.18.0.0/24"
PREFIX_LENGTH = 24
NAME_PATTERN = re.compile(r"^mh(\d+)-")
BRIDGE = "br0"
RUN_FOLDER_PREFIX = "pytest-run-"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_PORT = 5432
REDIS_PORT = 6379
DB_PASSWORD = "app-secret-pw"
REDIS_PASSWORD = "redis-secret-pw"
SUPERUSER_PASSWORD = "postgres-secret-pw"
# Every address the harness hands out, by host name.
ADDRESSES = {
    "data": "198.18.0.2",
    "api-a": "198.18.0.11", "api-b": "198.18.0.12",
    "auth-a": "198.18.0.21", "auth-b": "198.18.0.22",
    "worker-a": "198.18.0.31", "worker-b": "198.18.0.32",
    "client": "198.18.0.100",
}


class HarnessError(Exception):
    """Raised when the hosts or their services cannot be set up."""


def run(args: list, check: bool = True, timeout: float = 60.0,
        **options: Any) -> subprocess.CompletedProcess:
    """Run a command; raise HarnessError with its output if it fails."""
    done = subprocess.run(args, capture_output=True, text=True,
                          timeout=timeout, **options)
    if check and done.returncode != 0:
        raise HarnessError("{} failed ({}): {}".format(
            " ".join(args), done.returncode,
            (done.stderr or done.stdout).strip()))
    return done


def why_unavailable() -> Optional[str]:
    """Say why namespaces cannot be made here, or None when they can."""
    if os.geteuid() != 0:
        return "not root"
    if shutil.which("ip") is None:
        return "no `ip` command (iproute2)"
    if not (PG_BIN / "postgres").exists():
        return "no PostgreSQL server binaries in {}".format(PG_BIN)
    try:
        redis_server_binary()
    except RuntimeError:
        return "no redis-server"
    name = "mh{}-probe".format(os.getpid())
    done = run(["ip", "netns", "add", name], check=False)
    if done.returncode != 0:
        return "`ip netns add` refused: {}".format(done.stderr.strip())
    run(["ip", "netns", "del", name], check=False)
    return None


def namespaces() -> list:
    """Return the names of the machine's named network namespaces."""
    out = run(["ip", "netns", "list"]).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def _pid_alive(pid: int) -> bool:
    """Tell whether a process with this PID exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kill_inside(name: str) -> None:
    """SIGKILL every process of a namespace and wait until none is left."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        done = run(["ip", "netns", "pids", name], check=False)
        pids = [int(pid) for pid in done.stdout.split()]
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.05)
    raise HarnessError("processes of {} would not die".format(name))


def delete_namespace(name: str) -> None:
    """Kill the processes of a namespace, then delete it."""
    _kill_inside(name)
    run(["ip", "netns", "del", name], check=False)


def remove_leftovers() -> list:
    """Delete the namespaces of runs killed outright; return their names.

    A namespace named ``mh<pid>-...`` whose process no longer exists
    belongs to such a run.
    """
    removed = []
    for name in namespaces():
        match = NAME_PATTERN.match(name)
        if match and not _pid_alive(int(match.group(1))):
            delete_namespace(name)
            removed.append(name)
    return removed


def root_links() -> set:
    """Return the links of the root network namespace that bear the
    names the harness gives links (``br0``, ``p-<host>``, ``eth0``): it
    makes them in its own namespaces only, so new ones here are its
    mistake."""
    out = run(["ip", "-o", "link", "show"]).stdout
    names = {line.split(":")[1].strip().split("@")[0]
             for line in out.splitlines() if ":" in line}
    return {name for name in names
            if name in (BRIDGE, "eth0") or name.startswith("p-")}


class NsProcess:
    """A process started inside a host's namespace, stopped by PID.

    Its output goes to an unnamed temporary file (read by ``output``).
    The process leads a session of its own, so a signal reaches its
    children (granian's workers) too.
    """

    def __init__(self, host: "Host", name: str, args: list, cwd: Path,
                 env: dict) -> None:
        """Start ``args`` in the host's namespace."""
        self.host = host
        self.name = name
        self.args = args
        self.log = tempfile.TemporaryFile(prefix="mh-", suffix=".log")
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", host.namespace] + [str(a) for a in args],
            cwd=str(cwd), env=env, stdout=self.log,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)

    @property
    def pid(self) -> int:
        """Return the PID of the process (``ip`` execs the command)."""
        return self.proc.pid

    def output(self) -> str:
        """Return what the process printed so far."""
        fd = self.log.fileno()
        return os.pread(fd, os.fstat(fd).st_size, 0).decode(
            errors="replace")

    def running(self) -> bool:
        """Tell whether the process still runs."""
        return self.proc.poll() is None

    def send(self, sig: int) -> None:
        """Send a signal to the process's whole group."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
        """Signal the process group, wait; SIGKILL it if it lingers."""
        self.send(sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.send(signal.SIGKILL)
            self.proc.wait(10)

    def wait_output(self, text: str, timeout: float = 60) -> None:
        """Wait until the process printed ``text``; fail if it ends."""
        deadline = time.monotonic() + timeout
        while text not in self.output():
            if self.proc.poll() is not None:
                raise HarnessError("{} ended ({}) before printing {!r}:\n{}"
                                   .format(self.name, self.proc.returncode,
                                           text, self.output()))
            if time.monotonic() > deadline:
                raise HarnessError("{} did not print {!r} in {} s:\n{}"
                                   .format(self.name, text, timeout,
                                           self.output()))
            time.sleep(0.05)

    def wait_listening(self, port: int, timeout: float = 60) -> None:
        """Wait until a socket of the host listens on the port.

        Read from ``/proc/<pid>/net/tcp``, which lists the sockets of
        the process's namespace: no connection is made.
        """
        deadline = time.monotonic() + timeout
        while not self.host.listening(port, self.pid):
            if self.proc.poll() is not None:
                raise HarnessError("{} ended ({}) before listening:\n{}"
                                   .format(self.name, self.proc.returncode,
                                           self.output()))
            if time.monotonic() > deadline:
                raise HarnessError("{} not listening on {} after {} s:\n{}"
                                   .format(self.name, port, timeout,
                                           self.output()))
            time.sleep(0.05)


class Host:
    """One host: a network namespace with an address on the bridge."""

    def __init__(self, network: "Network", name: str, address: str) -> None:
        """Describe the host; ``Network.create`` makes it."""
        self.network = network
        self.name = name
        self.address = address
        self.namespace = "{}-{}".format(network.prefix, name)
        self.port_name = "p-" + name
        self.processes: list = []

    def spawn(self, name: str, args: list, cwd: Path = ROOT,
              **env: str) -> NsProcess:
        """Start a command on this host (with the project's venv)."""
        proc = NsProcess(self, name, args, cwd, base_env(**env))
        self.processes.append(proc)
        self.network.processes.append(proc)
        return proc

    def exec(self, args: list, check: bool = True, timeout: float = 60,
             cwd: Path = ROOT, input: Optional[str] = None,
             **env: str) -> subprocess.CompletedProcess:
        """Run a short command on this host and wait for it."""
        return run(["ip", "netns", "exec", self.namespace]
                   + [str(arg) for arg in args], check=check,
                   timeout=timeout, env=base_env(**env), cwd=str(cwd),
                   input=input)

    def listening(self, port: int, pid: int) -> bool:
        """Tell whether a socket listens on the port in this namespace."""
        try:
            table = Path("/proc/{}/net/tcp".format(pid)).read_text()
        except OSError:
            return False
        wanted = ":{:04X}".format(port)
        for line in table.splitlines()[1:]:
            fields = line.split()
            if fields[1].endswith(wanted) and fields[3] == "0A":
                return True
        return False

    def kill_all(self) -> int:
        """Kill -9 every process of the host (a crash); return how many."""
        done = run(["ip", "netns", "pids", self.namespace], check=False)
        pids = [int(pid) for pid in done.stdout.split()]
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for proc in self.processes:
            try:
                proc.proc.wait(15)
            except subprocess.TimeoutExpired:
                pass
        _kill_inside(self.namespace)
        return len(pids)

    def link(self, up: bool) -> None:
        """Plug the host's cable in or pull it (its bridge port's state).

        With the bridge port down the host's own interface loses its
        carrier: packets are dropped on the way, as when a switch port
        or a cable fails, and connections stay open on both sides.
        """
        self.network.bridge_ns(["link", "set", self.port_name,
                                "up" if up else "down"])


class Network:
    """The run's hosts on one bridge, in namespaces of their own."""

    def __init__(self, hosts: Iterable[str] = tuple(ADDRESSES)) -> None:
        """Name the namespaces after this process; create nothing yet."""
        self.prefix = "mh{}".format(os.getpid())
        self.bridge_namespace = self.prefix + "-net"
        self.hosts = {name: Host(self, name, ADDRESSES[name])
                      for name in hosts}
        self.processes: list = []
        self.created: list = []

    def __getitem__(self, name: str) -> Host:
        """Return a host by name."""
        return self.hosts[name]

    def bridge_ns(self, args: list) -> None:
        """Run an ``ip`` command in the bridge's namespace."""
        run(["ip", "-n", self.bridge_namespace] + args)

    def create(self) -> "Network":
        """Make the bridge's namespace, then every host on the bridge."""
        try:
            self._add_namespace(self.bridge_namespace)
            self.bridge_ns(["link", "add", BRIDGE, "type", "bridge"])
            self.bridge_ns(["link", "set", BRIDGE, "up"])
            self.bridge_ns(["link", "set", "lo", "up"])
            for host in self.hosts.values():
                self._add_host(host)
        except BaseException:
            self.destroy()
            raise
        return self

    def _add_namespace(self, name: str) -> None:
        """Create a namespace and remember to delete it."""
        run(["ip", "netns", "add", name])
        self.created.append(name)

    def _add_host(self, host: Host) -> None:
        """Create a host's namespace and plug it into the bridge."""
        self._add_namespace(host.namespace)
        self.bridge_ns(["link", "add", host.port_name, "type", "veth",
                        "peer", "name", "eth0", "netns", host.namespace])
        self.bridge_ns(["link", "set", host.port_name, "master", BRIDGE])
        self.bridge_ns(["link", "set", host.port_name, "up"])
        inside = ["ip", "-n", host.namespace]
        run(inside + ["addr", "add", "{}/{}".format(
            host.address, PREFIX_LENGTH), "dev", "eth0"])
        run(inside + ["link", "set", "eth0", "up"])
        run(inside + ["link", "set", "lo", "up"])

    def destroy(self) -> list:
        """Stop every process, delete every namespace; return what was
        still there afterwards (should be nothing)."""
        for proc in self.processes:
            proc.send(signal.SIGKILL)
        for proc in self.processes:
            try:
                proc.proc.wait(15)
            except subprocess.TimeoutExpired:
                pass
        for name in reversed(self.created):
            delete_namespace(name)
        self.created = []
        return [name for name in namespaces()
                if name.startswith(self.prefix + "-")]


class DataHost:
    """The data host's services: a PostgreSQL cluster and a Redis server.

    Both keep their files in a folder of the run's temp folder. The
    cluster belongs to the ``postgres`` system user (PostgreSQL refuses
    to run as root): its folder, and execute permission on the run's
    temp folder, are given to that user.
    """

    def __init__(self, host: Host) -> None:
        """Prepare the folders of the data host's services."""
        self.host = host
        self.folder = Path(tempfile.mkdtemp(prefix="multihost-data-"))
        self.folder.chmod(0o711)
        parent = self.folder.parent
        if not parent.stat().st_mode & 0o001:
            if not parent.name.startswith(RUN_FOLDER_PREFIX):
                raise HarnessError("the postgres user cannot enter {}"
                                   .format(parent))
            # The test run's private temp folder: others may traverse
            # it (not list it), so that PostgreSQL reaches its folder.
            parent.chmod(parent.stat().st_mode | 0o001)
        self.pg_dir = self.folder / "pg"
        self.redis_dir = self.folder / "redis"
        self.redis_dir.mkdir()
        self.postgres: Optional[NsProcess] = None
        self.redis: Optional[NsProcess] = None
        user = pwd.getpwnam("postgres")
        self.pg_user = (user.pw_uid, user.pw_gid)
        self._databases = itertools.count(1)

    def as_postgres(self, args: list) -> list:
        """Return a command run as the ``postgres`` system user."""
        uid, gid = self.pg_user
        return ["setpriv", "--reuid={}".format(uid),
                "--regid={}".format(gid), "--clear-groups"] + args

    def postgres_command(self) -> list:
        """Return the server command (the one docs/deploy.md shows)."""
        return [str(PG_BIN / "postgres"), "-D", str(self.pg_dir),
                "-c", "listen_addresses={}".format(self.host.address),
                "-c", "port={}".format(PG_PORT),
                "-c", "unix_socket_directories=",
                "-c", "max_connections=200",
                "-c", "shared_buffers=32MB"]

    def start_postgres(self) -> None:
        """initdb a cluster, allow the hosts' subnet, start the server."""
        self.pg_dir.mkdir()
        os.chown(self.pg_dir, *self.pg_user)
        password_file = self.folder / "pg-password"
        password_file.write_text(SUPERUSER_PASSWORD + "\n")
        os.chown(password_file, *self.pg_user)
        run(self.as_postgres([
            str(PG_BIN / "initdb"), "-D", str(self.pg_dir), "-U", "postgres",
            "--auth-local=peer", "--auth-host=scram-sha-256",
            "--pwfile", str(password_file), "-E", "UTF8", "--no-sync"]),
            timeout=120)
        password_file.unlink()
        with open(self.pg_dir / "pg_hba.conf", "a") as hba:
            hba.write("host all all {} scram-sha-256\n".format(SUBNET))
        self.postgres = self.host.spawn(
            "postgres", self.as_postgres(self.postgres_command()))
        deadline = time.monotonic() + 60
        while self.host.exec([str(PG_BIN / "pg_isready"), "-q", "-h",
                              self.host.address, "-p", str(PG_PORT)],
                             check=False).returncode != 0:
            if not self.postgres.running() or time.monotonic() > deadline:
                raise HarnessError("PostgreSQL did not start:\n"
                                   + self.postgres.output())
            time.sleep(0.1)
        self.psql("CREATE ROLE app LOGIN PASSWORD '{}'".format(DB_PASSWORD))

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run SQL as the superuser over the network; return the rows."""
        return self.host.exec(
            ["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
             "-h", self.host.address, "-U", "postgres", "-d", database,
             "-c", sql], PGPASSWORD=SUPERUSER_PASSWORD).stdout

    def create_database(self) -> str:
        """Create a new database owned by ``app``; return its URL."""
        name = "app{}".format(next(self._databases))
        self.psql("CREATE DATABASE {} OWNER app".format(name))
        return "postgresql://app:{}@{}:{}/{}".format(
            DB_PASSWORD, self.host.address, PG_PORT, name)

    def redis_command(self) -> list:
        """Return the Redis command (the one docs/deploy.md shows)."""
        return [redis_server_binary(), "--bind", self.host.address,
                "--port", str(REDIS_PORT), "--requirepass", REDIS_PASSWORD,
                "--appendonly", "yes", "--appendfsync", "always",
                "--save", "", "--maxmemory-policy", "noeviction",
                "--dir", str(self.redis_dir), "--daemonize", "no"]

    def redis_url(self, database: int = 0) -> str:
        """Return the URL of a database of the data host's Redis."""
        return "redis://:{}@{}:{}/{}".format(
            REDIS_PASSWORD, self.host.address, REDIS_PORT, database)

    def start_redis(self) -> None:
        """Start Redis (on its append-only file, if there is one)."""
        self.redis = self.host.spawn("redis", self.redis_command())
        deadline = time.monotonic() + 60
        while self.redis_cli("PING", check=False).strip() != "PONG":
            if not self.redis.running() or time.monotonic() > deadline:
                raise HarnessError("Redis did not start:\n"
                                   + self.redis.output())
            time.sleep(0.05)

    def redis_cli(self, *command: str, check: bool = True) -> str:
        """Run one Redis command with redis-cli on the data host."""
        return self.host.exec(
            ["redis-cli", "-h", self.host.address, "-p", str(REDIS_PORT),
             "--no-auth-warning", "-a", REDIS_PASSWORD] + list(command),
            check=check).stdout

    def stop(self) -> None:
        """Stop both servers and remove their files."""
        for proc in (self.redis, self.postgres):
            if proc is not None:
                proc.stop(signal.SIGKILL)
        shutil.rmtree(self.folder, ignore_errors=True)


class AgentError(Exception):
    """Raised when a call made through the agent failed."""


class Agent:
    """The client host's Python process, running ops on request."""

    def __init__(self, host: Host) -> None:
        """Start the agent in the host's namespace."""
        self.host = host
        self.log = tempfile.TemporaryFile(prefix="mh-agent-", suffix=".log")
        env = base_env(PYTHONPATH=os.pathsep.join(
            [str(ROOT), str(ROOT / "queuing_system")]))
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", host.namespace, PYTHON, "-m",
             "tests.multihost.agent"], cwd=str(ROOT), env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
            text=True, start_new_session=True)
        self._ids = itertools.count(1)
        self._futures: dict = {}
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True,
                                        name="agent-reader")
        self._reader.start()

    def _read(self) -> None:
        """Hand each answer line to the future of its call."""
        for line in self.proc.stdout:
            answer = json.loads(line)
            with self._lock:
                future = self._futures.pop(answer["id"], None)
            if future is None:
                continue
            if answer["ok"]:
                future.set_result(answer["result"])
            else:
                future.set_exception(AgentError(answer["error"]))
        with self._lock:
            pending, self._futures = self._futures, {}
        for future in pending.values():
            future.set_exception(AgentError("the agent ended:\n"
                                            + self.output()))

    def start(self, fn: str, *args: Any,
              **kwargs: Any) -> concurrent.futures.Future:
        """Call ``ops.<fn>`` in the agent; return the future result."""
        future: concurrent.futures.Future = concurrent.futures.Future()
        call_id = next(self._ids)
        with self._lock:
            self._futures[call_id] = future
        line = json.dumps({"id": call_id, "fn": fn, "args": args,
                           "kwargs": kwargs})
        with self._lock:
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
        return future

    def call(self, fn: str, *args: Any, timeout: float = 120,
             **kwargs: Any) -> Any:
        """Call ``ops.<fn>`` in the agent and wait for its result."""
        return self.start(fn, *args, **kwargs).result(timeout)

    def output(self) -> str:
        """Return what the agent wrote on stderr."""
        fd = self.log.fileno()
        return os.pread(fd, os.fstat(fd).st_size, 0).decode(
            errors="replace")

    def stop(self) -> None:
        """End the agent (closing its input), then make sure it ended."""
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self._reader.join(10)


def wait_until(predicate: Callable[[], Any], timeout: float,
               what: str, interval: float = 0.05) -> Any:
    """Poll a condition until it is true; fail naming it after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("not reached in {} s: {}".format(
                timeout, what))
        time.sleep(interval)

#!/usr/bin/env python3
"""Fixtures of the multi-host tests: hosts, data services, app servers.

``cluster`` (one per run, shared by these tests) is the hosts of
``harness.ADDRESSES`` on their bridge, the data host's PostgreSQL and
Redis, and the client host's agent; each test gets it with Redis
flushed and stops the app servers it started. Where namespaces cannot
be made (not root, no ``ip``), every test here is skipped with one line
saying why.
"""
import os
import signal
from pathlib import Path
from typing import Iterator, Optional

import pytest

from tests.multihost import harness
from tests.support import PYTHON, ROOT

SA_DIR = ROOT / "session_authentication"
UAS_DIR = ROOT / "user_authentication_service"
QS_DIR = ROOT / "queuing_system"
API_PORT = 5000
STOCK_PORT = 1245
SEAT_PORT = 1246
ADMIN = "admin@multihost.example"
ADMIN_PASSWORD = "admin-pw-1"
# Short locks, so that the jobs of a dead or cut-off worker run again
# within seconds (the worker command's defaults are 30 s).
WORKER_FLAGS = ["--lock-duration", "2000", "--stalled-interval", "1000",
                "--max-stalled-count", "5"]


class Cluster:
    """The run's hosts and services, with helpers to start app servers."""

    def __init__(self, network: harness.Network, data: harness.DataHost,
                 agent: harness.Agent) -> None:
        """Bundle the network, the data host and the client's agent."""
        self.network = network
        self.data = data
        self.agent = agent
        self.started: list = []

    def __getitem__(self, name: str) -> harness.Host:
        """Return a host by name."""
        return self.network[name]

    def _spawn(self, host: str, name: str, args: list, cwd: Path,
               **env: str) -> harness.NsProcess:
        """Start a process on a host; it is stopped after the test."""
        proc = self.network[host].spawn(name, args, cwd, MH_HOST=host,
                                        **env)
        self.started.append(proc)
        return proc

    def users_api(self, host: str, auth_type: str, database_url: str,
                  **env: str) -> str:
        """Start the users API's production server on a host.

        Returns its base URL (``http://<address>:5000/api/v1``).
        """
        settings = dict(
            AUTH_TYPE=auth_type, DATABASE_URL=database_url,
            REDIS_URL=self.data.redis_url(0),
            RATELIMIT_STORAGE_URI=self.data.redis_url(1),
            API_HOST=self.network[host].address, API_PORT=str(API_PORT),
            SESSION_NAME="_my_session_id", BCRYPT_ROUNDS="4",
            ACCESS_LOG="0")
        settings.update(env)
        proc = self._spawn(host, "users API", [
            PYTHON, "-m", "api.v1.serve", "--workers", "1", "--threads",
            "4"], SA_DIR, **settings)
        proc.wait_listening(API_PORT)
        return "http://{}:{}/api/v1".format(self.network[host].address,
                                            API_PORT)

    def add_admin(self, host: str, database_url: str) -> None:
        """Create the admin user with the users API's command on a host."""
        self.network[host].exec(
            [PYTHON, "-m", "api.v1.cli", "create", ADMIN], cwd=SA_DIR,
            input=ADMIN_PASSWORD + "\n", DATABASE_URL=database_url,
            BCRYPT_ROUNDS="4")

    def auth_service(self, host: str, database_url: str,
                     **env: str) -> str:
        """Start the authentication service on granian on a host."""
        settings = dict(DATABASE_URL=database_url, BCRYPT_ROUNDS="4",
                        RATELIMIT_STORAGE_URI=self.data.redis_url(1))
        settings.update(env)
        address = self.network[host].address
        proc = self._spawn(host, "auth service", [
            "granian", "--interface", "wsgi", "--host", address, "--port",
            str(API_PORT), "--workers", "1", "--blocking-threads", "4",
            "--no-ws", "app:app"], UAS_DIR, **settings)
        proc.wait_listening(API_PORT)
        return "http://{}:{}".format(address, API_PORT)

    def queue_app(self, host: str, module: str, port: int) -> str:
        """Start ``9-stock`` or ``100-seat`` on granian on a host."""
        address = self.network[host].address
        proc = self._spawn(host, module, [
            "granian", "--interface", "wsgi", "--host", address, "--port",
            str(port), "--workers", "1", "--blocking-threads", "4",
            "--no-ws", module + ":app"], QS_DIR,
            REDIS_URL=self.data.redis_url(0))
        proc.wait_listening(port)
        return "http://{}:{}".format(address, port)

    def worker(self, host: str, queues: list,
               flags: Optional[list] = None) -> harness.NsProcess:
        """Start ``python3 -m worker`` on a host; wait until it works."""
        args = [PYTHON, "-m", "worker"]
        for queue in queues:
            args += ["--queue", queue]
        proc = self._spawn(host, "worker", args + (
            WORKER_FLAGS if flags is None else flags), QS_DIR,
            REDIS_URL=self.data.redis_url(0), PYTHONPATH=str(ROOT))
        proc.wait_output("worker: processing")
        return proc

    def login(self, url: str, email: str = ADMIN,
              password: str = ADMIN_PASSWORD) -> dict:
        """Log in to the users API at ``url``; return the cookie."""
        answer = self.agent.call("http", "POST", url + "/auth_session/login",
                                 data={"email": email,
                                       "password": password})
        assert answer["status"] == 200, answer
        return answer["cookies"]

    def stop_started(self) -> None:
        """Stop the app servers of the test (SIGKILL: nothing to keep)."""
        for proc in self.started:
            proc.stop(signal.SIGKILL)
        self.started = []

    def outputs(self) -> str:
        """Return the output of the test's servers, for a failure."""
        return "\n".join("--- {} on {}:\n{}".format(
            proc.name, proc.host.name, proc.output()[-4000:])
            for proc in self.started)


UNAVAILABLE = pytest.StashKey[Optional[str]]()


def _skip_reason(config: pytest.Config) -> Optional[str]:
    """Say (once per run) why the hosts cannot be made, or None."""
    if UNAVAILABLE not in config.stash:
        reason = harness.why_unavailable()
        config.stash[UNAVAILABLE] = None if reason is None else (
            "multi-host tests need network namespaces (root and "
            "iproute2): {}".format(reason))
    return config.stash[UNAVAILABLE]


def pytest_collection_modifyitems(config: pytest.Config,
                                  items: list) -> None:
    """Where hosts cannot be made, skip one test saying why, and
    deselect the other multi-host tests: one line in the summary."""
    here = Path(__file__).parent
    ours = [item for item in items if here in Path(item.path).parents]
    if not ours or _skip_reason(config) is None:
        return
    ours[0].add_marker(pytest.mark.skip(reason=_skip_reason(config)))
    rest = set(ours[1:])
    config.hook.pytest_deselected(items=list(rest))
    items[:] = [item for item in items if item not in rest]


@pytest.fixture(scope="session")
def _cluster(pytestconfig: pytest.Config) -> Iterator[Cluster]:
    """Make the hosts and data services once for the run's tests."""
    reason = _skip_reason(pytestconfig)
    if reason is not None:
        pytest.skip(reason)
    removed = harness.remove_leftovers()
    if removed:
        print("\nmultihost: removed namespaces of killed runs: {}".format(
            ", ".join(removed)))
    links_before = harness.root_links()
    network = harness.Network().create()
    data = agent = None
    try:
        data = harness.DataHost(network["data"])
        data.start_postgres()
        data.start_redis()
        agent = harness.Agent(network["client"])
        yield Cluster(network, data, agent)
    finally:
        if agent is not None:
            agent.stop()
        if data is not None:
            data.stop()
        left = network.destroy()
        new_links = harness.root_links() - links_before
        assert not left, "namespaces left behind: {}".format(left)
        assert not new_links, "links left in the root namespace: {}".format(
            new_links)


@pytest.fixture
def cluster(_cluster: Cluster,
            request: pytest.FixtureRequest) -> Iterator[Cluster]:
    """Yield the hosts with Redis flushed; stop the test's servers after."""
    _cluster.data.redis_cli("FLUSHALL")
    for host in _cluster.network.hosts.values():
        host.link(True)
    yield _cluster
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print(_cluster.outputs())
    _cluster.stop_started()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item,
                              call: pytest.CallInfo) -> Iterator:
    """Keep each phase's report on the test, for the fixture above."""
    report = yield
    setattr(item, "rep_" + report.when, report)
    return report


def long_mode() -> bool:
    """Tell whether MULTIHOST_LONG asks for the long variants."""
    return os.environ.get("MULTIHOST_LONG", "") not in ("", "0")

#!/usr/bin/env python3
"""Shared fixtures: real Redis, throw-away databases, free ports.

Redis: ``TEST_REDIS_URL`` when set (the suite FLUSHes that database, so
never point it at data you keep), else a server the suite starts itself
on a free port. PostgreSQL: ``TEST_POSTGRES_URL`` when set (each test
gets a throw-away database created and dropped on that server), else the
PostgreSQL variants of the tests are skipped with that reason.

Temporary files: each run makes a private temp folder and points
``TMPDIR`` (so every process it starts) and ``tempfile`` at it. At the
end it lists what tests and servers left there and the server processes
still running, fails the run if there is any, and removes the folder, so
a run leaves nothing behind even when a test fails. Concurrent runs on
the same machine each see only their own folder.
"""
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from typing import Callable, Iterator

import pytest
import redis

from tests.support import RedisServer, ServerProcess, child_processes

pytest_plugins = ["tests.browser", "tests.live_apps"]

POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "")
RUN_TEMP = pytest.StashKey[dict]()
LEFTOVERS = pytest.StashKey[list]()


RUN_PREFIX = "pytest-run-"


def _interrupt(signum: int, frame: object) -> None:
    """End the run on SIGTERM as on Ctrl-C, so that it still cleans up."""
    raise KeyboardInterrupt("stopped by signal {}".format(signum))


def _remove_folders_of_dead_runs(root: Path) -> None:
    """Remove the temp folders of runs killed outright (SIGKILL).

    A folder is named ``pytest-run-<pid>-...`` after the run's process;
    one whose process no longer exists is left over.
    """
    for folder in root.glob(RUN_PREFIX + "*-*"):
        pid = folder.name[len(RUN_PREFIX):].split("-", 1)[0]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except PermissionError:
            pass


def pytest_configure(config: pytest.Config) -> None:
    """Give this run a private temp folder, inherited by its processes.

    An xdist worker inherits the folder of the run that started it.
    SIGTERM ends the run as Ctrl-C does, and folders of earlier runs
    killed outright are removed.
    """
    if hasattr(config, "workerinput"):
        return
    sigterm = signal.signal(signal.SIGTERM, _interrupt)
    _remove_folders_of_dead_runs(Path(tempfile.gettempdir()))
    folder = tempfile.mkdtemp(prefix="{}{}-".format(RUN_PREFIX, os.getpid()))
    config.stash[RUN_TEMP] = {"folder": folder, "sigterm": sigterm,
                              "TMPDIR": os.environ.get("TMPDIR"),
                              "tempdir": tempfile.tempdir}
    os.environ["TMPDIR"] = folder
    tempfile.tempdir = folder


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    """Fail the run if it left temp files or running processes.

    Runs after pytest removed its own tmp_path folders (``pytest-of-*``
    holds only failed tests' ones, see tmp_path_retention_policy); the
    leftovers are listed in the summary, then removed or stopped.
    """
    run_temp = session.config.stash.get(RUN_TEMP, None)
    if run_temp is None:
        return
    folder = Path(run_temp["folder"])
    left = ["temp: " + entry.name for entry in sorted(folder.iterdir())
            if not entry.name.startswith("pytest-of-")]
    for pid, command in child_processes(os.getpid()):
        left.append("process {}: {}".format(pid, command))
    session.config.stash[LEFTOVERS] = left
    if left and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter,
                            config: pytest.Config) -> None:
    """Print the fuzz tests' request counts; say loudly what this run
    left behind, if anything."""
    fuzz = sys.modules.get("tests.test_fuzz_apps")
    if fuzz is not None and fuzz.REQUESTS:
        terminalreporter.write_sep("-", "fuzz requests sent per app")
        for kind, count in sorted(fuzz.REQUESTS.items()):
            stateful = getattr(fuzz, "STATEFUL_REQUESTS", {}).get(kind)
            statuses = getattr(fuzz, "STATUSES", {}).get(kind)
            logins = getattr(fuzz, "LOGINS", {}).get(kind)
            terminalreporter.write_line("{}: {}{}{}{}".format(
                kind, count, " ({} in stateful scenarios)".format(stateful)
                if stateful else "", "; answers 2xx {}, 401/403 {}".format(
                    sum(n for code, n in statuses.items() if code < 300),
                    statuses[401] + statuses[403]) if statuses else "",
                "; fuzz user logged in {} times".format(logins)
                if logins else "") + (
                "; stored {} times".format(fuzz.RESTORES[kind])
                if getattr(fuzz, "RESTORES", {}).get(kind) else "") + (
                "; scenarios cut short (server state moved on)"
                if getattr(fuzz, "STATEFUL_CUT", {}).get(kind) else ""))
        terminalreporter.write_line("total: {}".format(
            sum(fuzz.REQUESTS.values())))
    left = config.stash.get(LEFTOVERS, [])
    if left:
        terminalreporter.write_sep(
            "!", "this run left {} thing(s) behind (removed now)".format(
                len(left)), red=True, bold=True)
        for line in left:
            terminalreporter.write_line(line, red=True)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Stop leftover processes, remove the run's temp folder, restore."""
    run_temp = config.stash.get(RUN_TEMP, None)
    if run_temp is None:
        return
    for pid, _ in child_processes(os.getpid()):
        try:
            if os.getpgid(pid) == pid:
                os.killpg(pid, signal.SIGKILL)
            else:
                os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    shutil.rmtree(run_temp["folder"], ignore_errors=True)
    signal.signal(signal.SIGTERM, run_temp["sigterm"])
    tempfile.tempdir = run_temp["tempdir"]
    if run_temp["TMPDIR"] is None:
        os.environ.pop("TMPDIR", None)
    else:
        os.environ["TMPDIR"] = run_temp["TMPDIR"]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Forget the servers of earlier tests."""
    ServerProcess.started.clear()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item,
                              call: pytest.CallInfo) -> Iterator:
    """Add the output of the test's servers to the report of a failure."""
    report = yield
    if report.failed:
        for server in ServerProcess.started:
            report.sections.append(
                ("server output: " + server.describe(), server.output()))
    return report


def pytest_report_header(config: pytest.Config) -> list:
    """Say in the header which real services this run talks to."""
    lines = []
    if POSTGRES_ADMIN_URL:
        lines.append("postgres: throw-away databases on TEST_POSTGRES_URL")
    else:
        lines.append("postgres: TEST_POSTGRES_URL is not set, "
                     "PostgreSQL variants are skipped")
    if os.environ.get("TEST_REDIS_URL"):
        lines.append("redis: TEST_REDIS_URL (flushed by the suite)")
    else:
        lines.append("redis: a server started by the suite on a free port")
    run_temp = config.stash.get(RUN_TEMP, None)
    if run_temp is not None:
        lines.append("temp: {} (TMPDIR of this run, removed at its end; "
                     "--basetemp=DIR keeps failed tests' tmp_path)".format(
                         run_temp["folder"]))
    return lines


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    """Yield the URL of the suite's Redis server for the whole run."""
    given = os.environ.get("TEST_REDIS_URL")
    if given:
        yield given
        return
    server = RedisServer().start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server: str) -> Iterator[str]:
    """Yield the suite's Redis URL with its database flushed first."""
    client = redis.Redis.from_url(redis_server)
    client.flushdb()
    client.close()
    yield redis_server


@pytest.fixture
def redis_server_factory() -> Iterator[Callable[[], RedisServer]]:
    """Yield a function that starts extra Redis servers (stopped after).

    For tests that stop Redis on purpose (outages) and start it again.
    """
    started = []

    def make(port: int = 0) -> RedisServer:
        """Start and return a new Redis server."""
        server = RedisServer(port or None).start()
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


def _sqlite_url(tmp_path: Path) -> str:
    """Return the URL of a fresh SQLite file in the test's folder."""
    return "sqlite:///{}".format(tmp_path / "test.db")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """Return the URL of a throw-away SQLite file for this test."""
    return _sqlite_url(tmp_path)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """Yield the URL of a throw-away PostgreSQL database (or skip)."""
    if not POSTGRES_ADMIN_URL:
        pytest.skip("TEST_POSTGRES_URL is not set")
    from tests.support import postgres_throwaway_url

    url, drop = postgres_throwaway_url(POSTGRES_ADMIN_URL)
    try:
        yield url
    finally:
        drop()


@pytest.fixture(params=["sqlite", pytest.param(
    "postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Return a throw-away database URL: once SQLite, once PostgreSQL."""
    if request.param == "sqlite":
        return _sqlite_url(tmp_path)
    return request.getfixturevalue("postgres_url")

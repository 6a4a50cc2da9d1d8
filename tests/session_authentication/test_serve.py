#!/usr/bin/env python3
"""Start-up rules of the users API servers, run as real commands.

A configuration the API cannot run with stops both the development
server (``python3 -m api.v1.app``) and the production server
(``python3 -m api.v1.serve``) with one line on stderr and status 2,
never a traceback; memory-session modes run in exactly one process. The
production server refuses a port already in use (even by another
instance of itself), says "listening" only once it accepts connections,
and logs one line per request unless ACCESS_LOG=0.
"""
import os
import re
import signal
import time
import socket
import subprocess
from pathlib import Path
from typing import Callable, List

import pytest

from tests.session_authentication.conftest import SA_DIR, Api
from tests.support import PYTHON, ServerProcess, base_env, free_port

APP = ["-m", "api.v1.app"]
SERVE = ["-m", "api.v1.serve"]
EMAIL = "bob@hbtn.io"
PASSWORD = "H0lbertonSchool98!"
# For tests whose outcome does not depend on the database kind.
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"],
                                      indirect=True)


def run_refused(args: List[str], tmp_path: Path, **env: str) -> str:
    """Run a server command that must refuse to start; return its line."""
    environment = base_env(PYTHONPATH=str(SA_DIR), API_HOST="127.0.0.1",
                           API_PORT="1", BCRYPT_ROUNDS="4",
                           DATABASE_URL="sqlite:///{}".format(
                               tmp_path / "refused.db"))
    environment.pop("AUTH_TYPE", None)
    environment.update(env)
    done = subprocess.run([PYTHON] + args, cwd=tmp_path, env=environment,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr + done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("users API cannot start: ")
    return lines[0]


@pytest.mark.parametrize("auth_type, workers", [
    ("session_auth", ["--workers", "3"]),
    ("session_exp_auth", ["--workers", "2"])])
def test_memory_sessions_refuse_several_workers(
        tmp_path: Path, auth_type: str, workers: List[str]) -> None:
    """Memory sessions cannot be spread over processes: exit 2, one line."""
    line = run_refused(SERVE + workers, tmp_path, AUTH_TYPE=auth_type)
    assert auth_type in line and "session_db_auth" in line


def test_memory_sessions_refuse_web_concurrency(tmp_path: Path) -> None:
    """WEB_CONCURRENCY=3 is refused the same way as --workers 3."""
    line = run_refused(SERVE, tmp_path, AUTH_TYPE="session_auth",
                       WEB_CONCURRENCY="3")
    assert "3 worker processes" in line


@pytest.mark.parametrize("command", [APP, SERVE], ids=["app", "serve"])
def test_unknown_auth_type_is_refused(tmp_path: Path,
                                      command: List[str]) -> None:
    """An unknown AUTH_TYPE names itself and the valid ones; exit 2."""
    line = run_refused(command, tmp_path, AUTH_TYPE="sesion_auth")
    assert "sesion_auth" in line and "session_db_auth" in line


@pytest.mark.parametrize("setting", [
    {"LOGIN_RATE_LIMIT": "garbage"}, {"RATELIMIT_STORAGE_URI": "bogus://"}],
    ids=["limit", "storage"])
def test_bad_rate_limit_settings_are_refused(tmp_path: Path,
                                             setting: dict) -> None:
    """A malformed limit or limit storage names itself; exit 2."""
    line = run_refused(APP, tmp_path, **setting)
    assert list(setting)[0] in line


@pytest.mark.parametrize("command", [APP, SERVE], ids=["app", "serve"])
@pytest.mark.parametrize("url", [
    "postgresql://nobody@127.0.0.1:1/x",
    "sqlite:////nonexistent-folder/users.db"], ids=["postgres", "sqlite"])
def test_unreachable_database_is_refused(tmp_path: Path, command: List[str],
                                         url: str) -> None:
    """A database that cannot be reached stops the server; exit 2."""
    line = run_refused(command, tmp_path, AUTH_TYPE="session_db_auth",
                       DATABASE_URL=url)
    assert "cannot prepare the database" in line


def test_unreachable_redis_is_refused_by_serve(tmp_path: Path) -> None:
    """The production server checks Redis before serving Redis sessions."""
    line = run_refused(SERVE, tmp_path, AUTH_TYPE="session_redis_auth",
                       REDIS_URL="redis://127.0.0.1:1/0")
    assert "Connection" in line


@pytest.mark.parametrize("bad", [["--workers", "-1"], ["--threads", "0"]])
def test_bad_worker_counts_are_usage_errors(tmp_path: Path,
                                            bad: List[str]) -> None:
    """Counts below 1 or not numbers are argparse errors: exit 2."""
    done = subprocess.run(
        [PYTHON] + SERVE + bad, cwd=tmp_path,
        env=base_env(PYTHONPATH=str(SA_DIR)), capture_output=True,
        text=True, timeout=60)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "error: argument" in done.stderr


def test_memory_sessions_served_by_one_process(
        api_env: dict, tmp_path: Path, make_user: Callable) -> None:
    """Without --workers, session_auth runs one process: sessions hold."""
    port = free_port()
    env = dict(api_env, AUTH_TYPE="session_auth", API_PORT=str(port))
    env.pop("WEB_CONCURRENCY", None)
    server = ServerProcess([PYTHON] + SERVE, cwd=tmp_path, env=env,
                           port=port)
    try:
        server.start()
        api = Api(server)
        make_user(EMAIL, PASSWORD)
        login = api.login(EMAIL, PASSWORD)
        assert login.status_code == 200, login.text
        cookies = {"_my_session_id": login.cookies["_my_session_id"]}
        for _ in range(20):
            assert api.get("/users/me", cookies=cookies).status_code == 200
        assert "with 1 worker process(es)" in server.output()
    finally:
        server.kill()


def test_port_taken_by_another_program_is_refused(tmp_path: Path) -> None:
    """A port some other socket listens on: one line, exit 2."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        line = run_refused(SERVE + ["--workers", "1"], tmp_path,
                           API_PORT=str(port))
    assert line == ("users API cannot start: port {} on 127.0.0.1 is "
                    "already in use".format(port))


@SQLITE_ONLY
def test_port_taken_by_another_instance_is_refused(
        tmp_path: Path, start_api: Callable) -> None:
    """A second server on the same port does not share it (granian sets
    SO_REUSEPORT): it stops with one line; the first keeps serving."""
    first = start_api("session_db_auth", production=True, workers=2)
    line = run_refused(SERVE + ["--workers", "2"], tmp_path,
                       AUTH_TYPE="session_db_auth",
                       API_PORT=str(first.server.port))
    assert line.endswith("port {} on 127.0.0.1 is already in use".format(
        first.server.port))
    assert first.get("/status").status_code == 200


@SQLITE_ONLY
def test_listening_line_comes_once_connections_are_accepted(
        api_env: dict, tmp_path: Path) -> None:
    """Right after the "listening" line, a first connection succeeds."""
    port = free_port()
    server = subprocess.Popen(
        [PYTHON] + SERVE + ["--workers", "2"], cwd=tmp_path,
        env=dict(api_env, AUTH_TYPE="session_db_auth", API_PORT=str(port)),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True)
    try:
        line = server.stdout.readline()
        assert "listening on http://127.0.0.1:{}".format(port) in line
        socket.create_connection(("127.0.0.1", port), timeout=10).close()
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(15)
        server.stdout.close()


def access_log_of(start_api: Callable, **env: str) -> List[str]:
    """Send two requests carrying secrets to a production server, stop
    it gracefully, and return the lines it printed about requests."""
    api: Api = start_api("session_db_auth", production=True, workers=1,
                         **env)
    status = api.get("/status?token=QUERY-SECRET",
                     cookies={"_my_session_id": "COOKIE-SECRET"},
                     headers={"Authorization": "Basic SEADER-SECRET"})
    assert status.status_code == 200
    assert api.get("/users").status_code == 401
    # granian writes a request's line just after handing its response
    # over (granian/wsgi.py: response_bytes, then access_log), so the
    # client can hold the 401 before the line exists, and a stop at that
    # moment ends the worker before it is written. Wait for the lines
    # of both answers (when logging is on) before stopping.
    if env.get("ACCESS_LOG") != "0":
        deadline = time.monotonic() + 10
        while len(request_lines(api.server.output())) < 2 and \
                time.monotonic() < deadline:
            time.sleep(0.01)
    # SIGTERM to the main process only: granian then stops its workers
    # gracefully.
    api.server.proc.send_signal(signal.SIGTERM)
    assert api.server.proc.wait(30) == 0
    printed = api.server.output()
    for secret in ("QUERY-SECRET", "COOKIE-SECRET", "SEADER-SECRET"):
        assert secret not in printed
    return request_lines(printed)


def request_lines(printed: str) -> List[str]:
    """Return the access-log lines (about /api/v1/ requests) printed."""
    return [line for line in printed.splitlines() if "/api/v1/" in line
            and "listening" not in line]


@SQLITE_ONLY
def test_access_log_has_one_line_per_request(start_api: Callable) -> None:
    """Method, path, status and duration; no query, cookie or header."""
    lines = access_log_of(start_api)
    assert len(lines) == 2, lines
    assert re.search(r'"GET /api/v1/status HTTP/1.1" 200 [0-9.]+ms$',
                     lines[0]), lines
    assert re.search(r'"GET /api/v1/users HTTP/1.1" 401 [0-9.]+ms$',
                     lines[1]), lines


@SQLITE_ONLY
def test_access_log_off_with_access_log_0(start_api: Callable) -> None:
    """ACCESS_LOG=0 turns the request lines off."""
    assert access_log_of(start_api, ACCESS_LOG="0") == []


@pytest.mark.parametrize("port", ["http", "0", "70000"])
def test_bad_api_port_is_refused(tmp_path: Path, port: str) -> None:
    """API_PORT must be a port number; exit 2, one line naming it."""
    line = run_refused(SERVE, tmp_path, API_PORT=port)
    assert "API_PORT={!r}".format(port) in line

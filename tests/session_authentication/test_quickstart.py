#!/usr/bin/env python3
"""The README's users-API quick start, run as written.

The commands are read from README.md (between the ``quickstart:users-api``
markers), so the README and this test cannot drift apart. The server
line runs in the background on a free port, ``bin/users`` gets the
password on stdin, and the curl lines run with bash in a temporary
folder; all of them share one throw-away SQLite database.
"""
import json
import os
import re
import shutil
import signal
import subprocess
from pathlib import Path
from typing import List

import pytest

from tests.support import ROOT, base_env, free_port

BLOCK = re.compile(r"<!-- quickstart:users-api -->\n```sh\n(.*?)```\n"
                   r"<!-- /quickstart:users-api -->", re.S)
# Characters that form encoding would mangle if sent raw (curl -d).
PASSWORD = "c0rrect+horse&battery %41 staple"
# Settings a new user's shell does not have, whatever this one has.
UNSET = ("AUTH_TYPE", "APP_PROFILE", "SESSION_NAME", "SESSION_DURATION",
         "SESSION_COOKIE_SECURE", "LOGIN_RATE_LIMIT",
         "RATELIMIT_STORAGE_URI", "ACCESS_LOG", "WEB_THREADS",
         "PYTHONPATH")


def quickstart_lines() -> List[str]:
    """Return the quick start's command lines, without their comments."""
    found = BLOCK.search((ROOT / "README.md").read_text())
    assert found, "README.md has no users-API quick start block"
    return [re.sub(r"\s+#.*$", "", line)
            for line in found.group(1).splitlines() if line.strip()]


def wait_for_listening(server: subprocess.Popen) -> None:
    """Read the server's output until its "listening" line."""
    printed = []
    for line in server.stdout:
        printed.append(line)
        if " listening on http://" in line:
            return
    raise AssertionError("bin/serve stopped before listening (status {}):"
                         "\n{}".format(server.wait(), "".join(printed)))


def run_line(line: str, cwd: Path, env: dict,
             stdin: str = "") -> subprocess.CompletedProcess:
    """Run one command line with bash; fail with its output if it fails."""
    done = subprocess.run(["bash", "-c", line], cwd=cwd, env=env,
                          input=stdin, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, (line, done.stdout, done.stderr)
    return done


def test_users_api_quick_start_works_as_written(tmp_path: Path) -> None:
    """Start, create the first user, log in, GET /users/me with the
    cookie: the last command prints that user."""
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed (the quick start uses it)")
    serve, create, login, me = quickstart_lines()
    email = next(word for word in create.split() if "@" in word)
    default_db = ROOT / "session_authentication" / "users_api.db"
    had_default_db = default_db.exists()
    port = free_port()
    env = base_env(API_PORT=str(port), API_HOST="127.0.0.1",
                   WEB_CONCURRENCY="2", DATABASE_URL="sqlite:///{}".format(
                       tmp_path / "users_api.db"))
    for name in UNSET:
        env.pop(name, None)
    server = subprocess.Popen(
        ["bash", "-c", serve], cwd=ROOT, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        wait_for_listening(server)
        created = run_line(create, ROOT, env, stdin=PASSWORD + "\n")
        assert created.stdout.startswith("created ")
        answers = [run_line(line.replace("localhost:5000",
                                         "localhost:{}".format(port))
                            .replace("<your password>", PASSWORD),
                            tmp_path, env).stdout
                   for line in (login, me)]
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(10)
        server.stdout.close()
    logged_in, user = (json.loads(answer) for answer in answers)
    assert logged_in.get("email") == email, answers
    assert user.get("email") == email, answers
    assert user["id"] == logged_in["id"]
    assert default_db.exists() == had_default_db

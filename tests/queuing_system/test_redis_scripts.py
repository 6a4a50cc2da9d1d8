#!/usr/bin/env python3
"""Seed tasks 0-5: every script run against a real Redis server.

Each script runs as ``python3 <file>`` from ``queuing_system/`` with
``REDIS_URL`` pointing at the suite's server, and its console lines are
compared with the seed's transcripts.
"""
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import redis

from tests.support import PYTHON, RedisServer, base_env, free_port

CONNECTED = "Redis client connected to the server"
CHANNEL = "holberton school channel"


def run_script(folder: Path, name: str, url: str,
               **env: str) -> subprocess.CompletedProcess:
    """Run one script from its folder with REDIS_URL set; capture output."""
    return subprocess.run(
        [PYTHON, name], cwd=str(folder), capture_output=True, text=True,
        env=base_env(REDIS_URL=url, **env), timeout=60)


def lines(text: str) -> list:
    """Split console output into its lines."""
    return text.splitlines()


def test_dump_rdb_holds_holberton_school(tmp_path: Path,
                                         queuing_dir: Path) -> None:
    """A Redis server started on dump.rdb answers School for Holberton."""
    server = RedisServer()
    shutil.copy(queuing_dir / "dump.rdb", Path(server.dir) / "dump.rdb")
    server.start()
    try:
        client = redis.Redis.from_url(server.url, decode_responses=True)
        assert client.get("Holberton") == "School"
        client.close()
    finally:
        server.stop()


def test_0_redis_client_connects(queuing_dir: Path, redis_url: str) -> None:
    """With a server up the client prints the connected line, exits 0."""
    result = run_script(queuing_dir, "0-redis_client.py", redis_url)
    assert result.returncode == 0, result.stderr
    assert lines(result.stdout) == [CONNECTED]


def test_0_redis_client_without_server_fails_in_bounded_time(
        queuing_dir: Path) -> None:
    """No server: one failure line per attempt, then exit status 1."""
    port = free_port()
    started = time.monotonic()
    result = run_script(queuing_dir, "0-redis_client.py",
                        "redis://127.0.0.1:{}/0".format(port),
                        REDIS_CONNECT_TIMEOUT="0.5")
    assert time.monotonic() - started < 30
    assert result.returncode == 1
    output = lines(result.stdout)
    assert len(output) >= 1
    expected = ("Redis client not connected to the server: Error 111 "
                "connecting to 127.0.0.1:{}. Connection refused."
                .format(port))
    assert set(output) == {expected}
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("script", ["1-redis_op.py", "2-redis_op_async.py"])
def test_redis_op_prints_seed_lines(queuing_dir: Path, redis_url: str,
                                    script: str) -> None:
    """Tasks 2 and 3 print School, Reply: OK and 100 after connecting."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    client.set("Holberton", "School")
    result = run_script(queuing_dir, script, redis_url)
    assert result.returncode == 0, result.stderr
    assert lines(result.stdout) == [CONNECTED, "School", "Reply: OK", "100"]
    assert client.get("HolbertonSanFrancisco") == "100"
    client.close()


@pytest.mark.parametrize("script", ["1-redis_op.py", "2-redis_op_async.py",
                                    "4-redis_advanced_op.py",
                                    "5-subscriber.py", "5-publisher.py"])
def test_scripts_without_server_exit_1(queuing_dir: Path,
                                       script: str) -> None:
    """Every connecting script gives up with status 1 when Redis is down."""
    url = "redis://127.0.0.1:{}/0".format(free_port())
    result = run_script(queuing_dir, script, url,
                        REDIS_CONNECT_TIMEOUT="0")
    assert result.returncode == 1
    assert lines(result.stdout)[0].startswith(
        "Redis client not connected to the server: ")
    assert "Traceback" not in result.stderr


def test_4_redis_advanced_op_prints_hash_in_insertion_order(
        queuing_dir: Path, redis_url: str) -> None:
    """Six Reply: 1 lines, then the hash as a dict in insertion order."""
    result = run_script(queuing_dir, "4-redis_advanced_op.py", redis_url)
    assert result.returncode == 0, result.stderr
    assert lines(result.stdout) == [CONNECTED] + ["Reply: 1"] * 6 + [
        "{'Portland': '50', 'Seattle': '80', 'New York': '20', "
        "'Bogota': '20', 'Cali': '40', 'Paris': '2'}"]


def wait_for_subscriber(url: str, proc: subprocess.Popen) -> None:
    """Block until a subscriber listens on the seed's channel."""
    client = redis.Redis.from_url(url)
    try:
        deadline = time.monotonic() + 20
        while dict(client.pubsub_numsub(CHANNEL)).get(
                CHANNEL.encode()) != 1:
            assert proc.poll() is None, "subscriber exited early"
            assert time.monotonic() < deadline, "subscriber never joined"
            time.sleep(0.05)
    finally:
        client.close()


def test_5_publisher_and_subscriber_as_two_processes(
        queuing_dir: Path, redis_url: str) -> None:
    """The seed's two terminals: four sends, three receipts, clean exits."""
    subscriber = subprocess.Popen(
        [PYTHON, "5-subscriber.py"], cwd=str(queuing_dir),
        env=base_env(REDIS_URL=redis_url), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        wait_for_subscriber(redis_url, subscriber)
        publisher = run_script(queuing_dir, "5-publisher.py", redis_url)
        out, err = subscriber.communicate(timeout=30)
    finally:
        if subscriber.poll() is None:
            subscriber.kill()
            subscriber.wait()
    assert publisher.returncode == 0, publisher.stderr
    assert lines(publisher.stdout) == [
        CONNECTED,
        "About to send Holberton Student #1 starts course",
        "About to send Holberton Student #2 starts course",
        "About to send KILL_SERVER",
        "About to send Holberton Student #3 starts course",
    ]
    assert subscriber.returncode == 0, err
    assert lines(out) == [
        CONNECTED,
        "Holberton Student #1 starts course",
        "Holberton Student #2 starts course",
        "KILL_SERVER",
    ]

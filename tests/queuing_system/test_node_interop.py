#!/usr/bin/env python3
"""Jobs shared with Node BullMQ, both ways, on a real Redis.

A Node producer's jobs run on ``python3 -m worker``; ``7-job_creator.py``'s
jobs run on a Node worker; a Node and a Python worker sharing one queue
run every job exactly once. Skipped, each saying why, where Node.js or
bench/node's packages are missing (``bin/test`` installs the packages
with ``npm ci`` when Node.js is there).
"""
import functools
import json
import signal
import subprocess
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest
import redis

from kue import create_queue, wait_all
from redis_connection import make_client
from tests.queuing_system.test_event_order import NODE_MODULES, node_missing
from tests.support import PYTHON, ROOT, base_env

NODE_DIR = Path(__file__).parent / "node"
BLACKLISTED = ("4153518780", "4153518781")


@pytest.fixture(autouse=True)
def need_node() -> None:
    """Skip with the reason where the Node side cannot run."""
    missing = node_missing()
    if missing:
        pytest.skip("Node interop skipped: " + missing)


def node(*args: str) -> list:
    """Return the command running a Node peer script."""
    return ["node"] + [str(arg) for arg in args]


def node_env() -> dict:
    """Return an environment in which Node finds bench/node's packages."""
    return base_env(NODE_PATH=str(NODE_MODULES))


def start(args: list, **kwargs: Any) -> subprocess.Popen:
    """Start a process, its stdout piped as text."""
    return subprocess.Popen(args, text=True, stdout=subprocess.PIPE,
                            **kwargs)


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM a process and check it ends cleanly."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate(timeout=10)
    assert proc.returncode == 0


def ready(proc: subprocess.Popen, word: str) -> subprocess.Popen:
    """Wait for a worker's ready line, then keep draining its output."""
    line = proc.stdout.readline()
    assert word in line, line
    threading.Thread(target=proc.stdout.read, daemon=True).start()
    return proc


def double(job: Any) -> int:
    """Python handler for Node's jobs: twice the job's ``n``."""
    return job.data["n"] * 2


@functools.lru_cache(maxsize=1)
def client_of_worker() -> redis.Redis:
    """Return the worker process's one Redis client (made on first use)."""
    return make_client()


def python_share(job: Any) -> str:
    """Python handler of the shared queue: count the run, say who ran."""
    client_of_worker().hincrby("test:runs", job.id, 1)
    return "python"


def python_worker(redis_url: str, spec: str) -> subprocess.Popen:
    """Start ``python3 -m worker --queue SPEC`` on the test Redis."""
    return ready(start(
        [PYTHON, "-m", "worker", "--queue", spec],
        cwd=str(ROOT / "queuing_system"),
        env=base_env(REDIS_URL=redis_url, PYTHONPATH=str(ROOT))),
        "worker: processing")


def test_node_producer_python_worker(redis_url: str) -> None:
    """Jobs added by Node BullMQ run on ``python3 -m worker``."""
    worker = python_worker(
        redis_url, "interop=tests.queuing_system.test_node_interop:double")
    try:
        done = subprocess.run(
            node(NODE_DIR / "interop.js", "produce", redis_url, "interop",
                 "50"), env=node_env(), capture_output=True, text=True,
            timeout=120, check=True)
    finally:
        stop(worker)
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert sorted(results.values()) == [n * 2 for n in range(50)]


def test_python_creator_node_worker(redis_url: str,
                                    queuing_dir: Path) -> None:
    """``7-job_creator.py``'s jobs run on a Node BullMQ worker."""
    worker = ready(start(
        node(NODE_DIR / "processor_7.js", redis_url,
             "push_notification_code_2"), env=node_env()), "ready")
    try:
        done = subprocess.run(
            [PYTHON, "7-job_creator.py"], cwd=str(queuing_dir),
            env=base_env(REDIS_URL=redis_url), capture_output=True,
            text=True, timeout=120)
    finally:
        stop(worker)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert sum("created" in line for line in lines) == 11
    assert sum(line.endswith(" completed") for line in lines) == 9
    failures = sorted(line.split("failed: ")[1] for line in lines
                      if "failed: " in line)
    assert failures == ["Phone number {} is blacklisted".format(phone)
                        for phone in BLACKLISTED]


@pytest.fixture
def shared_workers(redis_url: str) -> Iterator[None]:
    """Run a Node and a Python worker on the queue ``shared``."""
    node_worker = ready(start(
        node(NODE_DIR / "interop.js", "worker", redis_url, "shared", "2"),
        env=node_env()), "ready")
    try:
        py_worker = python_worker(
            redis_url,
            "shared:2=tests.queuing_system.test_node_interop:python_share")
        try:
            yield
        finally:
            stop(py_worker)
    finally:
        stop(node_worker)


def test_node_and_python_workers_share_a_queue(
        redis_url: str, shared_workers: None) -> None:
    """Both workers take jobs of one queue; each job runs exactly once."""
    queue = create_queue(redis_url)
    try:
        jobs = queue.create_bulk("shared", [{"n": n} for n in range(400)])
        assert wait_all(jobs, 120)
    finally:
        queue.shutdown()
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    runs = client.hgetall("test:runs")
    client.close()
    assert len(runs) == 400 and set(runs.values()) == {"1"}
    by = [job.result for job in jobs]
    assert by.count("node") + by.count("python") == 400
    assert by.count("node") > 0 and by.count("python") > 0

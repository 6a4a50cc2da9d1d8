#!/usr/bin/env python3
"""At-least-once: a worker killed with SIGKILL loses no job.

2,000 jobs; a worker process (the worker command) is killed while jobs
are active; a second worker finishes the work. Every job completes, and
the jobs run twice (finished by the dead worker but not yet marked
completed) are counted and reported.
"""
import asyncio
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import redis
import redis.asyncio

from kue import create_queue
from tests.support import PYTHON, ROOT, base_env

JOB_TYPE = "at_least_once"
JOBS = 2000
RUNS_KEY = "test:runs"
CONCURRENCY = 8
_CLIENT: dict = {}


async def record_run(job: Any) -> None:
    """Test processor: count each run of a job in Redis, then pause."""
    client = _CLIENT.get("client")
    if client is None:
        client = redis.asyncio.Redis.from_url(os.environ["REDIS_URL"])
        _CLIENT["client"] = client
    await client.hincrby(RUNS_KEY, job.id, 1)
    await asyncio.sleep(0.002)


def start_worker(cwd: Path, url: str) -> subprocess.Popen:
    """Start the worker command on the test queue with short locks."""
    return subprocess.Popen(
        [PYTHON, "-m", "worker", "--queue",
         "{}:{}=tests.queuing_system.test_queue_at_least_once:record_run"
         .format(JOB_TYPE, CONCURRENCY),
         "--lock-duration", "2000", "--stalled-interval", "1000",
         "--max-stalled-count", "5"],
        cwd=str(cwd), env=base_env(REDIS_URL=url, PYTHONPATH=str(ROOT)),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True)


def wait_until(predicate: Any, timeout: float) -> bool:
    """Poll a condition every 50 ms until it holds or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_sigkilled_worker_loses_no_job(redis_url: str,
                                       queuing_dir: Path) -> None:
    """All 2,000 jobs complete after a kill -9; duplicates are counted."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    queue = create_queue(redis_url, remove_on_complete=False,
                         events_max_len=100000)
    jobs = queue.create_bulk(JOB_TYPE, ({"n": n} for n in range(JOBS)))
    first = start_worker(queuing_dir, redis_url)
    second = None
    try:
        assert wait_until(lambda: client.hlen(RUNS_KEY) >= 300, 60)
        active = queue.counts(JOB_TYPE)["active"]
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
        second = start_worker(queuing_dir, redis_url)
        assert wait_until(
            lambda: queue.counts(JOB_TYPE)["completed"] == JOBS, 120), \
            queue.counts(JOB_TYPE)
        assert all(job.wait(30) for job in jobs)
        counts = queue.counts(JOB_TYPE)
    finally:
        if second is not None:
            second.send_signal(signal.SIGTERM)
            second.wait(30)
        queue.shutdown()
    runs = {key: int(value)
            for key, value in client.hgetall(RUNS_KEY).items()}
    duplicates = sum(runs.values()) - JOBS
    print("\nat-least-once: {} jobs, {} active at kill -9, {} ran twice"
          .format(JOBS, active, duplicates))
    assert len(runs) == JOBS
    assert set(runs) == {job.id for job in jobs}
    assert counts["completed"] == JOBS and counts["failed"] == 0
    assert {job.state for job in jobs} == {"complete"}
    assert active > 0
    assert 0 <= duplicates <= CONCURRENCY

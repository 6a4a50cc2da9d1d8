#!/usr/bin/env python3
"""How late delayed jobs start: kue.py's worker vs bullmq-py's and Node's.

Part of ``bin/bench queue`` (bench/bench_queue.py calls ``measure``).

Each run: an idle worker (concurrency 1) on queue ``bench_delay``, then
a producer adds 100 jobs delayed 200 ms + 40 ms * i (one bulk add), each
carrying its due time; the handler returns how late it started (its
clock minus the due time, ms), and the producer collects the values from
the completion events. Rows: kue.py's worker (``python3 -m worker``),
bullmq-py's ``Worker`` as it comes (which waits for a delayed job in
whole seconds: it does not read the server's version, so it assumes a
Redis older than 6.0), and Node BullMQ (bench/node/delay.js; its
producer runs in Node too). Same Redis server, flushed before each run.
A retry back-off takes the same path in the worker (delayed set, then
the marker), so it is not measured apart.
"""
import asyncio
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import time
from typing import Any

from bench.common import (NODE_DIR, ensure_node_modules, start_worker,
                          stop_worker, table)
from tests.support import PYTHON, ROOT, RedisServer, base_env

QUEUING_DIR = ROOT / "queuing_system"
JOB_TYPE = "bench_delay"
JOBS = int(os.environ.get("BENCH_DELAY_JOBS", "100"))
FIRST_MS = 200
STEP_MS = 40


async def lateness(job: Any) -> float:
    """Return how late this job started, in ms (handler of kue.py)."""
    return time.time() * 1000 - job.data["due"]


def run_as_is_worker(url: str) -> None:
    """Run bullmq-py's own Worker on the queue until SIGTERM."""
    from bullmq import Worker

    async def processor(job: Any, token: str) -> float:
        """Return how late this job started, in ms."""
        return time.time() * 1000 - job.data["due"]

    async def main() -> None:
        """Start the worker, say ready, close it on SIGTERM."""
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM,
                                                      stop.set)
        worker = Worker(JOB_TYPE, processor, {"connection": url})
        print("ready", flush=True)
        await stop.wait()
        await worker.close()

    asyncio.run(main())


def produce(url: str) -> list:
    """Add the delayed jobs with kue.py; return their lateness (ms)."""
    sys.path.insert(0, str(QUEUING_DIR))
    from kue import create_queue, wait_all

    queue = create_queue(url)
    try:
        warm = queue.create(JOB_TYPE, {"due": time.time() * 1000}).save()
        if not warm.wait(60):
            raise RuntimeError("the worker did not run the first job")
        now = time.time() * 1000
        jobs = [queue.create(JOB_TYPE, {"due": now + delay}).delay(delay)
                for delay in (FIRST_MS + STEP_MS * n for n in range(JOBS))]
        queue.save(jobs)
        if not wait_all(jobs, 60 + JOBS * STEP_MS / 1000):
            raise RuntimeError("delayed jobs did not all complete")
        return [job.result for job in jobs]
    finally:
        queue.shutdown()


def run_python(url: str, worker_args: list, ready: str) -> list:
    """Time the delayed jobs through a Python worker process."""
    env = base_env(REDIS_URL=url, PYTHONPATH=str(ROOT))
    worker = start_worker([PYTHON] + worker_args, QUEUING_DIR, env, ready)
    try:
        return produce(url)
    finally:
        stop_worker(worker)


def run_node(url: str) -> list:
    """Time the delayed jobs through Node BullMQ (worker and producer)."""
    env = base_env()
    worker = start_worker(["node", "delay.js", "worker", url, JOB_TYPE],
                          NODE_DIR, env, "ready")
    try:
        done = subprocess.run(
            ["node", "delay.js", "produce", url, JOB_TYPE, str(JOBS)],
            cwd=str(NODE_DIR), env=env, capture_output=True, text=True,
            timeout=120, check=True)
        return json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        stop_worker(worker)


def percentile(values: list, share: float) -> float:
    """Return the nearest-rank percentile of a list of numbers."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def measure() -> str:
    """Run each worker once; print the rows, return the table."""
    try:
        ensure_node_modules()
        node = True
    except (SystemExit, subprocess.CalledProcessError) as error:
        print("bench queue: no Node BullMQ lateness row: {}".format(error),
              flush=True)
        node = False
    server = RedisServer().start()
    import redis

    client = redis.Redis.from_url(server.url)
    runners = {
        "kue.py (python3 -m worker)": lambda: run_python(
            server.url, ["-m", "worker", "--queue",
                         "{}:1=bench.queue_delay:lateness".format(
                             JOB_TYPE)], "worker: processing"),
        "bullmq-py Worker as is": lambda: run_python(
            server.url, ["-m", "bench.queue_delay", "as-is-worker",
                         server.url], "ready"),
    }
    if node:
        runners["npm bullmq"] = lambda: run_node(server.url)
    rows = []
    try:
        for name, run in runners.items():
            client.flushall()
            late = run()
            rows.append([name, len(late),
                         "{:.1f}".format(statistics.median(late)),
                         "{:.1f}".format(percentile(late, 0.99)),
                         "{:.1f}".format(min(late))])
            print("{}: p50 {} ms, p99 {} ms".format(name, rows[-1][2],
                                                    rows[-1][3]), flush=True)
    finally:
        server.stop()
    text = table(
        "Delayed jobs: start time minus due time, {} jobs delayed {} ms "
        "+ {} ms * i, idle worker, concurrency 1".format(
            JOBS, FIRST_MS, STEP_MS),
        ["worker", "jobs", "p50 ms", "p99 ms", "min ms"], rows)
    return text + ("\nThe producer's clock at the bulk add is the "
                   "reference, so the add's round trip (about 1 ms) counts "
                   "as lateness too.\n")


if __name__ == "__main__":
    if sys.argv[1:2] == ["as-is-worker"]:
        run_as_is_worker(sys.argv[2])
    else:
        print(measure())

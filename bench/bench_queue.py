#!/usr/bin/env python3
"""End-to-end no-op jobs/s: our Kue-style module vs Kue and Node BullMQ.

Each run: a worker process (concurrency 2) on queue ``bench``, then a
producer that enqueues 10,000 no-op jobs and waits for every completion
event; the time runs from the first enqueue to the last event. Ours is
``queuing_system/kue.py`` (producer here, worker ``python3 -m worker``);
the peers are npm ``kue`` and npm ``bullmq`` (bench/node/peer.js). All
use the same Redis server started by the bench, flushed before each
run. Rounds are interleaved (each round runs the three once, in an order
rotated from round to round so no queue always goes first), the medians
are kept, and the figure that matters is the ratio to Kue measured in
the same rounds (also given per round). The machine's load average at
each run is recorded: other work on a shared 2-core box moves single
rounds by tens of percent. Then the lateness of delayed jobs, beside
Node BullMQ's (bench/queue_delay.py); both tables go to
bench/results/queue.md.
"""
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

from bench import queue_delay
from bench.common import (NODE_DIR, ensure_node_modules, save,
                          start_worker, stop_worker, table)
from tests.support import PYTHON, ROOT, RedisServer, base_env

QUEUING_DIR = ROOT / "queuing_system"
JOBS = int(os.environ.get("BENCH_QUEUE_JOBS", "10000"))
CONCURRENCY = 2
ROUNDS = max(1, int(os.environ.get("BENCH_QUEUE_ROUNDS", "3")))
CHUNK = 500


async def noop(job: Any) -> None:
    """Process a benchmark job by doing nothing."""


def run_ours(url: str) -> float:
    """Time 10,000 jobs through kue.py; return seconds."""
    sys.path.insert(0, str(QUEUING_DIR))
    from kue import create_queue, wait_all

    env = base_env(REDIS_URL=url, PYTHONPATH=str(ROOT))
    worker = start_worker(
        [PYTHON, "-m", "worker", "--queue",
         "bench:{}=bench.bench_queue:noop".format(CONCURRENCY)],
        QUEUING_DIR, env, "worker: processing")
    queue = create_queue(url, remove_on_complete=True,
                         events_max_len=100000)
    try:
        started = time.perf_counter()
        jobs = []
        for first in range(0, JOBS, CHUNK):
            jobs += queue.create_bulk(
                "bench", ({"i": n} for n in range(first,
                                                   min(first + CHUNK, JOBS))))
        if not wait_all(jobs, 300):
            raise RuntimeError("ours: {} of {} jobs completed; worker: {}"
                               .format(sum(job.state == "complete"
                                           for job in jobs), JOBS,
                                       "".join(getattr(worker, "output",
                                                       []))))
        return time.perf_counter() - started
    finally:
        queue.shutdown()
        stop_worker(worker)


def run_node(lib: str, url: str) -> float:
    """Time 10,000 jobs through a Node peer; return seconds."""
    env = base_env()
    worker = start_worker(
        ["node", "peer.js", lib, "worker", url, str(JOBS),
         str(CONCURRENCY)], NODE_DIR, env, "ready")
    try:
        done = subprocess.run(
            ["node", "peer.js", lib, "produce", url, str(JOBS),
             str(CONCURRENCY)], cwd=str(NODE_DIR), env=env,
            capture_output=True, text=True, timeout=300, check=True)
        return json.loads(done.stdout.strip().splitlines()[-1])["seconds"]
    finally:
        stop_worker(worker)


def main() -> None:
    """Run the rounds, print and save the table."""
    ensure_node_modules()
    server = RedisServer().start()
    import redis

    client = redis.Redis.from_url(server.url)
    runners = {"kue.py (bullmq-py)": lambda: run_ours(server.url),
               "npm kue": lambda: run_node("kue", server.url),
               "npm bullmq": lambda: run_node("bullmq", server.url)}
    names = list(runners)
    times: dict = {name: [] for name in names}
    loads = []
    try:
        for round_no in range(ROUNDS):
            shift = round_no % len(names)
            for name in names[shift:] + names[:shift]:
                client.flushall()
                loads.append(os.getloadavg()[0])
                times[name].append(runners[name]())
                print("round {} {}: {:.2f}s (load {:.1f})".format(
                    round_no + 1, name, times[name][-1], loads[-1]),
                    flush=True)
    finally:
        server.stop()
    throughput = report(names, times, loads)
    print(throughput, flush=True)
    save("queue", throughput + "\n" + queue_delay.measure())


def report(names: list, times: dict, loads: list) -> str:
    """Render the medians, ratios, rounds and load as Markdown."""
    ours, kue = names[0], "npm kue"
    rate = {name: JOBS / statistics.median(values)
            for name, values in times.items()}
    rows = [[name, "{:.0f}".format(rate[name]),
             "{:.2f}x".format(rate[name] / rate[kue]),
             "{:.2f}x".format(rate[name] / rate["npm bullmq"])]
            for name in names]
    per_round = [k / o for o, k in zip(times[ours], times[kue])]
    text = table(
        "Job queue, end to end: {} no-op jobs, concurrency {}, median of {}"
        " interleaved rounds".format(JOBS, CONCURRENCY, ROUNDS),
        ["queue", "jobs/s", "vs npm kue", "vs npm bullmq"], rows)
    lines = ["", "Per round (seconds, {}): {}.".format(
        " / ".join(names), ", ".join(
            " / ".join("{:.2f}".format(times[name][i]) for name in names)
            for i in range(len(times[ours])))),
        "{} vs npm kue per round: {} (median {:.2f}x).".format(
            ours, ", ".join("{:.2f}x".format(r) for r in per_round),
            statistics.median(per_round)),
        "1-minute load average during the runs: {:.1f} to {:.1f} "
        "(2 cores).".format(min(loads), max(loads))]
    return text + "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""A process that ends while its worker runs gives jobs back, never fails them.

A sync handler runs in a thread pool; when the interpreter exits, the
pool refuses new work before the queue's exit hook closes the worker.
A job the worker took in that moment must go back to the queue, not to
``failed`` with "cannot schedule new futures".
"""
import subprocess
import time
from pathlib import Path

from kue import create_queue
from tests.support import PYTHON, base_env

JOB_TYPE = "exit_probe"
JOBS = 60
# Started with ``python3 -c`` from queuing_system/: process jobs for a
# moment, then let the main thread return without calling shutdown().
WORKER = """
import time
from kue import create_queue

def handler(job):
    time.sleep(0.02)

create_queue().process("exit_probe", 1, handler)
time.sleep(0.3)
"""


def test_jobs_taken_while_the_process_exits_are_not_failed(
        redis_url: str, queuing_dir: Path) -> None:
    """Three workers exiting mid-queue fail no job; all jobs complete."""
    queue = create_queue(redis_url)
    try:
        queue.create_bulk(JOB_TYPE, [{"n": n} for n in range(JOBS)])
        for _ in range(3):
            done = subprocess.run(
                [PYTHON, "-c", WORKER], cwd=str(queuing_dir), timeout=60,
                env=base_env(REDIS_URL=redis_url), capture_output=True,
                text=True)
            assert done.returncode == 0, done.stderr
            assert queue.counts(JOB_TYPE)["failed"] == 0
        queue.process(JOB_TYPE, 4, lambda job: None)
        deadline = time.monotonic() + 30
        while (queue.counts(JOB_TYPE)["completed"] < JOBS
               and time.monotonic() < deadline):
            time.sleep(0.1)
        counts = queue.counts(JOB_TYPE)
        assert counts["completed"] == JOBS and counts["failed"] == 0, counts
    finally:
        queue.shutdown()

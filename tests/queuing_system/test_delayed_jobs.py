#!/usr/bin/env python3
"""Delayed jobs and retry back-offs run, and never before their time.

The worker times the last part of a delay itself (Redis ends blocking
timeouts on its 100 ms tick); these tests check that this never starts
a job early and never holds back a job that needs no waiting. How late
jobs start is measured by bin/bench queue (bench/queue_delay.py), not here.
"""
import math
import time
from typing import Any, Iterator

import pytest

from kue import Queue, create_queue


@pytest.fixture
def queue(redis_url: str) -> Iterator[Queue]:
    """Yield a queue on the test Redis, shut down after the test."""
    queue = create_queue(redis_url)
    yield queue
    queue.shutdown()


def now_ms() -> int:
    """Return the wall clock in whole milliseconds (bullmq's unit)."""
    return math.floor(time.time() * 1000)


def test_delayed_jobs_start_at_or_after_their_due_time(queue: Queue) -> None:
    """Twenty jobs with staggered delays all run, none before its time."""
    started: dict = {}
    queue.process("staggered", 1,
                  lambda job: started.setdefault(job.data["n"], now_ms()))
    queue.create("staggered", {"n": -1}).save().wait(20)
    base = now_ms()
    delays = [30 + 25 * n for n in range(20)]
    jobs = [queue.create("staggered", {"n": n}).delay(delay)
            for n, delay in enumerate(delays)]
    queue.save(jobs)
    assert all(job.wait(30) for job in jobs)
    assert {job.state for job in jobs} == {"complete"}
    early = {n: base + delay - started[n]
             for n, delay in enumerate(delays) if started[n] < base + delay}
    assert early == {}


def test_retry_back_off_is_waited_before_the_next_attempt(
        queue: Queue) -> None:
    """The second attempt starts no sooner than the back-off allows."""
    attempts: list = []

    def fail_once(job: Any) -> str:
        """Fail the first attempt, noting when; pass the second."""
        attempts.append(now_ms())
        if job.attempts_made == 0:
            raise RuntimeError("first attempt fails")
        return "second attempt"

    queue.process("backoff", 1, fail_once)
    job = queue.create("backoff").attempts(2).backoff(250).save()
    assert job.wait(30)
    assert job.result == "second attempt"
    assert len(attempts) == 2
    assert attempts[1] >= attempts[0] + 250


def test_job_added_while_a_delayed_one_waits_runs_first(
        queue: Queue) -> None:
    """A worker waiting for a delayed job still takes a new job at once."""
    order: list = []

    def record(job: Any) -> None:
        """Note which job ran."""
        order.append(job.data["name"])

    queue.process("mixed", 1, record)
    later = queue.create("mixed", {"name": "delayed"}).delay(1500).save()
    assert queue.counts("mixed")["delayed"] == 1
    now = queue.create("mixed", {"name": "plain"}).save()
    assert now.wait(30) and later.wait(30)
    assert order == ["plain", "delayed"]

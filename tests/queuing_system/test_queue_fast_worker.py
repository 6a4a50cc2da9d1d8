#!/usr/bin/env python3
"""Events of jobs finished before ``save()`` returns, and fetch-next."""
import asyncio
from typing import Any, Iterator

import pytest

from kue import Queue, create_queue, wait_all
from kue_worker import FetchNextWorker


@pytest.fixture
def queue(redis_url: str) -> Iterator[Queue]:
    """Yield a queue on the test Redis, shut down after the test."""
    queue = create_queue(redis_url)
    yield queue
    queue.shutdown()


async def echo(job: Any) -> Any:
    """Return the job's data at once, as a fast worker would."""
    return job.data


def test_event_before_ids_known_is_not_lost(queue: Queue) -> None:
    """A job completed before ``addBulk`` returned still completes.

    ``addBulk`` is slowed down after it stored the jobs, so the worker's
    completion events reach the producer before the jobs' ids do.
    """
    queue.process("race", 2, echo)
    bull_queue = queue._queue("race")
    original = bull_queue.addBulk

    async def slow_add_bulk(entries: list) -> list:
        """Store the jobs, then return their ids late."""
        added = await original(entries)
        await asyncio.sleep(0.5)
        return added

    bull_queue.addBulk = slow_add_bulk
    jobs = queue.create_bulk("race", [{"n": n} for n in range(20)])
    assert wait_all(jobs, 20)
    assert [job.result for job in jobs] == [{"n": n} for n in range(20)]


def test_worker_fetches_next_job_on_completion(queue: Queue) -> None:
    """Many jobs run through the fetch-next worker, each exactly once."""
    seen = []

    async def record(job: Any) -> None:
        """Remember which job ran."""
        seen.append(job.data["n"])

    worker = queue.process("many", 2, record)
    assert isinstance(worker, FetchNextWorker)
    jobs = queue.create_bulk("many", [{"n": n} for n in range(300)])
    assert wait_all(jobs, 30)
    assert sorted(seen) == list(range(300))
    assert all(job.state == "complete" for job in jobs)

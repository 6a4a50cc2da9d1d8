#!/usr/bin/env python3
"""The job queue module's Kue features, against a real Redis."""
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from kue import Queue, QueueError, QueueUnavailable, create_queue
from tests.support import PYTHON, ROOT, base_env

SLOW_STARTED = "test:slow:started"


@pytest.fixture
def queue(redis_url: str) -> Iterator[Queue]:
    """Yield a queue on the test Redis, shut down after the test."""
    queue = create_queue(redis_url)
    yield queue
    queue.shutdown()


def flaky(job: Any) -> str:
    """Fail the first two attempts of a job, then succeed."""
    if job.attempts_made < 2:
        raise RuntimeError("attempt {} failed".format(job.attempts_made))
    return "done after {}".format(job.attempts_made)


def test_attempts_with_backoff_retry_until_success(queue: Queue) -> None:
    """A job allowed three attempts succeeds on its third, after backoff."""
    queue.process("flaky", 1, flaky)
    job = queue.create("flaky", {"x": 1}).attempts(3).backoff(20).save()
    assert job.wait(20)
    assert job.state == "complete"
    assert job.result == "done after 2"


def test_attempts_exhausted_fail_with_last_message(queue: Queue) -> None:
    """Two attempts both failing end in ``failed`` with the last error."""
    queue.process("flaky", 1, flaky)
    job = queue.create("flaky").attempts(2).backoff(10, "exponential").save()
    assert job.wait(20)
    assert job.state == "failed"
    assert job.error == "attempt 1 failed"


def test_delayed_job_waits_before_running(queue: Queue) -> None:
    """A delayed job is not run before its delay."""
    ran_at = []
    queue.process("later", 1, lambda job: ran_at.append(time.monotonic()))
    saved_at = time.monotonic()
    job = queue.create("later").delay(300).save()
    assert queue.counts("later")["delayed"] == 1
    assert job.wait(20) and job.state == "complete"
    assert ran_at[0] - saved_at >= 0.25


def test_priority_orders_waiting_jobs(queue: Queue) -> None:
    """Higher-priority jobs waiting together run first."""
    order = []
    levels = ["low", "normal", "critical", "medium", "high"]
    jobs = [queue.create("prio", {"level": level}).priority(level)
            for level in levels]
    queue.save(jobs)
    queue.process("prio", 1, lambda job: order.append(job.data["level"]))
    assert all(job.wait(20) for job in jobs)
    assert order == ["critical", "high", "medium", "normal", "low"]


def test_progress_and_queue_level_events(queue: Queue) -> None:
    """Progress percentages and queue-level events reach the producer."""
    seen = []
    queue.on("job complete", lambda job_id, result: seen.append(
        ("complete", job_id, result)))

    async def steps(job: Any) -> dict:
        """Report progress in thirds, then return a result."""
        for done in (1, 2, 3):
            await job.progress(done, 3)
        return {"ok": True}

    queue.process("steps", 1, steps)
    job = queue.create("steps", {"n": 1})
    percents = []
    job.on("progress", percents.append)
    job.save()
    assert job.wait(20)
    assert percents == [33, 67, 100]
    assert seen == [("complete", job.id, {"ok": True})]


def test_concurrency_runs_jobs_side_by_side(queue: Queue) -> None:
    """With concurrency 3, three jobs run at the same time."""
    barrier = threading.Barrier(3, timeout=10)
    queue.process("together", 3, lambda job: barrier.wait())
    jobs = queue.create_bulk("together", [{}, {}, {}])
    assert all(job.wait(20) for job in jobs)
    assert {job.state for job in jobs} == {"complete"}


def test_test_mode_touches_no_redis() -> None:
    """In test mode jobs are recorded even though no Redis is reachable."""
    queue = create_queue("redis://127.0.0.1:1/0")
    queue.test_mode.enter()
    job = queue.create("email", {"to": "a@b.c"}).priority("high").save()
    assert job.id == "1" and queue.test_mode.jobs == [job]
    queue.test_mode.exit()
    assert queue.test_mode.jobs == []


def test_redis_down_raises_queue_unavailable() -> None:
    """Saving with no Redis raises ``QueueUnavailable``, not a hang."""
    queue = create_queue("redis://127.0.0.1:1/0", timeout=3)
    with pytest.raises(QueueUnavailable):
        queue.create("email", {}).save()
    queue.shutdown()


@pytest.mark.parametrize("job_type", ["", None, 3])
def test_bad_job_type_is_refused(queue: Queue, job_type: Any) -> None:
    """A job type must be a non-empty string."""
    with pytest.raises(QueueError):
        queue.create(job_type, {})


def slow_job(job: Any) -> str:
    """Test processor: announce the start, then work for a while."""
    import redis

    from redis_connection import make_client

    client: redis.Redis = make_client()
    client.rpush(SLOW_STARTED, job.id)
    time.sleep(1.0)
    return "finished"


def test_sigterm_lets_running_job_finish(redis_url: str,
                                         queuing_dir: Path) -> None:
    """SIGTERM to the worker command waits for the running job to end."""
    import redis

    client = redis.Redis.from_url(redis_url)
    queue = create_queue(redis_url)
    job = queue.create("slow").save()
    proc = subprocess.Popen(
        [PYTHON, "-m", "worker", "--queue",
         "slow=tests.queuing_system.test_queue_features:slow_job"],
        cwd=str(queuing_dir), text=True, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=base_env(REDIS_URL=redis_url, PYTHONPATH=str(ROOT)))
    try:
        assert client.blpop(SLOW_STARTED, 30) is not None
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, out
        assert job.wait(10) and job.result == "finished"
        assert queue.counts("slow")["completed"] == 1
    finally:
        if proc.poll() is None:
            proc.kill()
        queue.shutdown()


def test_worker_command_refuses_unknown_queue(queuing_dir: Path) -> None:
    """An unregistered queue name stops the command with status 2."""
    done = subprocess.run([PYTHON, "-m", "worker", "--queue", "nope"],
                          cwd=str(queuing_dir), capture_output=True,
                          text=True, timeout=30, env=base_env())
    assert done.returncode == 2
    assert "no processor registered for 'nope'" in done.stderr


def test_wait_all_wakes_once_the_last_job_finished(queue: Queue) -> None:
    """``wait_all`` returns once every job finished, whatever the order,
    False at its timeout while one has not; ``wait`` sees the same."""
    from kue import wait_all

    queue.process("waited", 2, lambda job: job.data["n"])
    early = queue.create("waited", {"n": 0}).save()
    assert early.wait(20) and early.wait(0)
    jobs = [early] + queue.create_bulk("waited",
                                       [{"n": n} for n in range(1, 30)])
    assert wait_all(jobs, 20)
    assert [job.result for job in jobs] == list(range(30))
    never = queue.create("never-processed", {}).save()
    started = time.monotonic()
    assert not wait_all(jobs + [never], 0.3)
    assert 0.3 <= time.monotonic() - started < 5
    assert not never.wait(0.05)
    called = []
    early.when_done(lambda: called.append("now"))
    assert called == ["now"]

#!/usr/bin/env python3
"""Kue 0.11's features on the job queue module, one test each.

Every test runs against the suite's real Redis; the cross-process ones
start a real ``python3 -m worker`` process.
"""
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from kue import Job, Queue, QueueError, create_queue
from tests.support import PYTHON, ROOT, base_env


@pytest.fixture
def queue(redis_url: str) -> Iterator[Queue]:
    """Yield a queue on the test Redis, shut down after the test."""
    queue = create_queue(redis_url)
    yield queue
    queue.shutdown()


def wait_until(condition: Callable[[], Any], timeout: float = 20) -> Any:
    """Poll a condition until it holds (or fail after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("condition not met in {} s".format(timeout))


def fail_twice(job: Any) -> str:
    """Fail the first two attempts of a job, then succeed."""
    if job.attempts_made < 2:
        raise RuntimeError("attempt {} failed".format(job.attempts_made))
    return "ok"


def echo_job(job: Any) -> Any:
    """Log a line, report progress with data, return the job's data."""
    job.log("working on %s", job.id)
    job.progress(1, 2, {"step": "half"})
    return job.data


def doubling(attempts: int, delay: int) -> int:
    """Kue back-off function: 30 ms, then 60 ms..."""
    return 30 * 2 ** (attempts - 1)


CALLS: list = []


def counting_backoff(attempts: int, delay: int) -> int:
    """Kue back-off function that records its calls."""
    CALLS.append((attempts, delay))
    return 10


def test_queue_events_from_another_process(queue: Queue, redis_url: str,
                                           queuing_dir: Path) -> None:
    """Queue-level events cover jobs another process created and ran."""
    seen: list = []
    lock = threading.Lock()

    def record(name: str) -> Callable:
        """Return a listener recording one event name."""
        def listener(job_id: str, *args: Any) -> None:
            """Record the event with the job's id."""
            with lock:
                seen.append((name, job_id) + args)
        return listener

    for name in ("job enqueue", "job start", "job progress",
                 "job complete", "job failed", "job failed attempt",
                 "job remove"):
        queue.on(name, record(name))
    other = create_queue(redis_url)
    try:
        ok = other.create("remote", {"n": 1}).save()
        bad = other.create("remote", {"fail": True}).attempts(2).save()
        worker = subprocess.Popen(
            [PYTHON, "-m", "worker", "--queue",
             "remote=tests.queuing_system.test_kue_parity:remote_job"],
            cwd=str(queuing_dir), env=base_env(
                REDIS_URL=redis_url, PYTHONPATH=str(ROOT)),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_until(lambda: ("job failed", bad.id, "nope") in seen)
            wait_until(lambda: ("job complete", ok.id, {"n": 1}) in seen)
        finally:
            worker.terminate()
            worker.wait(30)
        other.get_job(ok.id, "remote").remove()
        wait_until(lambda: ("job remove", ok.id, "remote") in seen)
    finally:
        other.shutdown()
    with lock:
        names = [event for event in seen if event[1] == bad.id]
    assert names == [("job enqueue", bad.id, "remote"),
                     ("job start", bad.id, "remote"),
                     ("job failed attempt", bad.id, "nope", 1),
                     ("job start", bad.id, "remote"),
                     ("job failed", bad.id, "nope")]
    assert ("job progress", ok.id, 50) in seen


def remote_job(job: Any) -> Any:
    """Worker-process handler: fail jobs asking for it, else echo data."""
    if job.data.get("fail"):
        raise ValueError("nope")
    job.progress(1, 2)
    return job.data


def test_job_events_enqueue_start_attempt_promotion_remove(
        queue: Queue) -> None:
    """A job hears enqueue, start, failed attempt, promotion, complete."""
    events: list = []
    queue.process("steps", 1, fail_twice)
    job = queue.create("steps").attempts(3).backoff(40)
    for name in ("enqueue", "start", "failed attempt", "promotion",
                 "complete", "remove"):
        job.on(name, lambda *args, name=name: events.append((name,) + args))
    job.save()
    assert job.wait(20)
    job.remove()
    wait_until(lambda: events[-1][0] == "remove")
    assert events == [
        ("enqueue", "steps"), ("start", "steps"),
        ("failed attempt", "attempt 0 failed", 1), ("promotion",),
        ("start", "steps"), ("failed attempt", "attempt 1 failed", 2),
        ("promotion",), ("start", "steps"), ("complete", "ok"),
        ("remove", "steps")]


def test_job_log_and_progress_data(queue: Queue) -> None:
    """``job.log`` lines and ``progress(done, total, data)`` are kept."""
    job = queue.create("echo", {"x": 1})
    percents: list = []
    job.on("progress", percents.append)
    job.save()
    job.log("queued by %s", "the test")
    queue.process("echo", 1, echo_job)
    assert job.wait(20) and job.result == {"x": 1}
    assert percents == [50] and job.progress_data == {"step": "half"}
    assert queue.logs(job.id, "echo") == [
        "queued by the test", "working on {}".format(job.id)]
    stored = Job.get(job.id, queue=queue)
    assert stored.json["progress"] == 50
    assert stored.json["progress_data"] == {"step": "half"}


def test_job_get_and_remove(queue: Queue) -> None:
    """``Job.get`` finds a stored job by id; ``remove`` deletes it."""
    job = queue.create("mail", {"to": "a"}).priority("high").save()
    stored = Job.get(job.id, queue=queue)
    assert (stored.type, stored.state, stored.data) == (
        "mail", "inactive", {"to": "a"})
    assert stored.json["priority"] == -10
    assert stored.json["attempts"] == {"made": 0, "remaining": 1, "max": 1}
    stored.remove()
    assert Job.get(job.id, queue=queue) is None
    assert Job.get("999", queue=queue) is None


def test_job_get_ambiguous_id_names_the_types(queue: Queue) -> None:
    """Ids are per type: an id held by two types needs its type."""
    first = queue.create("a").save()
    queue.create("b").save()
    with pytest.raises(QueueError, match=r"several types \(a, b\)"):
        Job.get(first.id, queue=queue)
    assert Job.get(first.id, "a", queue=queue).type == "a"


def test_range_by_state_and_type(queue: Queue) -> None:
    """Ranges list jobs of a state (all types, or one) by id."""
    queue.create_bulk("a", [{"i": i} for i in range(3)])
    queue.create("b", {"i": 9}).delay(60000).save()
    inactive = Job.range_by_state("inactive", 0, -1, "asc", queue=queue)
    assert [(job.type, job.id) for job in inactive] == [
        ("a", "1"), ("a", "2"), ("a", "3")]
    newest = Job.range_by_type("a", "inactive", 0, 1, "desc", queue=queue)
    assert [job.id for job in newest] == ["3", "2"]
    delayed = Job.range_by_state("delayed", queue=queue)
    assert [(job.type, job.data) for job in delayed] == [("b", {"i": 9})]


def test_state_counts(queue: Queue) -> None:
    """Per-state counts, for all types or one."""
    queue.create_bulk("a", [{}, {}])
    queue.create("b").save()
    queue.create("b").delay(60000).save()
    assert queue.inactive_count() == 3 and queue.inactive_count("a") == 2
    assert queue.delayed_count() == 1 and queue.delayed_count("a") == 0
    assert queue.counts_by_type() == {
        "a": {"inactive": 2, "active": 0, "complete": 0, "failed": 0,
              "delayed": 0},
        "b": {"inactive": 1, "active": 0, "complete": 0, "failed": 0,
              "delayed": 1}}
    queue.process("a", 1, lambda job: None)
    wait_until(lambda: queue.complete_count("a") == 2)
    assert queue.active_count() == 0 and queue.failed_count() == 0


def test_ttl_fails_a_job_running_too_long(queue: Queue) -> None:
    """An active job past its ttl fails with "TTL exceeded"."""
    release = threading.Event()
    queue.process("slow", 1, lambda job: release.wait(10))
    job = queue.create("slow").ttl(100).save()
    try:
        assert job.wait(20)
    finally:
        release.set()
    assert (job.state, job.error) == ("failed", "TTL exceeded")


def test_remove_on_complete_per_job(queue: Queue) -> None:
    """A job with ``remove_on_complete()`` is gone once it completed."""
    queue.process("tidy", 1, lambda job: "done")
    gone = queue.create("tidy").remove_on_complete().save()
    kept = queue.create("tidy").save()
    assert gone.wait(20) and kept.wait(20)
    assert Job.get(gone.id, "tidy", queue=queue) is None
    assert Job.get(kept.id, "tidy", queue=queue).state == "complete"


def test_backoff_true_uses_the_job_delay(queue: Queue) -> None:
    """``backoff(True)`` waits the job's own delay between attempts."""
    queue.process("again", 1, fail_twice)
    job = queue.create("again").attempts(3).delay(20).backoff(True)
    assert job.save().wait(20) and job.result == "ok"
    assert job.opts["backoff"] == {"type": "fixed"}
    stored = Job.get(job.id, "again", queue=queue)
    assert stored.json["attempts"] == {"made": 3, "remaining": 0, "max": 3}


def test_custom_backoff_function(queue: Queue) -> None:
    """A back-off function gets Kue's (attempts, delay) and is obeyed."""
    CALLS.clear()
    queue.process("custom", 1, fail_twice)
    job = queue.create("custom").attempts(3).backoff(counting_backoff)
    assert job.save().wait(20) and job.result == "ok"
    assert CALLS == [(1, 0), (2, 0)]
    with pytest.raises(QueueError, match="module level"):
        queue.create("custom").backoff(lambda attempts, delay: 1)


@pytest.mark.parametrize("level, stored", [
    ("low", 10), ("normal", 0), ("medium", -5), ("high", -10),
    ("critical", -15), (-3, -3), (100, 100), ("7", 7)])
def test_kue_numeric_priorities(queue: Queue, level: Any,
                                stored: int) -> None:
    """Kue's names and plain numbers are stored as Kue's numbers."""
    job = queue.create("p").priority(level).save()
    assert Job.get(job.id, "p", queue=queue).json["priority"] == stored


def test_numeric_priorities_order_jobs(queue: Queue) -> None:
    """Lower Kue numbers run first; bad priorities are refused."""
    order: list = []
    levels = [10, 0, -15, -5, 3]
    jobs = [queue.create("prio", {"p": p}).priority(p) for p in levels]
    queue.save(jobs)
    queue.process("prio", 1, lambda job: order.append(job.data["p"]))
    assert all(job.wait(20) for job in jobs)
    assert order == [-15, -5, 0, 3, 10]
    for bad in ("urgent", -16, 1.5, True, None):
        with pytest.raises(QueueError):
            queue.create("prio").priority(bad)


def test_test_mode_with_processing(queue: Queue) -> None:
    """``test_mode.enter(process=True)`` records jobs and runs them."""
    queue.process("tm", 1, lambda job: job.data["n"] * 2)
    queue.test_mode.enter(process=True)
    job = queue.create("tm", {"n": 21}).save()
    assert queue.test_mode.jobs == [job]
    assert job.wait(20) and job.result == 42
    queue.test_mode.exit()


def test_handler_sees_type_and_name(queue: Queue) -> None:
    """A handler sees the job's type and its bullmq name (Node style)."""
    seen: list = []
    queue.process("mail", 1, lambda job: seen.append((job.type, job.name)))
    queue.create("mail").save()

    async def add_named() -> None:
        """Add a job as a Node producer would: one queue, many names."""
        await queue._queue("mail").add("welcome", {"to": "x"})

    queue.run(add_named())
    wait_until(lambda: len(seen) == 2)
    assert seen == [("mail", "mail"), ("mail", "welcome")]

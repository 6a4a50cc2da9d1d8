#!/usr/bin/env python3
"""Task 8: ``create_push_notifications_jobs`` in Kue's test mode."""
import threading
from typing import Iterator

import pytest

from kue import Queue, create_queue

job_module = __import__("8-job")
create_push_notifications_jobs = job_module.create_push_notifications_jobs
processor = __import__("7-job_processor")

JOBS = [
    {"phoneNumber": "4153518780",
     "message": "This is the code 1234 to verify your account"},
    {"phoneNumber": "4153518781",
     "message": "This is the code 4562 to verify your account"},
]


@pytest.fixture
def queue() -> Iterator[Queue]:
    """Yield a queue in test mode pointed at a port nothing listens on."""
    queue = create_queue("redis://127.0.0.1:1/0")
    queue.test_mode.enter()
    yield queue
    queue.test_mode.clear()
    queue.test_mode.exit()


@pytest.mark.parametrize("jobs", [
    "not a list", {"phoneNumber": "1"}, None, 42, ("a", "b"), JOBS[0]])
def test_jobs_not_an_array_raises_error(queue: Queue, jobs: object) -> None:
    """Anything but a list raises ``Jobs is not an array``, nothing queued."""
    with pytest.raises(Exception, match="^Jobs is not an array$"):
        create_push_notifications_jobs(jobs, queue)
    assert queue.test_mode.jobs == []


def test_create_two_jobs_records_type_and_data(
        queue: Queue, capsys: pytest.CaptureFixture) -> None:
    """Two jobs are recorded on push_notification_code_3 with their data."""
    create_push_notifications_jobs(JOBS, queue)
    assert len(queue.test_mode.jobs) == 2
    for job, data in zip(queue.test_mode.jobs, JOBS):
        assert job.type == "push_notification_code_3"
        assert job.data == data
    assert capsys.readouterr().out.splitlines() == [
        "Notification job created: 1", "Notification job created: 2"]


def test_empty_list_creates_no_job(queue: Queue) -> None:
    """An empty list is an array: no error and no job."""
    assert create_push_notifications_jobs([], queue) == []
    assert queue.test_mode.jobs == []


def test_clear_forgets_recorded_jobs(queue: Queue) -> None:
    """``test_mode.clear()`` empties the record between tests."""
    create_push_notifications_jobs(JOBS, queue)
    queue.test_mode.clear()
    assert queue.test_mode.jobs == []


def test_import_does_no_work() -> None:
    """Importing 8-job defines the function and touches nothing."""
    assert callable(create_push_notifications_jobs)
    assert job_module.JOB_TYPE == "push_notification_code_3"


def test_jobs_on_redis_report_progress_and_failures(
        redis_url: str, capsys: pytest.CaptureFixture) -> None:
    """Out of test mode, the jobs run and print task 7's four messages."""
    queue = create_queue(redis_url)
    try:
        queue.process("push_notification_code_3", 2,
                      processor.process_notification)
        jobs = create_push_notifications_jobs(
            JOBS + [{"phoneNumber": "4153518743",
                     "message": "This is the code 4321 to verify"}], queue)
        done = threading.Event()
        remaining = [len(jobs)]

        def finished(*args: object) -> None:
            """Count finished jobs and flag when all are done."""
            remaining[0] -= 1
            if not remaining[0]:
                done.set()

        for job in jobs:
            job.on("complete", finished).on("failed", finished)
        assert done.wait(30)
    finally:
        queue.shutdown()
    out = capsys.readouterr().out.splitlines()
    assert "Notification job 1 failed: Phone number 4153518780 is " \
        "blacklisted" in out
    assert "Notification job 2 failed: Phone number 4153518781 is " \
        "blacklisted" in out
    assert "Notification job 3 50% complete" in out
    assert "Notification job 3 completed" in out
    assert [job.state for job in jobs] == ["failed", "failed", "complete"]

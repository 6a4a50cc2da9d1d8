#!/usr/bin/env python3
"""A creator whose jobs no worker finished says so and exits 124.

The seed's stdout lines stay as they are (only the created lines, since
nothing happened to the jobs); one line on stderr tells the user, the
exit status is 124 (as ``timeout(1)``), and the jobs stay queued for a
worker started later.
"""
import subprocess
from pathlib import Path

import pytest

from kue import create_queue
from notifications import NOT_FINISHED, unfinished
from tests.support import PYTHON, base_env


def run_creator(script: str, cwd: Path,
                url: str) -> subprocess.CompletedProcess:
    """Run a creator with a 1 s wait and no worker."""
    return subprocess.run(
        [PYTHON, script], cwd=str(cwd), timeout=60, capture_output=True,
        text=True, env=base_env(REDIS_URL=url, JOB_WAIT_SECONDS="1"))


def test_6_creator_without_worker(redis_url: str,
                                  queuing_dir: Path) -> None:
    """One created line, one stderr line, exit 124, the job waits."""
    done = run_creator("6-job_creator.py", queuing_dir, redis_url)
    assert done.returncode == NOT_FINISHED == 124
    assert done.stdout.splitlines() == ["Notification job created: 1"]
    assert done.stderr.splitlines() == [
        "No worker finished the job within 1 s; it stays queued"]
    queue = create_queue(redis_url)
    try:
        assert queue.counts("push_notification_code")["wait"] == 1
    finally:
        queue.shutdown()


def test_7_creator_without_worker(redis_url: str,
                                  queuing_dir: Path) -> None:
    """Eleven created lines, one stderr line, exit 124, the jobs wait."""
    done = run_creator("7-job_creator.py", queuing_dir, redis_url)
    assert done.returncode == 124
    assert done.stdout.splitlines() == [
        "Notification job created: {}".format(n) for n in range(1, 12)]
    assert done.stderr.splitlines() == [
        "No worker finished the jobs within 1 s; they stay queued"]
    queue = create_queue(redis_url)
    try:
        assert queue.counts("push_notification_code_2")["wait"] == 11
    finally:
        queue.shutdown()


@pytest.mark.parametrize("finished, line", [
    (3, None),
    (2, "1 of 3 jobs not finished within 2.5 s; it stays queued"),
    (1, "2 of 3 jobs not finished within 2.5 s; they stay queued"),
])
def test_unfinished_counts_jobs_left(
        finished: int, line: str, capsys: pytest.CaptureFixture) -> None:
    """Some jobs finished: the line counts the others; all: silence, 0."""
    queue = create_queue("redis://127.0.0.1:1/0")
    queue.test_mode.enter()
    jobs = [queue.create("t").save() for _ in range(3)]
    for job in jobs[:finished]:
        job.emit("complete", None)
    status = unfinished(jobs, 2.5)
    err = capsys.readouterr().err.splitlines()
    assert (status, err) == ((0, []) if line is None
                             else (NOT_FINISHED, [line]))

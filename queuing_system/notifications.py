#!/usr/bin/env python3
"""Shared parts of the notification tasks 6-8: how long a creator waits
for its jobs, and the console lines printed for a job.
"""
import os
import threading
from typing import Any

_PRINTING = threading.Lock()


def say(line: str) -> None:
    """Print one whole line, even while other threads of the process print.

    ``print`` writes the text and the newline in two steps, so lines
    printed by two threads at once can merge (leaving an empty line):
    processors run jobs in several threads, and creators print from
    their main thread while the queue's event thread reports on jobs.
    """
    with _PRINTING:
        print(line, flush=True)


def report(job: Any) -> None:
    """Print the seed's lines for a job's progress, completion, failure."""
    job.on("complete", lambda result: say(
        "Notification job {} completed".format(job.id)))
    job.on("failed", lambda error: say(
        "Notification job {} failed: {}".format(job.id, error)))
    job.on("progress", lambda percent: say(
        "Notification job {} {}% complete".format(job.id, percent)))


def wait_seconds() -> float:
    """Return how long a creator waits for its jobs (JOB_WAIT_SECONDS, 30)."""
    try:
        return max(0.0, float(os.environ.get("JOB_WAIT_SECONDS", "30")))
    except ValueError:
        return 30.0

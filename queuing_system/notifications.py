#!/usr/bin/env python3
"""Shared parts of the notification tasks 6-8: how long a creator waits
for its jobs, and the console lines printed for a job.
"""
import os
from typing import Any


def report(job: Any) -> None:
    """Print the seed's lines for a job's progress, completion, failure.

    The three listeners are added together, so events that happened
    before this call are printed in the order they happened.
    """
    job.on_many({
        "complete": lambda result: print(
            "Notification job {} completed".format(job.id), flush=True),
        "failed": lambda error: print(
            "Notification job {} failed: {}".format(job.id, error),
            flush=True),
        "progress": lambda percent: print(
            "Notification job {} {}% complete".format(job.id, percent),
            flush=True),
    })


def wait_seconds() -> float:
    """Return how long a creator waits for its jobs (JOB_WAIT_SECONDS, 30)."""
    try:
        return max(0.0, float(os.environ.get("JOB_WAIT_SECONDS", "30")))
    except ValueError:
        return 30.0

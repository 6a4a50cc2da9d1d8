#!/usr/bin/env python3
"""Shared parts of the notification tasks 6-8: how long a creator waits
for its jobs, the console lines printed for a job, and printing a line
whole when several threads print at once.
"""
import os
import sys
import threading
from typing import Any, Optional, TextIO

_OUTPUT = threading.Lock()


def say(line: str, stream: Optional[TextIO] = None) -> None:
    """Print one line in a single write, so threads never mix lines.

    ``print(line, flush=True)`` writes the text and the newline in two
    calls; two threads printing at once could put both texts on one
    line. Default stream: standard output.
    """
    stream = sys.stdout if stream is None else stream
    with _OUTPUT:
        stream.write(line + "\n")
        stream.flush()


def report(job: Any) -> None:
    """Print the seed's lines for a job's progress, completion, failure.

    The three listeners are added together, so events that happened
    before this call are printed in the order they happened.
    """
    job.on_many({
        "complete": lambda result: say(
            "Notification job {} completed".format(job.id)),
        "failed": lambda error: say(
            "Notification job {} failed: {}".format(job.id, error)),
        "progress": lambda percent: say(
            "Notification job {} {}% complete".format(job.id, percent)),
    })


def wait_seconds() -> float:
    """Return how long a creator waits for its jobs (JOB_WAIT_SECONDS, 30)."""
    try:
        return max(0.0, float(os.environ.get("JOB_WAIT_SECONDS", "30")))
    except ValueError:
        return 30.0

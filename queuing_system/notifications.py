#!/usr/bin/env python3
"""Shared parts of the notification tasks 6-8: how long a creator waits
for its jobs, the console lines printed for a job, and printing a line
whole when several threads print at once.
"""
import os
import sys
import threading
from typing import Any, Iterable, Optional, TextIO

# The exit status of a creator whose jobs were not all finished in time
# (as ``timeout(1)`` does); 1 means they could not be created at all.
NOT_FINISHED = 124

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


def unfinished(jobs: Iterable[Any], seconds: float) -> int:
    """Say on stderr how many jobs are not finished; return the exit status.

    Returns 0 when every job completed or failed, else ``NOT_FINISHED``
    after one line such as ``No worker finished the jobs within 30 s;
    they stay queued``.
    """
    jobs = list(jobs)
    left = sum(1 for job in jobs if job.state not in ("complete", "failed"))
    if not left:
        return 0
    if left == len(jobs):
        what = "the job" if left == 1 else "the jobs"
        line = "No worker finished {} within {:g} s".format(what, seconds)
    else:
        line = "{} of {} jobs not finished within {:g} s".format(
            left, len(jobs), seconds)
    say(line + ("; it stays queued" if left == 1 else "; they stay queued"),
        sys.stderr)
    return NOT_FINISHED

#!/usr/bin/env python3
"""The console lines that tasks 7 and 8 print for a notification job."""
from typing import Any


def report(job: Any) -> None:
    """Print the seed's lines for a job's progress, completion, failure."""
    job.on("complete", lambda result: print(
        "Notification job {} completed".format(job.id), flush=True))
    job.on("failed", lambda error: print(
        "Notification job {} failed: {}".format(job.id, error), flush=True))
    job.on("progress", lambda percent: print(
        "Notification job {} {}% complete".format(job.id, percent),
        flush=True))

#!/usr/bin/env python3
"""``create_push_notifications_jobs``: task 8's job creation function."""
from typing import Any

JOB_TYPE = "push_notification_code_3"


def create_push_notifications_jobs(jobs: Any, queue: Any) -> list:
    """Queue one ``push_notification_code_3`` job per item of ``jobs``.

    Raises ``TypeError('Jobs is not an array')`` when ``jobs`` is not a
    list. Prints the same lines as task 7 for each job; returns the jobs.
    """
    if not isinstance(jobs, list):
        raise TypeError("Jobs is not an array")
    created = []
    for data in jobs:
        job = queue.create(JOB_TYPE, data)
        job.save()
        print("Notification job created: {}".format(job.id), flush=True)
        _report(job)
        created.append(job)
    return created


def _report(job: Any) -> None:
    """Print the lines of a job's progress, completion and failure."""
    job.on("complete", lambda result: print(
        "Notification job {} completed".format(job.id), flush=True))
    job.on("failed", lambda error: print(
        "Notification job {} failed: {}".format(job.id, error), flush=True))
    job.on("progress", lambda percent: print(
        "Notification job {} {}% complete".format(job.id, percent),
        flush=True))

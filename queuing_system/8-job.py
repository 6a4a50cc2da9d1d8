#!/usr/bin/env python3
"""``create_push_notifications_jobs``: task 8's job creation function."""
from typing import Any

from notifications import report, say

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
        say("Notification job created: {}".format(job.id))
        report(job)
        created.append(job)
    return created


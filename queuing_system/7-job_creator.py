#!/usr/bin/env python3
"""Create the eleven notification jobs of task 7 and report each one."""
import sys

from kue import QueueUnavailable, create_queue, wait_all
from notifications import report, say, wait_seconds

JOB_TYPE = "push_notification_code_2"
MESSAGE = "This is the code {} to verify your account"
JOBS = [
    {"phoneNumber": phone, "message": MESSAGE.format(code)}
    for phone, code in [
        ("4153518780", "1234"), ("4153518781", "4562"),
        ("4153518743", "4321"), ("4153538781", "4562"),
        ("4153118782", "4321"), ("4153718781", "4562"),
        ("4159518782", "4321"), ("4158718781", "4562"),
        ("4153818782", "4321"), ("4154318781", "4562"),
        ("4151218782", "4321"),
    ]
]


def main() -> int:
    """Queue the jobs, print their fate, exit once all finished."""
    queue = create_queue()
    jobs = [queue.create(JOB_TYPE, data) for data in JOBS]
    try:
        queue.save(jobs)
    except QueueUnavailable as error:
        print("Notification jobs failed to be created: {}".format(error))
        return 1
    for job in jobs:
        say("Notification job created: {}".format(job.id))
        report(job)
    wait_all(jobs, wait_seconds())
    queue.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())

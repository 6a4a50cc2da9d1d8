#!/usr/bin/env python3
"""Create one push notification job and report what becomes of it."""
import sys

from kue import QueueUnavailable, create_queue
from notifications import say, unfinished, wait_seconds

JOB_TYPE = "push_notification_code"
JOB_DATA = {
    "phoneNumber": "4153518780",
    "message": "This is the code to verify your account",
}


def main() -> int:
    """Queue the job, print its fate, exit once it finished or timed out.

    Exit status: 0 once the job completed or failed, 1 when it could not
    be created, 124 when no worker finished it in time (one line on
    stderr says so; the job stays queued).
    """
    queue = create_queue()
    job = queue.create(JOB_TYPE, JOB_DATA)
    try:
        job.save()
    except QueueUnavailable as error:
        print("Notification job failed to be created: {}".format(error))
        return 1
    say("Notification job created: {}".format(job.id))
    job.on_many({
        "complete": lambda result: say("Notification job completed"),
        "failed": lambda error: say("Notification job failed"),
    })
    seconds = wait_seconds()
    job.wait(seconds)
    queue.shutdown()
    return unfinished([job], seconds)


if __name__ == "__main__":
    sys.exit(main())

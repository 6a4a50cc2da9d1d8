#!/usr/bin/env python3
"""Process task 7's notifications two at a time, refusing blacklisted ones."""
from typing import Any

from kue import create_queue, run_until_signal
from notifications import say

JOB_TYPE = "push_notification_code_2"
CONCURRENCY = 2
BLACKLISTED = ("4153518780", "4153518781")


class BlacklistedNumber(Exception):
    """Raised when a notification targets a blacklisted phone number."""


def send_notification(phone_number: str, message: str, job: Any) -> None:
    """Send one notification, reporting progress, or fail if blacklisted."""
    job.progress(0, 100)
    if phone_number in BLACKLISTED:
        raise BlacklistedNumber(
            "Phone number {} is blacklisted".format(phone_number))
    job.progress(50, 100)
    say("Sending notification to {}, with message: {}".format(
        phone_number, message))


def process_notification(job: Any) -> None:
    """Handle one notification job of task 7 (or task 8)."""
    send_notification(job.data.get("phoneNumber"), job.data.get("message"),
                      job)


def main() -> None:
    """Process the queue until SIGTERM or SIGINT."""
    queue = create_queue()
    queue.process(JOB_TYPE, CONCURRENCY, process_notification)
    run_until_signal(queue)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Process push notification jobs: print each notification sent."""
from typing import Any

from kue import create_queue, run_until_signal
from notifications import say

JOB_TYPE = "push_notification_code"


def send_notification(phone_number: str, message: str) -> None:
    """Print the notification the seed's processor sends."""
    say("Sending notification to {}, with message: {}".format(
        phone_number, message))


def process_notification(job: Any) -> None:
    """Handle one ``push_notification_code`` job."""
    send_notification(job.data.get("phoneNumber"), job.data.get("message"))


def main() -> None:
    """Process the queue until SIGTERM or SIGINT."""
    queue = create_queue()
    queue.process(JOB_TYPE, 1, process_notification)
    run_until_signal(queue)


if __name__ == "__main__":
    main()

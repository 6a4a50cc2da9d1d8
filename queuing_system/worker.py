#!/usr/bin/env python3
"""Worker command: process named queues, on any number of machines.

    python3 -m worker --queue push_notification_code_2:2 --queue reserve_seat

Each ``--queue NAME[:CONCURRENCY][=MODULE:FUNCTION]`` runs the processor
registered for ``NAME`` (or the given function) with that concurrency.
Every machine that runs this command against the same ``REDIS_URL``
shares the work; a job held by a worker that dies runs again elsewhere.
SIGTERM or SIGINT lets running jobs finish, then the command exits 0.
Started while Redis is unreachable, it says so in one line on stderr
and works as soon as Redis answers.
"""
import argparse
import importlib
import sys
from typing import Callable, Optional

from kue import QueueError, create_queue, run_until_signal

# Job type -> (module, function, default concurrency).
PROCESSORS = {
    "push_notification_code": ("6-job_processor", "process_notification", 1),
    "push_notification_code_2": ("7-job_processor", "process_notification",
                                 2),
    "push_notification_code_3": ("7-job_processor", "process_notification",
                                 2),
    "reserve_seat": ("100-seat", "reserve_seat_job", 1),
}


class UnknownProcessor(QueueError):
    """Raised when a queue name has no registered processor."""


def load(target: str) -> Callable:
    """Import ``module:function`` and return the function."""
    module_name, _, function = target.partition(":")
    if not module_name or not function:
        raise UnknownProcessor(
            "a processor is MODULE:FUNCTION, got {!r}".format(target))
    return getattr(importlib.import_module(module_name), function)


def parse_queue(spec: str) -> tuple:
    """Turn ``NAME[:CONCURRENCY][=MODULE:FUNCTION]`` into its parts.

    Returns (name, concurrency, handler).
    """
    head, _, target = spec.partition("=")
    name, _, count = head.partition(":")
    registered = PROCESSORS.get(name)
    if target:
        handler = load(target)
        default = 1
    elif registered:
        handler = load("{}:{}".format(registered[0], registered[1]))
        default = registered[2]
    else:
        raise UnknownProcessor(
            "no processor registered for {!r} (known: {})".format(
                name, ", ".join(sorted(PROCESSORS))))
    if count and (not count.isdecimal() or int(count) < 1):
        raise UnknownProcessor("concurrency must be a positive number, "
                               "got {!r}".format(count))
    return name, int(count) if count else default, handler


def parser() -> argparse.ArgumentParser:
    """Describe the command line."""
    cli = argparse.ArgumentParser(
        prog="python3 -m worker",
        description="Process named job queues until SIGTERM/SIGINT.")
    cli.add_argument("--queue", action="append", required=True,
                     metavar="NAME[:N][=MODULE:FUNCTION]",
                     help="a queue to process, N jobs at a time")
    cli.add_argument("--lock-duration", type=int, default=30000,
                     metavar="MS", help="job lock time (default 30000)")
    cli.add_argument("--stalled-interval", type=int, default=30000,
                     metavar="MS",
                     help="stalled jobs check period (default 30000)")
    cli.add_argument("--max-stalled-count", type=int, default=1,
                     help="times a job may stall before it fails (1)")
    cli.add_argument("--shutdown-timeout", type=float, default=30.0,
                     metavar="S",
                     help="time running jobs get on SIGTERM (default 30)")
    return cli


def main(argv: Optional[list] = None) -> int:
    """Start the workers and block until asked to stop."""
    args = parser().parse_args(argv)
    try:
        specs = [parse_queue(spec) for spec in args.queue]
    except (QueueError, ImportError, AttributeError) as error:
        print("worker: {}".format(error), file=sys.stderr)
        return 2
    queue = create_queue()
    for name, concurrency, handler in specs:
        queue.process(name, concurrency, handler,
                      lock_duration=args.lock_duration,
                      stalled_interval=args.stalled_interval,
                      max_stalled_count=args.max_stalled_count)
        print("worker: processing {} ({} at a time)".format(
            name, concurrency), flush=True)
    run_until_signal(queue, args.shutdown_timeout)
    print("worker: stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Two processor threads never print into one line.

The 7 processor runs two jobs at a time, each on its own thread, and
prints one line per notification sent. Over 1,000 jobs every line of its
output must be exactly one of the expected lines (``print`` writes the
text and the newline in two calls: two threads used to mix about two
lines in 400).
"""
import re
import signal
import subprocess
import threading
from pathlib import Path

from kue import create_queue, wait_all
from tests.support import PYTHON, base_env

JOBS = 1000
JOB_TYPE = "push_notification_code_2"
SENT = re.compile(r"Sending notification to (\d{10}), with message: "
                  r"This is the code (\d+) to verify your account")


def test_every_line_of_the_7_processor_is_whole(
        redis_url: str, queuing_dir: Path) -> None:
    """1,000 jobs at concurrency 2 give 1,000 well-formed lines."""
    queue = create_queue(redis_url)
    proc = subprocess.Popen(
        [PYTHON, "7-job_processor.py"], cwd=str(queuing_dir), text=True,
        env=base_env(REDIS_URL=redis_url), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT)
    printed: list = []
    reader = threading.Thread(target=lambda: printed.extend(proc.stdout),
                              daemon=True)
    reader.start()
    try:
        jobs = queue.create_bulk(JOB_TYPE, [
            {"phoneNumber": "5{:09d}".format(n),
             "message": "This is the code {} to verify your account"
             .format(n)} for n in range(JOBS)])
        assert wait_all(jobs, 120)
        assert {job.state for job in jobs} == {"complete"}
    finally:
        queue.shutdown()
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        reader.join(30)
    lines = [line.rstrip("\n") for line in printed]
    assert proc.returncode == 0, lines[-20:]
    bad = [line for line in lines if not SENT.fullmatch(line)]
    assert bad == []
    assert sorted(int(SENT.fullmatch(line).group(2)) for line in lines) == (
        list(range(JOBS)))

#!/usr/bin/env python3
"""Tasks 6 and 7: a creator and a processor in two processes, real Redis."""
import re
import signal
import subprocess
from pathlib import Path

from tests.support import PYTHON, base_env

PHONES_7 = ["4153518780", "4153518781", "4153518743", "4153538781",
            "4153118782", "4153718781", "4159518782", "4158718781",
            "4153818782", "4154318781", "4151218782"]
CODES_7 = ["1234", "4562", "4321", "4562", "4321", "4562", "4321", "4562",
           "4321", "4562", "4321"]


def start_processor(script: str, cwd: Path, url: str) -> subprocess.Popen:
    """Start a processor script in the background."""
    return subprocess.Popen(
        [PYTHON, script], cwd=str(cwd), env=base_env(REDIS_URL=url),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def stop(proc: subprocess.Popen) -> tuple:
    """Stop a processor with SIGTERM; return (exit status, output)."""
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    return proc.returncode, out


def run_creator(script: str, cwd: Path, url: str) -> str:
    """Run a creator script to its end and return what it printed."""
    done = subprocess.run(
        [PYTHON, script], cwd=str(cwd), timeout=60, capture_output=True,
        text=True, env=base_env(REDIS_URL=url, JOB_WAIT_SECONDS="30"))
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_task_6_creator_and_processor_exchange_messages(
        redis_url: str, queuing_dir: Path) -> None:
    """The creator sees its job created then completed by the processor."""
    proc = start_processor("6-job_processor.py", queuing_dir, redis_url)
    try:
        out = run_creator("6-job_creator.py", queuing_dir, redis_url)
    finally:
        status, processed = stop(proc)
    assert out.splitlines() == ["Notification job created: 1",
                                "Notification job completed"]
    assert status == 0
    assert processed.splitlines() == [
        "Sending notification to 4153518780, with message: "
        "This is the code to verify your account"]


def job_lines(out: str, job_id: str) -> list:
    """Return the creator's lines about one job, in order."""
    pattern = re.compile(r"Notification job (created: )?{}\b".format(job_id))
    return [line for line in out.splitlines() if pattern.search(line)]


def test_task_7_progress_completion_and_blacklist_failures(
        redis_url: str, queuing_dir: Path) -> None:
    """Each job reports progress then completes; blacklisted ones fail."""
    proc = start_processor("7-job_processor.py", queuing_dir, redis_url)
    try:
        out = run_creator("7-job_creator.py", queuing_dir, redis_url)
    finally:
        status, processed = stop(proc)
    assert status == 0
    for number, phone in enumerate(PHONES_7, start=1):
        prefix = "Notification job {}".format(number)
        if number <= 2:
            expected = [
                "Notification job created: {}".format(number),
                prefix + " 0% complete",
                prefix + " failed: Phone number {} is blacklisted".format(
                    phone)]
        else:
            expected = ["Notification job created: {}".format(number),
                        prefix + " 0% complete", prefix + " 50% complete",
                        prefix + " completed"]
        assert job_lines(out, str(number)) == expected
    assert len(out.splitlines()) == 2 * 3 + 9 * 4
    sent = sorted(processed.splitlines())
    assert sent == sorted(
        "Sending notification to {}, with message: This is the code {} "
        "to verify your account".format(phone, code)
        for phone, code in zip(PHONES_7[2:], CODES_7[2:]))

#!/usr/bin/env python3
"""A job's events reach its listeners in the order they happened.

Task 7's path, 50 times: this process saves the eleven jobs of
``7-job_creator.py`` and adds the seed's listeners to each job
(``notifications.report``, what the creator does), while a real worker
process runs them: the 7 processor, and a Node BullMQ worker doing the
same where Node.js and bench/node's npm packages are installed. Even
runs add the listeners right after saving (racing the events); odd runs
only once every job finished, so all events are replayed to late
listeners: "failed" used to come before "0% complete" there.
"""
import importlib
import re
import shutil
import signal
import subprocess
import threading
from pathlib import Path
from typing import Iterator

import pytest

from kue import create_queue, wait_all
from notifications import report
from tests.support import PYTHON, ROOT, base_env

RUNS = 50
CREATOR = importlib.import_module("7-job_creator")
BLACKLISTED = ("4153518780", "4153518781")
NODE_MODULES = ROOT / "bench" / "node" / "node_modules"
NODE_PROCESSOR = Path(__file__).parent / "node" / "processor_7.js"
LINE = re.compile(r"Notification job (\d+) (.*)")
CREATED = re.compile(r"Notification job (created): (\d+)")


def node_missing() -> str:
    """Tell why the Node worker cannot run here ("" when it can)."""
    if not shutil.which("node"):
        return "node is not installed"
    if not (NODE_MODULES / "bullmq").is_dir():
        return ("bench/node has no node_modules/bullmq "
                "(run `npm ci` in bench/node)")
    return ""


@pytest.fixture(params=["python", "node"])
def worker(request: pytest.FixtureRequest, redis_url: str,
           queuing_dir: Path) -> Iterator[subprocess.Popen]:
    """Run a task-7 worker process (Python or Node) on the test Redis."""
    if request.param == "python":
        proc = subprocess.Popen(
            [PYTHON, "7-job_processor.py"], cwd=str(queuing_dir), text=True,
            env=base_env(REDIS_URL=redis_url), stdout=subprocess.DEVNULL)
    else:
        missing = node_missing()
        if missing:
            pytest.skip("Node BullMQ worker variant skipped: " + missing)
        proc = subprocess.Popen(
            ["node", str(NODE_PROCESSOR), redis_url, CREATOR.JOB_TYPE],
            text=True, stdout=subprocess.PIPE,
            env=base_env(NODE_PATH=str(NODE_MODULES)))
        assert proc.stdout.readline().strip() == "ready"
        threading.Thread(target=proc.stdout.read, daemon=True).start()
    yield proc
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
    assert proc.returncode == 0


def expected_lines(phone: str) -> list:
    """Return what the creator prints about a job after its created line."""
    if phone in BLACKLISTED:
        return ["0% complete",
                "failed: Phone number {} is blacklisted".format(phone)]
    return ["0% complete", "50% complete", "completed"]


def test_events_of_each_job_come_in_order(
        worker: subprocess.Popen, redis_url: str,
        capsys: pytest.CaptureFixture) -> None:
    """Over 50 runs, every job prints its progress before its end."""
    phones: dict = {}
    queue = create_queue(redis_url)
    try:
        for run in range(RUNS):
            jobs = [queue.create(CREATOR.JOB_TYPE, data)
                    for data in CREATOR.JOBS]
            queue.save(jobs)
            if run % 2:
                assert all(job.wait(30) for job in jobs)
            for job in jobs:
                phones[job.id] = job.data["phoneNumber"]
                report(job)
            assert wait_all(jobs, 30)
    finally:
        queue.shutdown()
    heard: dict = {job_id: [] for job_id in phones}
    for line in capsys.readouterr().out.splitlines():
        match = LINE.fullmatch(line)
        assert match, line
        heard[match.group(1)].append(match.group(2))
    wrong = {job_id: lines for job_id, lines in heard.items()
             if lines != expected_lines(phones[job_id])}
    assert wrong == {}
    assert len(heard) == RUNS * len(CREATOR.JOBS)


def test_real_creator_prints_each_job_in_order(
        worker: subprocess.Popen, redis_url: str, queuing_dir: Path) -> None:
    """``7-job_creator.py`` itself, against either worker, prints in order."""
    done = subprocess.run(
        [PYTHON, "7-job_creator.py"], cwd=str(queuing_dir), timeout=60,
        capture_output=True, text=True,
        env=base_env(REDIS_URL=redis_url, JOB_WAIT_SECONDS="30"))
    assert done.returncode == 0, done.stderr
    heard: dict = {}
    for line in done.stdout.splitlines():
        created = CREATED.fullmatch(line)
        if created:
            heard.setdefault(created.group(2), []).append("created")
            continue
        match = LINE.fullmatch(line)
        assert match, line
        heard.setdefault(match.group(1), []).append(match.group(2))
    assert heard == {
        str(number): ["created"] + expected_lines(data["phoneNumber"])
        for number, data in enumerate(CREATOR.JOBS, start=1)}

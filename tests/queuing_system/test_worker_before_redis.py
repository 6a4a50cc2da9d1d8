#!/usr/bin/env python3
"""A worker started while Redis is unreachable works once Redis is up.

Each worker (``python3 -m worker``, the 6 and 7 processors, 100-seat's
in-process worker) starts with ``REDIS_URL`` on a port nothing listens
on. It must say so in one line, keep trying, and process every job once
a Redis server starts on that port; a traceback in its output fails the
test. The Redis server is started only after the worker printed its
waiting line, so the first attempt has certainly failed.
"""
import queue as queues
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Callable, Iterator

import pytest
import requests

from tests.support import (PYTHON, RedisServer, base_env, free_port,
                           wait_for_port)

WAITING = "Waiting for Redis at redis://127.0.0.1:{}/0: "


class Output:
    """The lines a process prints, read on a thread as they come."""

    def __init__(self, proc: subprocess.Popen) -> None:
        """Start reading the process's merged output."""
        self.lines: list = []
        self._new: queues.Queue = queues.Queue()
        self._thread = threading.Thread(target=self._read, args=(proc,),
                                        daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen) -> None:
        """Collect lines until the process closes its output."""
        for line in proc.stdout:
            self._new.put(line.rstrip("\n"))
        self._new.put(None)

    def wait_for(self, text: str, timeout: float = 30) -> str:
        """Return the first line containing ``text``, reading as needed."""
        for line in self.lines:
            if text in line:
                return line
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._new.get(timeout=max(
                    0.0, deadline - time.monotonic()))
            except queues.Empty:
                raise AssertionError("no line with {!r} in:\n{}".format(
                    text, "\n".join(self.lines))) from None
            if line is None:
                raise AssertionError("the process ended without {!r}:\n{}"
                                     .format(text, "\n".join(self.lines)))
            self.lines.append(line)
            if text in line:
                return line

    def rest(self) -> list:
        """Return every line, once the process has ended."""
        self._thread.join(30)
        while not self._new.empty():
            line = self._new.get_nowait()
            if line is not None:
                self.lines.append(line)
        return self.lines


@pytest.fixture
def down_port() -> int:
    """Return a port no Redis listens on (yet)."""
    return free_port()


@pytest.fixture
def start_redis(redis_server_factory: Callable, down_port: int
                ) -> Callable[[], RedisServer]:
    """Return a function starting Redis on the port that was down."""
    return lambda: redis_server_factory(down_port)


def url_of(port: int) -> str:
    """Return the Redis URL of a port."""
    return "redis://127.0.0.1:{}/0".format(port)


@pytest.fixture
def started() -> Iterator[list]:
    """Yield a list of processes to stop after the test (SIGTERM)."""
    procs: list = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def start(args: list, cwd: Path, port: int, procs: list) -> tuple:
    """Start a worker process on a Redis URL; return (process, output)."""
    proc = subprocess.Popen(
        [PYTHON] + args, cwd=str(cwd), text=True,
        env=base_env(REDIS_URL=url_of(port)), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT)
    procs.append(proc)
    return proc, Output(proc)


def stop(proc: subprocess.Popen, output: Output) -> list:
    """Stop a worker with SIGTERM; return all it printed."""
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)
    assert proc.returncode == 0
    return output.rest()


def run_creator(script: str, cwd: Path, port: int) -> str:
    """Run a creator to its end and return what it printed."""
    done = subprocess.run(
        [PYTHON, script], cwd=str(cwd), timeout=90, capture_output=True,
        text=True, env=base_env(REDIS_URL=url_of(port),
                                JOB_WAIT_SECONDS="30"))
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def assert_one_waiting_line(lines: list, port: int) -> None:
    """The worker said once that it waits, and printed no traceback."""
    waiting = [line for line in lines if "Waiting for Redis" in line]
    assert len(waiting) == 1, lines
    assert waiting[0].startswith(WAITING.format(port)), waiting
    assert "Connection refused" in waiting[0]
    assert not any("Traceback" in line for line in lines), lines


@pytest.mark.parametrize("args", [
    ["-m", "worker", "--queue", "push_notification_code_2"],
    ["7-job_processor.py"],
], ids=["worker-command", "7-job_processor"])
def test_task_7_worker_started_before_redis(
        args: list, queuing_dir: Path, down_port: int,
        start_redis: Callable, started: list) -> None:
    """All eleven jobs of task 7 are run once Redis comes up."""
    proc, output = start(args, queuing_dir, down_port, started)
    output.wait_for("Waiting for Redis")
    start_redis()
    out = run_creator("7-job_creator.py", queuing_dir, down_port)
    lines = stop(proc, output)
    assert len([line for line in out.splitlines()
                if line.endswith(" completed")]) == 9
    assert len([line for line in out.splitlines()
                if " failed: Phone number " in line]) == 2
    assert len([line for line in lines
                if line.startswith("Sending notification to ")]) == 9
    assert_one_waiting_line(lines, down_port)


def test_task_6_processor_started_before_redis(
        queuing_dir: Path, down_port: int, start_redis: Callable,
        started: list) -> None:
    """The 6 processor sends the notification once Redis comes up."""
    proc, output = start(["6-job_processor.py"], queuing_dir, down_port,
                         started)
    output.wait_for("Waiting for Redis")
    start_redis()
    out = run_creator("6-job_creator.py", queuing_dir, down_port)
    lines = stop(proc, output)
    assert out.splitlines() == ["Notification job created: 1",
                                "Notification job completed"]
    assert [line for line in lines if line.startswith("Sending")] == [
        "Sending notification to 4153518780, with message: "
        "This is the code to verify your account"]
    assert_one_waiting_line(lines, down_port)


def test_seat_app_processes_after_redis_comes_up(
        queuing_dir: Path, down_port: int, start_redis: Callable,
        started: list) -> None:
    """``GET /process`` with Redis down, then Redis: seats are taken."""
    port = free_port()
    proc = subprocess.Popen(
        [PYTHON, "100-seat.py"], cwd=str(queuing_dir), text=True,
        env=base_env(REDIS_URL=url_of(down_port), PORT=str(port)),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    started.append(proc)
    output = Output(proc)
    wait_for_port(port, proc=proc)
    app = "http://127.0.0.1:{}".format(port)
    answer = requests.get(app + "/process", timeout=10)
    assert answer.json() == {"status": "Queue processing"}
    output.wait_for("Waiting for Redis")
    start_redis()
    for _ in range(3):
        answer = requests.get(app + "/reserve_seat", timeout=10)
        assert answer.json() == {"status": "Reservation in process"}
    for number in range(3):
        output.wait_for("Seat reservation job {} completed".format(
            number + 1))
    seats = requests.get(app + "/available_seats", timeout=10)
    assert seats.json() == {"numberOfAvailableSeats": "47"}
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)
    assert_one_waiting_line(output.rest(), down_port)

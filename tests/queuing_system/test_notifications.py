#!/usr/bin/env python3
"""notifications.say: lines printed from several threads stay whole.

The task 7 processor runs two jobs at a time in threads and the creators
print while the queue's event thread reports on jobs; with plain
``print`` their lines could merge and leave an empty one.
"""
import re
import subprocess
from pathlib import Path

from tests.support import PYTHON, base_env

THREADS = 4
LINES = 5000
PRINTER = """
import threading
from notifications import say

def run(tag):
    for number in range({lines}):
        say("Sending notification {{}} {{}}".format(tag, number))

threads = [threading.Thread(target=run, args=(tag,)) for tag in "abcd"]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
""".format(lines=LINES)


def test_say_keeps_every_line_whole(queuing_dir: Path) -> None:
    """4 threads x 5,000 lines: every line printed whole, none empty."""
    done = subprocess.run(
        [PYTHON, "-c", PRINTER], cwd=str(queuing_dir), env=base_env(),
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == THREADS * LINES
    pattern = re.compile(r"Sending notification [abcd] \d+")
    assert [line for line in lines if not pattern.fullmatch(line)] == []

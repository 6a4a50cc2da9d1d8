#!/usr/bin/env python3
"""A test run leaves nothing in the temp folder, and says when it would.

Each case runs pytest in a separate process with this suite's root
conftest on a small test file, with a temp folder of its own.
"""
import os
import subprocess
from pathlib import Path
from typing import Callable

import pytest

from tests.support import PYTHON, ROOT

pytest_plugins = ["pytester"]

LEAKY = '''
import subprocess
import tempfile


def test_leaks():
    """Leave a named temp file and a sleeping child behind."""
    tempfile.NamedTemporaryFile(prefix="leak-", delete=False)
    subprocess.Popen(["sleep", "300"])
'''
CLEAN = '''
def test_clean(tmp_path):
    """Write only into tmp_path."""
    (tmp_path / "note.txt").write_text("kept by pytest, removed after")
'''


@pytest.fixture
def system_temp(tmp_path: Path) -> Path:
    """Return an empty folder that the inner runs take as system temp."""
    temp = tmp_path / "system-temp"
    temp.mkdir()
    return temp


@pytest.fixture
def run_suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
              system_temp: Path) -> Callable[[str], pytest.RunResult]:
    """Return a runner of pytest, with this suite's conftest, on a file."""
    pytester.makeconftest((ROOT / "tests" / "conftest.py").read_text())
    monkeypatch.setenv("TMPDIR", str(system_temp))
    monkeypatch.setenv("PYTHONPATH", str(ROOT))

    def run(source: str) -> pytest.RunResult:
        """Run pytest in a new process on one test file."""
        pytester.makepyfile(test_probe=source)
        return pytester.runpytest_subprocess("-p", "no:cacheprovider")

    return run


def test_a_clean_run_leaves_an_empty_temp_folder(
        run_suite: Callable, system_temp: Path) -> None:
    """Passing tests and pytest's own tmp_path leave nothing behind."""
    assert run_suite(CLEAN).ret == 0
    assert os.listdir(system_temp) == []


def test_leftovers_fail_the_run_and_are_removed(
        run_suite: Callable, system_temp: Path) -> None:
    """A leaked file and process are listed, fail the run, then go."""
    result = run_suite(LEAKY)
    assert result.ret == 1
    result.stdout.fnmatch_lines([
        "*this run left 2 thing(s) behind (removed now)*",
        "temp: leak-*", "process *: sleep 300"])
    assert os.listdir(system_temp) == []


def test_folders_of_killed_runs_are_removed(
        run_suite: Callable, system_temp: Path) -> None:
    """A run removes the folder of an earlier run killed outright."""
    ended = subprocess.run([PYTHON, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)
    stale = system_temp / "pytest-run-{}-abcd1234".format(
        ended.stdout.strip())
    stale.mkdir()
    (stale / "server.log").write_text("from a killed run")
    assert run_suite(CLEAN).ret == 0
    assert os.listdir(system_temp) == []

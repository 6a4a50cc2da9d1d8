#!/usr/bin/env python3
"""Replay the seed's ``main.py`` transcripts of tasks 0-5, 8 and 10.

Each verbatim seed script is copied as ``main.py`` into a fresh working
directory and run with ``python3 main.py`` and the service folder on
PYTHONPATH. On SQLite, DATABASE_URL is unset, so ``a.db`` lands in that
directory as in the seed; on PostgreSQL it names a throw-away database.
"""
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support import PYTHON, base_env
from tests.user_authentication_service.conftest import APP_DIR

SEEDS = Path(__file__).resolve().parent / "seed_scripts"
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
BCRYPT_12 = r"b'\$2b\$12\$[./A-Za-z0-9]{53}'"

TRANSCRIPTS = {
    0: ["users", "users.id: INTEGER", "users.email: VARCHAR(250)",
        "users.hashed_password: VARCHAR(250)",
        "users.session_id: VARCHAR(250)", "users.reset_token: VARCHAR(250)"],
    1: ["1", "2"],
    2: ["1", "1", "Not found", "Invalid"],
    3: ["1", "Password updated"],
    4: [BCRYPT_12],
    5: ["successfully created a new user!",
        "could not create a new user: User me@me.com already exists"],
    8: ["True", "False", "False"],
    10: [UUID, "None"],
}
RANDOM = {4, 10}


def run_seed(task: int, workdir: Path, database_url: str) -> tuple:
    """Run a seed script as main.py in workdir; return (code, out, err)."""
    shutil.copy(SEEDS / "main_{}.py".format(task), workdir / "main.py")
    env = base_env(PYTHONPATH=str(APP_DIR))
    for name in ("DATABASE_URL", "BCRYPT_ROUNDS", "RESET_TOKEN_TTL"):
        env.pop(name, None)
    if database_url.startswith("postgresql"):
        env["DATABASE_URL"] = database_url
    if task != 4:
        env["BCRYPT_ROUNDS"] = "4"
    result = subprocess.run([PYTHON, "main.py"], cwd=workdir, env=env,
                            capture_output=True, text=True, timeout=120)
    return result.returncode, result.stdout, result.stderr


@pytest.mark.parametrize("task", sorted(TRANSCRIPTS))
def test_seed_main_prints_the_transcript(task: int, tmp_path: Path,
                                         database_url: str) -> None:
    """The seed's main.py prints exactly the seed's lines and nothing else."""
    code, out, err = run_seed(task, tmp_path, database_url)
    assert code == 0, err
    lines = out.splitlines()
    expected = TRANSCRIPTS[task]
    assert len(lines) == len(expected), out
    for line, wanted in zip(lines, expected):
        if task in RANDOM:
            assert re.fullmatch(wanted, line), (line, wanted)
        else:
            assert line == wanted
    if task in (1, 2, 3, 5, 8, 10) and database_url.startswith("sqlite"):
        assert (tmp_path / "a.db").exists()


def test_seed_data_persists_across_runs(tmp_path: Path) -> None:
    """A second run finds the first run's users: nothing drops the table."""
    code, out, _ = run_seed(5, tmp_path, "sqlite")
    assert code == 0
    code, out, err = run_seed(5, tmp_path, "sqlite")
    assert code == 0, err
    assert out.splitlines() == [
        "could not create a new user: User me@me.com already exists"] * 2


def test_no_sql_echo_and_no_stray_files(tmp_path: Path) -> None:
    """The DB does not echo SQL, and only the SQLite files are created."""
    code, out, err = run_seed(1, tmp_path, "sqlite")
    assert code == 0
    assert "INSERT" not in out + err and "CREATE" not in out + err
    names = {path.name for path in tmp_path.iterdir()}
    assert names <= {"main.py", "a.db", "a.db-wal", "a.db-shm"}

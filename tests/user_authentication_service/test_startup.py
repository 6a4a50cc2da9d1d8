#!/usr/bin/env python3
"""Start-up: a bad setting or an unreachable database stops the server
with one clear line instead of a traceback."""
import subprocess
from pathlib import Path

import pytest

from tests.support import PYTHON, base_env, free_port
from tests.user_authentication_service.conftest import APP_DIR


@pytest.mark.parametrize("name,value,says", [
    ("BCRYPT_ROUNDS", "abc", "BCRYPT_ROUNDS"),
    ("BCRYPT_ROUNDS", "40", "BCRYPT_ROUNDS"),
    ("RESET_TOKEN_TTL", "-1", "RESET_TOKEN_TTL"),
    ("RATELIMIT_LOGIN", "lots", "RATELIMIT_LOGIN"),
    ("DATABASE_URL", "postgresql://nobody@127.0.0.1:{port}/x",
     "database unavailable"),
    ("DATABASE_URL", "sqlite:////nonexistent/dir/a.db",
     "database unavailable"),
])
def test_bad_setting_stops_with_one_line(tmp_path: Path, name: str,
                                         value: str, says: str) -> None:
    """``python3 app.py`` exits non-zero with a single explanatory line."""
    env = base_env(PYTHONPATH=str(APP_DIR), API_PORT=str(free_port()),
                   API_HOST="127.0.0.1")
    env[name] = value.format(port=free_port())
    result = subprocess.run([PYTHON, str(APP_DIR / "app.py")], cwd=tmp_path,
                            env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("user_authentication_service: ")
    assert says in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("env,code,says", [
    ({"APP_PROFILE": "staging"}, 2, "APP_PROFILE must be seed or production"),
    ({"APP_PROFILE": "production", "BCRYPT_ROUNDS": "9"}, 1,
     "BCRYPT_ROUNDS must be at least 10"),
    ({"SESSION_COOKIE_NAME": "session\r\nid"}, 1, "SESSION_COOKIE_NAME"),
    ({"SESSION_COOKIE_NAME": "__Host-sid"}, 1, "SESSION_COOKIE_SECURE"),
])
def test_bad_profile_setting_stops_with_one_line(
        tmp_path: Path, env: dict, code: int, says: str) -> None:
    """An unknown profile exits 2, an unsafe production setting 1; each
    with one line and no traceback."""
    full = base_env(PYTHONPATH=str(APP_DIR), API_PORT=str(free_port()),
                    API_HOST="127.0.0.1", **env)
    result = subprocess.run([PYTHON, str(APP_DIR / "app.py")], cwd=tmp_path,
                            env=full, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], result.stderr
    assert lines[0].startswith("user_authentication_service: ")

#!/usr/bin/env python3
"""The apps reach the shared http_common package from their own folders.

Run as their docs say (from their folder, with the environment's
python and no PYTHONPATH), each app imports ``http_common`` from the
repository root, through the ``.pth`` file that ``bin/setup`` writes.
"""
import subprocess
from pathlib import Path

import pytest

from tests.support import PYTHON, ROOT, base_env

CHECK = ("import http_common, {module}; "
         "print(http_common.__file__)")
APPS = [("session_authentication", "api.v1.app"),
        ("user_authentication_service", "app"),
        ("queuing_system", "importlib; importlib.import_module('9-stock')"),
        ("queuing_system",
         "importlib; importlib.import_module('100-seat')")]


@pytest.mark.parametrize("folder,module", APPS)
def test_app_imports_http_common_from_its_folder(
        folder: str, module: str, tmp_path: Path) -> None:
    """Each app's module imports with http_common from the repo root."""
    env = base_env(DATABASE_URL="sqlite:///{}".format(tmp_path / "x.db"))
    env.pop("PYTHONPATH", None)
    done = subprocess.run(
        [PYTHON, "-c", CHECK.format(module=module)], cwd=ROOT / folder,
        env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(ROOT / "http_common" / "__init__.py")

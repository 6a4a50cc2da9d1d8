#!/usr/bin/env python3
"""The seeds' code conventions, checked on every Python file we own.

Each file starts with the exact shebang, ends with a newline, is
executable, and documents its module, classes and functions with real
sentences; ruff enforces pycodestyle, pyflakes, docstring presence and
type annotations (see pyproject.toml).
"""
import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OWNED = ["session_authentication", "user_authentication_service",
         "queuing_system", "tests", "bench", "tools", "http_common"]
SKIPPED_PARTS = {"node_modules", "seed_scripts", "__pycache__", ".venv"}
MIN_WORDS = 3


def owned_python_files() -> list:
    """Return every Python file of the project, seed copies excluded."""
    files = []
    for top in OWNED:
        for path in sorted((ROOT / top).rglob("*.py")):
            if not SKIPPED_PARTS.intersection(path.parts):
                files.append(path)
    return files


FILES = owned_python_files()


def ids(path: Path) -> str:
    """Name a parametrized case after the file's path in the repo."""
    return str(path.relative_to(ROOT))


def test_there_are_files_to_check() -> None:
    """The check must look at something, or it proves nothing."""
    assert len(FILES) > 5


@pytest.mark.parametrize("path", FILES, ids=ids)
def test_file_shape(path: Path) -> None:
    """Shebang on line one, newline at the end, executable bit set."""
    text = path.read_text(encoding="utf-8")
    assert text.startswith("#!/usr/bin/env python3\n"), "first line"
    assert text.endswith("\n"), "must end with a newline"
    assert os.access(path, os.X_OK), "must be executable"


def _docstring_problems(path: Path) -> list:
    """List the module, classes and functions whose docstring is weak."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    problems = []
    nodes = [tree] + [node for node in ast.walk(tree) if isinstance(
        node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))]
    for node in nodes:
        doc = ast.get_docstring(node)
        name = getattr(node, "name", "<module>")
        if not doc:
            problems.append("{}: no docstring".format(name))
        elif len(doc.split()) < MIN_WORDS:
            problems.append("{}: docstring is not a sentence".format(name))
    return problems


@pytest.mark.parametrize("path", FILES, ids=ids)
def test_docstrings_are_sentences(path: Path) -> None:
    """Module, every class and every function carry a real sentence."""
    assert _docstring_problems(path) == []


def test_ruff_clean() -> None:
    """Ruff (pycodestyle, pyflakes, docstrings, annotations) finds nothing."""
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "."],
        cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr

#!/usr/bin/env python3
"""The README stays short, and every path it and docs/ name exists.

A path is a word in inline code, in a shell block or in a link that
contains ``/`` or ends with a known file extension. URLs, routes
(``/api/v1/...``), ``NAME=value`` words, flags and placeholders are not
paths. Inline code is looked up from the repository root and from the
app folder its heading, table row or paragraph names; a shell block
starts at the repository root and follows its own ``cd`` and ``cp``
commands. Links are looked up from the Markdown file's own folder, and
their ``#anchors`` must be headings of the target file.
"""
import glob
import posixpath
import re
import shlex
from pathlib import Path
from typing import Iterator, List, Optional, Set, Tuple

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
MAX_README_LINES = 300
APP_FOLDERS = ("session_authentication", "user_authentication_service",
               "queuing_system")
EXTENSIONS = (".py", ".md", ".txt", ".ini", ".toml", ".json", ".js",
              ".rdb", ".db", ".sh", ".log", ".mako", ".lock", ".cfg",
              ".yml", ".yaml")
SHELL_LANGUAGES = {"", "sh", "bash", "shell", "console"}
# Files that only exist once something ran: the environment bin/setup
# makes, the SQLite files the apps create, curl's cookie jars, the data
# folder of bin/redis (var/).
RUN_TIME_NAMES = {"cookies.txt", "auth-cookies.txt", "users_api.db", "a.db"}
RUN_TIME_FOLDERS = {".venv", "var"}

PATH_CHARS = re.compile(r"[A-Za-z0-9_.*/-]+")
ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
INLINE_CODE = re.compile(r"`([^`]+)`")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"(#{1,6})\s+(.*?)\s*#*\s*$")
FENCE = re.compile(r"\s*(```+|~~~+)\s*([\w+-]*)")
SEPARATORS = {"&&", "||", ";", "|", "&"}


def is_path(word: str) -> bool:
    """Tell whether a word of a document names a file or folder."""
    if "://" in word or word.startswith(("/", "~", "-")):
        return False
    if ASSIGNMENT.match(word) or not PATH_CHARS.fullmatch(word):
        return False
    if not re.search("[A-Za-z]", word) or re.match(r"\d+/", word):
        return False  # a version (2.0/2.1) or a rate (60/minute)
    return "/" in word or word.lower().endswith(EXTENSIONS)


def allowed_missing(relative: str) -> bool:
    """Tell whether a root-relative path may be absent from the repo."""
    parts = relative.split("/")
    return bool(RUN_TIME_FOLDERS.intersection(parts)
                or parts[-1] in RUN_TIME_NAMES)


def exists(base: str, word: str, created: Set[str]) -> bool:
    """Tell whether ``word``, seen from root-relative ``base``, is there."""
    relative = posixpath.normpath(posixpath.join(base, word))
    if relative.startswith(".."):
        return False
    if allowed_missing(relative) or relative in created:
        return True
    target = ROOT / relative
    if "*" in relative:
        return bool(glob.glob(str(target)))
    return target.is_dir() if word.endswith("/") else target.exists()


def slug(heading: str) -> str:
    """Return the anchor GitHub gives a heading (before de-duplication)."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(text: str) -> Set[str]:
    """Return every heading anchor of a Markdown text."""
    found: Set[str] = set()
    counts: dict = {}
    for kind, _, line in lines_of(text):
        match = HEADING.fullmatch(line) if kind == "text" else None
        if match:
            base = slug(match.group(2))
            count = counts.get(base, 0)
            counts[base] = count + 1
            found.add(base if count == 0 else "{}-{}".format(base, count))
    return found


def lines_of(text: str) -> Iterator[Tuple[str, Optional[str], str]]:
    """Yield (kind, fence language, line): kind is text, fence or code."""
    language: Optional[str] = None
    for line in text.splitlines():
        fence = FENCE.match(line)
        if fence and language is None:
            language = fence.group(2).lower()
            yield "fence", language, line
        elif fence:
            language = None
            yield "fence", None, line
        elif language is not None:
            yield "code", language, line
        else:
            yield "text", None, line


def app_folders_named(text: str) -> List[str]:
    """Return the app folders a piece of text names in inline code."""
    named = []
    for span in INLINE_CODE.findall(text):
        folder = span.strip().rstrip("/")
        if folder in APP_FOLDERS:
            named.append(folder)
    return named


def shell_words(line: str) -> List[str]:
    """Split one shell line into words, without its comment."""
    try:
        return shlex.split(line, comments=True)
    except ValueError:
        return line.split("#", 1)[0].split()


def commands(words: List[str]) -> Iterator[List[str]]:
    """Split a line's words into its commands (``a && b; c``)."""
    current: List[str] = []
    for word in words:
        if word in SEPARATORS:
            if current:
                yield current
            current = []
        else:
            current.append(word)
    if current:
        yield current


def block_problems(block: List[str]) -> List[str]:
    """Check a shell block run from the root, following cd and cp."""
    problems = []
    cwd, created = ".", set()
    joined = "\n".join(block).replace("\\\n", " ")
    for line in joined.splitlines():
        for command in commands(shell_words(line)):
            if command[0] == "cd" and len(command) == 2:
                cwd = posixpath.normpath(posixpath.join(cwd, command[1]))
                if not (ROOT / cwd).is_dir():
                    problems.append("cd {}".format(command[1]))
                continue
            for word in command:
                if is_path(word) and not exists(cwd, word, created):
                    problems.append("{} (run from {}/)".format(word, cwd))
            if command[0] == "cp" and len(command) >= 3:
                into = posixpath.normpath(posixpath.join(cwd, command[-1]))
                for source in command[1:-1]:
                    created.add(posixpath.join(
                        into, posixpath.basename(source)))
    return problems


def link_problems(path: Path, unit: str, own: Set[str]) -> List[str]:
    """Check the targets and anchors of a piece of text's links.

    ``own`` holds the anchors of the file being checked.
    """
    problems = []
    for target in LINK.findall(unit):
        if re.match(r"[a-z]+:", target):
            continue
        file_part, _, anchor = target.partition("#")
        if not file_part:
            if anchor not in own:
                problems.append("anchor {}".format(target))
            continue
        linked = (path.parent / file_part).resolve()
        if not linked.exists():
            problems.append("link {}".format(target))
        elif anchor and linked.suffix == ".md" and anchor not in anchors(
                linked.read_text(encoding="utf-8")):
            problems.append("anchor {}".format(target))
    return problems


def text_units(text: str) -> Iterator[Tuple[str, object]]:
    """Yield ("text", (paragraph, contexts)) and ("block", lines) units.

    A paragraph is a run of non-blank lines (each table row alone); its
    contexts are the app folders of the headings above it.
    """
    stack: List[Tuple[int, Optional[str]]] = []
    paragraph: List[str] = []
    block: List[str] = []

    def contexts() -> List[str]:
        """Return the app folders the current headings name."""
        return [folder for _, folder in stack if folder]

    for kind, language, line in lines_of(text):
        heading = HEADING.fullmatch(line) if kind == "text" else None
        ends_paragraph = (kind != "text" or not line.strip() or heading
                          or line.lstrip().startswith("|"))
        if ends_paragraph and paragraph:
            yield "text", (" ".join(paragraph), contexts())
            paragraph = []
        if heading:
            level = len(heading.group(1))
            stack = [entry for entry in stack if entry[0] < level]
            named = app_folders_named(heading.group(2))
            stack.append((level, named[0] if named else None))
            yield "text", (line, contexts())
        elif kind == "text" and line.lstrip().startswith("|"):
            yield "text", (line, contexts())
        elif kind == "text" and line.strip():
            paragraph.append(line)
        elif kind == "code" and language in SHELL_LANGUAGES:
            block.append(line)
        elif kind == "fence" and language is None and block:
            yield "block", block
            block = []
    if paragraph:
        yield "text", (" ".join(paragraph), contexts())


def path_problems(path: Path, text: str) -> List[str]:
    """List every path or link of a Markdown text that does not exist."""
    problems = []
    own = anchors(text)
    for kind, unit in text_units(text):
        if kind == "block":
            problems.extend(block_problems(unit))
            continue
        paragraph, contexts = unit
        bases = contexts + app_folders_named(paragraph) + ["."]
        for span in INLINE_CODE.findall(paragraph):
            for word in span.split():
                word = word.strip("\"'(),;")
                if is_path(word) and not any(
                        exists(base, word, set()) for base in bases):
                    problems.append(word)
        problems.extend(link_problems(path, paragraph, own))
    return problems


def test_readme_has_at_most_300_lines() -> None:
    """The README is an entry point; the details live in docs/."""
    count = len(README.read_text(encoding="utf-8").splitlines())
    assert count <= MAX_README_LINES, "{} lines".format(count)


@pytest.mark.parametrize("path", [README] + DOCS,
                         ids=lambda path: str(path.relative_to(ROOT)))
def test_every_named_path_exists(path: Path) -> None:
    """Each path and link of the README and of docs/ is in the repo."""
    assert path_problems(path, path.read_text(encoding="utf-8")) == []


def test_readme_links_every_docs_file() -> None:
    """Every file of docs/ is reachable from the README."""
    text = README.read_text(encoding="utf-8")
    assert len(DOCS) >= 4
    for doc in DOCS:
        assert "(docs/{})".format(doc.name) in text, doc.name


def test_the_check_sees_the_readme_paths() -> None:
    """The extraction finds the README's well-known paths (not vacuous)."""
    seen = set()
    for kind, unit in text_units(README.read_text(encoding="utf-8")):
        if kind == "text":
            seen.update(word for span in INLINE_CODE.findall(unit[0])
                        for word in span.split() if is_path(word))
    assert {"bin/serve", "pyproject.toml", "bench/results/"} <= seen


SAMPLE = """# Users API (`session_authentication/`)

Models in `models/base.py`, served by `api/v1/nowhere.py`; see
[the benchmarks](benchmarks.md), [a lost file](lost.md),
[a heading](#users-api-session_authentication) and [no heading](#nowhere).

```sh
cd session_authentication
AUTH_TYPE=basic_auth ./main_0.py
cp ../tests/session_authentication/seed_scripts/main_1.py .
./main_1.py && python3 -m api.v1.app
curl -d email=a@b.c http://localhost:5000/api/v1/status
cd ../no_such_folder
```
"""


def test_the_check_catches_wrong_paths() -> None:
    """A wrong path, a script not copied, broken links are all reported."""
    problems = path_problems(ROOT / "docs" / "sample.md", SAMPLE)
    assert problems == [
        "api/v1/nowhere.py", "link lost.md", "anchor #nowhere",
        "./main_0.py (run from session_authentication/)",
        "cd ../no_such_folder"]


@pytest.mark.parametrize("word, expected", [
    ("bin/serve", True), ("9-stock.py", True), ("tests/*/seed_scripts/", True),
    ("/api/v1/users", False), ("http://localhost:5000/users", False),
    ("DATABASE_URL=sqlite:///a.db", False), ("30/minute;300/hour", False),
    ("<id>", False), ("2.0/2.1", False), ("60/minute", False),
    ("api.v1.app", False), ("main_N.py", True),
    ("--workers", False), ("localhost:1245/reserve_seat", False),
])
def test_what_counts_as_a_path(word: str, expected: bool) -> None:
    """Paths are told apart from routes, URLs, settings and modules."""
    assert is_path(word) is expected

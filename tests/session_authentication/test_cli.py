#!/usr/bin/env python3
"""``bin/users``, the users command, run as a real command.

Each test runs the command as a subprocess on its own throw-away
database (``DATABASE_URL``); a user it creates logs in through a real
server. Errors are one line on stderr and a non-zero status, and store
nothing.
"""
import os
import pty
import select
import subprocess
import time
from typing import Callable, List, Union

import pytest

from tests.session_authentication.conftest import Api
from tests.support import ROOT

USERS = str(ROOT / "bin" / "users")
EMAIL = "admin@example.com"
# For tests whose outcome does not depend on the database kind.
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"],
                                      indirect=True)
PASSWORD = "c0rrect horse battery"


@pytest.fixture
def users(api_env: dict) -> Callable:
    """Return a function running bin/users on the test's database."""

    def run(*args: str, stdin: Union[str, bytes] = "",
            **extra: str) -> subprocess.CompletedProcess:
        """Run bin/users with the arguments, stdin and variables."""
        data = stdin.encode("utf-8") if isinstance(stdin, str) else stdin
        return subprocess.run([USERS, *args], input=data,
                              env=dict(api_env, **extra),
                              capture_output=True, timeout=120)

    return run


def out(done: subprocess.CompletedProcess) -> List[str]:
    """Return the lines a successful run printed on stdout."""
    assert done.returncode == 0, done.stderr.decode()
    assert done.stderr == b""
    return done.stdout.decode().splitlines()


def error_line(done: subprocess.CompletedProcess) -> str:
    """Return the one line a refused run printed on stderr."""
    assert done.returncode != 0
    assert done.stdout == b""
    lines = done.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    assert "Traceback" not in lines[0]
    return lines[0]


def test_create_reads_the_password_from_stdin(users: Callable) -> None:
    """create prints the new user's id and email; list shows the user."""
    lines = out(users("create", EMAIL, "--first-name", "Ada",
                      "--last-name", "Lovelace", stdin=PASSWORD + "\n"))
    assert len(lines) == 1
    word, noun, user_id, email = lines[0].split()
    assert (word, noun, email) == ("created", "user", EMAIL)
    listed = out(users("list"))
    assert len(listed) == 1
    fields = listed[0].split("\t")
    assert fields[:3] == [user_id, EMAIL, "Ada Lovelace"]
    assert fields[3].startswith("created 2")


def test_production_minimum_password_length(users: Callable) -> None:
    """In production a password shorter than PASSWORD_MIN_LENGTH (8) is
    refused with one line and nothing is stored; the seed takes it."""
    refused = users("create", EMAIL, stdin="short\n",
                    APP_PROFILE="production", BCRYPT_ROUNDS="10")
    assert "at least 8 characters" in error_line(refused)
    assert out(users("list"))[0].startswith("no users yet")
    assert out(users("create", EMAIL, stdin="short\n"))[0].startswith(
        "created user ")


def test_list_without_users_says_so(users: Callable) -> None:
    """An empty database gives one line that says how to add a user."""
    assert out(users("list")) == [
        "no users yet: create one with bin/users create EMAIL"]


def test_list_shows_every_user_in_creation_order(users: Callable) -> None:
    """One line per user, oldest first, "-" for an unknown name."""
    emails = ["a@example.com", "b@example.com", "c@example.com"]
    for email in emails:
        out(users("create", email, stdin=PASSWORD))
    listed = [line.split("\t") for line in out(users("list"))]
    assert [fields[1] for fields in listed] == emails
    assert {fields[2] for fields in listed} == {"-"}


def test_created_user_logs_in_and_delete_ends_it(
        users: Callable, start_api: Callable) -> None:
    """The CLI's user logs in on the production server, with a password
    of more than bcrypt's 72 bytes; once deleted by the CLI, its session
    no longer authenticates."""
    password = "pässwörd " * 12
    out(users("create", EMAIL, stdin=password + "\nnot the password\n"))
    api: Api = start_api("session_db_auth", production=True, workers=1)
    assert api.login(EMAIL, password[:-1]).status_code == 401
    login = api.login(EMAIL, password)
    assert login.status_code == 200, login.text
    cookies = {"_my_session_id": login.cookies["_my_session_id"]}
    me = api.get("/users/me", cookies=cookies)
    assert me.status_code == 200 and me.json()["email"] == EMAIL
    assert api.login(EMAIL, "not the password").status_code == 401
    assert out(users("delete", EMAIL))[0].startswith("deleted user ")
    assert api.get("/users/me", cookies=cookies).status_code == 403
    assert api.login(EMAIL, password).status_code == 404


def test_duplicate_email_is_refused(users: Callable) -> None:
    """A second user with the same email: one line, nothing stored."""
    out(users("create", EMAIL, stdin=PASSWORD))
    line = error_line(users("create", EMAIL, stdin="other password"))
    assert line == "Error: a user with email {} already exists".format(EMAIL)
    assert len(out(users("list"))) == 1


@pytest.mark.parametrize("args, stdin, expected", [
    (["create", EMAIL], "", "password is empty"),
    (["create", EMAIL], "\n", "password is empty"),
    (["create", EMAIL], "x" * 1025, "password is longer than"),
    (["create", EMAIL], b"\xff\n", "password is not valid UTF-8"),
    (["create", ""], PASSWORD, "email is empty"),
    (["create", "   "], PASSWORD, "email is empty"),
    (["create", "a" * 250 + "@x.io"], PASSWORD, "email is longer than 254"),
    (["create", EMAIL, "--first-name", "x" * 256], PASSWORD,
     "first name is longer than 255"),
], ids=["no-password", "empty-line", "too-long", "not-utf8", "no-email",
        "blank-email", "long-email", "long-name"])
def test_bad_input_is_refused_and_stores_nothing(
        users: Callable, args: List[str], stdin: Union[str, bytes],
        expected: str) -> None:
    """Each bad value names itself on one line; no user is stored."""
    assert expected in error_line(users(*args, stdin=stdin))
    assert out(users("list"))[0].startswith("no users yet")


def test_delete_by_email_or_by_id(users: Callable) -> None:
    """delete takes an email or an id and says which user it removed."""
    first = out(users("create", "a@example.com", stdin=PASSWORD))[0]
    second = out(users("create", "b@example.com", stdin=PASSWORD))[0]
    second_id = second.split()[2]
    assert out(users("delete", "a@example.com")) == [
        first.replace("created", "deleted")]
    assert out(users("delete", second_id)) == [
        second.replace("created", "deleted")]
    assert out(users("list"))[0].startswith("no users yet")


def test_delete_unknown_user_fails(users: Callable) -> None:
    """An email or id nobody has: one line, non-zero status."""
    out(users("create", EMAIL, stdin=PASSWORD))
    line = error_line(users("delete", "nobody@example.com"))
    assert line == "Error: no user with email or id nobody@example.com"
    assert len(out(users("list"))) == 1


@SQLITE_ONLY
@pytest.mark.parametrize("command", [
    ["list"], ["delete", EMAIL], ["create", EMAIL]])
def test_unreachable_database_is_one_line(
        users: Callable, command: List[str]) -> None:
    """A database that cannot be opened: one line naming it, status 1."""
    done = users(*command, stdin=PASSWORD,
                 DATABASE_URL="sqlite:////nonexistent-folder/users.db")
    assert done.returncode == 1
    assert "cannot prepare the database sqlite:////nonexistent-folder" \
        in error_line(done)


@SQLITE_ONLY
def test_password_is_never_an_argument(users: Callable) -> None:
    """No option takes a password; the help says where it comes from."""
    done = users("create", EMAIL, "--password", PASSWORD)
    assert done.returncode == 2
    assert b"No such option '--password'" in done.stderr
    help_text = out(users("create", "--help"))
    assert any("standard input" in line for line in help_text)
    assert {"create", "list", "delete"} <= {
        line.split()[0] for line in out(users("--help"))
        if line.startswith("  ") and line.split()}


class Terminal:
    """A command on a pseudo-terminal, read and answered like a user."""

    def __init__(self, args: List[str], env: dict) -> None:
        """Start the command with the terminal as its controlling tty."""
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child becomes the command
            try:
                os.execve(args[0], args, env)
            finally:
                os._exit(127)
        self.shown = bytearray()
        self.unread = bytearray()

    def expect(self, text: str) -> None:
        """Read the terminal until it shows text; keep what follows."""
        wanted = text.encode()
        deadline = time.monotonic() + 60
        while wanted not in self.unread:
            remaining = deadline - time.monotonic()
            assert remaining > 0, "no {!r} after {!r}".format(
                text, bytes(self.shown))
            if not select.select([self.fd], [], [], remaining)[0]:
                continue
            try:
                chunk = os.read(self.fd, 4096)
            except OSError:  # EIO: the command has closed the terminal
                chunk = b""
            assert chunk, "no {!r} after {!r}".format(text, bytes(self.shown))
            self.shown.extend(chunk)
            self.unread.extend(chunk)
        del self.unread[:self.unread.index(wanted) + len(wanted)]

    def type_line(self, line: str) -> None:
        """Type a line as a user would, Enter included."""
        os.write(self.fd, line.encode() + b"\n")

    def close(self) -> int:
        """Wait for the command to end; return its exit status."""
        _, status = os.waitpid(self.pid, 0)
        os.close(self.fd)
        return os.waitstatus_to_exitcode(status)


@SQLITE_ONLY
def test_terminal_asks_twice_hidden_until_both_match(
        api_env: dict, users: Callable) -> None:
    """On a terminal the password is asked twice without echo; two
    different answers are asked again."""
    terminal = Terminal([USERS, "create", EMAIL], api_env)
    try:
        terminal.expect("Password: ")
        terminal.type_line("first try")
        terminal.expect("Password (again): ")
        terminal.type_line("second try")
        terminal.expect("do not match")
        terminal.expect("Password: ")
        terminal.type_line(PASSWORD)
        terminal.expect("Password (again): ")
        terminal.type_line(PASSWORD)
        terminal.expect("created user ")
        terminal.expect(EMAIL)
    finally:
        status = terminal.close()
    assert status == 0, bytes(terminal.shown)
    shown = terminal.shown.decode()
    assert PASSWORD not in shown and "first try" not in shown
    assert out(users("list"))[0].split("\t")[1] == EMAIL


@SQLITE_ONLY
def test_delete_ends_the_users_redis_sessions(
        users: Callable, start_api: Callable, redis_url: str) -> None:
    """With AUTH_TYPE=session_redis_auth, bin/users delete also deletes
    the user's session keys in Redis: no key of the user is left."""
    import redis

    out(users("create", EMAIL, stdin=PASSWORD + "\n"))
    api: Api = start_api("session_redis_auth", REDIS_URL=redis_url,
                         SESSION_DURATION="600")
    session_id = api.login(EMAIL, PASSWORD).cookies["_my_session_id"]
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        assert any(session_id in key
                   for key in client.scan_iter("users_api:*"))
        out(users("delete", EMAIL, AUTH_TYPE="session_redis_auth",
                  REDIS_URL=redis_url))
        assert list(client.scan_iter("users_api:*")) == []
    finally:
        client.close()
    assert api.get("/users/me", cookies={
        "_my_session_id": session_id}).status_code == 403

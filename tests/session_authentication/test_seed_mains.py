#!/usr/bin/env python3
"""Replays of the seeds' main_N.py scripts, run unchanged as ./main_N.py.

main_0 to main_2 are compared line by line with the seed's output (ids
are random, so they are matched as uuids); main_3 and main_4 are Flask
servers that the test starts on a free port and queries as the seed's
curl sessions do.
"""
import ast
import re
from pathlib import Path
from typing import Callable, Iterator

import pytest
import requests

from tests.support import PYTHON, ServerProcess, free_port

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"],
                                     indirect=True)


def split_mapping(line: str) -> tuple:
    """Split "key => value: {dict}" into its three parts."""
    head, _, mapping = line.partition(": {")
    key, _, value = head.partition(" => ")
    return key, value, ast.literal_eval("{" + mapping)


def test_main_0_creates_user_and_prints_basic_header(
        run_seed: Callable) -> None:
    """main_0 prints the new user's id and the seed's Base64 value."""
    done = run_seed("main_0.py", AUTH_TYPE="basic_auth")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 2
    assert re.fullmatch("New user: " + UUID, lines[0])
    assert lines[1] == \
        "Basic Base64: Ym9iQGhidG4uaW86SDBsYmVydG9uU2Nob29sOTgh"


def test_main_1_create_session(run_seed: Callable) -> None:
    """main_1: sessions only for str user ids, one user many sessions."""
    done = run_seed("main_1.py", AUTH_TYPE="session_auth")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:3] == ["<class 'dict'>: {}", "None => None: {}",
                         "89 => None: {}"]
    assert len(lines) == 6
    expected = {}
    for line, user_id in zip(lines[3:], ["abcde", "fghij", "abcde"]):
        key, session_id, mapping = split_mapping(line)
        assert key == user_id
        assert re.fullmatch(UUID, session_id)
        expected[session_id] = user_id
        assert mapping == expected


def test_main_2_user_id_for_session_id(run_seed: Callable) -> None:
    """main_2: lookups give the user id, None for bad or unknown ids."""
    done = run_seed("main_2.py", AUTH_TYPE="session_auth")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 13
    _, session_1, first = split_mapping(lines[0])
    _, session_2, second = split_mapping(lines[1])
    assert first == {session_1: "abcde"}
    assert second == {session_1: "abcde", session_2: "fghij"}
    assert lines[2:7] == ["---", "None => None", "89 => None",
                          "doesntexist => None", "---"]
    assert lines[7:10] == ["{} => abcde".format(session_1),
                           "{} => fghij".format(session_2), "---"]
    key, session_1_bis, third = split_mapping(lines[10])
    assert key == "abcde"
    assert third == {session_1: "abcde", session_2: "fghij",
                     session_1_bis: "abcde"}
    assert lines[11:] == ["{} => abcde".format(session_1_bis),
                          "{} => abcde".format(session_1)]


@pytest.fixture
def seed_server(api_env: dict, tmp_path: Path) -> Iterator[Callable]:
    """Yield a function serving a seed script's Flask app on a free port.

    The script runs unchanged (its module code, prints included); only
    its app.run() at the bottom is replaced by one on a free port.
    """
    started = []

    def start(name: str, **extra: str) -> ServerProcess:
        """Serve seed_scripts/<name>'s app; return the server."""
        source = Path(__file__).resolve().parent / "seed_scripts" / name
        (tmp_path / name).write_bytes(source.read_bytes())
        port = free_port()
        code = ("import runpy, sys\n"
                "ns = runpy.run_path({!r}, run_name='seed')\n"
                "ns['app'].run(host='127.0.0.1', port={})\n").format(
                    name, port)
        server = ServerProcess([PYTHON, "-c", code], tmp_path,
                               dict(api_env, **extra), port)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.kill()


def test_main_3_cookie_server(seed_server: Callable) -> None:
    """main_3 echoes the _my_session_id cookie as the seed shows."""
    server = seed_server("main_3.py", AUTH_TYPE="session_auth")
    url = server.url + "/"
    assert requests.get(url).text == "Cookie value: None\n"
    assert requests.get(url, headers={
        "Cookie": "_my_session_id=Hello"}).text == "Cookie value: Hello\n"
    assert requests.get(url, headers={
        "Cookie": "_my_session_id=C is fun"}).text == \
        "Cookie value: C is fun\n"
    assert requests.get(url, headers={
        "Cookie": "_my_session_id_fake"}).text == "Cookie value: None\n"


def test_main_4_current_user_from_cookie(seed_server: Callable) -> None:
    """main_4 finds the user only for the session id it created."""
    server = seed_server("main_4.py", AUTH_TYPE="session_auth")
    printed = re.search(
        "User with ID: ({0}) has a Session ID: ({0})".format(UUID),
        server.output())
    assert printed, server.output()
    user_id, session_id = printed.groups()
    url = server.url + "/"
    assert requests.get(url).text == "No user found\n"
    assert requests.get(url, cookies={
        "_my_session_id": "Holberton"}).text == "No user found\n"
    assert requests.get(url, cookies={
        "_my_session_id": session_id}).text == \
        "User found: {}\n".format(user_id)


#!/usr/bin/env python3
"""Concurrent writes through the production server (2 granian workers).

8 client processes create 250 users each: exactly 2,000 new rows with
2,000 distinct ids, none lost. 50 simultaneous registrations of one
email: exactly one 201, 49 clean 400s, one row.
"""
import multiprocessing
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, List, Tuple

import requests

from tests.session_authentication.hardening import (
    basic, count_rows, user_count)

ADMIN = "admin@hbtn.io"
PASSWORD = "Adm1n:pwd"
CLIENTS = 8
USERS_PER_CLIENT = 250
SAME_EMAIL_REQUESTS = 50


def create_users(job: Tuple[str, int, int]) -> List[Tuple[int, str]]:
    """Create a batch of users from one client process; return answers."""
    url, client, count = job
    answers = []
    with requests.Session() as session:
        session.headers.update(basic(ADMIN, PASSWORD))
        for number in range(count):
            response = session.post(url + "/users", timeout=60, json={
                "email": "user-{}-{}@hbtn.io".format(client, number),
                "password": "pwd{}".format(number)})
            body = response.json()
            answers.append((response.status_code, body.get("id", "")))
    return answers


def test_parallel_creations_lose_nothing(
        start_api: Callable, make_user: Callable, database_url: str) -> None:
    """8 processes x 250 POST /users: 2,000 new users, distinct ids."""
    api = start_api("basic_auth", production=True, workers=2)
    make_user(ADMIN, PASSWORD)
    headers = basic(ADMIN, PASSWORD)
    before = user_count(api, headers=headers)
    jobs = [(api.url, client, USERS_PER_CLIENT) for client in range(CLIENTS)]
    with multiprocessing.get_context("fork").Pool(CLIENTS) as pool:
        results = pool.map(create_users, jobs)
    answers = [answer for batch in results for answer in batch]
    assert [status for status, _ in answers] == [201] * 2000
    ids = {user_id for _, user_id in answers}
    assert len(ids) == CLIENTS * USERS_PER_CLIENT == 2000
    assert user_count(api, headers=headers) == before + 2000
    assert count_rows(database_url, "api_users") == before + 2000
    assert "Traceback" not in api.server.output()


def test_same_email_at_once_makes_one_user(
        start_api: Callable, make_user: Callable, database_url: str) -> None:
    """50 simultaneous POSTs of one email: one 201, 49 x 400, one row."""
    api = start_api("basic_auth", production=True, workers=2)
    make_user(ADMIN, PASSWORD)
    headers = basic(ADMIN, PASSWORD)
    assert api.get("/users/me", headers=headers).status_code == 200
    before = user_count(api, headers=headers)
    barrier = threading.Barrier(SAME_EMAIL_REQUESTS)

    def register(number: int) -> requests.Response:
        """Wait for every thread, then register the shared email."""
        barrier.wait()
        return api.post("/users", headers=headers, json={
            "email": "same@hbtn.io", "password": "pwd{}".format(number)})

    with ThreadPoolExecutor(SAME_EMAIL_REQUESTS) as pool:
        responses = list(pool.map(register, range(SAME_EMAIL_REQUESTS)))
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201] + [400] * (SAME_EMAIL_REQUESTS - 1)
    for response in responses:
        if response.status_code == 400:
            assert response.json() == {
                "error": "Can't create User: email already exists"}
    assert user_count(api, headers=headers) == before + 1
    listed = [user for user in api.get("/users", headers=headers).json()
              if user["email"] == "same@hbtn.io"]
    assert len(listed) == 1
    assert count_rows(database_url, "api_users") == before + 1

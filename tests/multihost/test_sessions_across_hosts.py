#!/usr/bin/env python3
"""Scenario 1: a session made on one host works on the others, and a
log-out on any host ends it everywhere at once.

Users API on two hosts (``session_db_auth``, ``session_redis_auth``) and
the authentication service on two hosts, on the data host's PostgreSQL
and Redis. The login rate limit, counted in Redis, is shared by hosts.
"""
import pytest

from tests.multihost.conftest import ADMIN, Cluster

LOGIN_LIMIT = 8


@pytest.mark.parametrize("auth_type", ["session_db_auth",
                                       "session_redis_auth"])
def test_users_api_session_crosses_hosts(cluster: Cluster,
                                         auth_type: str) -> None:
    """Log in on A, use the cookie on B; log out on B: dead on A."""
    database = cluster.data.create_database()
    cluster.add_admin("api-a", database)
    a = cluster.users_api("api-a", auth_type, database,
                          LOGIN_RATE_LIMIT="{}/minute".format(LOGIN_LIMIT))
    b = cluster.users_api("api-b", auth_type, database,
                          LOGIN_RATE_LIMIT="{}/minute".format(LOGIN_LIMIT))
    call = cluster.agent.call
    checks = 0
    for first, second in ((a, b), (b, a)):
        cookie = cluster.login(first)
        for url in (first, second, first, second):
            me = call("http", "GET", url + "/users/me", cookies=cookie)
            assert me["status"] == 200 and me["body"]["email"] == ADMIN, me
            checks += 1
        out = call("http", "DELETE", second + "/auth_session/logout",
                   cookies=cookie)
        assert out["status"] == 200, out
        for url in (first, second):
            me = call("http", "GET", url + "/users/me", cookies=cookie)
            assert me["status"] == 403, me
            checks += 1
    # Two logins so far; wrong passwords alternate between the hosts
    # until the shared limit answers 429. Each names another account:
    # the per-account back-off (shared too) would answer 429 first.
    statuses = []
    for attempt in range(2 * LOGIN_LIMIT):
        url = (a, b)[attempt % 2]
        answer = call("http", "POST", url + "/auth_session/login",
                      data={"email": ADMIN if attempt < 4 else
                            "u{}@multihost.example".format(attempt),
                            "password": "wrong"})
        statuses.append(answer["status"])
        if answer["status"] == 429:
            break
    print("\nscenario 1 ({}): {} cross-host checks passed; login limit "
          "{}/minute shared: answers {}".format(auth_type, checks,
                                                LOGIN_LIMIT, statuses))
    assert statuses == [401] * 4 + [404] * (LOGIN_LIMIT - 6) + [429]


def test_auth_service_session_crosses_hosts(cluster: Cluster) -> None:
    """Auth service: log in on A, profile on B; log out on B: dead on A."""
    database = cluster.data.create_database()
    a = cluster.auth_service("auth-a", database,
                             RATELIMIT_LOGIN="{}/minute".format(LOGIN_LIMIT))
    b = cluster.auth_service("auth-b", database,
                             RATELIMIT_LOGIN="{}/minute".format(LOGIN_LIMIT))
    call = cluster.agent.call
    user = {"email": "bob@multihost.example", "password": "bob-pw"}
    assert call("http", "POST", a + "/users", data=user)["status"] == 200
    checks = 0
    for first, second in ((a, b), (b, a)):
        login = call("http", "POST", first + "/sessions", data=user)
        assert login["status"] == 200, login
        cookie = login["cookies"]
        for url in (first, second, first, second):
            profile = call("http", "GET", url + "/profile", cookies=cookie)
            assert profile["status"] == 200, profile
            assert profile["body"] == {"email": user["email"]}
            checks += 1
        out = call("http", "DELETE", second + "/sessions", cookies=cookie)
        assert out["status"] == 302, out
        for url in (first, second):
            profile = call("http", "GET", url + "/profile", cookies=cookie)
            assert profile["status"] == 403, profile
            checks += 1
    statuses = []
    for attempt in range(2 * LOGIN_LIMIT):
        url = (a, b)[attempt % 2]
        answer = call("http", "POST", url + "/sessions",
                      data={"email": user["email"] if attempt < 4 else
                            "u{}@multihost.example".format(attempt),
                            "password": "wrong"})
        statuses.append(answer["status"])
        if answer["status"] == 429:
            break
    print("\nscenario 1 (auth service): {} cross-host checks passed; "
          "login limit {}/minute shared: answers {}".format(
              checks, LOGIN_LIMIT, statuses))
    assert statuses == [401] * (LOGIN_LIMIT - 2) + [429]

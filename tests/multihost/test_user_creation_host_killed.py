#!/usr/bin/env python3
"""Scenario 2: users created through two API hosts while one is killed.

The client creates users through both users-API hosts at once (round
robin, 8 connections); host A is killed with ``kill -9`` (every process
of the host) midway. Every 201 the client received is in the database,
no e-mail is there twice, and host B answers every request, before and
after. Requests that got no answer from A (in doubt) are sent again to
B: each then either creates the user or finds it already there.
"""
import collections

from tests.multihost.conftest import Cluster, long_mode
from tests.multihost.harness import wait_until

USERS = 8000 if long_mode() else 1200


def test_creations_survive_a_killed_api_host(cluster: Cluster) -> None:
    """Acknowledged users are stored once each; B keeps answering."""
    database = cluster.data.create_database()
    cluster.add_admin("api-a", database)
    a = cluster.users_api("api-a", "session_db_auth", database)
    b = cluster.users_api("api-b", "session_db_auth", database)
    cookie = cluster.login(a)
    agent = cluster.agent
    running = agent.start("create_users", "creations", [a, b], USERS,
                          cookie)

    def answered() -> int:
        """Return how many creations got an answer or an error so far."""
        return sum(agent.call("progress", "creations").values())

    wait_until(lambda: answered() >= USERS // 3, 240,
                   "a third of the creations answered")
    killed = cluster["api-a"].kill_all()
    at_kill = answered()
    result = running.result(600)
    counts = result["counts"]
    acked = dict(result["acked"])
    in_doubt = result["unanswered"]
    retried = agent.call("http_many", [
        ["POST", b + "/users", {"json": {"email": email, "password": "pw"},
                                "cookies": cookie}] for email in in_doubt])
    retry_statuses = collections.Counter(
        answer["status"] for answer in retried)
    for answer, email in zip(retried, in_doubt):
        if answer["status"] == 201:
            acked[email] = answer["body"]["id"]
        else:
            assert answer["body"] == {
                "error": "Can't create User: email already exists"}, answer
    rows = agent.call("sql", database, "SELECT email, id FROM api_users")
    stored = collections.Counter(email for email, _ in rows)
    ids = dict(rows)
    print("\nscenario 2: {} creations, host A killed (kill -9, {} "
          "processes) after {} answers; answers {}; {} acknowledged; "
          "{} in doubt, resent to B: {} (400: stored by A before it died); "
          "{} rows".format(
              USERS, killed, at_kill, dict(sorted(counts.items())),
              len(result["acked"]), len(in_doubt), dict(retry_statuses),
              len(rows) - 1))
    assert killed >= 2
    assert not [email for email, n in stored.items() if n > 1]
    missing = [email for email, user_id in acked.items()
               if ids.get(email) != user_id]
    assert not missing, missing[:10]
    assert counts.get("host1:201", 0) == (USERS + 1) // 2
    assert not [key for key in counts if key.startswith("host1:")
                and key != "host1:201"]
    assert result["other"] == []
    assert counts.get("host0:unanswered", 0) > 0
    assert set(retry_statuses) <= {201, 400}
    assert len(acked) + retry_statuses[400] == len(rows) - 1 == USERS

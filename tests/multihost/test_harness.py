#!/usr/bin/env python3
"""The harness itself: hosts reach each other and nothing else, and the
namespaces of a killed run are removed by the next one."""
import os
import subprocess

from tests.multihost import harness
from tests.multihost.conftest import Cluster


def test_hosts_reach_each_other_and_nothing_else(cluster: Cluster) -> None:
    """The client reaches the data host; no host has a default route."""
    client = cluster["client"]
    assert cluster.data.redis_cli("PING").strip() == "PONG"
    assert cluster.agent.call("sql", cluster.data.create_database(),
                              "SELECT 1") == [[1]]
    for host in cluster.network.hosts.values():
        routes = host.exec(["ip", "route", "show"]).stdout
        assert "default" not in routes, (host.name, routes)
        assert routes.split()[0] == harness.SUBNET, routes
    # An address outside the subnet is unreachable at once: no route.
    done = client.exec(["ip", "route", "get", "10.0.0.1"], check=False)
    assert done.returncode != 0
    assert "unreachable" in done.stderr


def test_leftovers_of_a_killed_run_are_removed(cluster: Cluster) -> None:
    """A namespace named after a dead process, with a process inside,
    is deleted and its process killed."""
    dead = subprocess.Popen(["true"])
    dead.wait()
    name = "mh{}-leftover".format(dead.pid)
    harness.run(["ip", "netns", "add", name])
    try:
        sleeper = subprocess.Popen(["ip", "netns", "exec", name, "sleep",
                                    "300"])
        harness.wait_until(lambda: harness.run(
            ["ip", "netns", "pids", name]).stdout.strip(), 10,
            "the sleeper is in the namespace")
        removed = harness.remove_leftovers()
        assert name in removed
        assert sleeper.wait(10) == -9
        assert name not in harness.namespaces()
        assert not any(n.startswith("mh{}-".format(os.getpid()))
                       for n in removed)
    finally:
        harness.run(["ip", "netns", "del", name], check=False)

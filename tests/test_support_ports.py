#!/usr/bin/env python3
"""free_port: ports no client socket can take and no other run hands out.

Servers bind their port some time after ``free_port`` returns it (a
granian worker only once its app is loaded), so the port must be one
that nothing else on the machine takes meanwhile.
"""
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import (FIRST_TEST_PORT, PYTHON, ROOT, _test_ports,
                           base_env, free_port)

LINUX = sys.platform.startswith("linux")


def test_ports_are_distinct_and_listenable() -> None:
    """Many calls in a row never repeat a port; each accepts a listener."""
    ports = [free_port() for _ in range(200)]
    assert len(set(ports)) == len(ports)
    with socket.socket() as server:
        server.bind(("127.0.0.1", ports[-1]))
        server.listen()


@pytest.mark.skipif(not LINUX, reason="claims and the range need Linux")
def test_ports_lie_below_the_ephemeral_range() -> None:
    """No outgoing connection's local port can be one of ours."""
    first = int(Path("/proc/sys/net/ipv4/ip_local_port_range")
                .read_text().split()[0])
    if first - FIRST_TEST_PORT < 1000:
        pytest.skip("the ephemeral range starts too low: {}".format(first))
    assert all(free_port() < first for _ in range(50))
    assert _test_ports().stop == first


@pytest.mark.skipif(not LINUX, reason="claims and the range need Linux")
def test_another_process_cannot_claim_our_port() -> None:
    """A port handed out here is refused to a concurrent run."""
    port = free_port()
    code = ("from tests.support import _claim\n"
            "print(_claim({}))\n").format(port)
    done = subprocess.run(
        [PYTHON, "-c", code], cwd=str(ROOT), capture_output=True,
        text=True, timeout=60, env=base_env(PYTHONPATH=str(ROOT)))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"

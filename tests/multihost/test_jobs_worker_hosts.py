#!/usr/bin/env python3
"""Scenario 3: jobs on two worker hosts, one killed and one cut off.

The client queues N jobs (``MULTIHOST_LONG``: 10,000); both worker hosts
run ``python3 -m worker`` on them. A quarter of the way in, worker host
A is killed (``kill -9`` of every process; its supervisor starts the
worker again) and worker host B is cut off (its switch port goes down)
while it holds jobs. Every job completes, once as the producer hears it
(one ``completed`` event per job in bullmq's event stream, no
``failed``); the jobs run more than once (taken over after a lost lock)
are counted and reported. When B's link comes back, B rejoins: with A
stopped, it alone processes a new batch; its late answers for jobs it
lost are refused.
"""
import collections
import signal

from tests.multihost.conftest import Cluster, long_mode
from tests.multihost.harness import wait_until

JOBS = 10000 if long_mode() else 2000
REJOIN_JOBS = 100
QUEUE = "mh_jobs:8=tests.multihost.jobs:record_run"
CONCURRENCY = 8


def test_jobs_survive_a_killed_and_a_cut_off_worker_host(
        cluster: Cluster) -> None:
    """Every job completes once as the producer sees it; re-runs told."""
    url = cluster.data.redis_url(0)
    call = cluster.agent.call
    cluster.worker("worker-a", [QUEUE])
    cluster.worker("worker-b", [QUEUE])
    ids = call("create_jobs", url, "mh_jobs", JOBS, timeout=300)
    assert len(set(ids)) == JOBS

    def counts() -> dict:
        """Return the queue's job counts."""
        return call("job_counts", url, "mh_jobs")

    wait_until(lambda: counts()["completed"] >= JOBS // 4, 300,
               "a quarter of the jobs completed")
    runs_before = call("redis_command", url, "HGETALL", "mh:hosts")
    killed = cluster["worker-a"].kill_all()
    cluster["worker-b"].link(False)
    at_cut = counts()
    cluster.worker("worker-a", [QUEUE])
    wait_until(lambda: counts()["completed"] >= JOBS, 600,
               "every job completed while B is cut off")
    cluster["worker-b"].link(True)
    for proc in cluster.started:
        if proc.host.name == "worker-a" and proc.running():
            proc.stop(signal.SIGTERM)
    rejoin_ids = call("create_jobs", url, "mh_jobs", REJOIN_JOBS,
                      first=JOBS)
    wait_until(lambda: counts()["completed"] >= JOBS + REJOIN_JOBS, 300,
               "worker host B, rejoined, completed the new jobs")
    final = counts()
    events = call("completion_events", url, "mh_jobs", timeout=300)
    runs = {key.split(":", 1)[1]: int(value) for key, value in call(
        "redis_command", url, "HGETALL", "mh:runs").items()}
    by_host = call("redis_command", url, "HGETALL", "mh:hosts")
    events_per_job = collections.Counter(events["completed"].values())
    reruns = sum(runs.values()) - len(runs)
    print("\nscenario 3: {} jobs + {} after the rejoin; at the kill of A "
          "({} processes) and the cut of B: {} (runs per host before: {}); "
          "final {}; runs per host {}; {} jobs ran more than once ({} "
          "extra runs); completion events per job {}; failed events {}"
          .format(JOBS, REJOIN_JOBS, killed, at_cut, runs_before, final,
                  by_host, sum(1 for n in runs.values() if n > 1), reruns,
                  dict(events_per_job), events["failed"]))
    everything = set(ids) | set(rejoin_ids)
    assert set(events["completed"]) == everything
    assert events_per_job == {1: JOBS + REJOIN_JOBS}
    assert events["failed"] == 0
    assert final["completed"] == JOBS + REJOIN_JOBS
    assert final["failed"] == final["active"] == final["wait"] == 0
    assert set(runs) == everything
    assert at_cut["active"] > 0
    assert 0 < reruns <= 3 * CONCURRENCY
    assert int(by_host["worker-b"]) >= int(
        runs_before.get("worker-b", 0)) + REJOIN_JOBS

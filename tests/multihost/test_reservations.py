#!/usr/bin/env python3
"""Scenario 5: stock and seats reserved from two API hosts at once.

``9-stock`` and ``100-seat`` run on granian on both API hosts; seat
jobs are processed by the worker command on both worker hosts. The
client sends every request at once (32 connections, the two hosts in
turn): exactly the stock of each product and exactly the 50 seats are
confirmed, never more.
"""
import collections

from tests.multihost.conftest import (
    SEAT_PORT, STOCK_PORT, Cluster, long_mode)
from tests.multihost.harness import wait_until

STOCK = {1: 4, 2: 10, 3: 2, 4: 5}
TRIES_PER_PRODUCT = 200 if long_mode() else 60
SEATS = 50
SEAT_REQUESTS = 400 if long_mode() else 90


def test_stock_never_oversold_across_hosts(cluster: Cluster) -> None:
    """Concurrent reservations on both hosts confirm exactly the stock."""
    hosts = [cluster.queue_app(name, "9-stock", STOCK_PORT)
             for name in ("api-a", "api-b")]
    tries = [(item, hosts[n % 2]) for item in STOCK
             for n in range(TRIES_PER_PRODUCT)]
    answers = cluster.agent.call("http_many", [
        ["GET", "{}/reserve_product/{}".format(url, item), {}]
        for item, url in tries], threads=32)
    confirmed: collections.Counter = collections.Counter()
    by_host: collections.Counter = collections.Counter()
    for (item, url), answer in zip(tries, answers):
        if answer["status"] == 200:
            assert answer["body"] == {"status": "Reservation confirmed",
                                      "itemId": item}
            confirmed[item] += 1
            by_host[url] += 1
        else:
            assert answer["status"] == 409, answer
            assert answer["body"]["status"] == "Not enough stock available"
    left = {item: [cluster.agent.call(
        "http", "GET", "{}/list_products/{}".format(url, item))["body"]
        ["currentQuantity"] for url in hosts] for item in STOCK}
    print("\nscenario 5 (stock): {} reservations on 2 hosts, confirmed "
          "per product {} (per host {}), stock left {}".format(
              len(tries), dict(confirmed), sorted(by_host.values()), left))
    assert dict(confirmed) == STOCK
    assert left == {item: [0, 0] for item in STOCK}
    assert all(count > 0 for count in by_host.values())


def test_seats_never_oversold_across_hosts(cluster: Cluster) -> None:
    """Seat jobs queued on two hosts, run on two workers: 50 seats."""
    hosts = [cluster.queue_app(name, "100-seat", SEAT_PORT)
             for name in ("api-a", "api-b")]
    for name in ("worker-a", "worker-b"):
        cluster.worker(name, ["reserve_seat:4"])
    answers = cluster.agent.call("http_many", [
        ["GET", hosts[n % 2] + "/reserve_seat", {}]
        for n in range(SEAT_REQUESTS)], threads=32)
    statuses = collections.Counter(
        answer["body"]["status"] for answer in answers)
    # Beyond the seats left plus RESERVATION_MARGIN, a reservation is
    # refused before it is queued ("Reservation failed").
    assert set(statuses) <= {"Reservation in process",
                             "Reservation are blocked",
                             "Reservation failed"}, statuses
    queued = statuses["Reservation in process"]
    redis_url = cluster.data.redis_url(0)

    def finished() -> dict:
        """Return the job counts once every queued job has finished."""
        counts = cluster.agent.call("job_counts", redis_url, "reserve_seat")
        done = counts["completed"] + counts["failed"] == queued
        return counts if done else {}

    counts = wait_until(finished, 120, "every seat job finished")
    events = cluster.agent.call("completion_events", redis_url,
                                "reserve_seat")
    runs = collections.Counter(events["completed"].values())
    markers = cluster.agent.call(
        "redis_command", redis_url, "EVAL",
        "local n = 0 for _, key in ipairs(redis.call('KEYS', ARGV[1])) "
        "do if redis.call('GET', key) ~= '-1' then n = n + 1 end end "
        "return n", 0, "reserve_seat:taken:*")
    seats_left = [cluster.agent.call("http", "GET", url + "/available_seats")
                  ["body"] for url in hosts]
    after = cluster.agent.call("http", "GET", hosts[1] + "/reserve_seat")
    print("\nscenario 5 (seats): {} requests on 2 hosts: {}; jobs {}; "
          "completion events per job {}; seats left {}".format(
              SEAT_REQUESTS, dict(statuses), counts, dict(runs),
              seats_left))
    assert queued >= SEATS
    assert counts["completed"] == SEATS == markers
    assert counts["failed"] == queued - SEATS == events["failed"]
    assert runs == {1: SEATS}
    assert seats_left == [{"numberOfAvailableSeats": "0"}] * 2
    assert after["body"] == {"status": "Reservation are blocked"}

#!/usr/bin/env python3
"""Kue's job model on the ``bullmq`` package, for synchronous callers.

A ``Queue`` gives what Kue scripts use: ``create(type, data)`` returns a
``Job`` whose ``save()`` stores it in Redis (one bullmq queue per job
type) and gives it an id; ``job.on(event, fn)`` hears what happens to
it and ``queue.on("job " + event, fn)`` what happens to every job of
the queue, even when producers and workers run in other processes or
on other machines (bullmq's per-type Redis event stream);
``queue.process(type, concurrency, handler)`` runs a worker in this
process. A handler takes the job, may call ``job.progress(done, total,
data)`` and ``job.log(text)``, returns a result to complete it and
raises to fail it (the error's message is what the producer hears).
``queue.shutdown()`` lets running jobs finish (SIGTERM handling:
``run_until_signal``). ``queue.test_mode`` is Kue's ``queue.testMode``.

This module is the facade: the ``Queue`` and how jobs are saved. The
rest lives apart: ``kue_job`` (``Job``, ``TestMode``), ``kue_follow``
(events from every process), ``kue_stored`` (``Job.get``, ranges,
counts, retries...), ``kue_process`` (``process``), and the parts that
follow bullmq's internals: ``kue_bridge`` (the one event-loop thread
that runs every coroutine), ``kue_connection`` (hiredis packing),
``kue_events`` (listeners, the stream reader), ``kue_jobs`` (bullmq's
keys as Kue's states, Kue's JSON), ``kue_worker`` (bullmq's worker
loop, faster).
"""
import asyncio
import logging
import os
import signal
import threading
from typing import Any, Iterable, Optional

from bullmq import Queue as BullQueue

from kue_bridge import (EventLoopThread, QueueError, QueueUnavailable,
                        bridge)
from kue_connection import client
from kue_events import Emitter
from kue_follow import Following
from kue_job import Job, TestMode
from kue_jobs import JobStore
from kue_process import Processing
from kue_stored import StoredJobs
from kue_worker import DEFAULT_TIMEOUT
from redis_connection import redis_url

__all__ = ["Job", "Queue", "QueueError", "QueueUnavailable",
           "create_queue", "run_until_signal", "wait_all"]

PREFIX = "bull"
KEEP_COMPLETED = 1000
KEEP_FAILED = 5000
EVENTS_MAX_LEN = 10000

log = logging.getLogger("kue")
_DEFAULT: list = []


class Queue(Following, StoredJobs, Processing):
    """Kue's queue on bullmq: producer, event listener, workers, queries.

    Nothing connects before the first call that needs Redis.
    ``options`` (all optional): ``prefix``, ``timeout`` (seconds a call
    waits for Redis), ``remove_on_complete`` / ``remove_on_fail`` (how
    many finished jobs bullmq keeps, or True to drop them),
    ``events_max_len`` (length of each type's event stream).
    """

    def __init__(self, url: Optional[str] = None, **options: Any) -> None:
        """Prepare a queue on ``url`` (default ``REDIS_URL``)."""
        self.url = url or redis_url()
        self.prefix = options.get("prefix", PREFIX)
        self.timeout = float(options.get("timeout", DEFAULT_TIMEOUT))
        self.keep_completed = options.get("remove_on_complete",
                                          KEEP_COMPLETED)
        self.keep_failed = options.get("remove_on_fail", KEEP_FAILED)
        self.events_max_len = int(options.get("events_max_len",
                                              EVENTS_MAX_LEN))
        self.test_mode = TestMode()
        self.listeners = Emitter(replay=False)
        self.store = JobStore(self.prefix, self._queue, self._client)
        self._bull: dict = {}
        self._redis: Any = None
        self._followers: dict = {}
        self._pending: dict = {}
        self._seen: dict = {}
        self._saving = 0
        self._early: dict = {}
        self._workers: list = []
        self._watcher: Optional[asyncio.Future] = None
        self._told_waiting = False
        self._lock = threading.Lock()
        self._bridge: Optional[EventLoopThread] = None

    # -- producing -------------------------------------------------------

    def create(self, job_type: str, data: Any = None) -> Job:
        """Return a new unsaved job of a type (Kue's ``queue.create``)."""
        if not isinstance(job_type, str) or not job_type:
            raise QueueError("a job type is a non-empty string")
        return Job(self, job_type, {} if data is None else data)

    def create_bulk(self, job_type: str, items: Iterable,
                    **opts: Any) -> list:
        """Create and save many jobs of one type in one round trip."""
        jobs = []
        for data in items:
            job = self.create(job_type, data)
            job.opts.update(opts)
            jobs.append(job)
        self.save(jobs)
        return jobs

    def save(self, jobs: list) -> None:
        """Store jobs (bulk, one pipeline per type) and set their ids."""
        if not self.test_mode.active or self.test_mode.process:
            self.run(self._save(jobs))
        if self.test_mode.active:
            for job in jobs:
                self.test_mode.record(job)

    async def _save(self, jobs: list) -> None:
        """Add jobs with bullmq, following each type's events first."""
        by_type: dict = {}
        for job in jobs:
            by_type.setdefault(job.type, []).append(job)
        self._saving += 1
        try:
            for job_type, group in by_type.items():
                await self._follow(job_type)
                entries = [{"name": job_type, "data": job.data,
                            "opts": self._bull_opts(job.opts)}
                           for job in group]
                added = await self._queue(job_type).addBulk(entries)
                for job, bull_job in zip(group, added):
                    job.id, job.state = str(bull_job.id), "inactive"
                    key = (job_type, job.id)
                    self._pending[key] = job
                    for name, args in self._early.pop(key, ()):
                        self._deliver(key, name, args)
        finally:
            self._saving -= 1
            if not self._saving:
                early, self._early = self._early, {}
                for key, events in early.items():
                    for name, args in events:
                        self._deliver(key, name, args)

    def _bull_opts(self, opts: dict) -> dict:
        """Translate a job's options into bullmq's job options."""
        merged = {"removeOnComplete": self.keep_completed,
                  "removeOnFail": self.keep_failed}
        merged.update(opts)
        if "backoff" in merged and "delay" not in merged["backoff"]:
            merged["backoff"] = dict(merged["backoff"],
                                     delay=merged.get("delay", 0))
        return merged

    def _queue(self, job_type: str) -> BullQueue:
        """Return the bullmq queue of a type, built on first use."""
        queue = self._bull.get(job_type)
        if queue is None:
            queue = BullQueue(job_type, {
                "connection": self._client(), "prefix": self.prefix})
            self._bull[job_type] = queue
        return queue

    def _client(self) -> Any:
        """Return the asyncio client of this queue's commands."""
        if self._redis is None:
            self._redis = client(self.url)
        return self._redis

    def run(self, coro: Any) -> Any:
        """Run a coroutine on the loop thread, within ``timeout``."""
        return self._loop().run(coro, self.timeout)

    # -- lifecycle ----------------------------------------------------------

    def _loop(self) -> EventLoopThread:
        """Return the process's loop thread, starting it when needed."""
        if self._bridge is None or self._bridge.pid != os.getpid():
            self._bridge = bridge()
        return self._bridge

    def counts(self, job_type: str) -> dict:
        """Return bullmq's counts of a type's jobs per bullmq state."""
        return self.run(self._queue(job_type).getJobCounts(
            "wait", "active", "completed", "failed", "delayed",
            "prioritized"))

    def shutdown(self, timeout: Optional[float] = 30.0) -> None:
        """Stop workers (running jobs finish first) and event readers."""
        if self._bridge is None:
            return
        try:
            self._bridge.run(self._shutdown(), timeout)
        except QueueUnavailable as error:
            log.warning("queue shutdown incomplete: %s", error)

    async def _shutdown(self) -> None:
        """Close workers, event readers and queues on the loop thread."""
        workers, self._workers = self._workers, []
        await asyncio.gather(*(worker.close() for worker, _, _ in workers),
                             return_exceptions=True)
        for worker, pool, task in workers:
            if pool is not None:
                pool.shutdown(wait=False)
            if worker.waiting_for_redis:
                task.cancel()
        if workers:
            await asyncio.wait([task for _, _, task in workers], timeout=5)
        if self._watcher is not None:
            self._watcher.cancel()
            self._watcher = None
        followers, self._followers = self._followers, {}
        await asyncio.gather(*(reader.stop() for reader in followers.values()))
        queues, self._bull = self._bull, {}
        for queue in queues.values():
            try:
                await queue.close()
            except Exception as error:  # noqa: BLE001 - closing anyway
                log.warning("closing queue %s: %s", queue.name, error)
        if self._redis is not None:
            redis, self._redis = self._redis, None
            await redis.aclose()


def create_queue(url: Optional[str] = None, **options: Any) -> Queue:
    """Return a new queue (Kue's ``kue.createQueue()``).

    The first one made becomes the default of ``Job.get`` and ranges.
    """
    queue = Queue(url, **options)
    if not _DEFAULT:
        _DEFAULT.append(queue)
    return queue


def default_queue() -> Queue:
    """Return the first queue made, or a new one on ``REDIS_URL``."""
    return _DEFAULT[0] if _DEFAULT else create_queue()


def run_until_signal(queue: Queue, timeout: Optional[float] = 30.0) -> None:
    """Block until SIGTERM or SIGINT, then shut the queue down gracefully.

    Running jobs finish (up to ``timeout`` seconds) before this returns.
    """
    stop = threading.Event()

    def request_stop(signum: int, frame: Any) -> None:
        """Remember that the process was asked to stop."""
        stop.set()

    previous = {sig: signal.signal(sig, request_stop)
                for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while not stop.wait(1.0):
            pass
    finally:
        queue.shutdown(timeout)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def wait_all(jobs: Iterable[Job], timeout: float) -> bool:
    """Wait until every job finished, at most ``timeout`` seconds in all.

    The caller wakes once, when the last job finishes (not once a job).
    """
    jobs = list(jobs)
    left = [len(jobs)]
    lock, finished = threading.Lock(), threading.Event()

    def one_done() -> None:
        """Count a finished job; wake the caller after the last."""
        with lock:
            left[0] -= 1
            last = left[0] == 0
        if last:
            finished.set()

    if not jobs:
        return True
    for job in jobs:
        job.when_done(one_done)
    return finished.wait(timeout)

#!/usr/bin/env python3
"""Kue's job model on the ``bullmq`` package, for synchronous callers.

A ``Queue`` gives what Kue scripts use: ``create(type, data)`` returns a
``Job`` whose ``save()`` stores it in Redis (one bullmq queue per job
type) and gives it an id; ``job.on(event, fn)`` hears what happens to
it, even when the worker runs in another process or on another machine
(bullmq's per-queue Redis event stream); ``queue.process(type,
concurrency, handler)`` runs a worker in this process. A handler takes
the job, may call ``job.progress(done, total)``, returns a result to
complete it and raises to fail it (the error's message is what the
producer hears). ``queue.shutdown()`` lets running jobs finish
(SIGTERM handling: ``run_until_signal``). ``queue.test_mode`` is Kue's
``queue.testMode``: created jobs are recorded, Redis untouched.

This module is the facade; the parts that follow bullmq's internals
live apart: ``kue_bridge`` (the one event-loop thread that runs every
coroutine), ``kue_connection`` (hiredis packing), ``kue_events``
(listeners and the event-stream reader), ``kue_worker`` (bullmq's
worker loop taking the next job in the call that completes one).
"""
import asyncio
import atexit
import logging
import os
import signal
import threading
import time
from typing import Any, Callable, Iterable, Optional

from bullmq import Queue as BullQueue

from kue_bridge import (EventLoopThread, QueueError, QueueUnavailable,
                        bridge)
from kue_connection import client, public_url
from kue_events import Emitter, EventReader, in_turn
from kue_worker import DEFAULT_TIMEOUT, start_worker
from redis_connection import redis_url

__all__ = ["Job", "Queue", "QueueError", "QueueUnavailable",
           "create_queue", "run_until_signal", "wait_all"]

PREFIX = "bull"
KEEP_COMPLETED = 1000
KEEP_FAILED = 5000
EVENTS_MAX_LEN = 10000
PRIORITIES = {"critical": 1, "high": 2, "medium": 3, "normal": 4, "low": 5}

log = logging.getLogger("kue")


class Job(Emitter):
    """A Kue job as its producer sees it: type, data, options, id, events.

    Events: ``progress`` (percent), ``complete`` (result), ``failed``
    (error message). ``wait()`` blocks until the job completed or failed.
    """

    def __init__(self, queue: "Queue", job_type: str, data: Any) -> None:
        """Describe an unsaved job of a type with its JSON data."""
        super().__init__()
        self.queue = queue
        self.type = job_type
        self.data = data
        self.id: Optional[str] = None
        self.opts: dict = {}
        self.state = "new"
        self.result: Any = None
        self.error: Optional[str] = None
        self._finished = threading.Event()

    def attempts(self, count: int) -> "Job":
        """Allow the job this many runs in all before it fails for good."""
        self.opts["attempts"] = int(count)
        return self

    def backoff(self, delay_ms: int, kind: str = "fixed") -> "Job":
        """Wait between attempts: ``fixed`` or ``exponential`` from a delay."""
        self.opts["backoff"] = {"type": kind, "delay": int(delay_ms)}
        return self

    def delay(self, delay_ms: int) -> "Job":
        """Hold the job back for this many milliseconds before it runs."""
        self.opts["delay"] = int(delay_ms)
        return self

    def priority(self, level: Any) -> "Job":
        """Set a Kue priority name or a bullmq number (1 runs first)."""
        self.opts["priority"] = PRIORITIES.get(level, level)
        return self

    def save(self) -> "Job":
        """Store the job (or record it in test mode); its id is then set."""
        self.queue.save([self])
        return self

    def emit(self, event: str, *args: Any,
             then: Optional[Callable] = None) -> None:
        """Update the job's state from an event, then call listeners.

        ``wait()`` returns once the listeners of the final event ran.
        """
        if event == "complete":
            self.state, self.result = "complete", args[0] if args else None
        elif event == "failed":
            self.state, self.error = "failed", args[0] if args else None
        if event in ("complete", "failed"):
            then = (in_turn(then, self._finished.set) if then
                    else self._finished.set)
        super().emit(event, *args, then=then)

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Block until the job completed or failed; False on timeout."""
        return self._finished.wait(timeout)

    def __repr__(self) -> str:
        """Show the job's type, id and state for logs and tests."""
        return "<Job {} #{} {}>".format(self.type, self.id, self.state)



class TestMode:
    """Kue's ``queue.testMode``: record created jobs, touch no Redis."""

    __test__ = False

    def __init__(self) -> None:
        """Start outside test mode with no recorded jobs."""
        self.active = False
        self.jobs: list = []
        self._next_id = 0

    def enter(self) -> None:
        """Record jobs from now on instead of storing them."""
        self.active = True

    def exit(self) -> None:
        """Store jobs in Redis again; forget the recorded ones."""
        self.active = False
        self.clear()

    def clear(self) -> None:
        """Forget the recorded jobs."""
        self.jobs = []

    def record(self, job: Job) -> None:
        """Record one job and give it the next id."""
        self._next_id += 1
        job.id, job.state = str(self._next_id), "inactive"
        self.jobs.append(job)



class Queue:
    """Kue's queue on bullmq: producer, event listener and workers.

    Nothing connects before the first ``save()`` or ``process()``.
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
        self._bull: dict = {}
        self._followers: dict = {}
        self._pending: dict = {}
        self._saving = 0
        self._early: dict = {}
        self._workers: list = []
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
        if self.test_mode.active:
            for job in jobs:
                self.test_mode.record(job)
            return
        self._loop().run(self._save(jobs), self.timeout)

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
                self._early.clear()

    def _bull_opts(self, opts: dict) -> dict:
        """Translate a job's options into bullmq's job options."""
        merged = {"removeOnComplete": self.keep_completed,
                  "removeOnFail": self.keep_failed}
        merged.update(opts)
        return merged

    def _queue(self, job_type: str) -> BullQueue:
        """Return the bullmq queue of a type, built on first use."""
        queue = self._bull.get(job_type)
        if queue is None:
            queue = BullQueue(job_type, {
                "connection": client(self.url),
                "prefix": self.prefix})
            self._bull[job_type] = queue
        return queue

    # -- events from any process ------------------------------------------

    def on(self, event: str, listener: Callable) -> "Queue":
        """Hear ``job progress`` / ``job complete`` / ``job failed``.

        Listeners get the job id then the event's value, for jobs this
        process created.
        """
        self.listeners.on(event, listener)
        return self

    async def _follow(self, job_type: str) -> None:
        """Start reading a type's event stream from its current end."""
        if job_type in self._followers:
            return
        client = self._queue(job_type).client
        key = "{}:{}:events".format(self.prefix, job_type)
        meta = "{}:{}:meta".format(self.prefix, job_type)
        await client.hset(meta, "opts.maxLenEvents", self.events_max_len)
        last = await client.xrevrange(key, count=1)
        start = last[0][0] if last else "0-0"
        self._followers[job_type] = EventReader(
            self.url, self.prefix, job_type, self._on_stream).start(start)

    def _on_stream(self, job_type: str, name: str, args: dict) -> None:
        """Hand one stream entry to the job it concerns."""
        if name in ("progress", "completed", "failed"):
            self._deliver((job_type, str(args.get("jobId"))), name, args)

    def _deliver(self, key: tuple, name: str, args: dict) -> None:
        """Turn one bullmq event into Kue's for the job it concerns.

        An event may arrive while its job's ``addBulk`` has run in Redis
        but not yet returned the id (a fast worker): while a save is in
        flight, events of unknown jobs are kept and replayed by ``_save``.
        """
        job = self._pending.get(key)
        if job is None:
            if self._saving:
                self._early.setdefault(key, []).append((name, args))
            return
        if name == "progress":
            job.emit("progress", args.get("data"))
            self.listeners.emit("job progress", job.id, args.get("data"))
            return
        del self._pending[key]
        if name == "completed":
            job.emit("complete", args.get("returnvalue"))
            self.listeners.emit("job complete", job.id,
                                args.get("returnvalue"))
        else:
            job.emit("failed", args.get("failedReason"))
            self.listeners.emit("job failed", job.id,
                                args.get("failedReason"))

    # -- processing ---------------------------------------------------------

    def process(self, job_type: str, concurrency: int = 1,
                handler: Optional[Callable] = None,
                **options: Any) -> Any:
        """Process a type with a handler, ``concurrency`` jobs at a time.

        ``handler(job)`` may be a function (run in a thread pool) or a
        coroutine function (run on the loop). Returns at once: with
        Redis unreachable the worker waits for it (one warning on the
        ``kue`` logger) and starts working when it answers. Options:
        ``lock_duration`` and ``stalled_interval`` (ms; a dead worker's
        jobs run again after about two stalled intervals past the lock's
        end), ``max_stalled_count``, ``drain_delay`` (s).
        """
        if handler is None:
            concurrency, handler = 1, concurrency
        return self._loop().run(
            self._start_worker(job_type, int(concurrency), handler, options),
            self.timeout)

    async def _start_worker(self, job_type: str, concurrency: int,
                            handler: Callable, options: dict) -> Any:
        """Build a bullmq worker for a type on the loop thread."""
        worker, pool, task = start_worker(
            job_type, concurrency, handler, self._loop(), {
                "connection": client(self.url, socket_timeout=None),
                "prefix": self.prefix,
                "lockDuration": int(options.get("lock_duration", 30000)),
                "stalledInterval": int(options.get("stalled_interval",
                                                   30000)),
                "maxStalledCount": int(options.get("max_stalled_count", 1)),
                "drainDelay": int(options.get("drain_delay", 5)),
                "runRetryDelay": int(options.get("run_retry_delay", 1000)),
            })
        worker.on_waiting = self._waiting_for_redis
        worker.on_connected = self._redis_reached
        if not self._workers:
            atexit.register(self.shutdown, 10.0)
        self._workers.append((worker, pool, task))
        return worker

    def _waiting_for_redis(self, error: BaseException) -> None:
        """Say once (until a worker connects) that workers wait for Redis."""
        with self._lock:
            if self._told_waiting:
                return
            self._told_waiting = True
        log.warning("Waiting for Redis at %s: %s", public_url(self.url),
                    str(error) or type(error).__name__)

    def _redis_reached(self) -> None:
        """Note that a worker reached Redis (a later wait is told again)."""
        with self._lock:
            self._told_waiting = False

    # -- lifecycle ----------------------------------------------------------

    def _loop(self) -> EventLoopThread:
        """Return the process's loop thread, starting it when needed."""
        if self._bridge is None or self._bridge.pid != os.getpid():
            self._bridge = bridge()
        return self._bridge

    def counts(self, job_type: str) -> dict:
        """Return how many jobs of a type wait, run, completed, failed."""
        return self._loop().run(
            self._queue(job_type).getJobCounts(
                "wait", "active", "completed", "failed", "delayed",
                "prioritized"), self.timeout)

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
        followers, self._followers = self._followers, {}
        await asyncio.gather(*(reader.stop() for reader in followers.values()))
        queues, self._bull = self._bull, {}
        for queue in queues.values():
            try:
                await queue.close()
            except Exception as error:  # noqa: BLE001 - closing anyway
                log.warning("closing queue %s: %s", queue.name, error)


def create_queue(url: Optional[str] = None, **options: Any) -> Queue:
    """Return a new queue (Kue's ``kue.createQueue()``)."""
    return Queue(url, **options)


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
    """Wait until every job finished, at most ``timeout`` seconds in all."""
    deadline = time.monotonic() + timeout
    for job in jobs:
        if not job.wait(max(0.0, deadline - time.monotonic())):
            return False
    return True

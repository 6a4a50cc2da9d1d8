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

This module is the facade; the parts that follow bullmq's internals
live apart: ``kue_bridge`` (the one event-loop thread that runs every
coroutine), ``kue_connection`` (hiredis packing), ``kue_events``
(listeners and the event-stream reader), ``kue_jobs`` (states, ranges,
counts, Kue's JSON), ``kue_worker`` (bullmq's worker loop, faster).
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
from kue_events import Emitter, EventReader, in_turn, translate
from kue_jobs import STATES, JobStore, bull_priority, split_progress
from kue_worker import DEFAULT_TIMEOUT, start_worker
from redis_connection import redis_url

__all__ = ["Job", "Queue", "QueueError", "QueueUnavailable",
           "create_queue", "run_until_signal", "wait_all"]

PREFIX = "bull"
KEEP_COMPLETED = 1000
KEEP_FAILED = 5000
EVENTS_MAX_LEN = 10000
FINAL_EVENTS = ("complete", "failed")

log = logging.getLogger("kue")
_DEFAULT: list = []


class Job(Emitter):
    """A Kue job as its producer sees it: type, data, options, id, events.

    Events: ``enqueue`` (type), ``start`` (type), ``progress``
    (percent; the data is ``job.progress_data``), ``failed attempt``
    (error, attempts made), ``promotion``, ``complete`` (result),
    ``failed`` (error), ``remove`` (type). ``wait()`` blocks until the
    job completed or failed. ``Job.get``, ``Job.range_by_state`` and
    ``Job.range_by_type`` return snapshots (``job.json`` is Kue's JSON).
    """

    def __init__(self, queue: "Queue", job_type: str, data: Any) -> None:
        """Describe an unsaved job of a type with its JSON data."""
        super().__init__()
        self.queue, self.type, self.data = queue, job_type, data
        self.id: Optional[str] = None
        self.opts: dict = {}
        self.state = "new"
        self.result: Any = None
        self.error: Optional[str] = None
        self.progress_data: Any = None
        self.json: dict = {}
        self._finished = threading.Event()

    def attempts(self, count: int) -> "Job":
        """Allow the job this many runs in all before it fails for good."""
        self.opts["attempts"] = int(count)
        return self

    def backoff(self, how: Any = True, kind: str = "fixed") -> "Job":
        """Wait between attempts, as Kue's ``job.backoff``.

        ``True`` (the job's delay, fixed), a delay in ms with ``kind``
        ``fixed`` or ``exponential``, ``{"type": ..., "delay": ...}``,
        or a module-level function ``fn(attempts, delay) -> ms`` that
        the worker imports by name.
        """
        if callable(how):
            name = "{}:{}".format(how.__module__, how.__qualname__)
            if "<" in name:
                raise QueueError("a back-off function must be defined at "
                                 "module level, got {}".format(name))
            how = {"type": "kue:" + name}
        elif how is True or isinstance(how, dict):
            how = dict({"type": "fixed"}, **(how if how is not True else {}))
        else:
            how = {"type": kind, "delay": int(how)}
        self.opts["backoff"] = how
        return self

    def delay(self, delay_ms: int) -> "Job":
        """Hold the job back for this many milliseconds before it runs."""
        self.opts["delay"] = int(delay_ms)
        return self

    def priority(self, level: Any) -> "Job":
        """Set Kue's priority: a name (low ... critical) or a number."""
        try:
            self.opts["priority"] = bull_priority(level)
        except ValueError as error:
            raise QueueError(str(error)) from None
        return self

    def ttl(self, ttl_ms: int) -> "Job":
        """Fail the job with "TTL exceeded" if it runs longer than this."""
        self.opts["ttl"] = int(ttl_ms)
        return self

    def remove_on_complete(self, remove: bool = True) -> "Job":
        """Delete the job from Redis as soon as it completes."""
        self.opts["removeOnComplete"] = (True if remove
                                         else self.queue.keep_completed)
        return self

    def save(self) -> "Job":
        """Store the job (or record it in test mode); its id is then set."""
        self.queue.save([self])
        return self

    def remove(self) -> None:
        """Delete the stored job (``QueueError`` if it is running)."""
        self.queue.remove_job(self.id, self.type, self)

    def log(self, message: str, *args: Any) -> None:
        """Add a line to the stored job's log (``message % args``)."""
        self.queue.add_log(self.id, self.type,
                           str(message) % args if args else str(message))

    def emit(self, event: str, *args: Any,
             then: Optional[Callable] = None) -> None:
        """Update the job's state from an event, then call listeners.

        ``wait()`` returns once the listeners of the final event ran.
        """
        if event == "complete":
            self.state, self.result = "complete", args[0] if args else None
        elif event == "failed":
            self.state, self.error = "failed", args[0] if args else None
        if event in FINAL_EVENTS:
            then = (in_turn(then, self._finished.set) if then
                    else self._finished.set)
        super().emit(event, *args, then=then)

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Block until the job completed or failed; False on timeout."""
        return self._finished.wait(timeout)

    @classmethod
    def from_json(cls, queue: "Queue", shape: dict) -> "Job":
        """Return a snapshot of a stored job from Kue's JSON of it."""
        job = cls(queue, shape["type"], shape.get("data"))
        job.id, job.state, job.json = shape["id"], shape["state"], shape
        job.result, job.error = shape.get("result"), shape.get("error")
        job.progress_data = shape.get("progress_data")
        return job

    @classmethod
    def get(cls, job_id: Any, job_type: Optional[str] = None,
            queue: Optional["Queue"] = None) -> Optional["Job"]:
        """Return a stored job by id (Kue's ``Job.get``), or None."""
        return (queue or default_queue()).get_job(job_id, job_type)

    @classmethod
    def range_by_state(cls, state: str, start: int = 0, end: int = -1,
                       order: str = "asc",
                       queue: Optional["Queue"] = None) -> list:
        """Return jobs ``start..end`` of a state, all types, by id."""
        return (queue or default_queue()).range(state, None, start, end,
                                                order)

    @classmethod
    def range_by_type(cls, job_type: str, state: str, start: int = 0,
                      end: int = -1, order: str = "asc",
                      queue: Optional["Queue"] = None) -> list:
        """Return jobs ``start..end`` of a type in a state, by id."""
        return (queue or default_queue()).range(state, job_type, start,
                                                end, order)

    def __repr__(self) -> str:
        """Show the job's type, id and state for logs and tests."""
        return "<Job {} #{} {}>".format(self.type, self.id, self.state)


class TestMode:
    """Kue's ``queue.testMode``: record created jobs, touch no Redis.

    ``enter(process=True)`` records jobs and stores them too, so that
    workers run them (Kue's ``testMode.enter(true)``).
    """

    __test__ = False

    def __init__(self) -> None:
        """Start outside test mode with no recorded jobs."""
        self.active = self.process = False
        self.jobs: list = []
        self._next_id = 0

    def enter(self, process: bool = False) -> None:
        """Record jobs from now on (and store them if ``process``)."""
        self.active, self.process = True, bool(process)

    def exit(self) -> None:
        """Store jobs in Redis again; forget the recorded ones."""
        self.active = self.process = False
        self.clear()

    def clear(self) -> None:
        """Forget the recorded jobs."""
        self.jobs = []

    def record(self, job: Job) -> None:
        """Record one job (giving it the next id unless it was stored)."""
        if job.id is None:
            self._next_id += 1
            job.id, job.state = str(self._next_id), "inactive"
        self.jobs.append(job)


class Queue:
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
        self._active: set = set()
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

    # -- stored jobs (Kue's Job.get, ranges, counts, JSON API) -------------

    def run(self, coro: Any) -> Any:
        """Run a coroutine on the loop thread, within ``timeout``."""
        return self._loop().run(coro, self.timeout)

    def get_job(self, job_id: Any, job_type: Optional[str] = None
                ) -> Optional[Job]:
        """Return a snapshot of a stored job, or None.

        Ids are per type: without ``job_type`` every type is searched,
        and an id held by several types raises ``QueueError``.
        """
        shape = self.job_json(job_id, job_type)
        return None if shape is None else Job.from_json(self, shape)

    def job_json(self, job_id: Any, job_type: Optional[str] = None
                 ) -> Optional[dict]:
        """Return Kue's JSON of a stored job, or None."""
        async def find() -> Optional[dict]:
            """Find the job and shape it."""
            found_type, bull = await self.store.find(job_id, job_type)
            return None if bull is None else await self.store.json(
                found_type, bull)
        try:
            return self.run(find())
        except LookupError as error:
            raise QueueError(str(error)) from None

    def range(self, state: Optional[str], job_type: Optional[str],
              start: int = 0, end: int = -1, order: str = "asc") -> list:
        """Return jobs ``start..end`` (by id) of a state and type."""
        return [Job.from_json(self, shape) for shape in self.range_json(
            state, job_type, start, end, order)]

    def range_json(self, state: Optional[str], job_type: Optional[str],
                   start: int = 0, end: int = -1,
                   order: str = "asc") -> list:
        """Return Kue's JSON of jobs ``start..end`` (all states if None)."""
        if state is not None and state not in STATES:
            raise QueueError("unknown state {!r} (one of {})".format(
                state, ", ".join(STATES)))
        states = [state] if state else list(STATES)
        return self.run(self.store.range(states, job_type, start, end,
                                         order))

    def types(self) -> list:
        """Return the job types saved or processed so far (Kue's types)."""
        return self.run(self.store.types())

    def state_count(self, state: str, job_type: Optional[str] = None) -> int:
        """Return how many jobs (of a type, or all) are in a Kue state."""
        return self.run(self.store.count(state, job_type))

    def inactive_count(self, job_type: Optional[str] = None) -> int:
        """Return how many jobs wait to run (Kue's ``inactiveCount``)."""
        return self.state_count("inactive", job_type)

    def active_count(self, job_type: Optional[str] = None) -> int:
        """Return how many jobs run now (Kue's ``activeCount``)."""
        return self.state_count("active", job_type)

    def complete_count(self, job_type: Optional[str] = None) -> int:
        """Return how many jobs completed (Kue's ``completeCount``)."""
        return self.state_count("complete", job_type)

    def failed_count(self, job_type: Optional[str] = None) -> int:
        """Return how many jobs failed (Kue's ``failedCount``)."""
        return self.state_count("failed", job_type)

    def delayed_count(self, job_type: Optional[str] = None) -> int:
        """Return how many jobs are delayed (Kue's ``delayedCount``)."""
        return self.state_count("delayed", job_type)

    def remove_job(self, job_id: Any, job_type: str,
                   job: Optional[Job] = None) -> None:
        """Delete a stored job; ``QueueError`` if it runs or is gone.

        ``job`` (a job object of this process) hears its ``remove``.
        """
        if job is not None and job_type in self._followers:
            self._pending[(job_type, str(job_id))] = job
        if not self.run(self._queue(job_type).remove(str(job_id))):
            raise QueueError("job {} of {} is running or gone".format(
                job_id, job_type))

    def add_log(self, job_id: Any, job_type: str, line: str) -> None:
        """Add a line to a stored job's log."""
        self.run(self._queue(job_type).backend.addLog(str(job_id), line, 0))

    def logs(self, job_id: Any, job_type: str) -> list:
        """Return a stored job's log lines, oldest first."""
        return self.run(self._queue(job_type).getJobLogs(
            str(job_id)))["logs"]

    def set_state(self, job_id: Any, job_type: str, state: str) -> None:
        """Move a stored job to ``inactive`` (retry it or run it now).

        A failed or complete job runs again, a delayed one at once;
        other moves raise ``QueueError`` (workers own them).
        """
        async def move() -> None:
            """Retry or promote the job on the loop thread."""
            bull = await self._queue(job_type).getJob(str(job_id))
            current = await self.store.json(job_type, bull) if bull else {}
            now = current.get("state")
            if state != "inactive" or now not in (
                    "failed", "complete", "delayed", "inactive"):
                raise QueueError("cannot move a {} job to {}".format(
                    now or "missing", state))
            if now == "delayed":
                await bull.promote()
            elif now != "inactive":
                await bull.retry("failed" if now == "failed"
                                 else "completed")
        self.run(move())

    def set_priority(self, job_id: Any, job_type: str, level: Any) -> None:
        """Change a stored job's Kue priority (a name or a number)."""
        try:
            value = bull_priority(level)
        except ValueError as error:
            raise QueueError(str(error)) from None
        self.run(self._queue(job_type).backend.changePriority(
            str(job_id), value))

    # -- events from any process ------------------------------------------

    def on(self, event: str, listener: Callable) -> "Queue":
        """Hear ``job <event>`` of every job of the queue, from any process.

        Listeners get the job id then the event's values (``job
        enqueue`` (id, type), ``job complete`` (id, result), ``job
        failed attempt`` (id, error, attempts)...). Types are followed
        from the moment they are registered (saved or processed).
        """
        self.listeners.on(event, listener)
        if self._watcher is None:
            self._watcher = self._loop().submit(self._watch())
        return self

    async def _watch(self) -> None:
        """Follow every registered type, looking for new ones each second."""
        while True:
            try:
                for job_type in await self.store.types():
                    await self._follow(job_type)
            except Exception as error:  # noqa: BLE001 - retried below
                log.warning("job types not read: %s", error)
            await asyncio.sleep(1.0)

    async def _follow(self, job_type: str) -> None:
        """Start reading a type's event stream from its current end."""
        await self.store.add_type(job_type)
        if job_type in self._followers:
            return
        redis = self._client()
        key = "{}:{}:events".format(self.prefix, job_type)
        meta = "{}:{}:meta".format(self.prefix, job_type)
        await redis.hset(meta, "opts.maxLenEvents", self.events_max_len)
        last = await redis.xrevrange(key, count=1)
        start = last[0][0] if last else "0-0"
        if job_type not in self._followers:
            self._followers[job_type] = EventReader(
                self.url, self.prefix, job_type, self._on_stream).start(start)

    async def _on_stream(self, job_type: str, fields: dict) -> None:
        """Turn one stream entry into Kue's events and deliver them."""
        key = (job_type, str(fields.get("jobId")))

        async def failure() -> tuple:
            """Read a job's last error and attempts made."""
            reason, made = await self._client().hmget(
                "{}:{}:{}".format(self.prefix, *key), "failedReason", "atm")
            return reason, int(made or 0)

        for name, args in await translate(fields, self._active, key,
                                          failure):
            self._deliver(key, name, args)

    def _deliver(self, key: tuple, name: str, args: tuple) -> None:
        """Deliver one Kue event to its job and to the queue's listeners.

        An event may arrive while its job's ``addBulk`` has run in Redis
        but not yet returned the id (a fast worker): while a save is in
        flight, events of unknown jobs are kept and replayed by ``_save``.
        """
        job = self._pending.get(key)
        if job is None and self._saving:
            self._early.setdefault(key, []).append((name, args))
            return
        if name == "progress":
            percent, data = split_progress(args[0])
            args = (percent,)
            if job is not None:
                job.progress_data = data
        if job is not None:
            if name in FINAL_EVENTS or name == "remove":
                self._pending.pop(key, None)
            job.emit(name, *args)
        if self.listeners.listens("job " + name):
            self.listeners.emit("job " + name, key[1], *args)

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
        return self.run(self._start_worker(job_type, int(concurrency),
                                           handler, options))

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
        worker.on_connected = lambda: self._redis_reached(job_type)
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

    def _redis_reached(self, job_type: str) -> None:
        """Note that a worker reached Redis; register its type."""
        with self._lock:
            self._told_waiting = False
        registering = asyncio.ensure_future(self.store.add_type(job_type))
        registering.add_done_callback(lambda done: done.cancelled() or (
            done.exception() and log.warning(
                "type %s not registered: %s", job_type, done.exception())))

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
    """Wait until every job finished, at most ``timeout`` seconds in all."""
    deadline = time.monotonic() + timeout
    for job in jobs:
        if not job.wait(max(0.0, deadline - time.monotonic())):
            return False
    return True

#!/usr/bin/env python3
"""Kue's job model on the ``bullmq`` package, for synchronous callers.

A ``Queue`` gives what the seed's Kue scripts use: ``create(type, data)``
returns a ``Job`` whose ``save()`` stores it in Redis (one bullmq queue
per job type) and gives it an id; ``job.on("progress" | "complete" |
"failed", fn)`` hears what happens to it, even when the worker runs in
another process or on another machine (bullmq's per-queue Redis event
stream); ``queue.process(type, concurrency, handler)`` runs a worker in
this process. A handler takes the job, may call ``job.progress(done,
total)``, returns a result to complete it and raises to fail it (the
error's message is what the producer hears). Attempts with backoff,
delays and priorities are job options; ``queue.shutdown()`` lets running
jobs finish (SIGTERM handling: ``run_until_signal``). ``queue.test_mode``
is Kue's ``queue.testMode``: created jobs are recorded, Redis untouched.

bullmq is asyncio and Flask or a script is not: every coroutine runs on
ONE event-loop thread per process (``EventLoopThread``), started on first
use and never at import; callers block on the result with a timeout.
Only thin glue lives here: Kue naming, the sync bridge, event
dispatch to job objects (in the order the events happened), a restart
of bullmq's event reader after a Redis outage (bullmq's ``QueueEvents``
stops at the first error), and a wait for Redis before bullmq's worker
loop starts (that loop dies if Redis is down when it starts).
Three measured speed-ups, each a thin layer: the worker takes its next
job in the Lua call that completes one (``FetchNextWorker``, as Node
BullMQ does), bullmq's asyncio connections pack commands with hiredis
(``HiredisPackConnection``), and the loop is uvloop's when installed.
"""
import asyncio
import atexit
import collections
import concurrent.futures
import inspect
import logging
import os
import signal
import threading
import time
import urllib.parse
from typing import Any, Callable, Iterable, Optional

import hiredis
import redis.asyncio
import redis.exceptions
from bullmq import Queue as BullQueue
from bullmq import QueueEvents, Worker
from bullmq.custom_errors import (DelayedError, UnrecoverableError,
                                  WaitingChildrenError)

from redis_connection import make_async_client, redis_url

try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop is a declared dependency
    uvloop = None

PREFIX = "bull"
DEFAULT_TIMEOUT = 5.0
KEEP_COMPLETED = 1000
KEEP_FAILED = 5000
EVENTS_MAX_LEN = 10000
# Redis checks blocking timeouts on its timer tick (1 / hz, hz 10 by
# default); a worker times the last part of a delay itself.
REDIS_TICK = 0.1
PRIORITIES = {"critical": 1, "high": 2, "medium": 3, "normal": 4, "low": 5}
_REDIS_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
               OSError, asyncio.TimeoutError, concurrent.futures.TimeoutError)


log = logging.getLogger("kue")


class QueueError(Exception):
    """Base class of the errors this module raises on purpose."""


class QueueUnavailable(QueueError):
    """Raised when Redis cannot be reached or answers too late."""


class HiredisPackConnection(redis.asyncio.Connection):
    """redis-py's asyncio connection packing commands with hiredis.

    redis-py's sync client already packs with hiredis; its asyncio one
    packs in Python (about 24 us for a bullmq script call, 4 us here).
    Anything hiredis refuses (None, bool...) takes redis-py's own path
    and its error. ``rediss://`` and ``unix://`` URLs keep their class.
    """

    def pack_command(self, *args: Any) -> list:
        """Pack one command into the Redis protocol."""
        if isinstance(args[0], str) and " " in args[0]:
            args = tuple(args[0].split()) + args[1:]
        try:
            return [hiredis.pack_command(args)]
        except TypeError:
            return super().pack_command(*args)


def _public_url(url: str) -> str:
    """Return a Redis URL fit for a log line: its password hidden."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urllib.parse.urlunsplit(parts._replace(
        netloc="{}:***@{}".format(parts.username or "", host)))


def _client(url: str, **options: Any) -> redis.asyncio.Redis:
    """Build an asyncio client for bullmq, with hiredis packing."""
    return make_async_client(url, connection_class=HiredisPackConnection,
                             **options)


class EventLoopThread:
    """One asyncio loop on a daemon thread: the sync-to-async bridge."""

    def __init__(self) -> None:
        """Start the loop thread (called once per process)."""
        self.pid = os.getpid()
        self.loop = (uvloop.new_event_loop() if uvloop is not None
                     else asyncio.new_event_loop())
        self.thread = threading.Thread(
            target=self._run, name="kue-event-loop", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        """Run the loop until the process ends."""
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def in_loop(self) -> bool:
        """Tell whether the caller runs on the loop's own thread."""
        return threading.current_thread() is self.thread

    def submit(self, coro: Any) -> concurrent.futures.Future:
        """Schedule a coroutine on the loop; return a thread-safe future."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Any, timeout: Optional[float] = None) -> Any:
        """Run a coroutine on the loop and wait for its result.

        A timeout cancels the coroutine and raises ``QueueUnavailable``;
        Redis connection errors become ``QueueUnavailable`` too.
        """
        if self.in_loop():
            raise RuntimeError("blocking call made on the event-loop thread")
        future = self.submit(coro)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError as error:
            future.cancel()
            raise QueueUnavailable("Redis did not answer in time") from error
        except _REDIS_DOWN as error:
            message = str(error) or "Redis unavailable"
            raise QueueUnavailable(message) from error


_BRIDGE: Optional[EventLoopThread] = None
_BRIDGE_LOCK = threading.Lock()


def bridge() -> EventLoopThread:
    """Return this process's loop thread, starting it on first use."""
    global _BRIDGE
    with _BRIDGE_LOCK:
        if _BRIDGE is None or _BRIDGE.pid != os.getpid():
            _BRIDGE = EventLoopThread()
        return _BRIDGE


class Emitter:
    """Listeners by event name; late listeners hear past events too.

    Events reach a job on the loop thread, possibly before the caller
    registered a listener; replaying the history closes that race.
    Every call to a listener, live or replayed, goes through one queue
    drained by one thread at a time, so each listener hears its events
    in the order they happened and no two listeners of an emitter run
    at once. ``on_many`` adds several listeners in one step: the past
    events then reach them in the order they happened across event
    names (a progress before a failure), which listeners added one at
    a time after the fact cannot get. A listener that raises is logged;
    the others still run.
    """

    def __init__(self, replay: bool = True) -> None:
        """Start with no listeners and no history (kept if ``replay``)."""
        self._listeners: dict = {}
        self._history: list = []
        self._replay = replay
        self._lock = threading.Lock()
        self._calls: collections.deque = collections.deque()
        self._draining = False

    def on(self, event: str, listener: Callable) -> "Emitter":
        """Call ``listener(*args)`` on each ``event`` (past ones too)."""
        return self.on_many({event: listener})

    def on_many(self, listeners: dict) -> "Emitter":
        """Add ``{event: listener}`` at once; past events come in order."""
        with self._lock:
            for event, listener in listeners.items():
                self._listeners.setdefault(event, []).append(listener)
            for event, args in self._history:
                if event in listeners:
                    self._calls.append((listeners[event], args))
        self._drain()
        return self

    def emit(self, event: str, *args: Any,
             then: Optional[Callable] = None) -> None:
        """Record an event and call its listeners, then ``then()``."""
        with self._lock:
            if self._replay:
                self._history.append((event, args))
            for listener in self._listeners.get(event, ()):
                self._calls.append((listener, args))
            if then is not None:
                self._calls.append((then, ()))
        self._drain()

    def _drain(self) -> None:
        """Make the queued calls in order, unless another thread does."""
        with self._lock:
            if self._draining:
                return
            self._draining = True
        try:
            while True:
                with self._lock:
                    if not self._calls:
                        self._draining = False
                        return
                    call, args = self._calls.popleft()
                try:
                    call(*args)
                except Exception:  # noqa: BLE001 - logged, others still run
                    log.exception("an event listener failed")
        except BaseException:
            with self._lock:
                self._draining = False
            raise


def _in_turn(*calls: Callable) -> Callable:
    """Return a function making the given calls one after the other."""

    def call_all() -> None:
        """Make each call in turn."""
        for call in calls:
            call()

    return call_all


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
            then = (_in_turn(then, self._finished.set) if then
                    else self._finished.set)
        super().emit(event, *args, then=then)

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Block until the job completed or failed; False on timeout."""
        return self._finished.wait(timeout)

    def __repr__(self) -> str:
        """Show the job's type, id and state for logs and tests."""
        return "<Job {} #{} {}>".format(self.type, self.id, self.state)


class ActiveJob:
    """A job as its handler sees it: id, type, data and progress reports."""

    def __init__(self, bull_job: Any, loop_thread: EventLoopThread) -> None:
        """Wrap a bullmq job handed to a worker."""
        self._job = bull_job
        self._bridge = loop_thread
        self.id = bull_job.id
        self.type = bull_job.queue.name if bull_job.queue else ""
        self.data = bull_job.data
        self.attempts_made = bull_job.attemptsMade

    def progress(self, completed: float, total: float = 100) -> Any:
        """Report ``completed`` of ``total`` as a percentage to the producer.

        From a sync handler it blocks until stored; from an async handler
        it returns an awaitable (already scheduled).
        """
        percent = 0 if not total else round(completed * 100 / total)
        coro = self._job.updateProgress(percent)
        if self._bridge.in_loop():
            return asyncio.ensure_future(coro)
        return self._bridge.run(coro, DEFAULT_TIMEOUT)


class FetchNextWorker(Worker):
    """bullmq's worker taking its next job in the call that completes one.

    Node BullMQ asks ``moveToFinished`` (one Lua script) to hand back the
    next waiting job; bullmq-py passes ``fetch_next=False`` and makes a
    second round trip (``moveToActive``) per job. The Lua script and
    bullmq's main loop already support the Node way: a finished task's
    result that is a job gets processed. Only completion is changed;
    failures (retries, backoff) keep bullmq's own path.

    It also waits for Redis before bullmq's loop starts (``run``).
    """

    waiting_for_redis = False
    on_waiting: Optional[Callable] = None
    on_connected: Optional[Callable] = None

    async def run(self) -> None:
        """Wait until Redis answers, then run bullmq's worker loop.

        bullmq's loop dies for good when its first command fails (Redis
        down at start-up), so that command (the client name) runs here
        first, retried with backoff (0.1 s doubling to 1 s) until Redis
        answers or the worker closes; ``on_waiting(error)`` hears the
        first failure. The server's version is read too: it tells
        bullmq that Redis (6.0 and later) blocks for fractions of a
        second, so delayed jobs and back-offs are not rounded up to
        whole seconds.
        """
        delay = 0.1
        self.waiting_for_redis = True
        try:
            while not await self._reach_redis():
                if self.closing:
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
        finally:
            self.waiting_for_redis = False
        if self.on_connected is not None:
            self.on_connected()
        try:
            await super().run()
        except Exception:  # noqa: BLE001 - logged: a stopped worker says so
            log.exception("the worker of %s stopped", self.name)

    async def _reach_redis(self) -> bool:
        """Name the worker's connection and read Redis's version once."""
        try:
            try:
                await self.blockingRedisConnection.getRedisVersion()
            except redis.exceptions.ResponseError:
                pass  # INFO refused (renamed command): bullmq's defaults
            await self._ensure_client_names()
        except _REDIS_DOWN as error:
            if self.on_waiting is not None and not self.closing:
                self.on_waiting(error)
            return False
        return True

    def getBlockTimeout(self, block_until: int) -> float:
        """Block in Redis until REDIS_TICK before a delayed job is due.

        Redis ends a blocking command's timeout on its next timer tick,
        up to ``1 / hz`` (100 ms) late; the rest of the wait is timed
        here (``waitForJob``), so delays are honoured within a few ms.
        """
        if block_until:
            block_until = max(1, block_until - int(REDIS_TICK * 1000))
        return super().getBlockTimeout(block_until)

    async def waitForJob(self) -> int:
        """Wait for a job; the last REDIS_TICK before a due time locally.

        A job added during that short sleep is taken when it ends.
        """
        if self.blockUntil:
            left = self.blockUntil / 1000 - time.time()
            if left <= REDIS_TICK:
                await asyncio.sleep(max(left, 0))
                return 0
        return await super().waitForJob()

    async def processJob(self, job: Any, token: str) -> Any:
        """Run one job; return the next job fetched on completion, if any.

        A job fetched while the worker closes or pauses is run here, in
        the task ``close()`` / ``pause()`` already waits for.
        """
        next_data = None
        try:
            for option in ("removeOnComplete", "removeOnFail"):
                if option not in job.opts and option in self.opts:
                    job.opts[option] = self.opts[option]
            self.jobs.add((job, token))
            controller = self.lockManager.track_job(
                job.id, token, int(time.time() * 1000),
                should_create_controller=self._processor_wants_signal)
            if job.deferredFailure:
                error = UnrecoverableError(job.deferredFailure)
                await job.moveToFailed(error, token)
                self.emit("failed", job, error)
                return None
            if controller is not None:
                result = await self.processor(job, token, controller.signal)
            else:
                result = await self.processor(job, token)
            if not self.forceClosing:
                fetch = not (self.closing or self.paused)
                done = await self.backend.moveToCompleted(
                    job, result, job.opts.get("removeOnComplete", False),
                    token, fetch_next=fetch)
                job.returnvalue = result
                job.attemptsMade = job.attemptsMade + 1
                if fetch:
                    next_data = done["result"]
            self.emit("completed", job, result)
        except (DelayedError, WaitingChildrenError):
            return None
        except Exception as err:  # noqa: BLE001 - bullmq's own handling
            try:
                if not self.forceClosing:
                    await job.moveToFailed(err, token)
                self.emit("failed", job, err)
            except Exception as error:  # noqa: BLE001 - reported
                self.emit("error", error, job)
        finally:
            self.jobs.discard((job, token))
            self.lockManager.untrack_job(job.id)
        return await self._next_job(next_data, token)

    async def _next_job(self, next_data: Any, token: str) -> Any:
        """Turn ``moveToFinished``'s reply into the next job (or None)."""
        if not next_data:
            return None
        job_data, job_id, limit_until, delay_until = next_data
        next_job = await self.nextJobFromJobData(
            job_data, job_id, limit_until or 0, delay_until or 0, token)
        if next_job is None:
            return None
        self.emit("active", next_job, "waiting")
        if self.closing or self.paused:
            return await self.processJob(next_job, token)
        return next_job


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
                "connection": _client(self.url),
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
        self._followers[job_type] = asyncio.ensure_future(
            self._read_events(job_type, start))

    async def _read_events(self, job_type: str, last_id: str) -> None:
        """Dispatch a type's events; reconnect after Redis outages."""
        position = {"id": last_id}
        warned_at = None
        while True:
            started_at = position["id"]
            events = QueueEvents(job_type, {
                "connection": _client(self.url, socket_timeout=None),
                "prefix": self.prefix, "lastEventId": position["id"],
                "autorun": False, "blockingTimeout": 5000,
                "skipVersionCheck": True})
            for name in ("progress", "completed", "failed"):
                events.on(name, self._dispatcher(job_type, name, position))
            try:
                await events.run()
            except asyncio.CancelledError:
                await events.close()
                raise
            except Exception as err:  # noqa: BLE001 - retried below
                if warned_at != started_at:
                    log.warning("events of %s: %s; retrying every 0.5 s",
                                job_type, err)
                    warned_at = started_at
            await events.close()
            await asyncio.sleep(0.5)

    def _dispatcher(self, job_type: str, name: str,
                    position: dict) -> Callable:
        """Return the listener turning one bullmq event into Kue's."""

        def dispatch(args: dict, entry_id: str) -> None:
            """Send one stream entry to the job it concerns."""
            position["id"] = entry_id
            self._deliver((job_type, str(args.get("jobId"))), name, args)

        return dispatch

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
                **options: Any) -> Worker:
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
                            handler: Callable, options: dict) -> Worker:
        """Build a bullmq worker for a type on the loop thread."""
        loop_thread = self._loop()
        pool = None
        if not inspect.iscoroutinefunction(handler):
            pool = concurrent.futures.ThreadPoolExecutor(
                concurrency, thread_name_prefix="kue-" + job_type)

        async def run_job(bull_job: Any, token: str) -> Any:
            """Run the handler for one bullmq job."""
            job = ActiveJob(bull_job, loop_thread)
            if pool is None:
                return await handler(job)
            try:
                running = asyncio.get_running_loop().run_in_executor(
                    pool, handler, job)
            except RuntimeError:
                # The pool takes no more work (queue shut down or the
                # interpreter exiting): give the job back, not failed.
                await bull_job.moveToDelayed(int(time.time() * 1000), token)
                raise DelayedError() from None
            return await running

        worker = FetchNextWorker(job_type, run_job, {
            "connection": _client(self.url, socket_timeout=None),
            "prefix": self.prefix,
            "concurrency": concurrency,
            "lockDuration": int(options.get("lock_duration", 30000)),
            "stalledInterval": int(options.get("stalled_interval", 30000)),
            "maxStalledCount": int(options.get("max_stalled_count", 1)),
            "drainDelay": int(options.get("drain_delay", 5)),
            "runRetryDelay": int(options.get("run_retry_delay", 1000)),
            "autorun": False,
        })
        worker.on("error", lambda *args: None)
        worker.on_waiting = self._waiting_for_redis
        worker.on_connected = self._redis_reached
        if not self._workers:
            atexit.register(self.shutdown, 10.0)
        self._workers.append((worker, pool, asyncio.ensure_future(
            worker.run())))
        return worker

    def _waiting_for_redis(self, error: BaseException) -> None:
        """Say once (until a worker connects) that workers wait for Redis."""
        with self._lock:
            if self._told_waiting:
                return
            self._told_waiting = True
        log.warning("Waiting for Redis at %s: %s", _public_url(self.url),
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
        except QueueUnavailable:
            pass

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
        for task in followers.values():
            task.cancel()
        await asyncio.gather(*followers.values(), return_exceptions=True)
        queues, self._bull = self._bull, {}
        for queue in queues.values():
            try:
                await queue.close()
            except Exception:  # noqa: BLE001 - closing anyway
                pass


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

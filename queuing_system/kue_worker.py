#!/usr/bin/env python3
"""The worker side of the job queue: bullmq's worker loop, made faster.

Version-sensitive: ``FetchNextWorker`` copies and adapts
``bullmq.Worker.processJob`` (bullmq range pinned in pyproject.toml) and
overrides ``run``, ``getBlockTimeout`` and ``waitForJob``. Re-read those
methods of bullmq's ``worker.py`` before moving the pin.
``start_worker`` builds one for a job type around a handler (a function
run in a thread pool, or a coroutine function run on the loop).
"""
import asyncio
import concurrent.futures
import importlib
import inspect
import logging
import time
from typing import Any, Callable, Optional

import redis.exceptions
from bullmq import Worker
from bullmq.custom_errors import (DelayedError, UnrecoverableError,
                                  WaitingChildrenError)

from kue_bridge import REDIS_DOWN, EventLoopThread

# Redis checks blocking timeouts on its timer tick (1 / hz, hz 10 by
# default); a worker times the last part of a delay itself.
REDIS_TICK = 0.1
DEFAULT_TIMEOUT = 5.0

log = logging.getLogger("kue")


class ActiveJob:
    """A job as its handler sees it: id, type, name, data, progress, log.

    ``type`` is the job type (bullmq's queue name); ``name`` is bullmq's
    job name, the same for Kue jobs, and what a Node producer adding
    several names to one queue dispatches on.
    """

    def __init__(self, bull_job: Any, loop_thread: EventLoopThread) -> None:
        """Wrap a bullmq job handed to a worker."""
        self._job = bull_job
        self._bridge = loop_thread
        self.id = bull_job.id
        self.type = bull_job.queue.name if bull_job.queue else ""
        self.name = bull_job.name
        self.data = bull_job.data
        self.attempts_made = bull_job.attemptsMade

    def _run(self, coro: Any) -> Any:
        """Run a coroutine: blocking from a thread, scheduled on the loop."""
        if self._bridge.in_loop():
            return asyncio.ensure_future(coro)
        return self._bridge.run(coro, DEFAULT_TIMEOUT)

    def progress(self, completed: float, total: float = 100,
                 data: Any = None) -> Any:
        """Report ``completed`` of ``total`` (and ``data``) to the producer.

        The producer hears the percentage; ``data`` (any JSON value)
        is kept with it (``progress_data``). From a sync handler it
        blocks until stored; from an async handler it returns an
        awaitable (already scheduled).
        """
        percent = 0 if not total else round(completed * 100 / total)
        value = percent if data is None else {"percent": percent,
                                              "data": data}
        return self._run(self._job.updateProgress(value))

    def log(self, message: str, *args: Any) -> Any:
        """Add a line to the job's log (``message % args`` when given)."""
        text = str(message) % args if args else str(message)
        return self._run(self._job.log(text))


class TtlExceeded(Exception):
    """Raised when a job ran longer than its ``ttl``."""


def custom_backoff(attempts_made: int, kind: str, error: Any,
                   job: Any) -> int:
    """Return the delay of a Kue back-off function (bullmq's hook).

    ``kind`` is ``kue:MODULE:FUNCTION``; the function takes Kue's
    arguments (attempts made, the job's delay) and returns milliseconds.
    """
    module_name, _, function = kind[len("kue:"):].rpartition(":")
    target = importlib.import_module(module_name)
    for part in function.split("."):
        target = getattr(target, part)
    delay = (job.opts.get("backoff") or {}).get("delay") or 0
    return max(int(target(attempts_made, delay)), 0)


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
        except REDIS_DOWN as error:
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

    async def processJob(self, job: Any, token: str) -> None:
        """Run a job, then each job fetched on a completion, in this task.

        bullmq's loop would start a new task per job and wake its
        ``asyncio.wait`` each time; here one task per concurrency slot
        keeps running while completions hand back jobs, and ends when
        none comes (the loop then asks Redis again). A job fetched while
        the worker closes or pauses is run too, in the task ``close()`` /
        ``pause()`` already waits for.
        """
        while job is not None:
            job = await self._run_one(job, token)

    async def _run_one(self, job: Any, token: str) -> Any:
        """Run one job; return the next job fetched on completion, if any."""
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
        return next_job



def start_worker(job_type: str, concurrency: int, handler: Callable,
                 loop_thread: EventLoopThread, options: dict) -> tuple:
    """Build and start a worker for a type; return (worker, pool, task).

    Runs on the loop thread. ``options`` holds bullmq's worker options
    (connection, prefix, lockDuration...). A sync handler runs in a
    pool of ``concurrency`` threads (returned so that it can be shut
    down), a coroutine function on the loop.
    """
    pool = None
    if not inspect.iscoroutinefunction(handler):
        pool = concurrent.futures.ThreadPoolExecutor(
            concurrency, thread_name_prefix="kue-" + job_type)

    async def run_job(bull_job: Any, token: str) -> Any:
        """Run the handler for one bullmq job, within its ``ttl``."""
        job = ActiveJob(bull_job, loop_thread)
        if pool is None:
            running = handler(job)
        else:
            try:
                running = asyncio.get_running_loop().run_in_executor(
                    pool, handler, job)
            except RuntimeError:
                # The pool takes no more work (queue shut down or the
                # interpreter exiting): give the job back, not failed.
                await bull_job.moveToDelayed(int(time.time() * 1000),
                                             token)
                raise DelayedError() from None
        ttl = (bull_job.opts or {}).get("ttl")
        if not ttl:
            return await running
        try:
            return await asyncio.wait_for(running, int(ttl) / 1000)
        except asyncio.TimeoutError:
            raise TtlExceeded("TTL exceeded") from None

    worker = FetchNextWorker(job_type, run_job, dict(
        options, concurrency=concurrency, autorun=False,
        settings={"backoffStrategy": custom_backoff}))
    worker.on("error", lambda error, *job: log.error(
        "worker of %s: %s", job_type, error))
    return worker, pool, asyncio.ensure_future(worker.run())

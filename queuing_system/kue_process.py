#!/usr/bin/env python3
"""Workers of ``kue.Queue``: ``process(type, concurrency, handler)``.

``Processing`` is mixed into ``Queue``; the worker itself is
``kue_worker.FetchNextWorker``, built by ``kue_worker.start_worker``.
"""
import asyncio
import atexit
import logging
from typing import Any, Callable, Optional

from kue_connection import client, public_url
from kue_worker import start_worker

log = logging.getLogger("kue")


class Processing:
    """Workers running in this process, and their wait for Redis."""

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

#!/usr/bin/env python3
"""The sync-to-async bridge of the job queue: one event loop per process.

bullmq is asyncio and Flask or a script is not: every coroutine runs on
ONE event-loop thread per process (``EventLoopThread``), started on first
use and never at import (and again after a fork); callers block on the
result with a timeout, which turns a Redis outage into
``QueueUnavailable``. The loop is uvloop's when installed.
"""
import asyncio
import concurrent.futures
import os
import threading
from typing import Any, Optional

import redis.exceptions

try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop is a declared dependency
    uvloop = None

REDIS_DOWN = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
              OSError, asyncio.TimeoutError, concurrent.futures.TimeoutError)


class QueueError(Exception):
    """Base class of the errors the job queue raises on purpose."""


class QueueUnavailable(QueueError):
    """Raised when Redis cannot be reached or answers too late."""


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
        except REDIS_DOWN as error:
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


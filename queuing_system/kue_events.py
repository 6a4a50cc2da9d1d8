#!/usr/bin/env python3
"""Events of the job queue: listeners, and the reader of bullmq's stream.

``Emitter`` calls listeners in the order events happened and replays
past events to late listeners. ``EventReader`` follows one job type's
bullmq event stream (written by every producer and worker, in any
process or language) and hands each entry to a callback; bullmq's
``QueueEvents`` stops at its first connection error, so the reader
restarts it from the last entry it saw (version-sensitive: it builds
``QueueEvents`` with options of the bullmq range pinned in
pyproject.toml).
"""
import asyncio
import collections
import logging
import threading
from typing import Any, Callable, Optional

from bullmq import QueueEvents

from kue_connection import client

log = logging.getLogger("kue")


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


def in_turn(*calls: Callable) -> Callable:
    """Return a function making the given calls one after the other."""

    def call_all() -> None:
        """Make each call in turn."""
        for call in calls:
            call()

    return call_all


# bullmq stream events the reader hands on (Kue's names: kue.py).
STREAM_EVENTS = ("added", "active", "progress", "completed", "failed",
                 "delayed", "waiting", "removed")


class EventReader:
    """Follow one job type's event stream from a given entry on.

    ``deliver(job_type, event, args)`` hears each entry of
    ``STREAM_EVENTS`` on the loop thread, in stream order; after a
    Redis outage the reader starts again from the last entry it saw
    (one warning per outage).
    """

    def __init__(self, url: str, prefix: str, job_type: str,
                 deliver: Callable) -> None:
        """Describe the reader; ``start`` runs it."""
        self.url, self.prefix, self.job_type = url, prefix, job_type
        self.deliver = deliver
        self.position = "0-0"
        self.task: Optional[asyncio.Task] = None

    def start(self, last_id: str) -> "EventReader":
        """Read the entries after ``last_id`` (on the loop thread)."""
        self.position = last_id
        self.task = asyncio.ensure_future(self._read())
        return self

    async def stop(self) -> None:
        """Stop reading the stream and wait for the reader to end."""
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)

    async def _read(self) -> None:
        """Read until cancelled; restart after connection errors."""
        warned_at = None
        while True:
            started_at = self.position
            events = QueueEvents(self.job_type, {
                "connection": client(self.url, socket_timeout=None),
                "prefix": self.prefix, "lastEventId": self.position,
                "autorun": False, "blockingTimeout": 5000,
                "skipVersionCheck": True})
            for name in STREAM_EVENTS:
                events.on(name, self._handler(name))
            try:
                await events.run()
            except asyncio.CancelledError:
                await events.close()
                raise
            except Exception as err:  # noqa: BLE001 - retried below
                if warned_at != started_at:
                    log.warning("events of %s: %s; retrying every 0.5 s",
                                self.job_type, err)
                    warned_at = started_at
            await events.close()
            await asyncio.sleep(0.5)

    def _handler(self, name: str) -> Callable:
        """Return the listener handing one kind of entry on."""

        def handle(args: dict, entry_id: str) -> None:
            """Remember the entry's position and deliver it."""
            self.position = entry_id
            self.deliver(self.job_type, name, args)

        return handle

#!/usr/bin/env python3
"""Events of the job queue: listeners, and the reader of bullmq's stream.

``Emitter`` calls listeners in the order events happened and replays
past events to late listeners. ``EventReader`` follows one job type's
bullmq event stream (written by every producer and worker, in any
process or language) and hands each entry to a coroutine, one at a
time; it is a plain ``XREAD`` loop (bullmq's ``QueueEvents`` stops at
its first connection error and calls listeners that cannot wait) that
reads again from the last entry it saw after an outage
(version-sensitive: the stream's
key and fields are bullmq's, from the range pinned in pyproject.toml).
"""
import asyncio
import collections
import json
import logging
import threading
from typing import Any, Callable, Optional

from kue_bridge import REDIS_DOWN
from kue_connection import client

log = logging.getLogger("kue")
# Entries read per XREAD at most, and how long a reader lets entries of
# a busy stream gather before it reads again: a reader that read a few
# entries at a time spent more CPU than the producer it listens for;
# after 1 ms the next read takes a batch (measured: bench/results/queue.md).
READ_COUNT = 500
GATHER = 0.001


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

    def listens(self, event: str) -> bool:
        """Tell whether any listener waits for ``event``."""
        return event in self._listeners

    def emit(self, event: str, *args: Any,
             then: Optional[Callable] = None) -> None:
        """Record an event and call its listeners, then ``then()``."""
        with self._lock:
            if self._replay:
                self._history.append((event, args))
            listeners = self._listeners.get(event, ())
            if not listeners and then is None:
                return  # nothing to call: no need to drain
            for listener in listeners:
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


class EventReader:
    """Follow one job type's event stream from a given entry on.

    ``await deliver(job_type, fields)`` hears each entry (a dict of
    bullmq's fields: ``event``, ``jobId``, ``prev``...; JSON fields
    ``data`` and ``returnvalue`` decoded) on the loop thread, one at a
    time, in stream order. After a Redis outage the reader starts again
    from the last entry it saw (one warning per outage). The first entry
    after a quiet spell comes at once; while entries keep coming they
    are read in batches, at most ``GATHER`` (1 ms) apart.
    """

    def __init__(self, url: str, prefix: str, job_type: str,
                 deliver: Callable) -> None:
        """Describe the reader; ``start`` runs it."""
        self.url, self.job_type, self.deliver = url, job_type, deliver
        self.key = "{}:{}:events".format(prefix, job_type)
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
        """Read until cancelled; read again after connection errors."""
        redis = client(self.url, socket_timeout=None)
        warned_at = None
        try:
            while True:
                try:
                    reply = await redis.xread({self.key: self.position},
                                              count=READ_COUNT, block=5000)
                except REDIS_DOWN as err:
                    if warned_at != self.position:
                        log.warning("events of %s: %s; retrying every "
                                    "0.5 s", self.job_type, err)
                        warned_at = self.position
                    await asyncio.sleep(0.5)
                    continue
                read = 0
                for _, entries in reply or ():
                    read += len(entries)
                    for entry_id, fields in entries:
                        self.position = entry_id
                        await self._hand_on(decode(fields))
                if 0 < read < READ_COUNT:
                    # A busy stream: let entries gather for a moment
                    # rather than read them a few at a time.
                    await asyncio.sleep(GATHER)
        finally:
            await redis.aclose()

    async def _hand_on(self, fields: dict) -> None:
        """Deliver one entry; a failing delivery is logged, not fatal."""
        try:
            await self.deliver(self.job_type, fields)
        except Exception:  # noqa: BLE001 - logged, the reader goes on
            log.exception("event of %s not delivered: %s", self.job_type,
                          fields)


def decode(fields: dict) -> dict:
    """Decode the JSON fields of a bullmq stream entry."""
    for name in ("data", "returnvalue"):
        if name in fields:
            try:
                fields[name] = json.loads(fields[name])
            except ValueError:
                pass  # not JSON (a Node producer's plain text): kept
    return fields


async def translate(fields: dict, seen: dict, key: tuple,
                    failure: Callable) -> list:
    """Turn one bullmq stream entry into Kue's job events.

    Returns ``[(event, args)]``: ``enqueue`` / ``start`` / ``remove``
    (the type), ``progress`` (percent), ``complete`` (result),
    ``failed`` (error), ``promotion`` (), ``failed attempt`` (error,
    attempts made). A failed attempt is a job leaving ``active`` for
    ``waiting`` or ``delayed``; ``await failure()`` reads its error (and
    attempts, for a job whose starts this reader did not see) from
    Redis. ``seen`` maps a job's key to ``[running, starts]``.
    """
    event, prev = fields.get("event"), fields.get("prev")
    state = seen.setdefault(key, [False, 0])
    was_running, state[0] = state[0], event in ("active", "progress")
    if event == "active":
        state[0], state[1] = True, state[1] + 1
        return [("start", (key[0],))]
    if event in ("completed", "failed", "removed"):
        del seen[key]
    if event == "added":
        return [("enqueue", (key[0],))]
    if event == "progress":
        state[0] = was_running
        return [("progress", (fields.get("data"),))]
    if event == "completed":
        return [("complete", (fields.get("returnvalue"),))]
    if event == "failed":
        return [("failed", (fields.get("failedReason"),))]
    if event == "removed":
        return [("remove", (key[0],))]
    if event == "waiting" and prev == "delayed":
        return [("promotion", ())]
    if (event == "waiting" and prev == "active") or (
            event == "delayed" and was_running):
        reason, made = await failure()
        if reason:
            return [("failed attempt", (reason, state[1] or made))]
    return []

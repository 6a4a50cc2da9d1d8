#!/usr/bin/env python3
"""Kue's view of the jobs stored by bullmq: states, ranges, counts, JSON.

Kue has five states; bullmq keeps a job in one of its lists or sorted
sets, all under ``<prefix>:<type>:`` (version-sensitive: these key names
are bullmq's, from the range pinned in pyproject.toml):

=========  ===========================  ====================
Kue        bullmq                       key type
=========  ===========================  ====================
inactive   wait, paused, prioritized    list, list, zset
active     active                       list
complete   completed                    zset
failed     failed                       zset
delayed    delayed                      zset
=========  ===========================  ====================

Kue's numeric priorities (lower runs first: critical -15, high -10,
medium -5, normal 0, low 10, or any number from -15 on) are bullmq's
priority minus ``PRIORITY_OFFSET`` (bullmq: 1 runs first). A job saved
without a priority has bullmq priority 0 and shows as normal (0).
The coroutines here run on the loop thread (``kue_bridge``).
"""
import asyncio
from typing import Any, Optional

from bullmq import Job as BullJob

STATES = {
    "inactive": (("wait", "list"), ("paused", "list"),
                 ("prioritized", "zset")),
    "active": (("active", "list"),),
    "complete": (("completed", "zset"),),
    "failed": (("failed", "zset"),),
    "delayed": (("delayed", "zset"),),
}
BULL_STATES = {"waiting": "inactive", "wait": "inactive",
               "paused": "inactive", "prioritized": "inactive",
               "active": "active", "completed": "complete",
               "failed": "failed", "delayed": "delayed",
               "waiting-children": "inactive"}
PRIORITIES = {"low": 10, "normal": 0, "medium": -5, "high": -10,
              "critical": -15}
PRIORITY_OFFSET = 16
MAX_BULL_PRIORITY = 2 ** 21


def bull_priority(level: Any) -> int:
    """Return bullmq's priority for a Kue priority name or number.

    Raises ``ValueError`` for anything else (a bool, a float, a number
    out of bullmq's range).
    """
    if isinstance(level, str) and level.strip().lower() in PRIORITIES:
        level = PRIORITIES[level.strip().lower()]
    elif isinstance(level, str) and level.strip().lstrip("-").isdecimal():
        level = int(level.strip())
    if isinstance(level, bool) or not isinstance(level, int):
        raise ValueError("a priority is low, normal, medium, high, "
                         "critical or a whole number, got {!r}".format(level))
    value = level + PRIORITY_OFFSET
    if not 1 <= value <= MAX_BULL_PRIORITY:
        raise ValueError("a priority is a number from {} to {}".format(
            1 - PRIORITY_OFFSET, MAX_BULL_PRIORITY - PRIORITY_OFFSET))
    return value


def kue_priority(bull: Any) -> int:
    """Return Kue's priority for bullmq's (0, no priority, is normal)."""
    bull = int(bull or 0)
    return bull - PRIORITY_OFFSET if bull else 0


def key(prefix: str, job_type: str, name: str) -> str:
    """Return the Redis key of one of a type's bullmq lists or sets."""
    return "{}:{}:{}".format(prefix, job_type, name)


async def state_ids(client: Any, prefix: str, job_type: str,
                    state: str) -> list:
    """Return the ids of a type's jobs in a Kue state (unordered)."""
    replies = await asyncio.gather(*(
        client.lrange(key(prefix, job_type, name), 0, -1) if kind == "list"
        else client.zrange(key(prefix, job_type, name), 0, -1)
        for name, kind in STATES[state]))
    return [job_id for reply in replies for job_id in reply]


async def count(client: Any, prefix: str, job_type: str,
                state: str) -> int:
    """Return how many of a type's jobs are in a Kue state."""
    replies = await asyncio.gather(*(
        client.llen(key(prefix, job_type, name)) if kind == "list"
        else client.zcard(key(prefix, job_type, name))
        for name, kind in STATES[state]))
    return sum(replies)


def order_key(entry: tuple) -> tuple:
    """Sort (type, id) pairs by numeric id, then type (Kue's order)."""
    job_type, job_id = entry
    text = str(job_id)
    return (0, int(text), job_type) if text.isdecimal() else (1, 0, text)


def select(entries: list, start: int, end: int, order: str) -> list:
    """Return entries ``start..end`` (inclusive) in ``asc``/``desc`` order."""
    entries = sorted(entries, key=order_key, reverse=order == "desc")
    return entries[start:end + 1] if end >= 0 else entries[start:]


async def load(queue: Any, job_id: str) -> Optional[BullJob]:
    """Load one bullmq job of a bullmq queue, or None."""
    return await BullJob.fromId(queue, str(job_id))


async def state_of(queue: Any, job_id: str) -> str:
    """Return a job's Kue state ("unknown" when it is gone)."""
    state = await queue.getJobState(str(job_id))
    return BULL_STATES.get(state, "unknown")


def split_progress(progress: Any) -> tuple:
    """Return (percent, data) from a bullmq progress value."""
    if isinstance(progress, dict) and "percent" in progress:
        return progress.get("percent") or 0, progress.get("data")
    if isinstance(progress, (int, float)) and not isinstance(progress,
                                                             bool):
        return progress, None
    return 0, progress


def _ms(value: Any) -> Optional[str]:
    """Return a millisecond timestamp as Kue writes it (a string)."""
    return str(int(value)) if value else None


def to_json(job_type: str, bull: BullJob, state: str) -> dict:
    """Return a job as Kue's ``job.toJSON()`` shapes it.

    Kue's keys (``id``, ``type``, ``data``, ``result``, ``priority``,
    ``progress``, ``progress_data``, ``state``, ``error``,
    ``created_at``, ``promote_at``, ``updated_at``, ``failed_at``,
    ``started_at``, ``duration``, ``delay``, ``ttl``, ``attempts``
    {made, remaining, max}, ``removeOnComplete``), plus bullmq's job
    ``name``. Timestamps are millisecond strings, as in Kue; keys
    without a value are left out, as Kue's JSON leaves them.
    """
    opts = bull.opts or {}
    percent, progress_data = split_progress(bull.progress)
    most = max(int(opts.get("attempts") or 1), 1)
    made = int(bull.attemptsMade or 0)
    finished = bull.finishedOn if state in ("complete", "failed") else 0
    shape = {
        "id": str(bull.id), "type": job_type, "name": bull.name,
        "data": bull.data, "result": bull.returnvalue,
        "priority": kue_priority(bull.priority or opts.get("priority")),
        "progress": percent, "progress_data": progress_data,
        "state": state, "error": bull.failedReason or None,
        "created_at": _ms(bull.timestamp),
        "promote_at": _ms(bull.timestamp + bull.delay
                          if bull.delay else 0),
        "updated_at": _ms(max(bull.timestamp or 0, bull.processedOn or 0,
                              bull.finishedOn or 0)),
        "failed_at": _ms(finished if state == "failed" else 0),
        "started_at": _ms(bull.processedOn),
        # A job may start and end within one millisecond: "0" then.
        "duration": (str(int(finished - bull.processedOn))
                     if finished and bull.processedOn else None),
        "delay": bull.delay or None, "ttl": opts.get("ttl"),
        "attempts": {"made": made, "remaining": max(most - made, 0),
                     "max": most},
        "removeOnComplete": opts.get("removeOnComplete") is True,
    }
    return {name: value for name, value in shape.items()
            if value is not None or name in ("data", "error")}


class JobStore:
    """Kue's reads and changes of stored jobs, over bullmq's queues.

    ``queue_of(job_type)`` returns the bullmq queue of a type; every
    method is a coroutine for the loop thread. Job types are those in
    the hash ``<prefix>:kue:types`` (every type saved or processed by
    this module, with its event stream's position at registration).
    """

    def __init__(self, prefix: str, queue_of: Any,
                 client_of: Any) -> None:
        """Work on ``prefix``'s types; ``client_of()`` gives a client."""
        self.prefix, self.queue_of, self.client_of = (prefix, queue_of,
                                                      client_of)
        self.types_key = "{}:kue:types".format(prefix)
        self.known: set = set()

    def client(self) -> Any:
        """Return the Redis client of the queue's own commands."""
        return self.client_of()

    async def add_type(self, job_type: str,
                       position: Optional[str] = None) -> None:
        """Register a job type (once per process) with a stream position.

        ``position`` is the last entry of the type's event stream before
        this process's jobs (read here when not given): a listener that
        discovers the type later reads its events from there, so the
        first jobs of a new type are heard too.
        """
        if job_type in self.known:
            return
        if position is None:
            last = await self.client().xrevrange(
                key(self.prefix, job_type, "events"), count=1)
            position = last[0][0] if last else "0-0"
        await self.client().hsetnx(self.types_key, job_type, position)
        self.known.add(job_type)

    async def types(self) -> list:
        """Return the registered job types, sorted."""
        return sorted(await self.client().hkeys(self.types_key))

    async def positions(self) -> dict:
        """Return ``{type: stream position at its registration}``."""
        return await self.client().hgetall(self.types_key)

    async def find(self, job_id: Any, job_type: Optional[str]) -> tuple:
        """Return (type, bullmq job) of an id, or (None, None).

        Without a type, every type is searched; an id found in several
        types raises ``LookupError`` naming them.
        """
        types = [job_type] if job_type else await self.types()
        jobs = await asyncio.gather(*(load(self.queue_of(name), job_id)
                                      for name in types))
        found = [(name, job) for name, job in zip(types, jobs)
                 if job is not None]
        if len(found) > 1:
            raise LookupError("job {} exists in several types ({}); "
                              "name one as TYPE:ID".format(
                                  job_id, ", ".join(n for n, _ in found)))
        return found[0] if found else (None, None)

    async def json(self, job_type: str, bull: BullJob,
                   state: Optional[str] = None) -> dict:
        """Return Kue's JSON of a loaded job (its state read if needed)."""
        if state is None:
            state = await state_of(self.queue_of(job_type), bull.id)
        return to_json(job_type, bull, state)

    async def range(self, states: Any, job_type: Optional[str],
                    start: int, end: int, order: str) -> list:
        """Return Kue's JSON of jobs ``start..end`` of states and a type."""
        types = [job_type] if job_type else await self.types()
        pairs = [(name, state) for name in types for state in states]
        id_lists = await asyncio.gather(*(
            state_ids(self.client(), self.prefix, name, state)
            for name, state in pairs))
        entries = {(name, str(job_id)): state
                   for (name, state), ids in zip(pairs, id_lists)
                   for job_id in ids}
        chosen = select(list(entries), start, end, order)
        jobs = await asyncio.gather(*(load(self.queue_of(name), job_id)
                                      for name, job_id in chosen))
        return [to_json(name, job, entries[(name, job_id)])
                for (name, job_id), job in zip(chosen, jobs)
                if job is not None]

    async def count(self, state: str, job_type: Optional[str]) -> int:
        """Return how many jobs of a type (or all types) are in a state."""
        types = [job_type] if job_type else await self.types()
        counts = await asyncio.gather(*(
            count(self.client(), self.prefix, name, state)
            for name in types))
        return sum(counts)

    async def table(self) -> dict:
        """Return ``{type: {state: count}}`` for every type, at once."""
        types = await self.types()
        pairs = [(name, state) for name in types for state in STATES]
        counts = await asyncio.gather(*(
            count(self.client(), self.prefix, name, state)
            for name, state in pairs))
        table: dict = {name: {} for name in types}
        for (name, state), number in zip(pairs, counts):
            table[name][state] = number
        return table

#!/usr/bin/env python3
"""Kue's job as a producer sees it (``Job``), and Kue's test mode.

A ``Job`` collects Kue's options (attempts, backoff, delay, priority,
ttl, remove_on_complete) before ``save()``, then hears its events
(``kue_events``). ``Job.get`` and the ranges return snapshots of stored
jobs. Made by ``kue.Queue.create``.
"""
import threading
from typing import Any, Callable, Optional

from kue_bridge import QueueError
from kue_events import Emitter, in_turn
from kue_jobs import bull_priority

FINAL_EVENTS = ("complete", "failed")


def default_queue() -> Any:
    """Return the first queue made (``kue.create_queue``), or a new one."""
    from kue import default_queue as first_queue

    return first_queue()


class Job(Emitter):
    """A Kue job as its producer sees it: type, data, options, id, events.

    Events: ``enqueue`` (type), ``start`` (type), ``progress``
    (percent; the data is ``job.progress_data``), ``failed attempt``
    (error, attempts made), ``promotion``, ``complete`` (result),
    ``failed`` (error), ``remove`` (type). ``wait()`` blocks until the
    job completed or failed. ``Job.get``, ``Job.range_by_state`` and
    ``Job.range_by_type`` return snapshots (``job.json`` is Kue's JSON).
    """

    def __init__(self, queue: Any, job_type: str, data: Any) -> None:
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
        # Made on demand: most jobs finish with nobody blocked on them.
        self._finished: Optional[threading.Event] = None
        self._done = False
        self._when_done: list = []

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
            then = in_turn(then, self._finish) if then else self._finish
        super().emit(event, *args, then=then)

    def _finish(self) -> None:
        """Mark the job finished; wake ``wait()`` and ``when_done`` calls."""
        with self._lock:
            self._done = True
            event, calls, self._when_done = self._finished, self._when_done, []
        if event is not None:
            event.set()
        for call in calls:
            call()

    def when_done(self, call: Callable) -> None:
        """Call ``call()`` once the job finished (now if it has)."""
        with self._lock:
            if not self._done:
                self._when_done.append(call)
                return
        call()

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Block until the job completed or failed; False on timeout."""
        with self._lock:
            if self._done:
                return True
            if self._finished is None:
                self._finished = threading.Event()
            event = self._finished
        return event.wait(timeout)

    @classmethod
    def from_json(cls, queue: Any, shape: dict) -> "Job":
        """Return a snapshot of a stored job from Kue's JSON of it."""
        job = cls(queue, shape["type"], shape.get("data"))
        job.id, job.state, job.json = shape["id"], shape["state"], shape
        job.result, job.error = shape.get("result"), shape.get("error")
        job.progress_data = shape.get("progress_data")
        return job

    @classmethod
    def get(cls, job_id: Any, job_type: Optional[str] = None,
            queue: Optional[Any] = None) -> Optional["Job"]:
        """Return a stored job by id (Kue's ``Job.get``), or None."""
        return (queue or default_queue()).get_job(job_id, job_type)

    @classmethod
    def range_by_state(cls, state: str, start: int = 0, end: int = -1,
                       order: str = "asc",
                       queue: Optional[Any] = None) -> list:
        """Return jobs ``start..end`` of a state, all types, by id."""
        return (queue or default_queue()).range(state, None, start, end,
                                                order)

    @classmethod
    def range_by_type(cls, job_type: str, state: str, start: int = 0,
                      end: int = -1, order: str = "asc",
                      queue: Optional[Any] = None) -> list:
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


#!/usr/bin/env python3
"""Kue's reads and changes of stored jobs, as methods of ``kue.Queue``.

``StoredJobs`` is mixed into ``Queue``: ``get_job`` (Kue's ``Job.get``),
ranges, per-state counts, ``remove_job``, logs, ``set_state`` (retry,
promote) and ``set_priority``; the JSON API (``kue_api``) uses them.
It relies on the queue's ``run``, ``store`` (``kue_jobs.JobStore``),
``_queue`` and the event follower's ``_followers`` / ``_pending``.
"""
from typing import Any, Optional

from kue_bridge import QueueError
from kue_job import Job
from kue_jobs import STATES, bull_priority


class StoredJobs:
    """Queries and changes of the jobs stored in Redis (a ``Queue`` mixin)."""

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

    def counts_by_type(self) -> dict:
        """Return ``{type: {state: count}}`` for every registered type."""
        return self.run(self.store.table())

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

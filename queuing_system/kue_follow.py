#!/usr/bin/env python3
"""Kue's events for jobs and queues, from every process, for ``kue.Queue``.

``Following`` is mixed into ``Queue``: it follows each job type's bullmq
event stream (``kue_events.EventReader``) from the moment the type is
saved, processed or watched, turns entries into Kue's events
(``kue_events.translate``) and hands them to the ``Job`` objects this
process saved (``_pending``) and to the queue's listeners. An event can
arrive before ``save()`` knows its job's id (a fast worker): while a
save is in flight such events are kept (``_early``) and replayed.
"""
import asyncio
import logging
import threading
from typing import Callable, Optional

from kue_events import EventReader, translate
from kue_job import FINAL_EVENTS
from kue_jobs import split_progress

log = logging.getLogger("kue")


class Following:
    """Event streams followed per type, and their delivery (a mixin)."""

    def on(self, event: str, listener: Callable) -> "Following":
        """Hear ``job <event>`` of every job of the queue, from any process.

        Listeners get the job id then the event's values (``job
        enqueue`` (id, type), ``job complete`` (id, result), ``job
        failed attempt`` (id, error, attempts)...). Every type is
        followed: those registered (saved or processed) before the first
        ``on()`` from then on, later ones from their registration. The
        first ``on()`` waits (up to ``timeout``) for that first look.
        """
        self.listeners.on(event, listener)
        if self._watcher is None:
            looked = threading.Event()
            self._watcher = self._loop().submit(self._watch(looked))
            if not looked.wait(self.timeout):
                log.warning("job types not read yet; listening anyway")
        return self

    async def _watch(self, looked: threading.Event) -> None:
        """Follow every registered type, looking for new ones each second.

        Types registered before the first look are read from their
        stream's end; later ones from their registration's position.
        """
        first = True
        while True:
            try:
                for job_type, position in (
                        await self.store.positions()).items():
                    await self._follow(job_type, None if first else position)
                first = False
            except Exception as error:  # noqa: BLE001 - retried below
                log.warning("job types not read: %s", error)
            looked.set()
            await asyncio.sleep(1.0)

    async def _follow(self, job_type: str,
                      start: Optional[str] = None) -> None:
        """Read a type's event stream from ``start`` (default: its end)."""
        if job_type in self._followers:
            return
        redis = self._client()
        key = "{}:{}:events".format(self.prefix, job_type)
        meta = "{}:{}:meta".format(self.prefix, job_type)
        await redis.hset(meta, "opts.maxLenEvents", self.events_max_len)
        last = await redis.xrevrange(key, count=1)
        end = last[0][0] if last else "0-0"
        await self.store.add_type(job_type, end)
        if job_type not in self._followers:
            self._followers[job_type] = EventReader(
                self.url, self.prefix, job_type, self._on_stream).start(
                    start or end)

    async def _on_stream(self, job_type: str, fields: dict) -> None:
        """Turn one stream entry into Kue's events and deliver them."""
        key = (job_type, str(fields.get("jobId")))

        async def failure() -> tuple:
            """Read a job's last error and attempts made."""
            reason, made = await self._client().hmget(
                "{}:{}:{}".format(self.prefix, *key), "failedReason", "atm")
            return reason, int(made or 0)

        for name, args in await translate(fields, self._seen, key,
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

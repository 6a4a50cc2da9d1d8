#!/usr/bin/env python3
"""The job processor the worker hosts run in the multi-host tests.

``python3 -m worker --queue mh_jobs:8=tests.multihost.jobs:record_run``
(with the repository root on PYTHONPATH): each run of a job is counted
in Redis (``mh:runs``, per ``<type>:<job id>``; ``mh:hosts``, per worker
host, named by ``MH_HOST``), then the job takes ``ms`` milliseconds; its
result is the host's name.
"""
import asyncio
import os
from typing import Any

import redis.asyncio

_CLIENT: dict = {}


async def record_run(job: Any) -> str:
    """Count this run of the job, work a little, return the host name."""
    client = _CLIENT.get("client")
    if client is None:
        client = redis.asyncio.Redis.from_url(os.environ["REDIS_URL"],
                                              socket_timeout=5)
        _CLIENT["client"] = client
    host = os.environ.get("MH_HOST", "?")
    async with client.pipeline(transaction=False) as pipe:
        pipe.hincrby("mh:runs", "{}:{}".format(job.type, job.id), 1)
        pipe.hincrby("mh:hosts", host, 1)
        await pipe.execute()
    await asyncio.sleep(int(job.data.get("ms", 20)) / 1000)
    return host

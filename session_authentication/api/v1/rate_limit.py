#!/usr/bin/env python3
"""Rate limiting of sensitive endpoints (login), on the limits library.

Limits such as "30/minute;300/hour" are counted per client address in a
moving window; storage is memory:// (per process) or any limits storage
URI such as redis://host:6379/1 (shared by every process). An empty
limit or "off" turns limiting off.
"""
from typing import List

import limits
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter


class RateLimit:
    """A named set of limits checked per client key."""

    def __init__(self, name: str, spec: str, storage_uri: str) -> None:
        """Parse the limits and connect to their storage."""
        self.name = name
        spec = (spec or "").strip()
        self.items: List[limits.RateLimitItem] = (
            [] if spec.lower() in ("", "off", "0", "none")
            else limits.parse_many(spec))
        self.limiter = (MovingWindowRateLimiter(
            storage_from_string(storage_uri)) if self.items else None)

    def blocked(self, key: str) -> bool:
        """Tell, without counting a hit, whether key is over a limit."""
        if self.limiter is None:
            return False
        return not all(self.limiter.test(item, self.name, key)
                       for item in self.items)

    def allow(self, key: str) -> bool:
        """Count one hit for key; False once any limit is exceeded."""
        if self.limiter is None:
            return True
        allowed = True
        for item in self.items:
            if not self.limiter.hit(item, self.name, key):
                allowed = False
        return allowed

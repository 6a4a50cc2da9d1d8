#!/usr/bin/env python3
"""Throttling of password checks per account, with exponential back-off.

Beside the per-address limit of the login route (rate_limit.py), every
password check — the login view and each HTTP Basic request that needs
bcrypt — first asks ``PasswordThrottle.wait``. Failures are counted per
(account, client address) pair and per account across addresses. Past a
threshold, each further failure makes the next check wait twice as long
as the one before: 1 s, 2 s, 4 s ... up to 15 minutes for a pair, and up
to one minute for an account attacked from many addresses. Nothing is a
hard lock-out: an attacker can slow a victim's logins by at most a
minute, never stop them. A success clears the pair's counters. Counters
live in the limiter storage (RATELIMIT_STORAGE_URI): per process with
memory://, shared by every process and host with redis://; when that
storage is down, checks fail closed (the app answers 503).
"""
import hashlib
import time
from typing import Optional

from limits.storage import storage_from_string

WINDOW = 3600
PAIR_CAP = 15 * 60
ACCOUNT_CAP = 60
ACCOUNT_FACTOR = 4


def _key(*parts: str) -> str:
    """Return a storage key for the parts (hashed: no e-mail in Redis)."""
    text = "\x00".join(parts).encode("utf-8", "surrogatepass")
    return hashlib.sha256(text).hexdigest()[:40]


class PasswordThrottle:
    """Per-account and per-(account, address) back-off of failures."""

    def __init__(self, storage_uri: str, threshold: int = 5) -> None:
        """Use a limits storage URI; back off after threshold failures
        of a pair, and after ACCOUNT_FACTOR times as many of an
        account."""
        self.storage = storage_from_string(storage_uri)
        self.threshold = threshold

    def wait(self, account: str, address: str) -> Optional[int]:
        """Return the seconds to wait before this check may run, or None
        when it may run now."""
        now = time.time()
        longest = None
        for scope in (("pair", account, address), ("account", account)):
            block = "throttle:block:" + _key(*scope)
            if self.storage.get(block) > 0:
                left = max(1, int(self.storage.get_expiry(block) - now + 1))
                longest = max(longest or 0, left)
        return longest

    def failed(self, account: str, address: str) -> None:
        """Count a failed check; start a back-off past the threshold."""
        for scope, threshold, cap in (
                (("pair", account, address), self.threshold, PAIR_CAP),
                (("account", account), self.threshold * ACCOUNT_FACTOR,
                 ACCOUNT_CAP)):
            key = _key(*scope)
            count = self.storage.incr("throttle:count:" + key, WINDOW)
            if count >= threshold:
                delay = min(cap, 2 ** min(count - threshold, 20))
                self.storage.incr("throttle:block:" + key, delay)

    def succeeded(self, account: str, address: str) -> None:
        """Clear the pair's counters after a successful check."""
        key = _key("pair", account, address)
        self.storage.clear("throttle:count:" + key)
        self.storage.clear("throttle:block:" + key)


def account_of(email: object) -> str:
    """Return the account key of an e-mail: trimmed and case-folded."""
    return email.strip().casefold() if isinstance(email, str) else ""

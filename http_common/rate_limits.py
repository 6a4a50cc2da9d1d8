#!/usr/bin/env python3
"""Rate limits and password back-off of both auth apps, on one storage.

The users API and the auth service build on this module alone; the
rules are described once, in docs/rate-limits.md.

- ``KeyedLimit``: limits such as ``"30/minute;300/hour"`` counted per
  key (a client address, an account) in a moving window. ``""``,
  ``"off"``, ``"0"`` or ``"none"`` turn a limit off.
- ``PasswordBackoff``: failed password checks counted per (account,
  client address) pair and per account. From ``threshold`` failures of
  a pair, each further failure makes that pair's next check wait twice
  as long (1 s, 2 s, 4 s ... up to ``pair_cap``); an account failing
  ``account_factor`` times as often from any addresses waits the same
  way up to ``account_cap`` (a minute): an attacker can slow the owner
  down, never lock them out. A right password clears the pair.

Every counter lives in the storage of ``open_storage(uri)`` (the
``limits`` library's): ``memory://`` counts per process, ``redis://``
(or ``redis+sentinel://``, ``redis+cluster://``) is shared by every
process and host. Keys start with ``LIMITER/<namespace>/`` (one
namespace per app; ``LIMITS:`` before it in Redis) and hold no e-mail
or address in clear (SHA-256).
When the storage cannot be reached every call raises ``StorageDown``
(``limits.errors.StorageError``): the apps answer 503, failing closed,
never letting unlimited guesses through.
"""
import hashlib
import time
from typing import List, Optional, Tuple

import limits
from limits.errors import StorageError as StorageDown
from limits.storage import Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

__all__ = ["KeyedLimit", "PasswordBackoff", "StorageDown", "account_key",
           "open_storage", "parse_limits"]

OFF = ("", "off", "0", "none")
WINDOW = 3600
PAIR_CAP = 15 * 60
ACCOUNT_CAP = 60
ACCOUNT_FACTOR = 4


def open_storage(uri: str) -> Storage:
    """Return the limits storage of a URI (``memory://``, ``redis://``
    ...) whose errors are raised as StorageDown (the client connects
    at its first command, not here)."""
    return storage_from_string(uri, wrap_exceptions=True)


def parse_limits(spec: Optional[str]) -> List[limits.RateLimitItem]:
    """Parse ``"N/period"`` limits separated by ``;`` ([] when off);
    ValueError for text that is not such limits."""
    spec = (spec or "").strip()
    if spec.lower() in OFF:
        return []
    return limits.parse_many(spec)


def hashed(*parts: str) -> str:
    """Return the storage name of key parts: no e-mail or address in
    clear in the storage."""
    text = "\x00".join(parts).encode("utf-8", "surrogatepass")
    return hashlib.sha256(text).hexdigest()[:40]


def account_key(email: object) -> str:
    """Return the account an e-mail's failures count for: trimmed and
    case-folded ("" for anything but a string)."""
    return email.strip().casefold() if isinstance(email, str) else ""


class KeyedLimit:
    """Named limits checked per key, in a moving window."""

    def __init__(self, storage: Storage, namespace: str, name: str,
                 spec: Optional[str]) -> None:
        """Keep the parsed limits (ValueError for a malformed spec)."""
        self.items = parse_limits(spec)
        self.scope = (namespace, name)
        self.limiter = MovingWindowRateLimiter(storage)

    def allow(self, key: str) -> bool:
        """Count one hit for the key; False once a limit is exceeded."""
        allowed, name = True, hashed(key)
        for item in self.items:
            if not self.limiter.hit(item, *self.scope, name):
                allowed = False
        return allowed

    def blocked(self, key: str) -> bool:
        """Tell, without counting a hit, whether the key is over a limit."""
        name = hashed(key)
        return not all(self.limiter.test(item, *self.scope, name)
                       for item in self.items)

    def retry_after(self, key: str) -> int:
        """Return the seconds until the key may be let through again."""
        now, longest, name = time.time(), 1, hashed(key)
        for item in self.items:
            stats = self.limiter.get_window_stats(item, *self.scope, name)
            if stats.remaining <= 0:
                longest = max(longest, int(stats.reset_time - now + 1))
        return longest


class PasswordBackoff:
    """Exponential back-off of failed password checks per (account,
    address) pair and per account."""

    def __init__(self, storage: Storage, namespace: str, threshold: int,
                 pair_cap: int = PAIR_CAP, account_cap: int = ACCOUNT_CAP,
                 account_factor: int = ACCOUNT_FACTOR) -> None:
        """Back off after ``threshold`` failures of a pair (waits up to
        ``pair_cap`` s) and ``account_factor`` times as many of an
        account (up to ``account_cap`` s)."""
        self.storage = storage
        self.prefix = "LIMITER/{}/backoff/".format(namespace)
        self.scopes = (
            (threshold, pair_cap),
            (threshold * account_factor, min(account_cap, pair_cap)))

    def _keys(self, account: str, address: str) -> Tuple[str, str]:
        """Return the storage names of the pair and of the account."""
        return (hashed("pair", account, address), hashed("account", account))

    def check(self, account: str, address: str) -> Tuple[Optional[int], int]:
        """Return (seconds this check must still wait, or None when it
        may run now; the pair's failures so far, for ``succeeded``).

        Two storage reads when nothing failed lately, the usual case.
        """
        now = time.time()
        wait, counts = None, []
        for name, (threshold, _cap) in zip(self._keys(account, address),
                                           self.scopes):
            count = self.storage.get(self.prefix + "count/" + name)
            counts.append(count)
            if count < threshold:
                continue
            block = self.prefix + "block/" + name
            if self.storage.get(block) > 0:
                left = max(1, int(self.storage.get_expiry(block) - now + 1))
                wait = max(wait or 0, left)
        return wait, counts[0]

    def failed(self, account: str, address: str) -> None:
        """Count a failed check; past a threshold, block the next
        checks of that scope for twice as long as the last time."""
        for name, (threshold, cap) in zip(self._keys(account, address),
                                          self.scopes):
            count = self.storage.incr(self.prefix + "count/" + name,
                                      WINDOW)
            if count >= threshold:
                block = self.prefix + "block/" + name
                self.storage.clear(block)
                self.storage.incr(block,
                                  min(cap, 2 ** min(count - threshold, 20)))

    def succeeded(self, account: str, address: str,
                  pair_failures: Optional[int] = None) -> None:
        """Clear the pair's failures after a right password (no storage
        call when ``check`` saw none)."""
        if pair_failures == 0:
            return
        name = self._keys(account, address)[0]
        self.storage.clear(self.prefix + "count/" + name)
        self.storage.clear(self.prefix + "block/" + name)

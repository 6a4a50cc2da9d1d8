#!/usr/bin/env python3
"""A per-process read cache that the data store itself invalidates.

The store pushes a message on a listening connection whenever data
this process may have cached changes: Redis's client tracking
(``session_authentication/api/v1/auth/redis_tracking.py``) or a
PostgreSQL trigger's NOTIFY (``http_common/pg_notify_cache.py``). This
class holds what both share:

- Before every hit, the messages already received are applied (a
  non-blocking read of the listening connection). The store sends its
  message when the change commits, as it answers the writer, so a
  change is missed only by a read that overtakes that message on the
  wire: a logout on one host is seen at once on every other, as no
  client's next HTTP request is that fast.
- A value read while any invalidation arrived is not cached (the cache
  cannot know whether the value read is older than the change).
- An entry lives at most ``max_age`` (1) second: the most a host cut off
  from the store (which then hears nothing) can serve stale data.
- When the listening connection fails, the cache is emptied and not
  used until a new listener is set up (at most once per
  ``retry_after``): every read goes to the store, and fails with it.
- A forked child opens its own listener (the parent's socket is the
  parent's).

Each entry names the tokens it depends on (a Redis key; a table row);
a message names changed tokens, or None for "everything".
"""
import os
import threading
import time
from typing import Any, Callable, Iterable, Optional, Tuple

# (hit, value, stamp): the stamp is given back to keep().
Lookup = Tuple[bool, Any, Optional[Tuple[int, int]]]


def row_cache_wanted() -> bool:
    """Tell whether DB_ROW_CACHE (default on) allows the row caches of
    both apps: off behind a transaction-pooling proxy, where LISTEN
    hears nothing."""
    return os.environ.get("DB_ROW_CACHE", "on").strip().lower() not in (
        "off", "0", "false", "no")


class InvalidatedCache:
    """Values kept until the store says what they depend on changed."""

    # What the listener raises when it fails (set by subclasses).
    failures: Tuple[type, ...] = (OSError,)

    def __init__(self, max_age: float = 1.0, max_entries: int = 10000,
                 retry_after: float = 1.0) -> None:
        """An empty cache; nothing connects until the first read."""
        self.max_age = max_age
        self.max_entries = max_entries
        self.retry_after = retry_after
        self.lock = threading.Lock()
        self.entries: dict = {}
        self.by_token: dict = {}
        self.listening = False
        self.generation = 0
        self.changes = 0
        self.down_until = 0.0
        self.pid = os.getpid()

    # The store's side, written by subclasses (called with the lock held).

    def _listen(self) -> None:
        """Open the listening connection (raise one of ``failures``)."""
        raise NotImplementedError

    def _poll(self) -> None:
        """Apply every message already received, without waiting."""
        raise NotImplementedError

    def _close(self) -> None:
        """Close the listening connection (never raises)."""
        raise NotImplementedError

    # Reading.

    def lookup(self, key: Any) -> Lookup:
        """Return (True, value, None) on a hit; else (False, None,
        stamp), stamp None when the cache cannot be used now."""
        with self.lock:
            if not self._usable():
                return False, None, None
            entry = self.entries.get(key)
            if entry is not None and entry[1] > time.monotonic():
                return True, entry[0], None
            return False, None, (self.changes, self.generation)

    def keep(self, key: Any, value: Any, tokens: Iterable[str],
             stamp: Optional[Tuple[int, int]],
             lifetime: Optional[float] = None) -> None:
        """Cache a value read after ``lookup`` gave ``stamp``, unless
        anything changed meanwhile; it lives ``lifetime`` seconds at
        most (and never more than ``max_age``)."""
        if stamp is None:
            return
        lifetime = self.max_age if lifetime is None else min(
            lifetime, self.max_age)
        if lifetime <= 0:
            return
        with self.lock:
            if not self._usable() or (self.changes,
                                      self.generation) != stamp:
                return
            if len(self.entries) >= self.max_entries:
                self._clear()
            tokens = tuple(tokens)
            self.entries[key] = (value, time.monotonic() + lifetime, tokens)
            for token in tokens:
                self.by_token.setdefault(token, set()).add(key)

    def read(self, key: Any, fetch: Callable[[], Tuple[Any, Iterable[str]]]
             ) -> Any:
        """Return the cached value of key, or ``fetch()``'s value (with
        the tokens it depends on), cached unless it is None."""
        hit, value, stamp = self.lookup(key)
        if hit:
            return value
        value, tokens = fetch()
        if value is not None:
            self.keep(key, value, tokens, stamp)
        return value

    # Invalidating.

    def forget(self, tokens: Optional[Iterable[str]] = None) -> None:
        """Drop what depends on these tokens (None: everything): data
        this process changed, before the store's message comes back."""
        with self.lock:
            self._invalidate(tokens)

    def close(self) -> None:
        """Stop listening and forget everything."""
        with self.lock:
            if self.listening and self.pid == os.getpid():
                self._close()
            self.listening = False
            self._clear()
            self.changes += 1

    def _invalidate(self, tokens: Optional[Iterable[str]]) -> None:
        """Drop the entries of the tokens (None: all); called with the
        lock held, also by ``_poll`` for each message."""
        self.changes += 1
        if tokens is None:
            self._clear()
            return
        for token in tokens:
            for key in self.by_token.pop(token, ()):
                entry = self.entries.pop(key, None)
                if entry is not None:
                    for other in entry[2]:
                        if other != token:
                            keys = self.by_token.get(other)
                            if keys is not None:
                                keys.discard(key)

    def _clear(self) -> None:
        """Drop every entry."""
        self.entries.clear()
        self.by_token.clear()

    def _usable(self) -> bool:
        """Apply pending messages; tell whether the cache may be used.

        Called with the lock held. Sets up the listener when there is
        none (at most once per ``retry_after`` after a failure), and a
        new one in a forked child.
        """
        if self.pid != os.getpid():
            self.pid, self.listening, self.down_until = os.getpid(), False, 0.0
            self._clear()
            self.generation += 1
        if not self.listening:
            if time.monotonic() < self.down_until:
                return False
            try:
                self._listen()
            except self.failures:
                self._fail()
                return False
            self.listening = True
            self.generation += 1
            self._clear()
        try:
            self._poll()
        except self.failures:
            self._fail()
            return False
        return True

    def _fail(self) -> None:
        """Forget everything after a listener failure; retry later."""
        self._close()
        self.listening = False
        self._clear()
        self.changes += 1
        self.down_until = time.monotonic() + self.retry_after

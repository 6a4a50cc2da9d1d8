#!/usr/bin/env python3
"""A per-process cache of Redis string keys that Redis itself invalidates.

Redis's client tracking (Redis 6.0 and later): connections that read a
key with ``CLIENT TRACKING ON REDIRECT <id>`` get an invalidation message
on connection ``<id>`` (subscribed to ``__redis__:invalidate``) as soon as
the key is changed, deleted or expired by anyone. redis-py has this
built in, but refuses servers older than 7.4 and, measured here, spends
as much CPU on a cache hit as a round trip costs; this module is the
small part the sessions need.

Guarantees:

- Before every hit, the invalidations already received are applied
  (a non-blocking read of the listening connection), so a key deleted
  before the request reached this process is never served: a logout on
  one host is seen at once on every other, as without the cache.
- A value read while an invalidation arrived is not cached (the cache
  cannot know whether the value read is older than the change).
- An entry lives at most until the key's own TTL, and at most
  ``max_age`` (1) second: the most a host cut off from Redis (which
  then hears no invalidations) can serve a key changed meanwhile.
- When the listening connection fails (Redis restarted, network cut),
  the cache is emptied and not used until a new listener is set up:
  every read goes to Redis (and fails with it).
"""
import os
import threading
import time
from typing import Any, Callable, Optional, Tuple

import redis

INVALIDATE = "__redis__:invalidate"


class TrackingCache:
    """Values of Redis string keys, kept until Redis says they changed."""

    def __init__(self, pool: redis.ConnectionPool, max_age: float = 1.0,
                 max_entries: int = 10000, retry_after: float = 1.0) -> None:
        """Use connections of ``pool``; nothing connects yet."""
        self.pool = pool
        self.max_age = max_age
        self.max_entries = max_entries
        self.retry_after = retry_after
        self.lock = threading.Lock()
        self.entries: dict = {}
        self.listener: Optional[redis.Connection] = None
        self.client_id: Optional[int] = None
        self.generation = 0
        self.changes = 0
        self.down_until = 0.0
        self.pid = os.getpid()

    def read(self, conn: redis.Connection, key: str,
             fetch: Callable[[redis.Connection, str], Tuple[Any, int]]
             ) -> Any:
        """Return the key's value: cached, or ``fetch(conn, key)``'s.

        ``fetch`` reads the value and its TTL in ms (-1: none) on the
        connection, which tracks the key when the cache is in use.
        """
        with self.lock:
            usable = self._usable()
            if usable:
                entry = self.entries.get(key)
                if entry is not None and entry[1] > time.monotonic():
                    return entry[0]
            changes, generation = self.changes, self.generation
            client_id = self.client_id
        if usable:
            self._track(conn, client_id, generation)
        value, ttl_ms = fetch(conn, key)
        if usable and value is not None:
            self._keep(key, value, ttl_ms, changes, generation)
        return value

    def forget(self, key: str) -> None:
        """Drop a key this process changed (Redis tells the others)."""
        with self.lock:
            self.entries.pop(key, None)
            self.changes += 1

    def _usable(self) -> bool:
        """Apply pending invalidations; tell whether the cache may be used.

        Called with the lock held. Sets up the listener when there is
        none (at most once per ``retry_after`` after a failure), and a
        new one in a forked child (the parent's socket is the parent's).
        """
        if self.pid != os.getpid():
            self.pid, self.listener, self.down_until = os.getpid(), None, 0.0
            self.entries.clear()
            self.generation += 1
        if self.listener is None:
            if time.monotonic() < self.down_until:
                return False
            try:
                self._listen()
            except (redis.RedisError, OSError):
                self._drop()
                return False
        try:
            while self.listener.can_read(timeout=0):
                self._apply(self.listener.read_response())
        except (redis.RedisError, OSError, ValueError):
            self._drop()
            return False
        return True

    def _listen(self) -> None:
        """Open the connection that receives invalidations."""
        # RESP2 on purpose (redis-py 8 speaks RESP3 by default): the
        # invalidations then come as plain messages of a channel.
        options = dict(self.pool.connection_kwargs, protocol=2)
        listener = self.pool.connection_class(**options)
        listener.connect()
        listener.send_command("CLIENT", "ID")
        client_id = int(listener.read_response())
        listener.send_command("SUBSCRIBE", INVALIDATE)
        listener.read_response()
        self.listener, self.client_id = listener, client_id
        self.generation += 1
        self.entries.clear()

    def _apply(self, message: Any) -> None:
        """Forget the keys an invalidation message names (all: None)."""
        if not isinstance(message, list) or len(message) < 3 \
                or message[0] not in ("message", b"message"):
            return  # the subscription's confirmation
        self.changes += 1
        keys = message[2]
        if keys is None:
            self.entries.clear()
            return
        for key in keys:
            self.entries.pop(key.decode() if isinstance(key, bytes)
                             else key, None)

    def _drop(self) -> None:
        """Forget everything after a listener failure; retry later."""
        if self.listener is not None:
            self.listener.disconnect()
        self.listener = None
        self.entries.clear()
        self.changes += 1
        self.down_until = time.monotonic() + self.retry_after

    @staticmethod
    def _track(conn: redis.Connection, client_id: int,
               generation: int) -> None:
        """Turn tracking on for a connection, towards the live listener.

        A connection remembers the listener generation it was set up
        for; a reconnect (a new socket) forgets it.
        """
        if getattr(conn, "_tracking_socket", None) is conn._sock and \
                getattr(conn, "_tracking_generation", None) == generation:
            return
        conn.send_command("CLIENT", "TRACKING", "ON", "REDIRECT",
                          client_id)
        conn.read_response()
        conn._tracking_socket = conn._sock
        conn._tracking_generation = generation

    def _keep(self, key: str, value: Any, ttl_ms: int, changes: int,
              generation: int) -> None:
        """Cache a value read, unless anything changed meanwhile."""
        lifetime = self.max_age if ttl_ms < 0 else min(self.max_age,
                                                       ttl_ms / 1000.0)
        with self.lock:
            if not self._usable() or self.changes != changes or \
                    self.generation != generation or lifetime <= 0:
                return
            if len(self.entries) >= self.max_entries:
                self.entries.clear()
            self.entries[key] = (value, time.monotonic() + lifetime)

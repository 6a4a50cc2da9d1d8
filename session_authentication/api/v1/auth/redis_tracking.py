#!/usr/bin/env python3
"""A per-process cache of Redis string keys that Redis itself invalidates.

Redis's client tracking (Redis 6.0 and later): connections that read a
key with ``CLIENT TRACKING ON REDIRECT <id>`` get an invalidation message
on connection ``<id>`` (subscribed to ``__redis__:invalidate``) as soon as
the key is changed, deleted or expired by anyone. redis-py has this
built in, but refuses servers older than 7.4 and, measured here, spends
as much CPU on a cache hit as a round trip costs; this module is the
small part the sessions need, on ``http_common/invalidated_cache.py``
(whose guarantees it keeps). An entry also lives no longer than the
key's own TTL.
"""
from typing import Any, Callable, Optional, Tuple

import redis

from http_common.invalidated_cache import InvalidatedCache

INVALIDATE = "__redis__:invalidate"


class TrackingCache(InvalidatedCache):
    """Values of Redis string keys, kept until Redis says they changed."""

    failures = (redis.RedisError, OSError, ValueError)

    def __init__(self, pool: redis.ConnectionPool, **options: float) -> None:
        """Use connections of ``pool``; nothing connects yet."""
        super().__init__(**options)
        self.pool = pool
        self.listener: Optional[redis.Connection] = None
        self.client_id: Optional[int] = None

    def read_key(self, conn: redis.Connection, key: str,
                 fetch: Callable[[redis.Connection, str], Tuple[Any, int]]
                 ) -> Any:
        """Return the key's value: cached, or ``fetch(conn, key)``'s.

        ``fetch`` reads the value and its TTL in ms (-1: none) on the
        connection, which tracks the key when the cache is in use.
        """
        hit, value, stamp = self.lookup(key)
        if hit:
            return value
        if stamp is not None:
            self._track(conn, self.client_id, stamp[1])
        value, ttl_ms = fetch(conn, key)
        if value is not None:
            self.keep(key, value, (key,), stamp,
                      None if ttl_ms < 0 else ttl_ms / 1000.0)
        return value

    def _listen(self) -> None:
        """Open the connection that receives invalidations."""
        # RESP2 on purpose (redis-py 8 speaks RESP3 by default): the
        # invalidations then come as plain messages of a channel.
        self._close()
        options = dict(self.pool.connection_kwargs, protocol=2)
        listener = self.pool.connection_class(**options)
        self.listener = listener
        listener.connect()
        listener.send_command("CLIENT", "ID")
        self.client_id = int(listener.read_response())
        listener.send_command("SUBSCRIBE", INVALIDATE)
        listener.read_response()

    def _poll(self) -> None:
        """Apply the invalidation messages already received."""
        while self.listener.can_read(timeout=0):
            message = self.listener.read_response()
            if not isinstance(message, list) or len(message) < 3 \
                    or message[0] not in ("message", b"message"):
                continue  # the subscription's confirmation
            keys = message[2]
            self._invalidate(None if keys is None else [
                key.decode() if isinstance(key, bytes) else key
                for key in keys])

    def _close(self) -> None:
        """Close the listening connection (a child's inherited one is
        left to its parent)."""
        if self.listener is not None and self.listener.pid == self.pid:
            self.listener.disconnect()
        self.listener = None

    def _track(self, conn: redis.Connection, client_id: int,
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

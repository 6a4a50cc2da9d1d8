#!/usr/bin/env python3
"""Session authentication with sessions stored in Redis.

Each session is one key holding the user id, with Redis's own expiry
set to SESSION_DURATION (no expiry when 0): sessions survive restarts of
the API and are shared by every process and machine using that Redis.
A set per user lists its session ids, so that deleting a user ends them
all and a user can list and end its sessions.

With an idle timeout, a session's value is ``<user id>|<created at>``
(Unix seconds) and each request runs one script that reads it and sets
the key's TTL to the idle timeout, cut to what is left of the lifetime:
Redis then ends a session idle too long as it ends an expired one.

Without one, a request reads its session from a per-process cache that
Redis invalidates (``redis_tracking.TrackingCache``): a session ended
anywhere is gone at once everywhere, and a live one costs no round trip
(for at most a second, then it is read again).
"""
import os
import time
from datetime import datetime, timezone
from typing import Any, Callable, List, Optional

import redis

from api.v1.auth.redis_tracking import TrackingCache
from api.v1.auth.session_auth import Listed, Record
from api.v1.auth.session_exp_auth import SessionExpAuth
from api.v1.config import Settings, env_redis_url

KEY_PREFIX = "users_api:session:"
USER_SESSIONS_PREFIX = "users_api:user_sessions:"
MAX_KEPT_CONNECTIONS = 4
# KEYS[1] session key; ARGV[1] prefix of the users' sets, ARGV[2] the
# session's storage key: delete the session and its entry in its user's
# set in one step.
END = """
local value = redis.call('GET', KEYS[1])
if not value then return 0 end
redis.call('DEL', KEYS[1])
local user_id = string.match(value, '^[^|]*')
redis.call('SREM', ARGV[1] .. user_id, ARGV[2])
return 1
"""
# KEYS[1] session key; ARGV: idle timeout, lifetime (0: none), now.
# Returns the stored value and refreshes the idle TTL, or nil.
TOUCH = """
local value = redis.call('GET', KEYS[1])
if not value then return false end
local ttl = tonumber(ARGV[1])
local sep = string.find(value, '|', 1, true)
if sep and tonumber(ARGV[2]) > 0 then
  local left = tonumber(string.sub(value, sep + 1)) + tonumber(ARGV[2])
               - tonumber(ARGV[3])
  if left <= 0 then
    redis.call('DEL', KEYS[1])
    return false
  end
  if left < ttl then ttl = math.ceil(left) end
end
redis.call('EXPIRE', KEYS[1], ttl)
return value
"""


class SessionRedisAuth(SessionExpAuth):
    """Expiring sessions kept in Redis with a native TTL."""

    store_expires = True

    def __init__(self, session_name: Optional[str] = None,
                 session_duration: Optional[int] = None,
                 redis_url: Optional[str] = None) -> None:
        """Prepare a client of REDIS_URL (it connects on first use)."""
        super().__init__(session_name, session_duration)
        self.redis = redis.Redis.from_url(
            redis_url or env_redis_url(), socket_timeout=2,
            socket_connect_timeout=2, health_check_interval=30,
            decode_responses=True)
        self._kept: list = []
        self._end_script = self.redis.register_script(END)
        self.cache = TrackingCache(self.redis.connection_pool)

    @classmethod
    def from_settings(cls, settings: Settings) -> "SessionRedisAuth":
        """Build the mechanism from the app's settings."""
        mechanism = cls(session_name=settings.session_name,
                        session_duration=settings.session_duration,
                        redis_url=settings.redis_url)
        mechanism.apply(settings)
        return mechanism

    def key(self, session_id: str) -> str:
        """Return the Redis key of a session id."""
        return KEY_PREFIX + session_id

    def user_key(self, user_id: str) -> str:
        """Return the Redis key of the set of a user's session ids."""
        return USER_SESSIONS_PREFIX + user_id

    def _save_session(self, session_id: str, user_id: str) -> None:
        """Store the session key (with its TTL) and index it by user."""
        expiry = self.session_duration if self.session_duration > 0 \
            else None
        value = user_id
        if self.idle_timeout > 0:
            value = "{}|{}".format(user_id, int(time.time()))
            expiry = min(expiry or self.idle_timeout, self.idle_timeout)
        with self.redis.pipeline() as pipe:
            pipe.set(self.key(session_id), value, ex=expiry)
            pipe.sadd(self.user_key(user_id), session_id)
            if self.session_duration > 0:
                pipe.expire(self.user_key(user_id), self.session_duration)
            pipe.execute()

    def _load_session(self, session_id: str) -> Optional[Record]:
        """Return (user id, created_at, None) of a live session: Redis
        expires it (with an idle timeout, the read refreshes its TTL)."""
        if self.idle_timeout > 0:
            value = self._command("EVALSHA", self._touch_sha(), 1,
                                  self.key(session_id), self.idle_timeout,
                                  max(self.session_duration, 0),
                                  int(time.time()))
        else:
            key = self.key(session_id)
            value = self._on_connection(
                lambda conn: self.cache.read_key(conn, key, _value_and_ttl))
        return None if value is None else _parse(value)

    def _delete_session(self, session_id: str) -> None:
        """Delete the session's key and its entry in the user's set, at
        once (one script: a crash cannot leave one without the other)."""
        self.cache.forget([self.key(session_id)])
        self._end_script(keys=[self.key(session_id)],
                         args=[USER_SESSIONS_PREFIX, session_id])

    def _delete_user_sessions(self, user_id: str) -> None:
        """Delete every session key of a user, and the user's set."""
        user_key = self.user_key(user_id)
        session_ids = self.redis.smembers(user_key)
        for session_id in session_ids:
            self.cache.forget([self.key(session_id)])
        self.redis.delete(user_key, *(self.key(session_id)
                                      for session_id in session_ids))

    def _user_sessions(self, user_id: str) -> List[Listed]:
        """Return the user's live sessions; forget ended ones in the set."""
        user_key = self.user_key(user_id)
        keys = sorted(self.redis.smembers(user_key))
        values = self.redis.mget([self.key(key) for key in keys]) \
            if keys else []
        listed, gone = [], []
        for key, value in zip(keys, values):
            if value is None:
                gone.append(key)
                continue
            owner, created, _seen = _parse(value)
            if owner == user_id:
                listed.append((key, created, None))
        if gone:
            self.redis.srem(user_key, *gone)
        return listed

    def purge_expired(self) -> int:
        """Redis ends expired sessions itself: nothing to purge."""
        return 0

    def _touch_sha(self) -> str:
        """Return the SHA-1 of the TOUCH script, loaded once per client."""
        sha = getattr(self, "_sha", None)
        if sha is None:
            sha = self._sha = self.redis.script_load(TOUCH)
        return sha

    def _command(self, *args: object) -> Optional[str]:
        """Run a command, as ``self.redis`` does, on a kept connection."""

        def command(conn: redis.Connection) -> Optional[str]:
            """Send the command and read its answer."""
            conn.send_command(*args)
            try:
                return conn.read_response()
            except redis.exceptions.NoScriptError:
                # Redis restarted without its script cache: load again.
                conn.send_command("SCRIPT", "LOAD", TOUCH)
                conn.read_response()
                conn.send_command(*args)
                return conn.read_response()

        return self._on_connection(command)

    def _on_connection(self, work: Callable[[redis.Connection], Any]
                       ) -> Any:
        """Return ``work(connection)`` run on a kept connection.

        Taking a connection out of redis-py's pool and giving it back
        costs more than the GET itself, so a few connections (up to
        MAX_KEPT_CONNECTIONS, one per concurrent request) stay out of
        the pool between requests. The work runs with the client's
        retries and health checks; a connection that failed goes back
        to the pool (which reconnects it), and one made by another
        process (before a fork) is never used.
        """
        pool = self.redis.connection_pool
        conn = None
        try:
            conn = self._kept.pop()
        except IndexError:
            pass
        if conn is None or conn.pid != os.getpid():
            conn = pool.get_connection()
        done = False
        try:
            value = conn.retry.call_with_retry(
                lambda: work(conn), lambda _error: conn.disconnect())
            done = True
        finally:
            if done and len(self._kept) < MAX_KEPT_CONNECTIONS:
                self._kept.append(conn)
            else:
                pool.release(conn)
        return value


def _value_and_ttl(conn: redis.Connection, key: str) -> tuple:
    """Read a key's value and its TTL in ms (-1: none), in one trip."""
    conn.send_packed_command(conn.pack_commands([("GET", key),
                                                 ("PTTL", key)]))
    value = conn.read_response()
    return value, int(conn.read_response())


def _parse(value: str) -> Record:
    """Read a stored value: ``<user id>`` or ``<user id>|<created at>``."""
    user_id, sep, created = value.partition("|")
    moment = None
    if sep and created.isdigit():
        moment = datetime.fromtimestamp(int(created), timezone.utc)
    return user_id, moment, None

#!/usr/bin/env python3
"""Session authentication with sessions stored in Redis.

Each session is one key holding the user id, with Redis's own expiry
set to SESSION_DURATION (no expiry when 0): sessions survive restarts of
the API and are shared by every process and machine using that Redis.
A set per user lists its session ids, so that deleting a user ends them
all.
"""
import os
from typing import Optional

import redis

from api.v1.auth.session_auth import Record
from api.v1.auth.session_exp_auth import SessionExpAuth
from api.v1.config import Settings, env_redis_url

KEY_PREFIX = "users_api:session:"
USER_SESSIONS_PREFIX = "users_api:user_sessions:"
MAX_KEPT_CONNECTIONS = 4


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

    @classmethod
    def from_settings(cls, settings: Settings) -> "SessionRedisAuth":
        """Build the mechanism from the app's settings."""
        return cls(session_name=settings.session_name,
                   session_duration=settings.session_duration,
                   redis_url=settings.redis_url)

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
        with self.redis.pipeline() as pipe:
            pipe.set(self.key(session_id), user_id, ex=expiry)
            pipe.sadd(self.user_key(user_id), session_id)
            if expiry:
                pipe.expire(self.user_key(user_id), expiry)
            pipe.execute()

    def _load_session(self, session_id: str) -> Optional[Record]:
        """Return (user id, None) of a live session: Redis expires it."""
        user_id = self._get(self.key(session_id))
        return None if user_id is None else (user_id, None)

    def _delete_session(self, session_id: str) -> None:
        """Delete the session's key and its entry in the user's set."""
        with self.redis.pipeline() as pipe:
            pipe.get(self.key(session_id))
            pipe.delete(self.key(session_id))
            user_id = pipe.execute()[0]
        if user_id is not None:
            self.redis.srem(self.user_key(user_id), session_id)

    def _delete_user_sessions(self, user_id: str) -> None:
        """Delete every session key of a user, and the user's set."""
        user_key = self.user_key(user_id)
        session_ids = self.redis.smembers(user_key)
        self.redis.delete(user_key, *(self.key(session_id)
                                      for session_id in session_ids))

    def _get(self, key: str) -> Optional[str]:
        """GET a key, as ``self.redis.get`` does, on a kept connection.

        Taking a connection out of redis-py's pool and giving it back
        costs more than the GET itself, so a few connections (up to
        MAX_KEPT_CONNECTIONS, one per concurrent request) stay out of
        the pool between requests. The command runs with the client's
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

        def command() -> Optional[str]:
            """Send the GET and read its answer."""
            conn.send_command("GET", key)
            return conn.read_response()

        done = False
        try:
            value = conn.retry.call_with_retry(
                command, lambda _error: conn.disconnect())
            done = True
        finally:
            if done and len(self._kept) < MAX_KEPT_CONNECTIONS:
                self._kept.append(conn)
            else:
                pool.release(conn)
        return value

#!/usr/bin/env python3
"""Session authentication with sessions stored in Redis.

Each session is one key holding the user id, with Redis's own expiry
set to SESSION_DURATION (no expiry when 0): sessions survive restarts of
the API and are shared by every process and machine using that Redis.
"""
import os
import uuid
from typing import Optional

import redis

from api.v1.auth.session_auth import plausible_session_id
from api.v1.auth.session_exp_auth import SessionExpAuth

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
KEY_PREFIX = "users_api:session:"
MAX_KEPT_CONNECTIONS = 4


class SessionRedisAuth(SessionExpAuth):
    """Expiring sessions kept in Redis with a native TTL."""

    def __init__(self, session_name: Optional[str] = None,
                 session_duration: Optional[int] = None,
                 redis_url: Optional[str] = None) -> None:
        """Prepare a client of REDIS_URL (it connects on first use)."""
        super().__init__(session_name, session_duration)
        url = redis_url or os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
        self.redis = redis.Redis.from_url(
            url, socket_timeout=2, socket_connect_timeout=2,
            health_check_interval=30, decode_responses=True)
        self._kept: list = []

    def key(self, session_id: str) -> str:
        """Return the Redis key of a session id."""
        return KEY_PREFIX + session_id

    def create_session(self, user_id: str = None) -> Optional[str]:
        """Store a new session in Redis and return its id."""
        if user_id is None or not isinstance(user_id, str):
            return None
        session_id = str(uuid.uuid4())
        expiry = self.session_duration if self.session_duration > 0 \
            else None
        self.redis.set(self.key(session_id), user_id, ex=expiry)
        return session_id

    def user_id_for_session_id(self, session_id: str = None
                               ) -> Optional[str]:
        """Return the user id of a live session, or None."""
        if not plausible_session_id(session_id):
            return None
        return self._get(self.key(session_id))

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

    def forget_session(self, session_id: str) -> None:
        """Delete the session's key."""
        self.redis.delete(self.key(session_id))

#!/usr/bin/env python3
"""Session authentication: the session template and the memory store.

How a session id travels (the cookie named by SESSION_NAME) is Auth's
business; ``SessionAuth`` holds what every session mechanism shares —
id generation, argument guards, the expiry policy — over three store
hooks that each subclass overrides: ``_save_session``,
``_load_session`` and ``_delete_session`` (plus
``_delete_user_sessions``). Here the store is a dict in process memory:
sessions are lost when the process stops and are not seen by other
processes, so this mode is served by a single process.
"""
import uuid
from datetime import datetime, timedelta, timezone
from typing import Callable, Optional, Tuple

from flask import Request

from api.v1.auth.auth import Auth
from models.user import User

MAX_SESSION_ID_LENGTH = 64
# What a store gives back for a session: its user id and creation time.
Record = Tuple[str, Optional[datetime]]


def plausible_session_id(session_id: object) -> bool:
    """Tell whether a value can be a session id worth looking up."""
    return (isinstance(session_id, str) and 0 < len(session_id)
            <= MAX_SESSION_ID_LENGTH and "\x00" not in session_id)


def as_utc(moment: datetime) -> datetime:
    """Return a datetime as aware UTC (a naive one is local time)."""
    return moment.astimezone(timezone.utc)


class SessionAuth(Auth):
    """Authenticates requests by a session cookie, sessions in memory."""

    user_id_by_session_id: dict = {}
    # Seconds a session lives; 0 or less: forever (SessionExpAuth).
    session_duration = 0
    # True where the store expires sessions itself (Redis TTL).
    store_expires = False
    clock: Callable[[], datetime] = staticmethod(datetime.now)

    def create_session(self, user_id: str = None) -> Optional[str]:
        """Create a new session id for a user id (None if not a str)."""
        if user_id is None or not isinstance(user_id, str):
            return None
        session_id = str(uuid.uuid4())
        self._save_session(session_id, user_id)
        return session_id

    def user_id_for_session_id(self, session_id: str = None
                               ) -> Optional[str]:
        """Return the user id of a live session, or None.

        A session found expired is deleted from its store.
        """
        if not plausible_session_id(session_id):
            return None
        record = self._load_session(session_id)
        if record is None or record[0] is None:
            return None
        if self.expired(record[1]):
            self._delete_session(session_id)
            return None
        return record[0]

    def expired(self, created_at: Optional[datetime]) -> bool:
        """Tell whether a session created at that time has expired.

        Never when ``session_duration`` is 0 or less, or when the store
        expires sessions itself; always when the creation time is
        unknown; else when ``created_at + session_duration`` is before
        the current time.
        """
        if self.session_duration <= 0 or self.store_expires:
            return False
        if created_at is None:
            return True
        now = self.clock()
        if (created_at.tzinfo is None) != (now.tzinfo is None):
            created_at, now = as_utc(created_at), as_utc(now)
        return created_at + timedelta(seconds=self.session_duration) < now

    def current_user(self, request: Optional[Request] = None
                     ) -> Optional[User]:
        """Return the User whose session id the request's cookie holds."""
        user_id = self.user_id_for_session_id(self.session_cookie(request))
        if user_id is None:
            return None
        return User.get(user_id)

    def destroy_session(self, request: Optional[Request] = None) -> bool:
        """Log out: end the request's session; False if there is none."""
        if request is None:
            return False
        session_id = self.session_cookie(request)
        if self.user_id_for_session_id(session_id) is None:
            return False
        self._delete_session(session_id)
        return True

    def destroy_user_sessions(self, user_id: str) -> None:
        """End every session of a user (when the user is deleted)."""
        if isinstance(user_id, str):
            self._delete_user_sessions(user_id)

    # The store: a dict of session id -> user id in process memory.

    def _save_session(self, session_id: str, user_id: str) -> None:
        """Store a new session."""
        self.user_id_by_session_id[session_id] = user_id

    def _load_session(self, session_id: str) -> Optional[Record]:
        """Return (user id, creation time or None) of a stored session."""
        user_id = self.user_id_by_session_id.get(session_id)
        return None if not isinstance(user_id, str) else (user_id, None)

    def _delete_session(self, session_id: str) -> None:
        """Remove a stored session."""
        self.user_id_by_session_id.pop(session_id, None)

    def _delete_user_sessions(self, user_id: str) -> None:
        """Remove every stored session of a user."""
        for session_id, value in list(self.user_id_by_session_id.items()):
            owner = value.get("user_id") if isinstance(value, dict) \
                else value
            if owner == user_id:
                self.user_id_by_session_id.pop(session_id, None)

#!/usr/bin/env python3
"""Session authentication whose sessions expire after SESSION_DURATION."""
import os
from datetime import datetime, timedelta, timezone
from typing import Callable, Optional

from api.v1.auth.session_auth import SessionAuth


def parse_session_duration(value: Optional[str]) -> int:
    """Read a duration in seconds; 0 (no expiry) when absent or bad."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def session_duration_from_env() -> int:
    """Return SESSION_DURATION in seconds; 0 (no expiry) when unset or bad."""
    return parse_session_duration(os.environ.get("SESSION_DURATION"))


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(timezone.utc)


class SessionExpAuth(SessionAuth):
    """Memory sessions that stop being valid session_duration seconds
    after they were created (0 or less: they never expire).
    """

    def __init__(self, session_name: Optional[str] = None,
                 session_duration: Optional[int] = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        """Read the session lifetime (SESSION_DURATION) and the clock."""
        super().__init__(session_name)
        self.session_duration = (session_duration_from_env()
                                 if session_duration is None
                                 else int(session_duration))
        self.clock = clock

    def expired(self, created_at: datetime) -> bool:
        """Tell whether a session created at that time has expired."""
        if self.session_duration <= 0:
            return False
        if created_at.tzinfo is None:
            created_at = created_at.replace(tzinfo=timezone.utc)
        limit = created_at + timedelta(seconds=self.session_duration)
        return limit < self.clock()

    def create_session(self, user_id: str = None) -> Optional[str]:
        """Create a session id and record when it was created."""
        session_id = super().create_session(user_id)
        if session_id is None:
            return None
        self.user_id_by_session_id[session_id] = {
            "user_id": user_id, "created_at": self.clock()}
        return session_id

    def user_id_for_session_id(self, session_id: str = None
                               ) -> Optional[str]:
        """Return the session's user id unless the session has expired."""
        if session_id is None or not isinstance(session_id, str):
            return None
        session = self.user_id_by_session_id.get(session_id)
        if not isinstance(session, dict):
            return None
        if self.session_duration <= 0:
            return session.get("user_id")
        created_at = session.get("created_at")
        if created_at is None:
            return None
        if self.expired(created_at):
            self.user_id_by_session_id.pop(session_id, None)
            return None
        return session.get("user_id")

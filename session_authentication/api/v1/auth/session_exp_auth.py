#!/usr/bin/env python3
"""Session authentication whose sessions expire after SESSION_DURATION."""
from datetime import datetime
from typing import Callable, Optional

from api.v1.auth.session_auth import Record, SessionAuth
from api.v1.config import Settings, env_session_duration


class SessionExpAuth(SessionAuth):
    """Memory sessions that stop being valid session_duration seconds
    after they were created (0 or less: they never expire).

    Each session is a "session dictionary" ``{"user_id": ...,
    "created_at": datetime.now()}`` (a naive local datetime, as the
    seed demands) under its id in ``user_id_by_session_id``.
    """

    def __init__(self, session_name: Optional[str] = None,
                 session_duration: Optional[int] = None,
                 clock: Optional[Callable[[], datetime]] = None) -> None:
        """Read the session lifetime (SESSION_DURATION) and the clock
        (``datetime.now`` unless a test gives another)."""
        super().__init__(session_name)
        self.session_duration = (env_session_duration()
                                 if session_duration is None
                                 else int(session_duration))
        if clock is not None:
            self.clock = clock

    @classmethod
    def from_settings(cls, settings: Settings) -> "SessionExpAuth":
        """Build the mechanism from the app's settings."""
        mechanism = cls(session_name=settings.session_name,
                        session_duration=settings.session_duration)
        mechanism.apply(settings)
        return mechanism

    def _keeps_times(self) -> bool:
        """Sessions are always session dictionaries here (the seed's)."""
        return True

    def _load_session(self, session_id: str) -> Optional[Record]:
        """Return (user id, created_at, last seen) of a session
        dictionary (a bare user id is not one: None)."""
        session = self.user_id_by_session_id.get(session_id)
        if not isinstance(session, dict):
            return None
        return (session.get("user_id"), session.get("created_at"),
                session.get("last_seen"))

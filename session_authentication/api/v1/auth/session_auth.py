#!/usr/bin/env python3
"""Session authentication with session ids kept in process memory.

The session id travels in the cookie named by SESSION_NAME (see Auth);
this class keeps where it is stored: a dict shared by the process. Such
sessions are lost when the process stops and are not seen by other
processes, so this mode is served by a single process.
"""
import uuid
from typing import Optional

from flask import Request

from api.v1.auth.auth import Auth
from models.user import User

MAX_SESSION_ID_LENGTH = 64


def plausible_session_id(session_id: object) -> bool:
    """Tell whether a value can be a session id worth looking up."""
    return (isinstance(session_id, str) and 0 < len(session_id)
            <= MAX_SESSION_ID_LENGTH and "\x00" not in session_id)


class SessionAuth(Auth):
    """Authenticates requests by a session cookie, sessions in memory."""

    user_id_by_session_id: dict = {}

    def create_session(self, user_id: str = None) -> Optional[str]:
        """Create a new session id for a user id (None if not a str)."""
        if user_id is None or not isinstance(user_id, str):
            return None
        session_id = str(uuid.uuid4())
        self.user_id_by_session_id[session_id] = user_id
        return session_id

    def user_id_for_session_id(self, session_id: str = None
                               ) -> Optional[str]:
        """Return the user id a session id belongs to, or None."""
        if session_id is None or not isinstance(session_id, str):
            return None
        return self.user_id_by_session_id.get(session_id)

    def current_user(self, request: Optional[Request] = None
                     ) -> Optional[User]:
        """Return the User whose session id the request's cookie holds."""
        session_id = self.session_cookie(request)
        if not plausible_session_id(session_id):
            return None
        user_id = self.user_id_for_session_id(session_id)
        if user_id is None:
            return None
        return User.get(user_id)

    def destroy_session(self, request: Optional[Request] = None) -> bool:
        """Log out: forget the request's session; False if there is none."""
        if request is None:
            return False
        session_id = self.session_cookie(request)
        if not plausible_session_id(session_id):
            return False
        if not self.user_id_for_session_id(session_id):
            return False
        self.forget_session(session_id)
        return True

    def forget_session(self, session_id: str) -> None:
        """Remove a session id from where sessions are stored."""
        self.user_id_by_session_id.pop(session_id, None)

#!/usr/bin/env python3
"""Session authentication with sessions stored in the SQL database.

Sessions are ``UserSession`` rows: they survive restarts and are shared
by every process using the database; an expired row is refused and
deleted when met, and ``purge_expired`` deletes them all.
"""
from datetime import timedelta
from typing import Optional

from flask import Request
from sqlalchemy import bindparam, delete, select

from api.v1.auth.session_auth import Record, as_utc, plausible_session_id
from api.v1.auth.session_exp_auth import SessionExpAuth
from models import db
from models.fast_read import FastRead
from models.user import User
from models.user_session import UserSession

SESSIONS = UserSession.__table__
SESSION = FastRead(
    select(SESSIONS.c.user_id, SESSIONS.c.created_at)
    .where(SESSIONS.c.session_id == bindparam("session_id")))
# The hot path of each request: the session and its user in one query.
SESSION_USER = FastRead(
    select(User.__table__, SESSIONS.c.created_at)
    .join(SESSIONS, SESSIONS.c.user_id == User.__table__.c.id)
    .where(SESSIONS.c.session_id == bindparam("session_id")))


class SessionDBAuth(SessionExpAuth):
    """Expiring sessions kept as UserSession rows."""

    def current_user(self, request: Optional[Request] = None
                     ) -> Optional[User]:
        """Return the session's User, read with its session in one query."""
        session_id = self.session_cookie(request)
        if not plausible_session_id(session_id):
            return None
        row = SESSION_USER.first(session_id=session_id)
        if row is None:
            return None
        if self.expired(row[-1]):
            self._delete_session(session_id)
            return None
        return User.from_row(row[:-1])

    def purge_expired(self) -> int:
        """Delete every expired session row; return how many went."""
        if self.session_duration <= 0:
            return 0
        cutoff = as_utc(self.clock()) - timedelta(
            seconds=self.session_duration)
        return self._delete(UserSession.created_at < cutoff)

    def _save_session(self, session_id: str, user_id: str) -> None:
        """Store a UserSession row created now."""
        UserSession(user_id=user_id, session_id=session_id,
                    created_at=as_utc(self.clock())).save()

    def _load_session(self, session_id: str) -> Optional[Record]:
        """Return (user id, created_at) of the session's row."""
        row = SESSION.first(session_id=session_id)
        return None if row is None else (row[0], row[1])

    def _delete_session(self, session_id: str) -> None:
        """Delete the session's row."""
        self._delete(UserSession.session_id == session_id)

    def _delete_user_sessions(self, user_id: str) -> None:
        """Delete every session row of a user."""
        self._delete(UserSession.user_id == user_id)

    @staticmethod
    def _delete(condition: object) -> int:
        """Delete the session rows that meet a condition; count them."""
        with db.session() as session:
            result = session.execute(delete(UserSession).where(condition))
            session.commit()
            return result.rowcount

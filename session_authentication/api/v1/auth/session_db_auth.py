#!/usr/bin/env python3
"""Session authentication with sessions stored in the SQL database.

Sessions are ``UserSession`` rows: they survive restarts and are shared
by every process using the database; an expired row is refused and
deleted when met, and ``purge_expired`` deletes them all.
"""
from datetime import datetime, timedelta
from typing import List, Optional, Tuple

from flask import Request
from sqlalchemy import bindparam, delete, func, or_, select, update

from api.v1.auth.session_auth import (Listed, Record, as_utc,
                                      plausible_session_id)
from api.v1.auth.session_exp_auth import SessionExpAuth
from models import db
from models.fast_read import FastRead
from models.user import User
from models.user_session import UserSession

SESSIONS = UserSession.__table__
SESSION = FastRead(
    select(SESSIONS.c.user_id, SESSIONS.c.created_at,
           SESSIONS.c.last_seen_at)
    .where(SESSIONS.c.session_id == bindparam("session_id")))
# The hot path of each request: the session and its user in one query
# (the session's row id last, for the row cache's tokens).
SESSION_USER_QUERY = (
    select(User.__table__, SESSIONS.c.created_at, SESSIONS.c.last_seen_at,
           SESSIONS.c.id)
    .join(SESSIONS, SESSIONS.c.user_id == User.__table__.c.id)
    .where(SESSIONS.c.session_id == bindparam("session_id")))
SESSION_USER = FastRead(SESSION_USER_QUERY)
# Without an idle timeout (last_seen_at is then never read), cached per
# process until the session or its user changes (PostgreSQL) or anything
# is committed (SQLite): see models.db.
SESSION_USER_CACHED = FastRead(
    SESSION_USER_QUERY,
    lambda row: (User._row_tokens(row[:-3])[0],
                 SESSIONS.name + ":" + row[-1]))
USER_SESSIONS = FastRead(
    select(SESSIONS.c.session_id, SESSIONS.c.created_at,
           SESSIONS.c.last_seen_at)
    .where(SESSIONS.c.user_id == bindparam("user_id")))


class SessionDBAuth(SessionExpAuth):
    """Expiring sessions kept as UserSession rows."""

    def current_user(self, request: Optional[Request] = None
                     ) -> Optional[User]:
        """Return the session's User, read with its session in one query."""
        session_id = self.session_cookie(request)
        if not plausible_session_id(session_id):
            return None
        key = self.storage_key(session_id)
        read = SESSION_USER if self.idle_timeout > 0 else SESSION_USER_CACHED
        row = read.first(session_id=key)
        if row is None:
            return None
        user = User.from_row(row[:-3])
        if not self.alive(key, (user.id, row[-3], row[-2])):
            return None
        return user

    def purge_expired(self) -> int:
        """Delete every expired or idle session row; return how many
        went."""
        now = as_utc(self.clock())
        conditions = []
        if self.session_duration > 0:
            conditions.append(UserSession.created_at < now - timedelta(
                seconds=self.session_duration))
        if self.idle_timeout > 0:
            conditions.append(func.coalesce(
                UserSession.last_seen_at, UserSession.created_at)
                < now - timedelta(seconds=self.idle_timeout))
        if not conditions:
            return 0
        return self._delete(or_(*conditions))

    def _save_session(self, session_id: str, user_id: str) -> None:
        """Store a UserSession row created now."""
        UserSession(user_id=user_id, session_id=session_id,
                    created_at=as_utc(self.clock())).save()

    def _load_session(self, session_id: str) -> Optional[Record]:
        """Return (user id, created_at, last seen) of the session's row."""
        row = SESSION.first(session_id=session_id)
        return None if row is None else (row[0], row[1], row[2])

    def _touch_session(self, session_id: str, now: datetime) -> None:
        """Record the time of a request seen with the session."""
        with db.session() as session:
            session.execute(update(UserSession)
                            .where(UserSession.session_id == session_id)
                            .values(last_seen_at=as_utc(now)))
            session.commit()

    def _user_sessions(self, user_id: str) -> List[Listed]:
        """Return (storage key, created_at, last seen) of a user's rows."""
        return [(row[0], row[1], row[2])
                for row in USER_SESSIONS.rows(user_id=user_id)]

    def _all_sessions(self) -> List[Tuple[str, Record]]:
        """Not used: purge_expired deletes in one statement."""
        return []

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

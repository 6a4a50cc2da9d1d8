#!/usr/bin/env python3
"""Session authentication with sessions stored in the SQL database.

Sessions survive restarts and are shared by every process using the
database; expired rows are refused and deleted when met.
"""
import uuid
from datetime import timedelta
from typing import Optional

from flask import Request
from sqlalchemy import bindparam, delete, select
from sqlalchemy.exc import IntegrityError

from api.v1.auth.session_auth import plausible_session_id
from api.v1.auth.session_exp_auth import SessionExpAuth
from models import db
from models.user import User
from models.user_session import UserSession


SESSION_USER = db.Prepared(
    select(User.__table__, UserSession.__table__.c.created_at)
    .join(UserSession.__table__,
          UserSession.__table__.c.user_id == User.__table__.c.id)
    .where(UserSession.__table__.c.session_id == bindparam("session_id")))


class SessionDBAuth(SessionExpAuth):
    """Expiring sessions kept as UserSession rows."""

    def create_session(self, user_id: str = None) -> Optional[str]:
        """Store a new UserSession for an existing user; return its id."""
        if user_id is None or not isinstance(user_id, str):
            return None
        session_id = str(uuid.uuid4())
        user_session = UserSession(user_id=user_id, session_id=session_id,
                                   created_at=self.clock())
        try:
            user_session.save()
        except IntegrityError:
            return None
        return session_id

    def user_id_for_session_id(self, session_id: str = None
                               ) -> Optional[str]:
        """Return the user id of a stored, unexpired session, or None."""
        if not plausible_session_id(session_id):
            return None
        with db.session() as session:
            row = session.execute(
                select(UserSession.user_id, UserSession.created_at)
                .where(UserSession.session_id == session_id)).first()
        if row is None:
            return None
        if self.expired(row.created_at):
            self.forget_session(session_id)
            return None
        return row.user_id

    def current_user(self, request: Optional[Request] = None
                     ) -> Optional[User]:
        """Return the session's User with one query joining both tables.

        The query is prepared once (see models.db.Prepared): every
        request still reads the session and the user from the database.
        """
        session_id = self.session_cookie(request)
        if not plausible_session_id(session_id):
            return None
        row = SESSION_USER.first(session_id=session_id)
        if row is None:
            return None
        if self.expired(row[-1]):
            self.forget_session(session_id)
            return None
        return User.from_row(row[:-1])

    def forget_session(self, session_id: str) -> None:
        """Delete the session's row."""
        with db.session() as session:
            session.execute(delete(UserSession).where(
                UserSession.session_id == session_id))
            session.commit()

    def purge_expired(self) -> int:
        """Delete every expired session row; return how many went."""
        if self.session_duration <= 0:
            return 0
        cutoff = self.clock() - timedelta(seconds=self.session_duration)
        with db.session() as session:
            result = session.execute(delete(UserSession).where(
                UserSession.created_at < cutoff))
            session.commit()
            return result.rowcount

#!/usr/bin/env python3
"""The auth service's tables beside the seed's ``users`` table.

``auth_service_sessions`` holds the server-side timestamps of each
user's session (the seed keeps one session per user, in
``users.session_id``): when it started and when it was last used, for
the absolute and idle timeouts. ``auth_service_outbox`` holds the
password-reset e-mails asked for and not yet handed to the job queue.
Times are seconds since the epoch (UTC), as floats.
"""
from sqlalchemy import Column, Float, ForeignKey, Integer, String

from user import Base


class SessionTimes(Base):
    """When the current session of a user started and was last used."""

    __tablename__ = "auth_service_sessions"

    user_id = Column(Integer, ForeignKey("users.id", ondelete="CASCADE"),
                     primary_key=True)
    created_at = Column(Float, nullable=False, index=True)
    seen_at = Column(Float, nullable=False, index=True)


class OutboxMail(Base):
    """A password-reset e-mail to send, waiting for the job queue."""

    __tablename__ = "auth_service_outbox"

    id = Column(Integer, primary_key=True)
    email = Column(String(250), nullable=False)
    created_at = Column(Float, nullable=False)

#!/usr/bin/env python3
"""The UserSession model: a session id linked to a user, stored in SQL."""
from datetime import datetime
from typing import Optional

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, UTCDateTime


class UserSession(Base):
    """A login session of a user, kept across server restarts.

    ``user_id`` is any string, as in the seed: no foreign key refuses a
    session of an id that is not (yet) a stored user. Deleting a user
    deletes its sessions explicitly (``User.remove``).
    """

    __tablename__ = "api_user_sessions"

    user_id: Mapped[str] = mapped_column(String(36), index=True)
    session_id: Mapped[str] = mapped_column(String(64), unique=True,
                                            index=True)
    # Last request seen with this session (idle timeout); None: never
    # used since it was created.
    last_seen_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime)

    def __init__(self, *args: list, **kwargs: dict) -> None:
        """Build a session from keyword values user_id and session_id."""
        super().__init__(*args, **kwargs)
        self.user_id = kwargs.get("user_id")
        self.session_id = kwargs.get("session_id")
        self.last_seen_at = kwargs.get("last_seen_at")

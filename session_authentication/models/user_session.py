#!/usr/bin/env python3
"""The UserSession model: a session id linked to a user, stored in SQL."""
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base


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

    def __init__(self, *args: list, **kwargs: dict) -> None:
        """Build a session from keyword values user_id and session_id."""
        super().__init__(*args, **kwargs)
        self.user_id = kwargs.get("user_id")
        self.session_id = kwargs.get("session_id")

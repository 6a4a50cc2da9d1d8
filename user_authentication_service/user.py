#!/usr/bin/env python3
"""The SQLAlchemy model of the ``users`` table of the auth service.

Indexes make the hot look-ups (email at login, session id at every
authenticated request, reset-token digest at reset) single index probes.
"""
from sqlalchemy import Column, Integer, String
from sqlalchemy.orm import declarative_base

Base = declarative_base()


class User(Base):
    """A registered user with its password hash, session and reset token."""

    __tablename__ = "users"

    id = Column(Integer, primary_key=True)
    email = Column(String(250), nullable=False, unique=True, index=True)
    hashed_password = Column(String(250), nullable=False)
    session_id = Column(String(250), nullable=True, index=True)
    reset_token = Column(String(250), nullable=True, index=True)

#!/usr/bin/env python3
"""The User model: email, names and a bcrypt-hashed password."""
import os
from typing import Optional

from sqlalchemy import (Boolean, Index, String, delete, false, func,
                        select)
from sqlalchemy.orm import Mapped, mapped_column, validates

from http_common import passwords
from models import db
from models.base import Base
from models.user_session import UserSession

DEFAULT_ROUNDS = 12
MAX_PASSWORD_CHARS = passwords.MAX_PASSWORD_CHARS
# Hashes of this format are bcrypt of a pre-hash (see hash_password);
# older hashes are bcrypt of the password itself (up to 72 bytes).
PREHASH_PREFIX = passwords.PREFIX


def email_key(email: str) -> str:
    """Return the key e-mails are compared by: trimmed and case-folded,
    so that ``A@x.io`` and ``a@x.io`` name one account."""
    return email.strip().casefold()


def bcrypt_rounds() -> int:
    """Return the bcrypt cost: BCRYPT_ROUNDS (4 to 31), default 12."""
    try:
        rounds = int(os.environ.get("BCRYPT_ROUNDS", DEFAULT_ROUNDS))
    except ValueError:
        return DEFAULT_ROUNDS
    return min(max(rounds, 4), 31)


class PasswordTooLong(ValueError):
    """Raised for a password longer than MAX_PASSWORD_CHARS characters."""


def hash_password(pwd: str) -> str:
    """Return a salted bcrypt hash of a password's pre-hash, as text
    (http_common/passwords.py, at BCRYPT_ROUNDS)."""
    if len(pwd) > MAX_PASSWORD_CHARS:
        raise PasswordTooLong("password is longer than {} characters"
                              .format(MAX_PASSWORD_CHARS))
    return passwords.hash_password(pwd, bcrypt_rounds())


def check_password(pwd: str, hashed: str) -> bool:
    """Tell whether a password matches a stored hash (never raises);
    older plain bcrypt hashes are read too."""
    return passwords.check_password(pwd, hashed)


def needs_rehash(hashed: str) -> bool:
    """Tell whether a stored hash is of the older format or of another
    cost than BCRYPT_ROUNDS (it is then replaced at the next login)."""
    return passwords.needs_rehash(hashed, bcrypt_rounds())


hash_cost = passwords.cost_of


_dummy_hash: dict = {}
# The highest bcrypt cost among stored hashes (read once per process).
_stored_cost: dict = {}


def highest_stored_cost() -> int:
    """Return the highest bcrypt cost of the stored hashes, read once
    per process (and raised by every higher one checked since)."""
    if "cost" not in _stored_cost:
        with db.session() as session:
            prefixes = session.execute(select(func.substr(
                User._password, 1, len(PREHASH_PREFIX) + 7)).distinct())
            _stored_cost["cost"] = max(
                (hash_cost(row[0]) for row in prefixes), default=0)
    return _stored_cost["cost"]


def dummy_rounds() -> int:
    """Return the cost of the check spent for an unknown e-mail: the
    current BCRYPT_ROUNDS, or a stored hash's higher cost (until every
    user logged in again), so that "no such user" is never faster than
    a wrong password."""
    try:
        stored = highest_stored_cost()
    except Exception:  # noqa: BLE001 - the timing guard must not fail
        stored = 0
    return min(max(bcrypt_rounds(), stored), 31)


def burn_password_check(pwd: object, rounds: Optional[int] = None) -> None:
    """Spend one bcrypt check, as a real one would, for unknown users.

    Keeps "no such user" as slow as "wrong password" (no timing oracle),
    also after BCRYPT_ROUNDS changed.
    """
    rounds = rounds or dummy_rounds()
    if rounds not in _dummy_hash:
        _dummy_hash[rounds] = passwords.hash_password(
            "not a real password", rounds)
    check_password(pwd if isinstance(pwd, str) else "",
                   _dummy_hash[rounds])


class User(Base):
    """A user of the API; its clear password is never stored."""

    __tablename__ = "api_users"
    # The order of the list's pages (created_at, id): see Base.page.
    __table_args__ = (Index("ix_api_users_created_at_id", "created_at",
                            "id"),)

    email: Mapped[Optional[str]] = mapped_column(
        String(254), unique=True, index=True)
    _password: Mapped[Optional[str]] = mapped_column("password",
                                                     String(128))
    first_name: Mapped[Optional[str]] = mapped_column(String(255))
    last_name: Mapped[Optional[str]] = mapped_column(String(255))
    # Not part of the seed's JSON (names starting with "_" are left out
    # of to_json): the admin flag and the e-mail's comparison key.
    _is_admin: Mapped[bool] = mapped_column(
        "is_admin", Boolean, nullable=False, default=False,
        server_default=false())
    _email_key: Mapped[Optional[str]] = mapped_column(
        "email_key", String(254), unique=True, index=True)

    def __init__(self, *args: list, **kwargs: dict) -> None:
        """Build a user from keyword values (email, names, hash)."""
        super().__init__(*args, **kwargs)
        self.email = kwargs.get("email")
        self._password = kwargs.get("_password")
        self.first_name = kwargs.get("first_name")
        self.last_name = kwargs.get("last_name")
        self._is_admin = bool(kwargs.get("_is_admin", False))

    @validates("email")
    def _keep_email_key(self, _name: str, email: Optional[str]
                        ) -> Optional[str]:
        """Keep the comparison key in step with the e-mail."""
        key = email_key(email) if isinstance(email, str) else None
        self._email_key = key if key and len(key) <= 254 else None
        return email

    @property
    def is_admin(self) -> bool:
        """Tell whether the user manages every user (production profile)."""
        return bool(self._is_admin)

    @is_admin.setter
    def is_admin(self, value: bool) -> None:
        """Grant or revoke the admin flag (saved with the user)."""
        self._is_admin = bool(value)

    @classmethod
    def find_by_email(cls, email: object) -> Optional["User"]:
        """Return the user with this e-mail, compared case-insensitively
        and trimmed; an exact match first (users stored before the key
        existed whose e-mails differ only by case keep logging in)."""
        if not isinstance(email, str) or not email.strip():
            return None
        users = cls.search({"email": email})
        if not users:
            users = cls.search({"_email_key": email_key(email)})
        return users[0] if users else None

    @property
    def password(self) -> Optional[str]:
        """Return the stored password hash (never the clear password)."""
        return self._password

    @password.setter
    def password(self, pwd: Optional[str]) -> None:
        """Store a salted bcrypt hash of pwd (None when not a string)."""
        if pwd is None or not isinstance(pwd, str):
            self._password = None
        else:
            self._password = hash_password(pwd)

    def remove(self) -> None:
        """Delete the user and its stored sessions in one transaction.

        Sessions kept elsewhere (process memory, Redis) are ended by the
        authentication mechanism: see ``SessionAuth.destroy_user_sessions``.
        """
        with db.session() as session:
            session.execute(delete(UserSession).where(
                UserSession.user_id == self.id))
            session.execute(delete(User).where(User.id == self.id))
            session.commit()

    def is_valid_password(self, pwd: Optional[str]) -> bool:
        """Tell whether pwd is this user's password (bcrypt check)."""
        if pwd is None or not isinstance(pwd, str):
            return False
        if self._password is None:
            return False
        if check_password(pwd, self._password):
            return True
        # A wrong password against a hash cheaper than the check spent
        # for unknown e-mails takes as long as that check.
        cost = hash_cost(self._password)
        if cost > _stored_cost.get("cost", cost):
            _stored_cost["cost"] = cost
        if cost < dummy_rounds():
            burn_password_check(pwd)
        return False

    def rehash_password(self, pwd: str) -> None:
        """After a successful check of pwd, store it again if its hash is
        of the older format or of another cost than BCRYPT_ROUNDS."""
        if self._password is not None and needs_rehash(self._password):
            self.password = pwd
            self.save()

    def display_name(self) -> str:
        """Return the user's name for display, from what is known."""
        if self.email is None and self.first_name is None \
                and self.last_name is None:
            return ""
        if self.first_name is None and self.last_name is None:
            return "{}".format(self.email)
        if self.last_name is None:
            return "{}".format(self.first_name)
        if self.first_name is None:
            return "{}".format(self.last_name)
        return "{} {}".format(self.first_name, self.last_name)

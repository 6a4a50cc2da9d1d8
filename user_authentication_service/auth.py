#!/usr/bin/env python3
"""Auth module: registration, logins, sessions and password resets.

Passwords are bcrypt hashes (cost ``BCRYPT_ROUNDS``, default 12). Reset
tokens are UUIDv7 strings (RFC 9562) whose leading 48 bits are the
issue time in milliseconds; only their SHA-256 digest is stored, in
``users.reset_token``, so the issue time is read from a token only after
its digest matched. A token expires ``RESET_TOKEN_TTL`` seconds (default
900) after issue, works once, and a reset ends the user's session.
"""
import hashlib
import os
import secrets
import threading
import time
import uuid
from typing import Callable, Optional

import bcrypt
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import NoResultFound

from db import DB
from user import User

DEFAULT_BCRYPT_ROUNDS = 12
DEFAULT_RESET_TOKEN_TTL = 900
MAX_PASSWORD_BYTES = 72
MAX_EMAIL_CHARS = 250


class UserAlreadyExists(ValueError):
    """Raised when an email is registered a second time."""


class InvalidResetToken(ValueError):
    """Raised when a reset token is unknown, used, expired or malformed."""


class UnknownEmail(ValueError):
    """Raised when an operation needs a registered email that is not."""


class InvalidPassword(ValueError):
    """Raised when a new password is empty, too long or not text."""


class InvalidEmail(ValueError):
    """Raised when an email to register is empty, too long or odd."""


def _check_email(email: str) -> str:
    """Return the email if it can be registered, else raise InvalidEmail."""
    if (not isinstance(email, str) or not 0 < len(email) <= MAX_EMAIL_CHARS
            or "@" not in email or not email.isprintable()
            or any(char.isspace() for char in email)):
        raise InvalidEmail("email must be an address of at most {} "
                           "characters".format(MAX_EMAIL_CHARS))
    return email


def _env_int(name: str, default: int) -> int:
    """Read a positive integer from the environment, else the default."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise ValueError("{} must be a positive integer, not {!r}".format(
            name, raw))
    return value


def _hash_password(password: str, rounds: Optional[int] = None) -> bytes:
    """Return a salted bcrypt hash of the password (cost BCRYPT_ROUNDS)."""
    if rounds is None:
        rounds = _env_int("BCRYPT_ROUNDS", DEFAULT_BCRYPT_ROUNDS)
    return bcrypt.hashpw(_password_bytes(password), bcrypt.gensalt(rounds))


def _password_bytes(password: str) -> bytes:
    """Encode a password, refusing what bcrypt cannot hash faithfully."""
    if not isinstance(password, str) or not password:
        raise InvalidPassword("password must be a non-empty string")
    try:
        encoded = password.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidPassword("password must be valid text") from None
    if len(encoded) > MAX_PASSWORD_BYTES:
        raise InvalidPassword("password is longer than {} bytes".format(
            MAX_PASSWORD_BYTES))
    return encoded


def _generate_uuid() -> str:
    """Return the string form of a new random UUID (version 4)."""
    return str(uuid.uuid4())


def _time_uuid(now: float) -> str:
    """Return a UUIDv7 string: 48-bit millisecond time, 74 random bits."""
    value = (int(now * 1000) & ((1 << 48) - 1)) << 80
    value |= secrets.randbits(80)
    value &= ~(0xF << 76)
    value |= 0x7 << 76
    value &= ~(0x3 << 62)
    value |= 0x2 << 62
    return str(uuid.UUID(int=value))


def _token_issued_at(token: str) -> Optional[float]:
    """Return the issue time (s) inside a UUIDv7 token, None if malformed."""
    try:
        parsed = uuid.UUID(token)
    except (ValueError, TypeError, AttributeError):
        return None
    if parsed.version != 7 or str(parsed) != token:
        return None
    return (parsed.int >> 80) / 1000.0


def _digest(token: str) -> str:
    """Return the SHA-256 hex digest under which a token is stored."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def is_session_id(value: object) -> bool:
    """Tell whether a value has the shape of a session id we issue."""
    if not isinstance(value, str) or len(value) != 36:
        return False
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


class Auth:
    """Auth class to interact with the authentication database."""

    def __init__(self, database_url: Optional[str] = None,
                 bcrypt_rounds: Optional[int] = None,
                 reset_token_ttl: Optional[float] = None,
                 clock: Optional[Callable[[], float]] = None) -> None:
        """Configure from arguments, else from the environment."""
        self._db = DB(database_url)
        self._rounds = bcrypt_rounds or _env_int(
            "BCRYPT_ROUNDS", DEFAULT_BCRYPT_ROUNDS)
        if not 4 <= self._rounds <= 31:
            raise ValueError("BCRYPT_ROUNDS must be between 4 and 31")
        self._reset_ttl = reset_token_ttl or _env_int(
            "RESET_TOKEN_TTL", DEFAULT_RESET_TOKEN_TTL)
        self._clock = clock or time.time
        self._dummy_hash: Optional[bytes] = None
        self._lock = threading.Lock()

    def ensure_ready(self) -> None:
        """Connect to the database and create missing tables now."""
        self._db.ensure_schema()

    def register_user(self, email: str, password: str) -> User:
        """Register a new user (ValueError when the email is taken)."""
        _check_email(email)
        try:
            self._db.find_user_by(email=email)
        except NoResultFound:
            pass
        else:
            raise UserAlreadyExists("User {} already exists".format(email))
        hashed = _hash_password(password, self._rounds).decode("ascii")
        try:
            return self._db.add_user(email, hashed)
        except IntegrityError:
            raise UserAlreadyExists(
                "User {} already exists".format(email)) from None

    def valid_login(self, email: str, password: str) -> bool:
        """Tell whether the password is right for that email.

        An unknown email costs one bcrypt check against a dummy hash, as
        a wrong password does, so timing does not reveal who exists.
        """
        try:
            candidate = _password_bytes(password)
        except InvalidPassword:
            return False
        try:
            user = self._db.find_user_by(email=email)
        except NoResultFound:
            bcrypt.checkpw(candidate, self._dummy())
            return False
        try:
            return bcrypt.checkpw(candidate,
                                  user.hashed_password.encode("utf-8"))
        except ValueError:
            return False

    def _dummy(self) -> bytes:
        """Return a hash with the configured cost to check unknown emails."""
        if self._dummy_hash is None:
            with self._lock:
                if self._dummy_hash is None:
                    self._dummy_hash = _hash_password(
                        secrets.token_urlsafe(16), self._rounds)
        return self._dummy_hash

    def create_session(self, email: str) -> Optional[str]:
        """Start a new session for the email and return its id, or None."""
        try:
            user = self._db.find_user_by(email=email)
        except NoResultFound:
            return None
        session_id = _generate_uuid()
        self._db.update_user(user.id, session_id=session_id)
        return session_id

    def get_user_from_session_id(self, session_id: Optional[str]
                                 ) -> Optional[User]:
        """Return the user owning a session id, or None."""
        if not is_session_id(session_id):
            return None
        try:
            return self._db.find_user_by(session_id=session_id)
        except NoResultFound:
            return None

    def destroy_session(self, user_id: int) -> None:
        """End the session of a user (nothing happens for an unknown id)."""
        try:
            self._db.update_user(user_id, session_id=None)
        except NoResultFound:
            return None
        return None

    def get_reset_password_token(self, email: str) -> str:
        """Issue a reset token for a registered email (ValueError if not)."""
        try:
            user = self._db.find_user_by(email=email)
        except NoResultFound:
            raise UnknownEmail("no user with that email") from None
        token = _time_uuid(self._clock())
        self._db.update_user(user.id, reset_token=_digest(token))
        return token

    def update_password(self, reset_token: str, password: str, *,
                        email: Optional[str] = None) -> None:
        """Set a new password with a reset token (ValueError if invalid).

        The token must be the latest one issued, unexpired and unused;
        when ``email`` is given it must be the token owner's. Success
        consumes the token and ends the user's session.
        """
        issued_at = _token_issued_at(reset_token)
        if issued_at is None:
            raise InvalidResetToken("malformed reset token")
        digest = _digest(reset_token)
        try:
            user = self._db.find_user_by(reset_token=digest)
        except NoResultFound:
            raise InvalidResetToken("unknown reset token") from None
        if email is not None and user.email != email:
            raise InvalidResetToken("reset token of another user")
        if self._clock() >= issued_at + self._reset_ttl:
            self._db.update_user_if(user.id, {"reset_token": digest},
                                    reset_token=None)
            raise InvalidResetToken("reset token expired")
        hashed = _hash_password(password, self._rounds).decode("ascii")
        if not self._db.update_user_if(
                user.id, {"reset_token": digest}, hashed_password=hashed,
                reset_token=None, session_id=None):
            raise InvalidResetToken("reset token already used")

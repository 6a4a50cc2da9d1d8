#!/usr/bin/env python3
"""Auth module: registration, logins, sessions and password resets.

Passwords are stored as bcrypt of a keyed pre-hash
(``http_common/passwords.py``, cost ``BCRYPT_ROUNDS``, default 12); older
hashes and hashes of another cost are replaced at the next successful
login. E-mails are trimmed, validated and lower-cased, so ``A@x.io`` and
``a@x.io`` are one account.

Session ids and reset tokens come from the CSPRNG. ``TOKEN_FORMAT=uuid``
(seed) makes seed-shaped ids (UUID4 sessions, UUIDv7 reset tokens whose
leading 48 bits are the issue time); ``token`` makes 256-bit ones
(``<issue ms in hex>.<43 URL-safe characters>`` for reset tokens).
Reset tokens are stored as SHA-256 digests, in ``users.reset_token``, so
the issue time is read from a token only after its digest matched; one
expires ``RESET_TOKEN_TTL`` seconds after issue, works once, and a reset
ends the user's session. Session ids are stored as such in
``users.session_id`` (seed: ``create_session`` stores "the UUID") or as
their SHA-256 digest with ``SESSION_ID_DIGEST``; their start and last
use are kept server-side for ``SESSION_LIFETIME`` and
``SESSION_IDLE_TIMEOUT`` (0 = no limit).
"""
import hashlib
import secrets
import threading
import time
import uuid
from typing import Callable, Optional

import bcrypt
from email_validator import EmailNotValidError, validate_email
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import NoResultFound

from http_common import passwords
import settings
from db import DB
from user import User

DEFAULT_BCRYPT_ROUNDS = 12
DEFAULT_RESET_TOKEN_TTL = 900
MAX_PASSWORD_BYTES = 72
MAX_EMAIL_CHARS = 250
TOKEN_CHARS = 43
PURGE_EVERY = 60.0


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


def normalize_email(email: str) -> str:
    """Return the account key of an e-mail: trimmed, valid, lower-case.

    Raises InvalidEmail for anything that is not an address.
    """
    if isinstance(email, str):
        email = email.strip(" ")
    if (not isinstance(email, str) or not 0 < len(email) <= MAX_EMAIL_CHARS
            or not email.isprintable()):
        raise InvalidEmail("email must be an address of at most {} "
                           "characters".format(MAX_EMAIL_CHARS))
    try:
        checked = validate_email(email, check_deliverability=False)
    except EmailNotValidError:
        raise InvalidEmail("email must be a valid address") from None
    return checked.normalized.lower()


def _hash_password(password: str, rounds: Optional[int] = None) -> bytes:
    """Return a salted bcrypt hash of the password (cost BCRYPT_ROUNDS).

    The seed's function (plain bcrypt, up to 72 bytes); ``Auth`` stores
    the pre-hashed format of ``http_common/passwords.py`` instead, which takes
    passwords of any length.
    """
    if rounds is None:
        rounds = settings.load()["BCRYPT_ROUNDS"]
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
    if not isinstance(value, str):
        return False
    if len(value) == TOKEN_CHARS:
        return value.isascii() and all(
            char.isalnum() or char in "-_" for char in value)
    if len(value) != 36:
        return False
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


def _new_token(token_format: str) -> str:
    """Return a new session id of the configured format."""
    if token_format == "token":
        return secrets.token_urlsafe(32)
    return _generate_uuid()


def _new_reset_token(token_format: str, now: float) -> str:
    """Return a new reset token that carries its issue time."""
    if token_format == "token":
        return "{:x}.{}".format(int(now * 1000), secrets.token_urlsafe(32))
    return _time_uuid(now)


def _reset_issued_at(token: str) -> Optional[float]:
    """Return the issue time (s) in a reset token, None if malformed."""
    if not isinstance(token, str):
        return None
    stamp, dot, rest = token.partition(".")
    if dot:
        if (not 0 < len(stamp) <= 12 or len(rest) != TOKEN_CHARS
                or not is_session_id(rest)):
            return None
        try:
            return int(stamp, 16) / 1000.0
        except ValueError:
            return None
    return _token_issued_at(token)


class Auth:
    """Auth class to interact with the authentication database."""

    def __init__(self, database_url: Optional[str] = None,
                 bcrypt_rounds: Optional[int] = None,
                 reset_token_ttl: Optional[float] = None,
                 clock: Optional[Callable[[], float]] = None,
                 config: Optional[dict] = None) -> None:
        """Configure from ``config`` (see settings.py), else from the
        environment; the arguments override either."""
        config = dict(config) if config is not None else settings.load()
        for key, value in (("DATABASE_URL", database_url),
                           ("BCRYPT_ROUNDS", bcrypt_rounds),
                           ("RESET_TOKEN_TTL", reset_token_ttl)):
            if value is not None:
                config[key] = value
        self._db = DB(config["DATABASE_URL"])
        self._rounds = int(config["BCRYPT_ROUNDS"])
        if not 4 <= self._rounds <= 31:
            raise ValueError("BCRYPT_ROUNDS must be between 4 and 31")
        self._reset_ttl = float(config["RESET_TOKEN_TTL"])
        self._format = config["TOKEN_FORMAT"]
        self._digest_ids = bool(config["SESSION_ID_DIGEST"])
        self._lifetime = float(config["SESSION_LIFETIME"])
        self._idle = float(config["SESSION_IDLE_TIMEOUT"])
        self._min_chars = int(config["MIN_PASSWORD_LENGTH"])
        self._clock = clock or config.get("CLOCK") or time.time
        self._dummy_hash: Optional[str] = None
        self._purged_at = float("-inf")
        self._lock = threading.Lock()

    def ensure_ready(self) -> None:
        """Connect to the database and create missing tables now."""
        self._db.ensure_schema()

    def check_new_password(self, password: str) -> None:
        """Raise InvalidPassword unless a password can be set."""
        if not isinstance(password, str) or not password:
            raise InvalidPassword("password must be a non-empty string")
        if len(password) < self._min_chars:
            raise InvalidPassword("password must have at least {} "
                                  "characters".format(self._min_chars))
        if len(password) > passwords.MAX_PASSWORD_CHARS:
            raise InvalidPassword("password is longer than {} characters"
                                  .format(passwords.MAX_PASSWORD_CHARS))
        try:
            password.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidPassword("password must be valid text") from None

    def _hash(self, password: str) -> str:
        """Return the stored form of a new password."""
        self.check_new_password(password)
        return passwords.hash_password(password, self._rounds)

    def register_user(self, email: str, password: str) -> User:
        """Register a new user (ValueError when the email is taken)."""
        email = normalize_email(email)
        try:
            self._db.find_user_by(email=email)
        except NoResultFound:
            pass
        else:
            raise UserAlreadyExists("User {} already exists".format(email))
        hashed = self._hash(password)
        try:
            return self._db.add_user(email, hashed)
        except IntegrityError:
            raise UserAlreadyExists(
                "User {} already exists".format(email)) from None

    def valid_login(self, email: str, password: str) -> bool:
        """Tell whether the password is right for that email."""
        return self.check_login(email, password) is not None

    def check_login(self, email: str, password: str) -> Optional[User]:
        """Return the user whose email and password these are, or None.

        An unknown email costs one bcrypt check, as a wrong password
        does, against the hash of a real user that the email points at
        (``_decoy``), so timing does not tell who exists, even right
        after a change of BCRYPT_ROUNDS when stored hashes have mixed
        costs. A right password stored in an older format or at another
        cost is hashed again now.
        """
        if not isinstance(password, str):
            password = ""
        key = email if isinstance(email, str) else ""
        try:
            key = normalize_email(email)
            user = self._db.find_user_by(email=key)
        except (InvalidEmail, NoResultFound):
            passwords.check_password(password, self._decoy(key))
            return None
        stored = user.hashed_password or ""
        if not passwords.check_password(password, stored):
            return None
        if passwords.needs_rehash(stored, self._rounds):
            self._db.update_user_if(
                user.id, {"hashed_password": stored},
                hashed_password=passwords.hash_password(
                    password, self._rounds))
        return user

    def _decoy(self, email: str) -> str:
        """Return the hash an unknown email's password is checked against.

        A real user's stored hash, picked by the SHA-256 of the email
        (the same user for the same email every time, so repeated probes
        of an unknown address time like those of a known one); with no
        user at all, a dummy hash of the current cost. The check's
        result is ignored: an unknown email never logs in.
        """
        number = int.from_bytes(hashlib.sha256(
            email.encode("utf-8", "replace")).digest()[:8], "big") >> 1
        return self._db.decoy_hash(number) or self._dummy()

    def _dummy(self) -> str:
        """Return a hash with the configured cost to check unknown emails."""
        if self._dummy_hash is None:
            with self._lock:
                if self._dummy_hash is None:
                    self._dummy_hash = passwords.hash_password(
                        secrets.token_urlsafe(16), self._rounds)
        return self._dummy_hash

    def _key(self, session_id: str) -> str:
        """Return what the database stores for a session id."""
        return _digest(session_id) if self._digest_ids else session_id

    def create_session(self, email: str) -> Optional[str]:
        """Start a new session for the email and return its id, or None.

        The user's previous session ends (one session per user).
        """
        try:
            user = self._db.find_user_by(email=normalize_email(email))
        except (InvalidEmail, NoResultFound):
            return None
        return self.start_session(user)

    def start_session(self, user: User) -> Optional[str]:
        """Start a new session for a user already looked up (the one
        ``check_login`` returned) and return its id.

        Returns None when the user no longer exists (deleted since it
        was found). The user's previous session ends.
        """
        now = self._clock()
        self._purge(now)
        session_id = _new_token(self._format)
        if not self._db.start_session(user.id, self._key(session_id), now):
            return None
        return session_id

    def _timed_out(self, created: Optional[float], seen: Optional[float],
                   now: float) -> bool:
        """Tell whether a session is past its absolute or idle limit."""
        if created is None or seen is None:
            return True
        if self._lifetime and now >= created + self._lifetime:
            return True
        return bool(self._idle) and now >= seen + self._idle

    def get_user_from_session_id(self, session_id: Optional[str]
                                 ) -> Optional[User]:
        """Return the user owning a live session id, or None.

        With timeouts on, a session past one is ended here; a live one
        has its last use recorded (at most every minute, or every
        twentieth of the idle timeout when that is shorter).
        """
        if not is_session_id(session_id):
            return None
        key = self._key(session_id)
        if not (self._lifetime or self._idle):
            try:
                return self._db.find_user_by(session_id=key)
            except NoResultFound:
                return None
        found = self._db.find_session(key)
        if found is None:
            return None
        user, created, seen = found
        now = self._clock()
        if self._timed_out(created, seen, now):
            self._db.end_session(user.id, key)
            return None
        if self._idle and now - seen >= min(60.0, self._idle / 20):
            self._db.touch_session(user.id, key, now)
        return user

    def destroy_session(self, user_id: int) -> None:
        """End the session of a user (nothing happens for an unknown id)."""
        self._db.end_session(user_id)
        return None

    def end_session(self, session_id: Optional[str]) -> None:
        """End the session a session id names, if it is live."""
        if is_session_id(session_id):
            try:
                user = self._db.find_user_by(
                    session_id=self._key(session_id))
            except NoResultFound:
                return
            self._db.end_session(user.id, self._key(session_id))

    def _purge(self, now: float) -> None:
        """End timed-out sessions, at most once a minute per process."""
        if not (self._lifetime or self._idle) \
                or now - self._purged_at < PURGE_EVERY:
            return
        self._purged_at = now
        self._db.purge_sessions(
            now - self._lifetime if self._lifetime else None,
            now - self._idle if self._idle else None)

    def get_reset_password_token(self, email: str) -> str:
        """Issue a reset token for a registered email (ValueError if not)."""
        try:
            user = self._db.find_user_by(email=normalize_email(email))
        except (InvalidEmail, NoResultFound):
            raise UnknownEmail("no user with that email") from None
        token = _new_reset_token(self._format, self._clock())
        self._db.update_user(user.id, reset_token=_digest(token))
        return token

    def request_password_reset(self, email: str) -> None:
        """Put a reset e-mail for an address in the outbox.

        The same work for a known and an unknown address: whether it
        has an account is looked up later, by the mail worker
        (``mailer.py``), which issues the token and sends it.
        """
        self._db.add_outbox(normalize_email(email), self._clock())

    def pending_mail(self, limit: int = 100) -> list:
        """Return up to ``limit`` (id, email, created_at) outbox rows."""
        return self._db.outbox(limit)

    def mail_queued(self, mail_id: int) -> None:
        """Forget an outbox row whose job is on the queue."""
        self._db.remove_outbox(mail_id)

    def update_password(self, reset_token: str, password: str, *,
                        email: Optional[str] = None) -> None:
        """Set a new password with a reset token (ValueError if invalid).

        The token must be the latest one issued, unexpired and unused;
        when ``email`` is given it must be the token owner's. Success
        consumes the token and ends the user's session; it logs no one
        in.
        """
        issued_at = _reset_issued_at(reset_token)
        if issued_at is None:
            raise InvalidResetToken("malformed reset token")
        digest = _digest(reset_token)
        try:
            user = self._db.find_user_by(reset_token=digest)
        except NoResultFound:
            raise InvalidResetToken("unknown reset token") from None
        if email is not None:
            try:
                same = normalize_email(email) == user.email
            except InvalidEmail:
                same = False
            if not same:
                raise InvalidResetToken("reset token of another user")
        if self._clock() >= issued_at + self._reset_ttl:
            self._db.update_user_if(user.id, {"reset_token": digest},
                                    reset_token=None)
            raise InvalidResetToken("reset token expired")
        hashed = self._hash(password)
        if not self._db.update_user_if(
                user.id, {"reset_token": digest}, hashed_password=hashed,
                reset_token=None, session_id=None):
            raise InvalidResetToken("reset token already used")

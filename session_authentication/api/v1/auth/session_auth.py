#!/usr/bin/env python3
"""Session authentication: the session template and the memory store.

How a session id travels (the cookie named by SESSION_NAME) is Auth's
business; ``SessionAuth`` holds what every session mechanism shares —
id generation, argument guards, the expiry policy — over three store
hooks that each subclass overrides: ``_save_session``,
``_load_session`` and ``_delete_session`` (plus
``_delete_user_sessions``, ``_user_sessions`` and ``_touch_session``).
Here the store is a dict in process memory: sessions are lost when the
process stops and are not seen by other processes, so this mode is
served by a single process.

Stores are keyed by a session's *storage key*: the id itself (the seed's
rule), or its SHA-256 digest when ``digest_ids`` is on (production), so
that a copy of the store holds no usable cookie.
"""
import hashlib
import secrets
import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Callable, List, Optional, Tuple

from flask import Request

from api.v1.auth.auth import Auth
from api.v1.config import Settings
from models.user import User

MAX_SESSION_ID_LENGTH = 64
# What a store gives back for a session: its user id, creation time and
# time of the last request seen with it (None when unknown).
Record = Tuple[str, Optional[datetime], Optional[datetime]]
# A store's listing of a user's sessions: (storage key, created, seen).
Listed = Tuple[str, Optional[datetime], Optional[datetime]]
PURGE_EVERY = 300.0


def digest(session_id: str) -> str:
    """Return the SHA-256 hex digest of a session id."""
    return hashlib.sha256(session_id.encode("utf-8",
                                            "surrogatepass")).hexdigest()


def session_handle(key: str) -> str:
    """Return the name a session is listed and ended by: a digest of its
    storage key, never the id (a cookie value never leaves the cookie)."""
    return digest(key)[:32]


def plausible_session_id(session_id: object) -> bool:
    """Tell whether a value can be a session id worth looking up."""
    return (isinstance(session_id, str) and 0 < len(session_id)
            <= MAX_SESSION_ID_LENGTH and "\x00" not in session_id)


def as_utc(moment: datetime) -> datetime:
    """Return a datetime as aware UTC (a naive one is local time)."""
    return moment.astimezone(timezone.utc)


class SessionAuth(Auth):
    """Authenticates requests by a session cookie, sessions in memory."""

    user_id_by_session_id: dict = {}
    # Seconds a session lives; 0 or less: forever (SessionExpAuth).
    session_duration = 0
    # Seconds without a request after which a session ends; 0: never.
    idle_timeout = 0
    # Store SHA-256 digests of session ids rather than the ids.
    digest_ids = False
    # Session ids of 256 random bits rather than the seed's uuid4.
    long_ids = False
    # True where the store expires sessions itself (Redis TTL).
    store_expires = False
    clock: Callable[[], datetime] = staticmethod(datetime.now)
    _last_purge = 0.0

    def apply(self, settings: Settings) -> None:
        """Take the session policy of the settings: idle timeout, stored
        digests, and in production a lifetime for every session mode."""
        super().apply(settings)
        if settings.production:
            self.session_duration = settings.session_duration
            self.long_ids = True
        self.idle_timeout = settings.session_idle_timeout
        self.digest_ids = settings.digest_session_ids

    def storage_key(self, session_id: str) -> str:
        """Return the key a session is stored under (the id or its
        digest)."""
        return digest(session_id) if self.digest_ids else session_id

    def create_session(self, user_id: str = None) -> Optional[str]:
        """Create a new session id for a user id (None if not a str)."""
        if user_id is None or not isinstance(user_id, str):
            return None
        session_id = (secrets.token_urlsafe(32) if self.long_ids
                      else str(uuid.uuid4()))
        self._save_session(self.storage_key(session_id), user_id)
        self._purge_now_and_then()
        return session_id

    def user_id_for_session_id(self, session_id: str = None
                               ) -> Optional[str]:
        """Return the user id of a live session, or None.

        A session found expired (absolute or idle) is deleted from its
        store; a live one's last activity is recorded.
        """
        if not plausible_session_id(session_id):
            return None
        key = self.storage_key(session_id)
        record = self._load_session(key)
        if record is None or record[0] is None:
            return None
        if not self.alive(key, record):
            return None
        return record[0]

    def alive(self, key: str, record: Record) -> bool:
        """Tell whether a stored session is live; delete it when it is
        not, and record the activity when it is (idle timeout)."""
        if self.expired(record[1]) or self.idle(record[2] or record[1]):
            self._delete_session(key)
            return False
        if self.idle_timeout > 0 and not self.store_expires:
            now = self.clock()
            seen = record[2] or record[1]
            if seen is None or self._older_than(seen, now,
                                                self.touch_interval()):
                self._touch_session(key, now)
        return True

    def expired(self, created_at: Optional[datetime]) -> bool:
        """Tell whether a session created at that time has expired.

        Never when ``session_duration`` is 0 or less, or when the store
        expires sessions itself; always when the creation time is
        unknown; else when ``created_at + session_duration`` is before
        the current time.
        """
        if self.session_duration <= 0 or self.store_expires:
            return False
        if created_at is None:
            return True
        return self._older_than(created_at, self.clock(),
                                self.session_duration)

    def idle(self, last_seen: Optional[datetime]) -> bool:
        """Tell whether a session last used at that time has been idle
        longer than ``idle_timeout`` (never when that is 0, or when the
        store expires sessions itself)."""
        if self.idle_timeout <= 0 or self.store_expires:
            return False
        if last_seen is None:
            return True
        return self._older_than(last_seen, self.clock(), self.idle_timeout)

    def touch_interval(self) -> float:
        """Return how stale a recorded activity may get before it is
        written again: a tenth of the idle timeout, at most a minute, so
        that a store is not written by every request."""
        return max(0.0, min(60.0, self.idle_timeout / 10.0))

    @staticmethod
    def _older_than(moment: datetime, now: datetime,
                    seconds: float) -> bool:
        """Tell whether ``moment + seconds`` is before ``now`` (naive
        with naive, aware with aware)."""
        if (moment.tzinfo is None) != (now.tzinfo is None):
            moment, now = as_utc(moment), as_utc(now)
        return moment + timedelta(seconds=seconds) < now

    def current_user(self, request: Optional[Request] = None
                     ) -> Optional[User]:
        """Return the User whose session id the request's cookie holds."""
        user_id = self.user_id_for_session_id(self.session_cookie(request))
        if user_id is None:
            return None
        return User.get(user_id)

    def destroy_session(self, request: Optional[Request] = None) -> bool:
        """Log out: end the request's session; False if there is none."""
        if request is None:
            return False
        session_id = self.session_cookie(request)
        if self.user_id_for_session_id(session_id) is None:
            return False
        self._delete_session(self.storage_key(session_id))
        return True

    def destroy_user_sessions(self, user_id: str) -> None:
        """End every session of a user (when the user is deleted)."""
        if isinstance(user_id, str):
            self._delete_user_sessions(user_id)

    # Session management: a user's own sessions, by handle.

    def list_sessions(self, user_id: str,
                      current: Optional[str] = None) -> List[dict]:
        """Return the live sessions of a user, oldest first: handle,
        creation and last activity times, and whether it is the one of
        the current request (session id ``current``)."""
        mine = self.storage_key(current) if plausible_session_id(
            current) else None
        sessions = []
        for key, created, seen in self._user_sessions(user_id):
            if not self.alive(key, (user_id, created, seen)):
                continue
            sessions.append({
                "id": session_handle(key), "current": key == mine,
                "created_at": _timestamp(created),
                "last_seen_at": _timestamp(seen or created)})
        sessions.sort(key=lambda item: item["created_at"] or "")
        return sessions

    def end_session(self, user_id: str, handle: str) -> bool:
        """End the user's session listed under a handle; False when the
        user has no such session (any text: compared as UTF-8 bytes,
        since compare_digest refuses non-ASCII strings)."""
        wanted = handle.encode("utf-8", "surrogatepass")
        for key, _created, _seen in self._user_sessions(user_id):
            if secrets.compare_digest(session_handle(key).encode(), wanted):
                self._delete_session(key)
                return True
        return False

    def end_other_sessions(self, user_id: str,
                           keep: Optional[str] = None) -> int:
        """End every session of a user but the one of id ``keep``;
        return how many ended ("log out everywhere else")."""
        mine = self.storage_key(keep) if plausible_session_id(
            keep) else None
        ended = 0
        for key, _created, _seen in self._user_sessions(user_id):
            if key != mine:
                self._delete_session(key)
                ended += 1
        return ended

    def purge_expired(self) -> int:
        """Delete every expired or idle session; return how many went."""
        purged = 0
        for key, record in list(self._all_sessions()):
            if self.expired(record[1]) or self.idle(record[2] or record[1]):
                self._delete_session(key)
                purged += 1
        return purged

    def _purge_now_and_then(self) -> None:
        """Purge expired sessions at most every PURGE_EVERY seconds of a
        process (they would otherwise only accumulate)."""
        if self.session_duration <= 0 and self.idle_timeout <= 0:
            return
        now = time.monotonic()
        if now - self._last_purge >= PURGE_EVERY:
            self._last_purge = now
            self.purge_expired()

    # The store: a dict of storage key -> user id in process memory, or
    # a session dictionary when times are kept (SessionExpAuth, and any
    # session with a lifetime or idle timeout).

    def _keeps_times(self) -> bool:
        """Tell whether sessions are stored with their times."""
        return self.session_duration > 0 or self.idle_timeout > 0

    def _save_session(self, session_id: str, user_id: str) -> None:
        """Store a new session."""
        if not self._keeps_times():
            self.user_id_by_session_id[session_id] = user_id
            return
        self.user_id_by_session_id[session_id] = {
            "user_id": user_id, "created_at": self.clock()}

    def _load_session(self, session_id: str) -> Optional[Record]:
        """Return (user id, created_at, last seen) of a stored session."""
        return _record(self.user_id_by_session_id.get(session_id))

    def _touch_session(self, session_id: str, now: datetime) -> None:
        """Record a request seen with the session."""
        session = self.user_id_by_session_id.get(session_id)
        if isinstance(session, dict):
            session["last_seen"] = now

    def _delete_session(self, session_id: str) -> None:
        """Remove a stored session."""
        self.user_id_by_session_id.pop(session_id, None)

    def _delete_user_sessions(self, user_id: str) -> None:
        """Remove every stored session of a user."""
        for key, _created, _seen in self._user_sessions(user_id):
            self.user_id_by_session_id.pop(key, None)

    def _user_sessions(self, user_id: str) -> List[Listed]:
        """Return (storage key, created_at, last seen) of each stored
        session of a user."""
        return [(key, record[1], record[2])
                for key, record in self._all_sessions()
                if record[0] == user_id]

    def _all_sessions(self) -> List[Tuple[str, Record]]:
        """Return (storage key, record) of every stored session."""
        found = []
        for key, value in list(self.user_id_by_session_id.items()):
            record = _record(value)
            if record is not None:
                found.append((key, record))
        return found


def _record(value: object) -> Optional[Record]:
    """Read a memory store's value: a user id, or a session dictionary."""
    if isinstance(value, str):
        return value, None, None
    if isinstance(value, dict) and isinstance(value.get("user_id"), str):
        return (value["user_id"], value.get("created_at"),
                value.get("last_seen"))
    return None


def _timestamp(moment: Optional[datetime]) -> Optional[str]:
    """Return a time as ISO 8601 UTC text (None stays None)."""
    if moment is None:
        return None
    return as_utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")

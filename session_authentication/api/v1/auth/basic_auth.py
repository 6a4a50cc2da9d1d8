#!/usr/bin/env python3
"""HTTP Basic authentication, with a cache of verified credentials.

A bcrypt check per request would cap the API at a few requests per
second per core, so a credential that bcrypt accepted is remembered in
process memory under an HMAC of (user id, password) with a per-process
random key, together with the password hash it was checked against. The
next request with the same credentials is accepted only while the user's
stored hash is still that one: changing the password invalidates it.
"""
import base64
import binascii
import hashlib
import hmac
import os
import threading
import time
from collections import OrderedDict
from typing import Optional, Tuple

from flask import Request

from api.v1.auth.auth import Auth
from models.user import User, burn_password_check


class VerifiedCredentials:
    """A bounded, expiring, thread-safe memory of accepted credentials."""

    def __init__(self, size: int = 10000, ttl: float = 300.0) -> None:
        """Keep at most size entries, each for ttl seconds."""
        self._key = os.urandom(32)
        self._size = size
        self._ttl = ttl
        self._entries: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def digest(self, user_id: str, password: str) -> bytes:
        """Return the keyed digest that stands for a user's password."""
        message = "{}\x00{}".format(user_id, password).encode(
            "utf-8", "surrogatepass")
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def accepts(self, digest: bytes, password_hash: str) -> bool:
        """Tell whether this digest was verified against this very hash."""
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None:
                return False
            stored_hash, expires = entry
            if expires < time.monotonic() or stored_hash != password_hash:
                del self._entries[digest]
                return False
            self._entries.move_to_end(digest)
            return True

    def remember(self, digest: bytes, password_hash: str) -> None:
        """Record that bcrypt accepted this digest for this hash."""
        with self._lock:
            self._entries[digest] = (password_hash,
                                     time.monotonic() + self._ttl)
            self._entries.move_to_end(digest)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)


class BasicAuth(Auth):
    """Authenticates each request by its Basic Authorization header."""

    def __init__(self, session_name: Optional[str] = None) -> None:
        """Set up the mechanism and its verified-credentials cache."""
        super().__init__(session_name)
        self.verified = VerifiedCredentials()

    def extract_base64_authorization_header(
            self, authorization_header: str) -> Optional[str]:
        """Return what follows "Basic " in the header, or None."""
        if not isinstance(authorization_header, str):
            return None
        if not authorization_header.startswith("Basic "):
            return None
        return authorization_header[len("Basic "):]

    def decode_base64_authorization_header(
            self, base64_authorization_header: str) -> Optional[str]:
        """Return the UTF-8 text the Base64 value encodes, or None."""
        if not isinstance(base64_authorization_header, str):
            return None
        try:
            raw = base64.b64decode(base64_authorization_header,
                                   validate=True)
            return raw.decode("utf-8")
        except (binascii.Error, ValueError, UnicodeDecodeError):
            return None

    def extract_user_credentials(
            self, decoded_base64_authorization_header: str
    ) -> Tuple[Optional[str], Optional[str]]:
        """Split "email:password" at the first colon, else (None, None)."""
        decoded = decoded_base64_authorization_header
        if not isinstance(decoded, str) or ":" not in decoded:
            return None, None
        email, password = decoded.split(":", 1)
        return email, password

    def user_object_from_credentials(
            self, user_email: str, user_pwd: str) -> Optional[User]:
        """Return the User with this email and password, or None."""
        return self._verify(user_email, user_pwd, None)

    def _verify(self, email: str, pwd: str,
                address: Optional[str]) -> Optional[User]:
        """Check credentials; from a client address (an HTTP request),
        a check that needs bcrypt is throttled first (429 when it must
        wait) and a failure is counted."""
        if not isinstance(email, str) or not isinstance(pwd, str):
            return None
        user = User.find_by_email(email)
        if user is not None and user.password is not None:
            digest = self.verified.digest(user.id, pwd)
            if self.verified.accepts(digest, user.password):
                return user
        failures = None
        if address is not None:
            failures = self.throttle_check(email, address)
        if user is None or user.password is None:
            burn_password_check(pwd)
            user = None
        elif not user.is_valid_password(pwd):
            user = None
        if user is None:
            if address is not None:
                self.throttle_failed(email, address)
            return None
        if address is not None:
            self.throttle_succeeded(email, address, failures)
        user.rehash_password(pwd)
        self.verified.remember(digest, user.password)
        return user

    def current_user(self, request: Optional[Request] = None
                     ) -> Optional[User]:
        """Return the User the request's Basic credentials identify."""
        header = self.authorization_header(request)
        encoded = self.extract_base64_authorization_header(header)
        decoded = self.decode_base64_authorization_header(encoded)
        email, password = self.extract_user_credentials(decoded)
        address = None
        if request is not None and self.throttle is not None:
            address = request.remote_addr or "-"
        return self._verify(email, password, address)

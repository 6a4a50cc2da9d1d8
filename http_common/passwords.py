#!/usr/bin/env python3
"""Password hashes of both auth apps: bcrypt of a keyed pre-hash.

bcrypt reads at most 72 bytes, and 64 characters of many scripts take
more (64 x "é" is 128 bytes). A stored hash of the current format is
``$bcrypt-sha256$v1$`` + bcrypt(Base64(HMAC-SHA256(password, key=salt))),
so every character counts and nothing is cut silently; keying the
pre-hash by the bcrypt salt means a leaked unsalted SHA-256 of the
password does not help an attacker. Older plain bcrypt hashes (up to 72
bytes) still verify and ``needs_rehash`` says they should be replaced at
the next successful login, as it does for a hash of another cost than
the configured one. Used by the users API (session_authentication/
models/user.py) and the auth service (user_authentication_service/
auth.py).
"""
import base64
import hashlib
import hmac

import bcrypt

PREFIX = "$bcrypt-sha256$v1$"
MAX_PASSWORD_CHARS = 1024


def _prehash(password: str, salt: bytes) -> bytes:
    """Return the Base64 HMAC-SHA256 of a password keyed by its salt."""
    digest = hmac.new(salt, password.encode("utf-8", "surrogatepass"),
                      hashlib.sha256).digest()
    return base64.b64encode(digest)


def hash_password(password: str, rounds: int) -> str:
    """Return the stored form of a password at a bcrypt cost."""
    salt = bcrypt.gensalt(rounds)
    return PREFIX + bcrypt.hashpw(_prehash(password, salt), salt).decode()


def check_password(password: str, stored: str) -> bool:
    """Tell whether a password matches a stored hash (never raises)."""
    try:
        if len(password) > MAX_PASSWORD_CHARS:
            return False
        if stored.startswith(PREFIX):
            raw = stored[len(PREFIX):].encode()
            return bcrypt.checkpw(_prehash(password, raw[:29]), raw)
        plain = password.encode("utf-8", "surrogatepass")
        return len(plain) <= 72 and bcrypt.checkpw(plain, stored.encode())
    except (ValueError, TypeError, UnicodeError):
        return False


def cost_of(stored: object) -> int:
    """Return the bcrypt cost of a stored hash (0 when unreadable)."""
    if not isinstance(stored, str):
        return 0
    body = stored[len(PREFIX):] if stored.startswith(PREFIX) else stored
    parts = body.split("$")
    try:
        return int(parts[2])
    except (IndexError, ValueError):
        return 0


def needs_rehash(stored: str, rounds: int) -> bool:
    """Tell whether a hash is of the older format or of another cost."""
    return not stored.startswith(PREFIX) or cost_of(stored) != rounds

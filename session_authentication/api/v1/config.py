#!/usr/bin/env python3
"""Settings of the users API, read from the environment at app creation.

Layers: defaults, then environment variables, then the overrides given to
``create_app`` (same names as the variables).
"""
import os
import re
from dataclasses import dataclass
from typing import Mapping, Optional

DEFAULT_SESSION_NAME = "_my_session_id"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
# A cookie name is an RFC 6265 token: no separators, spaces or controls.
COOKIE_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


class ConfigError(Exception):
    """Raised for a setting the API cannot start with."""


def parse_session_duration(value: Optional[str]) -> int:
    """Read SESSION_DURATION in seconds: 0 (never expire) when unset or
    not an integer; 0 or less means no expiry."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def env_session_duration() -> int:
    """Return SESSION_DURATION from the environment (see above)."""
    return parse_session_duration(os.environ.get("SESSION_DURATION"))


def env_session_name() -> str:
    """Return the session cookie's name: SESSION_NAME or the default."""
    return os.environ.get("SESSION_NAME") or DEFAULT_SESSION_NAME


def env_redis_url() -> str:
    """Return REDIS_URL or the default local Redis."""
    return os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL


def _flag(value: Optional[str]) -> bool:
    """Read a yes/no environment value."""
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Settings:
    """Everything the API reads from its environment."""

    auth_type: Optional[str]
    session_name: str
    session_duration: int
    database_url: Optional[str]
    redis_url: str
    cookie_secure: bool
    login_rate_limit: str
    rate_limit_storage: str
    max_content_length: int

    @classmethod
    def load(cls, overrides: Optional[Mapping] = None) -> "Settings":
        """Read the settings from the environment, then the overrides."""
        env = dict(os.environ)
        env.update({key: str(value) for key, value in
                    (overrides or {}).items() if value is not None})
        try:
            max_length = int(env.get("MAX_CONTENT_LENGTH", 65536))
        except ValueError:
            raise ConfigError("MAX_CONTENT_LENGTH must be an integer")
        session_name = env.get("SESSION_NAME") or DEFAULT_SESSION_NAME
        if not COOKIE_NAME.fullmatch(session_name):
            raise ConfigError("SESSION_NAME {!r} is not a valid cookie name "
                              "(letters, digits and !#$%&'*+-.^_`|~ only)"
                              .format(session_name))
        return cls(
            auth_type=env.get("AUTH_TYPE") or None,
            session_name=session_name,
            session_duration=parse_session_duration(
                env.get("SESSION_DURATION")),
            database_url=env.get("DATABASE_URL") or None,
            redis_url=env.get("REDIS_URL") or DEFAULT_REDIS_URL,
            cookie_secure=_flag(env.get("SESSION_COOKIE_SECURE")),
            login_rate_limit=env.get("LOGIN_RATE_LIMIT",
                                     "30/minute;300/hour"),
            rate_limit_storage=env.get("RATELIMIT_STORAGE_URI",
                                       "memory://"),
            max_content_length=max_length,
        )

#!/usr/bin/env python3
"""Settings of the users API, read from the environment at app creation.

Layers: defaults, then environment variables, then the overrides given to
``create_app`` (same names as the variables).
"""
import os
from dataclasses import dataclass
from typing import Mapping, Optional

from api.v1.auth.session_exp_auth import parse_session_duration


class ConfigError(Exception):
    """Raised for a setting the API cannot start with."""


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
        return cls(
            auth_type=env.get("AUTH_TYPE") or None,
            session_name=env.get("SESSION_NAME") or "_my_session_id",
            session_duration=parse_session_duration(
                env.get("SESSION_DURATION")),
            database_url=env.get("DATABASE_URL") or None,
            redis_url=env.get("REDIS_URL") or "redis://127.0.0.1:6379/0",
            cookie_secure=_flag(env.get("SESSION_COOKIE_SECURE")),
            login_rate_limit=env.get("LOGIN_RATE_LIMIT",
                                     "30/minute;300/hour"),
            rate_limit_storage=env.get("RATELIMIT_STORAGE_URI",
                                       "memory://"),
            max_content_length=max_length,
        )

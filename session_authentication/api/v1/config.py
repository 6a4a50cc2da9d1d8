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
PROFILES = ("seed", "production")
# Defaults of the production profile (seconds): sessions are finite.
PRODUCTION_SESSION_DURATION = 8 * 3600
PRODUCTION_IDLE_TIMEOUT = 30 * 60
PRODUCTION_MIN_PASSWORD = 8
MIN_PRODUCTION_ROUNDS = 10
HOST_PREFIX = "__Host-"
SAMESITE_VALUES = {"lax": "Lax", "strict": "Strict"}
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


def _flag(value: Optional[str], default: bool = False) -> bool:
    """Read a yes/no environment value (default when unset or empty)."""
    text = (value or "").strip().lower()
    if not text:
        return default
    return text in ("1", "true", "yes", "on")


def _seconds(env: Mapping, name: str, default: int) -> int:
    """Read a whole number of seconds (0 or more) or stop start-up."""
    text = (env.get(name) or "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise ConfigError("{}={!r} is not a whole number of seconds"
                          .format(name, text)) from None
    if value < 0:
        raise ConfigError("{}={!r} must be 0 or more".format(name, text))
    return value


def _profile(env: Mapping) -> str:
    """Read APP_PROFILE: seed (default) or production."""
    profile = (env.get("APP_PROFILE") or "seed").strip().lower()
    if profile not in PROFILES:
        raise ConfigError("APP_PROFILE={!r}: use seed or production"
                          .format(env.get("APP_PROFILE")))
    return profile


def _origins(text: Optional[str], default: tuple) -> tuple:
    """Read a comma-separated list of origins (scheme://host[:port])."""
    if text is None:
        return default
    origins = tuple(item.strip().rstrip("/") for item in text.split(",")
                    if item.strip())
    for origin in origins:
        if origin != "*" and not re.fullmatch(
                r"https?://[^/\s]+", origin):
            raise ConfigError("CORS_ORIGINS: {!r} is not an origin such as "
                              "https://app.example.com".format(origin))
    return origins


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
    profile: str = "seed"
    # Seconds without a request after which a session ends (0: never).
    session_idle_timeout: int = 0
    cookie_samesite: str = "Lax"
    # Session ids are stored as SHA-256 digests (the cookie holds the id).
    digest_session_ids: bool = False
    cors_origins: tuple = ("*",)
    # Anyone may create an account (POST /users without authentication).
    open_signup: bool = False
    min_password_length: int = 1
    account_failure_limit: int = 5

    @property
    def production(self) -> bool:
        """Tell whether the production profile is on."""
        return self.profile == "production"

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
        profile = _profile(env)
        production = profile == "production"
        secure = _flag(env.get("SESSION_COOKIE_SECURE"), production)
        if production:
            session_name = _production_cookie_name(env, session_name, secure)
            check_production_rounds(env)
        duration = parse_session_duration(env.get("SESSION_DURATION"))
        if production and duration <= 0:
            duration = PRODUCTION_SESSION_DURATION
        samesite = (env.get("SESSION_COOKIE_SAMESITE") or "Lax").strip()
        if samesite.lower() not in SAMESITE_VALUES:
            raise ConfigError("SESSION_COOKIE_SAMESITE={!r}: use Lax or "
                              "Strict".format(samesite))
        return cls(
            auth_type=env.get("AUTH_TYPE") or None,
            session_name=session_name,
            session_duration=duration,
            database_url=env.get("DATABASE_URL") or None,
            redis_url=env.get("REDIS_URL") or DEFAULT_REDIS_URL,
            cookie_secure=secure,
            login_rate_limit=env.get("LOGIN_RATE_LIMIT",
                                     "30/minute;300/hour"),
            rate_limit_storage=env.get("RATELIMIT_STORAGE_URI",
                                       "memory://"),
            max_content_length=max_length,
            profile=profile,
            session_idle_timeout=_seconds(
                env, "SESSION_IDLE_TIMEOUT",
                PRODUCTION_IDLE_TIMEOUT if production else 0),
            cookie_samesite=SAMESITE_VALUES[samesite.lower()],
            digest_session_ids=_flag(env.get("SESSION_ID_DIGESTS"),
                                     production),
            cors_origins=_origins(env.get("CORS_ORIGINS"),
                                  () if production else ("*",)),
            open_signup=_flag(env.get("OPEN_SIGNUP")),
            min_password_length=max(1, _seconds(
                env, "PASSWORD_MIN_LENGTH",
                PRODUCTION_MIN_PASSWORD if production else 1)),
            account_failure_limit=max(1, _seconds(
                env, "ACCOUNT_FAILURE_LIMIT", 5)),
        )


def _production_cookie_name(env: Mapping, name: str, secure: bool) -> str:
    """Return the session cookie's name in production: ``__Host-`` and
    SESSION_NAME, the prefix browsers honour only on Secure cookies set
    with Path=/ and no Domain (SESSION_COOKIE_HOST_PREFIX=0: none)."""
    if not secure or not _flag(env.get("SESSION_COOKIE_HOST_PREFIX"), True):
        return name
    return name if name.startswith(HOST_PREFIX) else HOST_PREFIX + name


def check_production_rounds(env: Mapping) -> None:
    """Refuse a bcrypt cost below 10 in production."""
    text = (env.get("BCRYPT_ROUNDS") or "").strip()
    if text and (not text.isdigit() or int(text) < MIN_PRODUCTION_ROUNDS):
        raise ConfigError("BCRYPT_ROUNDS={!r}: production needs a cost of "
                          "{} or more".format(text, MIN_PRODUCTION_ROUNDS))

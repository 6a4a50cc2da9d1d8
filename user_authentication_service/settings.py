#!/usr/bin/env python3
"""Settings of the auth service: a profile, then variables, then overrides.

``APP_PROFILE`` picks the defaults: ``seed`` (every transcript and rule
of the seed holds exactly) or ``production`` (the security bar of
docs/user-authentication-service.md). Each default can be overridden by
an environment variable of the same name, then by the ``config`` dict an
app or test passes. ``load`` checks every value and raises
``ConfigError`` (``ProfileError`` for an unknown profile) with one line.
"""
import os
import re
from typing import Any, Callable, Optional

from http_common.rate_limits import parse_limits

PROFILES = ("seed", "production")
COOKIE_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}")


class ConfigError(ValueError):
    """Raised for a setting that the service cannot start with."""


class ProfileError(ConfigError):
    """Raised for an APP_PROFILE that is neither seed nor production."""


def _int(low: int) -> Callable[[str, Any], int]:
    """Return a parser of integers of at least ``low``."""
    def parse(name: str, value: Any) -> int:
        """Parse one integer setting."""
        try:
            number = int(str(value).strip())
        except ValueError:
            number = low - 1
        if number < low:
            raise ConfigError("{} must be an integer of at least {}, not "
                              "{!r}".format(name, low, value))
        return number
    return parse


def _bool(name: str, value: Any) -> bool:
    """Parse a yes/no setting (1/true/yes/on, 0/false/no/off)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ConfigError("{} must be true or false, not {!r}".format(
        name, value))


def _choice(*allowed: str) -> Callable[[str, Any], str]:
    """Return a parser of one of a few words (case-insensitive)."""
    def parse(name: str, value: Any) -> str:
        """Parse one word setting."""
        for word in allowed:
            if str(value).strip().lower() == word.lower():
                return word
        raise ConfigError("{} must be one of {}, not {!r}".format(
            name, ", ".join(allowed), value))
    return parse


def _text(name: str, value: Any) -> Optional[str]:
    """Keep a text setting as it is (None stays None)."""
    return None if value is None else str(value)


def _cookie_name(name: str, value: Any) -> str:
    """Accept a cookie name made of RFC 6265 token characters only."""
    if not isinstance(value, str) or not COOKIE_NAME.fullmatch(value):
        raise ConfigError("{} must be 1-64 cookie token characters, not "
                          "{!r}".format(name, value))
    return value


def _origins(name: str, value: Any) -> tuple:
    """Parse a comma- or space-separated list of origins."""
    if isinstance(value, (list, tuple)):
        items = list(value)
    else:
        items = str(value or "").replace(",", " ").split()
    for origin in items:
        if not re.fullmatch(r"https?://[^/\s]+", origin):
            raise ConfigError("{} lists origins such as https://app.example"
                              ", not {!r}".format(name, origin))
    return tuple(origin.lower() for origin in items)


def _seconds(name: str, value: Any) -> float:
    """Parse a positive number of seconds."""
    try:
        number = float(str(value).strip())
    except ValueError:
        number = 0.0
    if not number > 0:
        raise ConfigError("{} must be a positive number of seconds, not "
                          "{!r}".format(name, value))
    return number


def _rate(name: str, value: Any) -> str:
    """Accept a rate limit such as '60/minute' (several with ';'), or
    'off' (http_common.rate_limits.parse_limits)."""
    try:
        parse_limits(str(value))
    except ValueError:
        raise ConfigError("{} is not a rate limit such as '60/minute': "
                          "{!r}".format(name, value)) from None
    return str(value)


# name: (seed default, production default, parser)
SETTINGS = {
    "DATABASE_URL": (None, None, _text),
    "BCRYPT_ROUNDS": (12, 12, _int(4)),
    "RESET_TOKEN_TTL": (900, 900, _int(1)),
    "RESET_TOKEN_DELIVERY": ("response", "email",
                             _choice("response", "email")),
    "MIN_PASSWORD_LENGTH": (1, 8, _int(1)),
    "TOKEN_FORMAT": ("uuid", "token", _choice("uuid", "token")),
    "SESSION_ID_DIGEST": (False, True, _bool),
    "SESSION_LIFETIME": (0, 43200, _int(0)),
    "SESSION_IDLE_TIMEOUT": (0, 1800, _int(0)),
    "SESSION_COOKIE_NAME": ("session_id", "__Host-session_id",
                            _cookie_name),
    "SESSION_COOKIE_SECURE": (False, True, _bool),
    "SESSION_COOKIE_SAMESITE": ("Lax", "Lax", _choice("Lax", "Strict")),
    "ALLOWED_ORIGINS": ((), (), _origins),
    "RATELIMIT_STORAGE_URI": ("memory://", "memory://", _text),
    "RATELIMIT_LOGIN": ("60/minute", "60/minute", _rate),
    "RATELIMIT_REGISTER": ("60/minute", "60/minute", _rate),
    "RATELIMIT_RESET": ("60/minute", "60/minute", _rate),
    "RATELIMIT_RESET_MAILS": ("3/15minutes", "3/15minutes", _rate),
    "LOGIN_BACKOFF_AFTER": (5, 5, _int(1)),
    "LOGIN_BACKOFF_MAX": (300, 300, _int(1)),
    "REDIS_URL": ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0",
                  _text),
    "SMTP_URL": ("smtp://127.0.0.1:25", "smtp://127.0.0.1:25", _text),
    "MAIL_FROM": ("no-reply@localhost", "no-reply@localhost", _text),
    "MAIL_ATTEMPTS": (20, 20, _int(1)),
    "MAIL_BACKOFF_MS": (1000, 1000, _int(1)),
    "OUTBOX_POLL_SECONDS": (1.0, 1.0, _seconds),
}
MIN_PRODUCTION_ROUNDS = 10


def profile_name(value: Optional[str] = None) -> str:
    """Return the profile named by ``value`` or APP_PROFILE (default seed)."""
    if value is None:
        value = os.environ.get("APP_PROFILE") or "seed"
    name = str(value).strip().lower()
    if name not in PROFILES:
        raise ProfileError("APP_PROFILE must be seed or production, not "
                           "{!r}".format(value))
    return name


def load(overrides: Optional[dict] = None) -> dict:
    """Return every setting: profile defaults, environment, overrides.

    Keys of ``overrides`` that are not settings (test hooks such as
    ``CLOCK``) are passed through unchecked.
    """
    overrides = dict(overrides or {})
    profile = profile_name(overrides.pop("APP_PROFILE", None))
    column = 0 if profile == "seed" else 1
    config: dict = {"APP_PROFILE": profile}
    for name, spec in SETTINGS.items():
        value = spec[column]
        raw = os.environ.get(name)
        if raw:
            value = raw
        if name in overrides:
            value = overrides.pop(name)
        config[name] = value if value is None else spec[2](name, value)
    config.update(overrides)
    _check(config)
    return config


def _check(config: dict) -> None:
    """Refuse combinations that cannot be safe or cannot work."""
    if not 4 <= config["BCRYPT_ROUNDS"] <= 31:
        raise ConfigError("BCRYPT_ROUNDS must be between 4 and 31")
    if config["APP_PROFILE"] == "production" \
            and config["BCRYPT_ROUNDS"] < MIN_PRODUCTION_ROUNDS:
        raise ConfigError("BCRYPT_ROUNDS must be at least {} in the "
                          "production profile, not {}".format(
                              MIN_PRODUCTION_ROUNDS,
                              config["BCRYPT_ROUNDS"]))
    if config["SESSION_COOKIE_NAME"].startswith("__Host-") \
            and not config["SESSION_COOKIE_SECURE"]:
        raise ConfigError("a __Host- cookie name needs "
                          "SESSION_COOKIE_SECURE=true")
    if config["SESSION_COOKIE_NAME"].startswith("__Secure-") \
            and not config["SESSION_COOKIE_SECURE"]:
        raise ConfigError("a __Secure- cookie name needs "
                          "SESSION_COOKIE_SECURE=true")

#!/usr/bin/env python3
"""The AUTH_TYPE table: each name maps to the class that implements it."""
import importlib
from typing import Optional

from api.v1.auth.auth import Auth
from api.v1.config import Settings

AUTH_TYPES = {
    "auth": "api.v1.auth.auth:Auth",
    "basic_auth": "api.v1.auth.basic_auth:BasicAuth",
    "session_auth": "api.v1.auth.session_auth:SessionAuth",
    "session_exp_auth": "api.v1.auth.session_exp_auth:SessionExpAuth",
    "session_db_auth": "api.v1.auth.session_db_auth:SessionDBAuth",
    "session_redis_auth":
        "api.v1.auth.session_redis_auth:SessionRedisAuth",
}

# Modes whose sessions live in one process's memory: one process only.
MEMORY_SESSION_TYPES = ("session_auth", "session_exp_auth")


class UnknownAuthType(ValueError):
    """Raised for an AUTH_TYPE that names no mechanism."""


def auth_class(name: str) -> type:
    """Return the class registered under an AUTH_TYPE name."""
    try:
        module_name, class_name = AUTH_TYPES[name].split(":")
    except KeyError:
        raise UnknownAuthType(
            "unknown AUTH_TYPE {!r}: use one of {}".format(
                name, ", ".join(sorted(AUTH_TYPES)))) from None
    return getattr(importlib.import_module(module_name), class_name)


def build_auth(settings: Settings) -> Optional[Auth]:
    """Build the mechanism that settings.auth_type names (None: no
    authentication); UnknownAuthType for a name not in the table."""
    if not settings.auth_type:
        return None
    return auth_class(settings.auth_type).from_settings(settings)

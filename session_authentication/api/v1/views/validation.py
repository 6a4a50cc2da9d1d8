#!/usr/bin/env python3
"""Checks of untrusted input, done once at the edge of the API."""
from typing import Optional

from flask import request

FIELD_LIMITS = {"email": 254, "password": 1024, "first_name": 255,
                "last_name": 255}


class BadField(ValueError):
    """Raised for a field of the wrong type, too long, or with a NUL."""


def json_object() -> Optional[dict]:
    """Return the request's JSON object body, or None when it is not one."""
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else None


def text_field(body: dict, name: str) -> Optional[str]:
    """Return a text field of a body (None when absent or null).

    Raises BadField when the value is not a string, holds a NUL byte or
    is longer than the field allows.
    """
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or "\x00" in value:
        raise BadField(name)
    if len(value) > FIELD_LIMITS.get(name, 255):
        raise BadField(name)
    return value

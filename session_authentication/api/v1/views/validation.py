#!/usr/bin/env python3
"""Checks of untrusted input, done once at the edge of the API."""
from typing import Optional

from flask import abort, request

from models.base import storable_text

FIELD_LIMITS = {"email": 254, "password": 1024, "first_name": 255,
                "last_name": 255}


class BadField(ValueError):
    """Raised for a field of the wrong type, too long, or not storable."""


def streamed_body_too_large() -> bool:
    """Tell whether a body sent without Content-Length exceeds the limit.

    Werkzeug silently cuts such a (chunked) body at MAX_CONTENT_LENGTH;
    one more byte waiting behind the cut means the body was too large.
    """
    limit = request.max_content_length
    if request.content_length is not None or limit is None:
        return False
    if len(request.get_data()) < limit:
        return False
    return bool(request.environ["wsgi.input"].read(1))


def json_object() -> Optional[dict]:
    """Return the request's JSON object body, or None when it is not one.

    Aborts with 413 when a streamed body exceeds MAX_CONTENT_LENGTH.
    """
    if streamed_body_too_large():
        abort(413)
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else None


def text_field(body: dict, name: str) -> Optional[str]:
    """Return a text field of a body (None when absent or null).

    Raises BadField when the value is not a string, holds a NUL byte or
    a lone surrogate, or is longer than the field allows.
    """
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not storable_text(value):
        raise BadField(name)
    if len(value) > FIELD_LIMITS.get(name, 255):
        raise BadField(name)
    return value


def text_fields(body: Optional[dict], *names: str) -> Optional[dict]:
    """Return the named text fields of a JSON object body by name, or
    None when the body is not an object or one field is bad."""
    if body is None:
        return None
    try:
        return {name: text_field(body, name) for name in names}
    except BadField:
        return None

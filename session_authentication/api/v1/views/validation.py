#!/usr/bin/env python3
"""Checks of untrusted input, done once at the edge of the API."""
import unicodedata
from typing import Optional

import email_validator
from flask import request

from http_common.bounded_request import (  # noqa: F401 (factory)
    BoundedRequest, refuse_oversized_body)
from models.base import storable_text

FIELD_LIMITS = {"email": 254, "password": 1024, "first_name": 255,
                "last_name": 255}
# Control (Cc) and format (Cf: zero-width characters and every bidi
# control, such as U+202E) characters, and line/paragraph separators.
INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})


class BadField(ValueError):
    """Raised for a field of the wrong type, too long, or not storable."""


# The API's request class: over-limit bodies raise 413, deep JSON is bad
# JSON (see http_common.bounded_request).
ApiRequest = BoundedRequest


def json_object() -> Optional[dict]:
    """Return the request's JSON object body, or None when it is not one."""
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


def email_problem(email: str, strict: bool = False) -> Optional[str]:
    """Return why an email cannot be stored, or None when it can.

    An email holding a control, zero-width, bidi or line-separator
    character is refused: it would show as another address than it is.
    ``strict`` (production) also asks email-validator whether it is a
    well-formed address with a domain name (no DNS lookup); the seed's
    own addresses, such as ``bob@dylan``, have none.
    """
    if any(unicodedata.category(char) in INVISIBLE_CATEGORIES
           for char in email):
        return "email must not contain control or invisible characters"
    if strict:
        try:
            email_validator.validate_email(email.strip(),
                                           check_deliverability=False)
        except email_validator.EmailNotValidError as err:
            return "email is not valid: {}".format(err)
    return None


def password_problem(password: str, min_length: int) -> Optional[str]:
    """Return why a new password is refused (too short), or None."""
    if len(password) < min_length:
        return "password must have at least {} characters".format(
            min_length)
    return None

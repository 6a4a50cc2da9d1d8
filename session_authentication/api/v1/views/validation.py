#!/usr/bin/env python3
"""Checks of untrusted input, done once at the edge of the API."""
import unicodedata
from typing import IO, Any, Optional

import email_validator
from flask import Request, request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge
from werkzeug.utils import cached_property
from werkzeug.wsgi import LimitedStream, get_input_stream

from models.base import storable_text

FIELD_LIMITS = {"email": 254, "password": 1024, "first_name": 255,
                "last_name": 255}
# Control (Cc) and format (Cf: zero-width characters and every bidi
# control, such as U+202E) characters, and line/paragraph separators.
INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})
# An over-limit body up to this size is read and dropped before the 413,
# so a client still sending it sees the answer rather than a reset.
DRAIN_LIMIT = 1024 * 1024


class BadField(ValueError):
    """Raised for a field of the wrong type, too long, or not storable."""


def drain(stream: IO[bytes], size: int) -> None:
    """Read and drop up to ``size`` bytes of a stream (less when the
    client stops sending or goes away)."""
    try:
        while size > 0:
            chunk = stream.read(min(size, 65536))
            if not chunk:
                return
            size -= len(chunk)
    except (OSError, ValueError):
        return


class StreamedBodyLimit(LimitedStream):
    """A body sent without Content-Length (chunked), read up to the limit.

    Werkzeug stops reading such a body at MAX_CONTENT_LENGTH and hands
    out the cut as if it were whole; here one more byte waiting behind
    the limit means the body was too large: 413.
    """

    def __init__(self, source: IO[bytes], limit: int) -> None:
        """Read at most ``limit`` bytes of the server's input stream."""
        super().__init__(source, limit, is_max=True)
        self.source = source

    def on_exhausted(self) -> None:
        """Raise 413 when the client sent more than the limit."""
        if self.source.read(1):
            drain(self.source, DRAIN_LIMIT)
            raise RequestEntityTooLarge()

    def readall(self) -> bytes:
        """Return the whole body; raise 413 when it runs past the limit."""
        data = super().readall()
        if self.is_exhausted:
            self.on_exhausted()
        return data


class ApiRequest(Request):
    """The API's request: over-limit bodies raise 413, deep JSON is bad JSON.

    Every way of reading the body (JSON, form, raw data) goes through
    ``stream``, so a body over MAX_CONTENT_LENGTH is refused whether it
    came with a Content-Length or chunked. JSON nested deeper than
    Python's recursion limit parses as malformed JSON (None when silent,
    else 400) instead of escaping as a RecursionError (500).
    """

    @cached_property
    def stream(self) -> IO[bytes]:
        """Return the body stream, bounded by MAX_CONTENT_LENGTH."""
        if self.shallow:
            raise RuntimeError("a shallow request cannot read its body")
        limit = self.max_content_length
        if limit is not None and self.content_length is None \
                and self.environ.get("wsgi.input_terminated"):
            return StreamedBodyLimit(self.environ["wsgi.input"], limit)
        return get_input_stream(self.environ, max_content_length=limit)

    def get_json(self, force: bool = False, silent: bool = False,
                 cache: bool = True) -> Any:
        """Parse the JSON body; nesting too deep to parse is bad JSON."""
        try:
            return super().get_json(force=force, silent=silent, cache=cache)
        except RecursionError:
            if silent:
                return None
            raise BadRequest("The JSON body is nested too deeply.")

    def refuse_oversized_body(self) -> None:
        """Raise 413 for a body over MAX_CONTENT_LENGTH, before any view.

        A Content-Length says so at once; a chunked body is read (up to
        the limit, kept for the view) to find out. An over-limit body of
        up to DRAIN_LIMIT bytes is read to its end first. A request
        without a body costs two lookups.
        """
        environ = self.environ
        if not environ.get("CONTENT_LENGTH") \
                and "HTTP_TRANSFER_ENCODING" not in environ:
            return
        limit = self.max_content_length
        if limit is None:
            return
        length = self.content_length
        if length is not None:
            if length > limit:
                if length <= DRAIN_LIMIT:
                    drain(environ["wsgi.input"], length)
                raise RequestEntityTooLarge()
        elif "HTTP_TRANSFER_ENCODING" in environ:
            self.get_data()


def refuse_oversized_body() -> None:
    """Answer 413 to a request whose body is over MAX_CONTENT_LENGTH."""
    # The request object itself: an attribute read through the proxy
    # costs more than the whole check.
    request._get_current_object().refuse_oversized_body()


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

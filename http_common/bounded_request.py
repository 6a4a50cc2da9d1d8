#!/usr/bin/env python3
"""The request class of the Flask apps: a bounded body, safe JSON.

``BoundedRequest`` (set as ``app.request_class``) refuses a body over
MAX_CONTENT_LENGTH with 413 whether it came with a Content-Length or
chunked, reads an over-limit body of up to DRAIN_LIMIT bytes to its end
first (so a client still sending sees the answer rather than a reset),
and parses JSON nested too deeply as malformed JSON instead of letting
a RecursionError escape (500). ``refuse_oversized_body`` is its check to
run before any view (``app.before_request``). Used by the users API and
the auth service.
"""
from typing import IO, Any

from flask import Request, request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge
from werkzeug.utils import cached_property
from werkzeug.wsgi import LimitedStream, get_input_stream

# An over-limit body up to this size is read and dropped before the 413,
# so a client still sending it sees the answer rather than a reset.
DRAIN_LIMIT = 1024 * 1024


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


class BoundedRequest(Request):
    """A request whose body is bounded: over-limit bodies raise 413, and
    JSON nested too deeply is bad JSON.

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
    """Answer 413 to a request whose body is over MAX_CONTENT_LENGTH
    (an ``app.before_request`` function; needs ``BoundedRequest``)."""
    # The request object itself: an attribute read through the proxy
    # costs more than the whole check.
    request._get_current_object().refuse_oversized_body()

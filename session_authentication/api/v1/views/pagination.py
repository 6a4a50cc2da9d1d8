#!/usr/bin/env python3
"""Keyset pagination of lists: the ``limit`` and ``after`` parameters,
opaque cursors and the RFC 8288 ``Link: <...>; rel="next"`` header.

A cursor is the Base64url text of the last listed object's
``created_at`` (to the microsecond) and ``id``: the list goes on after
that key, so pages stay right when objects are added or removed
between two requests (no row is listed twice or skipped because of an
offset that moved).
"""
import base64
import binascii
import re
from datetime import datetime, timezone
from typing import Mapping, Optional, Tuple
from urllib.parse import urlencode

from models.base import Base, storable_text

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
CURSOR_TIME = "%Y-%m-%dT%H:%M:%S.%f"
CURSOR_CHARS = re.compile(r"[A-Za-z0-9_-]{1,200}")
LIMIT_DIGITS = re.compile(r"[0-9]{1,7}")
BAD_LIMIT = "limit must be an integer from 1 to {}".format(MAX_LIMIT)
BAD_CURSOR = "after is not a cursor of this list"


class BadPage(ValueError):
    """Raised for a ``limit`` or ``after`` parameter that is not valid."""


def encode_cursor(obj: Base) -> str:
    """Return the cursor that lists what comes after this object."""
    stamp = obj.created_at.astimezone(timezone.utc).strftime(CURSOR_TIME)
    raw = "{}|{}".format(stamp, obj.id).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> Tuple[datetime, str]:
    """Return the (created_at, id) key of a cursor (BadPage if none)."""
    if not CURSOR_CHARS.fullmatch(cursor):
        raise BadPage(BAD_CURSOR)
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        stamp, _, obj_id = raw.decode("utf-8").partition("|")
        created = datetime.strptime(stamp, CURSOR_TIME)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadPage(BAD_CURSOR) from None
    if not obj_id or len(obj_id) > 36 or not storable_text(obj_id):
        raise BadPage(BAD_CURSOR)
    return created.replace(tzinfo=timezone.utc), obj_id


def page_request(args: Mapping, paged_by_default: bool
                 ) -> Optional[Tuple[int, Optional[Tuple[datetime, str]]]]:
    """Read ``limit`` and ``after`` from query arguments.

    Return None when the whole list is asked for (no parameter, and
    not ``paged_by_default``), else (limit, key after which to list);
    raise BadPage for a value that is not valid.
    """
    limit_text, cursor = args.get("limit"), args.get("after")
    if limit_text is None and cursor is None and not paged_by_default:
        return None
    limit = DEFAULT_LIMIT
    if limit_text is not None:
        if not LIMIT_DIGITS.fullmatch(limit_text):
            raise BadPage(BAD_LIMIT)
        limit = int(limit_text)
        if not 1 <= limit <= MAX_LIMIT:
            raise BadPage(BAD_LIMIT)
    after = None if cursor is None else decode_cursor(cursor)
    return limit, after


def next_link(path: str, limit: int, last: Base) -> str:
    """Return the ``Link`` header value of the page after ``last``."""
    query = urlencode({"limit": limit, "after": encode_cursor(last)})
    return '<{}?{}>; rel="next"'.format(path, query)

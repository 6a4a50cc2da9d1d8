#!/usr/bin/env python3
"""A per-process cache of PostgreSQL rows, invalidated by NOTIFY.

Triggers on the cached tables send ``pg_notify(<channel>,
'<table>:<id>')`` when a row is updated or deleted, and ``*`` when the
table is truncated (the users API's migration 0005, the auth service's
``create_schema``). Each process keeps
one connection that LISTENs on the channel; before every hit the
notifications already received are applied, without waiting (libpq's
``PQconsumeInput`` on the non-blocking socket, through psycopg's public
``pq`` wrapper). PostgreSQL sends them as the writing transaction
commits. Entries depend on the rows they were read from, as
``'<table>:<id>'`` tokens; see ``http_common/invalidated_cache.py`` for
what is guaranteed (an entry lives at most 1 s; a failed listener
empties the cache until a new one is up).
"""
import os
from typing import Any, List, Optional

from sqlalchemy import Engine

from http_common.invalidated_cache import InvalidatedCache


class NotifyCache(InvalidatedCache):
    """Rows read from PostgreSQL, kept until a trigger says they changed."""

    def __init__(self, engine: Engine, channel: str,
                 **options: float) -> None:
        """Listen with the connection settings of ``engine`` (psycopg 3),
        on ``channel``; nothing connects until the first read."""
        super().__init__(**options)
        self.engine = engine
        self.channel = channel
        self.failures = (engine.dialect.loaded_dbapi.Error, OSError)
        self.conn: Optional[Any] = None
        self.conn_pid = 0
        self.ended = False
        # Connections inherited over a fork: never closed by the child
        # (closing would end the parent's session on the shared socket).
        self.inherited: List[Any] = []

    def _listen(self) -> None:
        """Open the listening connection and LISTEN on the channel."""
        self._close()
        dialect = self.engine.dialect
        args, kwargs = dialect.create_connect_args(self.engine.url)
        conn = dialect.loaded_dbapi.connect(*args, **kwargs)
        self.conn, self.conn_pid = conn, os.getpid()
        self.ended = False
        # A server ending the session (shutdown, DROP DATABASE, an
        # admin's pg_terminate_backend) sends a FATAL message first and
        # closes the socket after: libpq hands the message to the notice
        # handler, and the cache stops trusting the listener at once.
        conn.add_notice_handler(self._notice)
        conn.autocommit = True
        conn.execute('LISTEN "{}"'.format(self.channel.replace('"', '')))

    def _poll(self) -> None:
        """Apply the notifications already received."""
        pgconn = self.conn.pgconn
        pgconn.consume_input()
        while True:
            note = pgconn.notifies()
            if note is None:
                break
            payload = note.extra.decode("utf-8", "replace")
            self._invalidate(None if payload == "*" else (payload,))
        if self.ended:
            raise OSError("the database ended the listening session")

    def _notice(self, diagnostic: Any) -> None:
        """Note a FATAL or PANIC message: the session is ending."""
        if diagnostic.severity_nonlocalized in ("FATAL", "PANIC"):
            self.ended = True

    def _close(self) -> None:
        """Close the listening connection (keep a parent's)."""
        conn, self.conn = self.conn, None
        if conn is None:
            return
        if self.conn_pid != os.getpid():
            self.inherited.append(conn)
            return
        try:
            conn.close()
        except self.failures:
            pass

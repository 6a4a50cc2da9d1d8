#!/usr/bin/env python3
"""A per-process cache of SQLite rows, emptied by any commit anywhere.

In WAL mode every commit, by any process, rewrites the header of the
WAL-index (the ``<database>-shm`` file that SQLite maps into the memory
of every connection) before the commit returns: its ``iChange`` counter,
``mxFrame`` and salts change. This format is shared by every SQLite
version that opens the same database at once, so it is fixed
(https://www.sqlite.org/walformat.html, "The WAL-Index Header"). The
cache maps that header read-only and compares it before every hit: a
memory read, no system call and no SQLite call, so no hand-over of the
GIL (in a one-process server with threads, each SQLite call of a request
hands the GIL to another thread, which costs more than the read itself).

Any change empties the whole cache (the header does not say what
changed), which is exact: a commit acknowledged to anyone changed the
header first, so no read after it can be served from before it. The
cache keeps one SQLite connection of its own open, so that the -shm
file it maps is never deleted under it (SQLite deletes it when the last
connection closes). See ``http_common/invalidated_cache.py`` for the
rest (a value read while the header moved is not cached; an entry lives
at most 1 s).
"""
import mmap
import os
import sqlite3
from typing import Any, List, Optional

from http_common.invalidated_cache import InvalidatedCache

# The two copies of the WAL-index header (48 bytes each), read together.
HEADER_BYTES = 96


class WalCache(InvalidatedCache):
    """Rows read from a SQLite file in WAL mode, kept until any commit."""

    failures = (sqlite3.Error, OSError, ValueError)

    def __init__(self, path: str, **options: float) -> None:
        """Watch the SQLite file at ``path``; nothing opens until the
        first read."""
        super().__init__(**options)
        self.path = path
        self.conn: Optional[sqlite3.Connection] = None
        self.map: Optional[mmap.mmap] = None
        self.header = b""
        self.opened_by = 0
        # Objects inherited over a fork: the child never closes them.
        self.inherited: List[Any] = []

    def _listen(self) -> None:
        """Open a connection (WAL mode) and map the -shm file's header."""
        self._close()
        self.opened_by = os.getpid()
        conn = sqlite3.connect(self.path, check_same_thread=False,
                               timeout=30)
        self.conn = conn
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        if str(mode).lower() != "wal":
            raise ValueError("{} is not in WAL mode".format(self.path))
        # A read makes SQLite set the WAL-index up if it was not.
        conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        with open(self.path + "-shm", "rb") as handle:
            self.map = mmap.mmap(handle.fileno(), HEADER_BYTES,
                                 access=mmap.ACCESS_READ)
        self.header = self.map[:HEADER_BYTES]

    def _poll(self) -> None:
        """Empty the cache when the header moved since the last look."""
        header = self.map[:HEADER_BYTES]
        if header != self.header:
            self.header = header
            self._invalidate(None)

    def _close(self) -> None:
        """Unmap and close (a parent's, after a fork, is left alone)."""
        conn, mapped, self.conn, self.map = self.conn, self.map, None, None
        if self.opened_by != os.getpid():
            self.inherited.extend(item for item in (conn, mapped) if item)
            return
        for item in (mapped, conn):
            if item is not None:
                try:
                    item.close()
                except self.failures:
                    pass

#!/usr/bin/env python3
"""Storage of the models: the process's database and its engines.

The database is the URL given to ``configure()`` (``create_app`` passes
its config's DATABASE_URL), else the ``DATABASE_URL`` environment
variable, else the SQLite file ``users_api.db`` in the working
directory. One app per process: configuring another URL moves every
model of the process to it. Each URL gets two engines: one for the ORM's
transactions, and an autocommit one for the one-statement reads of
``models.fast_read``. The schema belongs to Alembic (``models.schema``).
"""
import os
import threading
from typing import Optional

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from http_common.invalidated_cache import InvalidatedCache, row_cache_wanted
from http_common.pg_notify_cache import NotifyCache
from http_common.sqlite_file import create_private_file, sqlite_file_path
from http_common.sqlite_wal_cache import WalCache

DEFAULT_URL = "sqlite:///users_api.db"
# The channel of migration 0005's row-change notifications.
ROW_CHANNEL = "api_rows_changed"

_lock = threading.Lock()
_configured_url: Optional[str] = None
_engines: dict = {}


class StorageError(Exception):
    """Raised when the database cannot be reached or prepared."""


def normalize_url(url: str) -> str:
    """Map postgres:// and postgresql:// URLs to the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def configure(url: Optional[str]) -> None:
    """Use this database URL in this process (None: back to the env)."""
    global _configured_url
    _configured_url = normalize_url(url) if url else None


def database_url() -> str:
    """Return the URL in use: configured, else DATABASE_URL, else the
    default SQLite file."""
    return normalize_url(_configured_url or os.environ.get("DATABASE_URL")
                         or DEFAULT_URL)


def _sqlite_pragmas(dbapi_conn: object, _record: object) -> None:
    """Turn on WAL and a busy timeout on every SQLite connection."""
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _new_engine(url: str, **options: object) -> Engine:
    """Create an engine for the URL; parameters never reach logs."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url, hide_parameters=True,
            connect_args={"check_same_thread": False, "timeout": 30},
            **options)
        event.listen(engine, "connect", _sqlite_pragmas)
        create_private_file(engine)
        return engine
    return create_engine(url, hide_parameters=True, pool_size=10,
                         max_overflow=20, **options)


class Engines:
    """The engines of one database URL, its schema brought up to date."""

    def __init__(self, url: str) -> None:
        """Create both engines and upgrade the schema (StorageError)."""
        from models.schema import ensure_schema

        self.writer = _new_engine(url, pool_pre_ping=True)
        # Reads of one statement: autocommit (no BEGIN/ROLLBACK round
        # trips), nothing to reset when a connection goes back to the
        # pool; a dropped connection is retried once (models.fast_read).
        self.reader = _new_engine(url, isolation_level="AUTOCOMMIT",
                                  pool_reset_on_return=None)
        self.sessions = sessionmaker(self.writer, expire_on_commit=False)
        ensure_schema(self.writer)
        # The rows read on the hot path are cached per process until
        # the database says they may have changed: on PostgreSQL a
        # trigger's NOTIFY (migration 0005; a commit of this process
        # empties the cache at once, before its own notifications come
        # back), on SQLite the WAL-index header (any commit).
        self.row_cache: Optional[InvalidatedCache] = None
        if not row_cache_wanted():
            pass
        elif self.writer.dialect.name == "postgresql":
            self.row_cache = NotifyCache(self.reader, ROW_CHANNEL)
            event.listen(self.sessions, "after_commit",
                         lambda _session: self.row_cache.forget())
        elif sqlite_file_path(self.writer):
            # SQLite (WAL): every commit, ours too, moves the header of
            # the shared WAL-index the cache watches.
            self.row_cache = WalCache(sqlite_file_path(self.writer))

    def dispose(self) -> None:
        """Close every pooled connection of both engines."""
        if self.row_cache is not None:
            self.row_cache.close()
        self.writer.dispose()
        self.reader.dispose()


def engines() -> Engines:
    """Return the engines of the database in use (created on first use)."""
    url = database_url()
    found = _engines.get(url)
    if found is None:
        with _lock:
            found = _engines.get(url)
            if found is None:
                found = _engines[url] = Engines(url)
    return found


def engine() -> Engine:
    """Return the (transactional) engine of the database in use."""
    return engines().writer


def session() -> Session:
    """Open a new short-lived ORM session on the database in use."""
    return engines().sessions()


def reset() -> None:
    """Dispose every engine of this process (before a fork, in tests)."""
    with _lock:
        for item in _engines.values():
            item.dispose()
        _engines.clear()

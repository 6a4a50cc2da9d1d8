#!/usr/bin/env python3
"""Storage of the models: one SQLAlchemy engine per database URL.

The database is ``DATABASE_URL`` (default: the SQLite file ``users_api.db``
in the working directory), read when storage is first used or set by
``configure()`` when the app is created. The schema belongs to Alembic:
``ensure_schema()`` upgrades the database to the newest revision, which
creates the tables when they are missing and never drops anything.
"""
import contextlib
import fcntl
import os
import threading
from pathlib import Path
from typing import Any, List, Optional, Tuple

from sqlalchemy import Engine, create_engine, event, exc, inspect
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql import Select

DEFAULT_URL = "sqlite:///users_api.db"
MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
VERSION_TABLE = "api_alembic_version"

_lock = threading.Lock()
_configured_url: Optional[str] = None
_engines: dict = {}
_sessionmakers: dict = {}
_ready: set = set()


class StorageError(Exception):
    """Raised when the database cannot be reached or prepared."""


def normalize_url(url: str) -> str:
    """Map postgres:// and postgresql:// URLs to the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def database_url() -> str:
    """Return the URL in use: configured, else DATABASE_URL, else default."""
    url = _configured_url or os.environ.get("DATABASE_URL") or DEFAULT_URL
    return normalize_url(url)


def configure(url: Optional[str]) -> None:
    """Pin the database URL for this process (None: back to the env)."""
    global _configured_url
    _configured_url = normalize_url(url) if url else None


def _sqlite_pragmas(dbapi_conn: object, _record: object) -> None:
    """Turn on WAL, a busy timeout and foreign keys on SQLite connections."""
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _new_engine(url: str) -> Engine:
    """Create an engine suited to the database behind the URL."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10,
                         max_overflow=20)


def engine() -> Engine:
    """Return this process's engine for the current URL, schema ready."""
    url = database_url()
    found = _engines.get(url)
    if found is not None and url in _ready:
        return found
    with _lock:
        if url not in _engines:
            _engines[url] = _new_engine(url)
            _sessionmakers[url] = sessionmaker(
                _engines[url], expire_on_commit=False)
        if url not in _ready:
            ensure_schema(_engines[url])
            _ready.add(url)
    return _engines[url]


def session() -> Session:
    """Open a new short-lived ORM session on the current database."""
    engine()
    return _sessionmakers[database_url()]()


class Prepared:
    """A SELECT compiled once per engine and run on a pooled DBAPI
    connection: the read path of hot requests.

    The ORM (and even Core's execute) spend most of a one-row lookup in
    Python bookkeeping: building a session, a cache key, a result
    object. Here the statement is compiled once per engine; each run
    checks a connection out of the engine's pool, runs the SQL text,
    applies the column types' result processors (the same conversions
    Core applies, such as UTC datetimes) and gives the connection back.
    Driver errors are raised as SQLAlchemy's (OperationalError...), as
    Core would raise them, and a connection the database dropped is
    invalidated.
    """

    def __init__(self, statement: Select) -> None:
        """Keep the statement; it is compiled on first use per engine."""
        self.statement = statement
        self._compiled: Optional[Tuple[Engine, tuple]] = None

    def _compile(self, target: Engine) -> tuple:
        """Return (sql, parameter names or None, bind and result
        processors) of the statement for this engine's dialect."""
        compiled = self.statement.compile(dialect=target.dialect)
        names = list(compiled.positiontup) if compiled.positional else None
        binds = dict(compiled._bind_processors)
        types = [column[3] for column in compiled._result_columns]
        parts = (compiled.string, names, binds, types, {})
        self._compiled = (target, parts)
        return parts

    def _result_processors(self, target: Engine, parts: tuple,
                           description: Any) -> list:
        """Return one result processor (or None) per column, cached."""
        cache = parts[4]
        key = tuple(column[1] for column in description)
        found = cache.get(key)
        if found is None:
            found = [type_._cached_result_processor(target.dialect, code)
                     for type_, code in zip(parts[3], key)]
            cache[key] = found
        return found

    def rows(self, **params: Any) -> List[tuple]:
        """Run the SELECT with these parameters; return its rows."""
        target = engine()
        compiled = self._compiled
        parts = (compiled[1] if compiled is not None
                 and compiled[0] is target else self._compile(target))
        sql, names, binds = parts[0], parts[1], parts[2]
        for name, process in binds.items():
            if name in params:
                params[name] = process(params[name])
        args = params if names is None else tuple(params[n] for n in names)
        dbapi_error = target.dialect.loaded_dbapi.Error
        try:
            raw = target.raw_connection()
        except dbapi_error as err:
            raise exc.DBAPIError.instance(sql, args, err, dbapi_error,
                                          dialect=target.dialect) from err
        cursor = None
        try:
            cursor = raw.cursor()
            cursor.execute(sql, args)
            fetched = cursor.fetchall()
            processors = self._result_processors(target, parts,
                                                 cursor.description)
        except dbapi_error as err:
            if target.dialect.is_disconnect(err, raw.dbapi_connection,
                                            cursor):
                raw.invalidate(err)
            raise exc.DBAPIError.instance(sql, args, err, dbapi_error,
                                          dialect=target.dialect) from err
        finally:
            if cursor is not None:
                try:
                    cursor.close()
                except dbapi_error:
                    pass
            raw.close()
        if not any(processors):
            return fetched
        return [tuple(value if process is None else process(value)
                      for process, value in zip(processors, row))
                for row in fetched]

    def first(self, **params: Any) -> Optional[tuple]:
        """Run the SELECT; return its first row, or None."""
        found = self.rows(**params)
        return found[0] if found else None


def _alembic_config() -> object:
    """Build the Alembic configuration of this project's migrations."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("version_table", VERSION_TABLE)
    return config


def _head_revision(config: object) -> str:
    """Return the newest migration revision."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(config).get_current_head()


def _current_revision(conn: object) -> Optional[str]:
    """Return the revision the database is at, or None when unversioned."""
    if not inspect(conn).has_table(VERSION_TABLE):
        return None
    row = conn.exec_driver_sql(
        "SELECT version_num FROM {}".format(VERSION_TABLE)).first()
    return row[0] if row else None


@contextlib.contextmanager
def _sqlite_file_lock(target: Engine) -> object:
    """Hold an exclusive flock next to a SQLite file while migrating it.

    The lock is a separate ``<file>-migrate-lock`` file: closing any
    descriptor of the database file itself would drop the POSIX locks
    SQLite holds on it in this process, and another process could then
    take the database for unused and delete its WAL (losing commits).
    """
    path = target.url.database if target.dialect.name == "sqlite" else None
    if not path or path == ":memory:":
        yield
        return
    with open(path + "-migrate-lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_schema(target: Engine) -> None:
    """Upgrade the database to the head revision (creates missing tables).

    On PostgreSQL an advisory lock keeps concurrent starts from racing;
    on SQLite an exclusive lock on the database file does.
    """
    from alembic import command

    config = _alembic_config()
    head = _head_revision(config)
    try:
        with target.connect() as conn:
            if _current_revision(conn) == head:
                return
        with _sqlite_file_lock(target), target.begin() as conn:
            if target.dialect.name == "postgresql":
                conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7204501)")
            if _current_revision(conn) != head:
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
    except Exception as err:
        raise StorageError("cannot prepare the database {}: {}".format(
            target.url.render_as_string(hide_password=True),
            str(err).splitlines()[0] if str(err) else type(err).__name__))


def reset() -> None:
    """Dispose every engine of this process (after fork, or in tests)."""
    with _lock:
        for item in _engines.values():
            item.dispose()
        _engines.clear()
        _sessionmakers.clear()
        _ready.clear()

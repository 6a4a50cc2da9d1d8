#!/usr/bin/env python3
"""Storage of the models: one SQLAlchemy engine per database URL.

The database is ``DATABASE_URL`` (default: the SQLite file ``users_api.db``
in the working directory), read when storage is first used or set by
``configure()`` when the app is created. The schema belongs to Alembic:
``ensure_schema()`` upgrades the database to the newest revision, which
creates the tables when they are missing and never drops anything.
"""
import contextlib
import contextvars
import fcntl
import os
import threading
from pathlib import Path
from typing import Any, List, Optional

from sqlalchemy import Engine, create_engine, event, exc, inspect
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql import Select

DEFAULT_URL = "sqlite:///users_api.db"
MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
VERSION_TABLE = "api_alembic_version"

_lock = threading.Lock()
_configured_url: Optional[str] = None
# The database of the app serving the current request (see bind()).
_bound_url: contextvars.ContextVar = contextvars.ContextVar(
    "users_api_database_url", default=None)
_engines: dict = {}
_sessionmakers: dict = {}
_ready: set = set()
# SQLite connections kept out of the pool between reads (see Prepared).
_readers: dict = {}
MAX_KEPT_READERS = 4


class StorageError(Exception):
    """Raised when the database cannot be reached or prepared."""


def normalize_url(url: str) -> str:
    """Map postgres:// and postgresql:// URLs to the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def database_url() -> str:
    """Return the URL in use: bound to the current request's app, else
    configured, else DATABASE_URL, else the default."""
    url = (_bound_url.get() or _configured_url
           or os.environ.get("DATABASE_URL") or DEFAULT_URL)
    return normalize_url(url)


def bind(url: str) -> contextvars.Token:
    """Use this URL in the current context (while an app serves a
    request), whatever another app configured; undo with unbind()."""
    return _bound_url.set(normalize_url(url))


def unbind(token: contextvars.Token) -> None:
    """Undo a bind() made in the same context."""
    _bound_url.reset(token)


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
        self._plan: Optional[tuple] = None

    def _compile(self, target: Engine) -> tuple:
        """Return the plan of the statement for this engine: (engine,
        SQL text, parameter names or None, bind processors, DBAPI error
        class, result column types, result processors or None)."""
        compiled = self.statement.compile(dialect=target.dialect)
        names = tuple(compiled.positiontup) if compiled.positional \
            else None
        binds = tuple(compiled._bind_processors.items())
        types = tuple(column[3] for column in compiled._result_columns)
        plan = (target, compiled.string, names, binds,
                target.dialect.loaded_dbapi.Error, types, None)
        self._plan = plan
        return plan

    def _processors(self, plan: tuple, description: Any) -> tuple:
        """Return (index, processor) of the columns that need one.

        Worked out from the first result's column types, then kept.
        """
        target = plan[0]
        found = tuple(
            (index, processor) for index, processor in enumerate(
                type_._cached_result_processor(target.dialect, column[1])
                for type_, column in zip(plan[5], description))
            if processor is not None)
        self._plan = plan[:6] + (found,)
        return found

    def rows(self, **params: Any) -> List[tuple]:
        """Run the SELECT with these parameters; return its rows."""
        return self._run(params, True)

    def _run(self, params: dict, every: bool) -> List[tuple]:
        """Run the SELECT; return all its rows, or at most the first."""
        target = engine()
        plan = self._plan
        if plan is None or plan[0] is not target:
            plan = self._compile(target)
        names, binds = plan[2], plan[3]
        for name, process in binds:
            if name in params:
                params[name] = process(params[name])
        args = params if names is None else tuple(params[n] for n in names)
        for attempt in (1, 2):
            try:
                fetched, processors = self._fetch(
                    target, plan, args, every, fresh=attempt == 2)
                break
            except exc.DBAPIError as err:
                if attempt == 2 or not err.connection_invalidated:
                    raise
        if not processors or not fetched:
            return fetched
        converted = []
        for row in fetched:
            row = list(row)
            for index, process in processors:
                row[index] = process(row[index])
            converted.append(tuple(row))
        return converted

    def _fetch(self, target: Engine, plan: tuple, args: Any, every: bool,
               fresh: bool) -> tuple:
        """Run the SQL once on a reader; return (rows, processors).

        A connection the database dropped is invalidated and reported
        with ``connection_invalidated`` so that the caller retries once
        on a fresh one (a kept reader is not pinged before use).
        """
        sql, dbapi_error = plan[1], plan[4]
        try:
            raw = _take_reader(target, fresh)
        except dbapi_error as err:
            raise exc.DBAPIError.instance(sql, args, err, dbapi_error,
                                          dialect=target.dialect) from err
        healthy = False
        cursor = None
        try:
            cursor = raw.cursor()
            cursor.execute(sql, args)
            if every:
                fetched = cursor.fetchall()
            else:
                first = cursor.fetchone()
                fetched = [] if first is None else [first]
            processors = plan[6]
            if processors is None:
                processors = self._processors(plan, cursor.description)
            cursor.close()
            healthy = True
        except dbapi_error as err:
            dropped = target.dialect.is_disconnect(
                err, raw.dbapi_connection, cursor)
            if dropped:
                raw.invalidate(err)
            raise exc.DBAPIError.instance(
                sql, args, err, dbapi_error, dialect=target.dialect,
                connection_invalidated=dropped) from err
        finally:
            _give_back_reader(target, raw, healthy)
        return fetched, processors

    def first(self, **params: Any) -> Optional[tuple]:
        """Run the SELECT; return its first row, or None."""
        found = self._run(params, False)
        return found[0] if found else None


def _take_reader(target: Engine, fresh: bool = False) -> Any:
    """Return a DBAPI connection for one read (``fresh``: from the pool).

    A few connections stay checked out between reads (up to
    MAX_KEPT_READERS per process, far below the pool's size, so writers
    always find one): checking a connection in and out of the pool costs
    about as much as the query, and on PostgreSQL it also costs round
    trips (the pool's ping, BEGIN, the ROLLBACK at check-in). A kept
    reader never holds a transaction between reads: on SQLite a SELECT
    outside a transaction reads the latest committed data, and on
    PostgreSQL the reader runs in autocommit mode, each SELECT its own
    snapshot. So nothing it reads is stale.
    """
    kept = _readers.get(target)
    if kept and not fresh:
        try:
            return kept.pop()
        except IndexError:
            pass
    raw = target.raw_connection()
    if target.dialect.name == "postgresql":
        raw.dbapi_connection.rollback()
        raw.dbapi_connection.autocommit = True
    return raw


def _give_back_reader(target: Engine, raw: Any, healthy: bool) -> None:
    """Keep a healthy reader for the next read, else hand it back to the
    pool (out of autocommit, so the pool's sessions get transactions)."""
    postgres = target.dialect.name == "postgresql"
    if healthy and (postgres
                    or not raw.dbapi_connection.in_transaction):
        kept = _readers.get(target)
        if kept is None:
            with _lock:
                kept = _readers.setdefault(target, [])
        if len(kept) < MAX_KEPT_READERS:
            kept.append(raw)
            return
    if postgres and raw.dbapi_connection is not None:
        try:
            raw.dbapi_connection.autocommit = False
        except Exception:
            raw.invalidate()
    raw.close()


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
        for kept in _readers.values():
            while kept:
                kept.pop().close()
        _readers.clear()
        for item in _engines.values():
            item.dispose()
        _engines.clear()
        _sessionmakers.clear()
        _ready.clear()

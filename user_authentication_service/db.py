#!/usr/bin/env python3
"""DB module: the storage of the ``users`` table behind ``Auth``.

The database comes from ``DATABASE_URL`` (default: the SQLite file
``a.db`` in the working directory; ``postgresql://`` URLs use psycopg 3).
Nothing is dropped: missing tables and indexes are created on first use.
Every public method runs in its own short transaction on a thread-local
session (``scoped_session``), so one ``DB`` serves a threaded server, and
returns detached objects whose loaded attributes stay readable. On
PostgreSQL the one-statement look-ups, and the session write of a login,
run instead on a second, autocommit engine (no BEGIN/COMMIT round
trips), each thread keeping its connection of it checked out between
calls (as the users API's ``models/fast_read.py`` does).
"""
import contextlib
import logging
import os
import threading
from typing import Any, Iterator, Optional

from sqlalchemy import (BigInteger, Float, Integer, String, bindparam,
                        create_engine, delete, event, func, or_, select,
                        update)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.sql import Select
from sqlalchemy.exc import (DBAPIError, IntegrityError,
                            InvalidRequestError)
from sqlalchemy.orm import scoped_session, sessionmaker
from sqlalchemy.orm.exc import NoResultFound
from sqlalchemy.orm.session import Session

from http_common.invalidated_cache import InvalidatedCache, row_cache_wanted
from http_common.pg_notify_cache import NotifyCache
from http_common.sqlite_file import create_private_file, sqlite_file_path
from http_common.sqlite_wal_cache import WalCache
from records import OutboxMail, SessionTimes
from user import Base, User

DEFAULT_DATABASE_URL = "sqlite:///a.db"
COLUMNS = tuple(column.name for column in User.__table__.columns)
_FAILED = object()
# The cache key of the session look-up (joined with its timestamps);
# column-filter look-ups use tuples of (column, is None) pairs.
SESSION_SHAPE = ("session with times",)
START_SHAPE = ("session start",)
# Reader connections threads may keep between calls (see
# DB._connection); the reader's pool holds as many, and 10 more on demand.
HELD_CONNECTIONS = 8
# The look-up of every authenticated request (a user by session id) is
# cached per process: on PostgreSQL until a trigger's NOTIFY on this
# channel says the user's row changed (see create_schema), on SQLite
# until any commit (http_common/sqlite_wal_cache.py).
ROW_CHANNEL = "auth_users_changed"
SESSION_ID_SHAPE = (("session_id", False),)
ID_INDEX = COLUMNS.index("id")
NOTIFY_LOCK_ID = 7204502
NOTIFY_FUNCTION = """
CREATE OR REPLACE FUNCTION auth_users_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_LEVEL = 'STATEMENT' THEN
        PERFORM pg_notify('{channel}', '*');
        RETURN NULL;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        PERFORM pg_notify('{channel}', 'users:' || OLD.id);
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.session_id IS NOT NULL THEN
        IF TG_OP = 'INSERT' THEN
            PERFORM pg_notify('{channel}',
                              'users.session_id:' || NEW.session_id);
        ELSIF NEW.session_id IS DISTINCT FROM OLD.session_id THEN
            PERFORM pg_notify('{channel}',
                              'users.session_id:' || NEW.session_id);
        END IF;
    END IF;
    RETURN NULL;
END
$$
""".format(channel=ROW_CHANNEL)
NOTIFY_TRIGGERS = (
    "CREATE TRIGGER auth_users_changed AFTER INSERT OR UPDATE OR DELETE "
    "ON users FOR EACH ROW EXECUTE FUNCTION auth_users_changed()",
    "CREATE TRIGGER auth_users_truncated AFTER TRUNCATE ON users "
    "FOR EACH STATEMENT EXECUTE FUNCTION auth_users_changed()",
)
LOG = logging.getLogger(__name__)


def engine_url(url: str) -> str:
    """Map plain PostgreSQL URLs to the psycopg 3 driver SQLAlchemy needs."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """Put each new SQLite connection in WAL mode with safe syncing."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def build_engine(url: str, **options: Any) -> Engine:
    """Create the engine for a URL, tuned for many threads and processes;
    query parameters (session ids, tokens) never reach logs or errors."""
    url = engine_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, hide_parameters=True, connect_args={
            "check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        create_private_file(engine)
        return engine
    return create_engine(url, hide_parameters=True, pool_recycle=1800,
                         **options)


class _Held:
    """A pooled connection a thread keeps checked out between reads.

    Checking a connection out of the pool and back in costs about as
    much as a one-row query; a thread's ``_Held`` goes back to the pool
    when the thread ends (its thread-local storage is cleared).
    """

    def __init__(self, engine: Engine) -> None:
        """Check a connection out of the engine's pool for this thread."""
        self.engine, self.pid = engine, os.getpid()
        self.conn = engine.raw_connection()

    def __del__(self) -> None:
        """Give the connection back (not from a forked child)."""
        if self.pid == os.getpid():
            try:
                self.conn.close()
            except Exception:
                pass


class DB:
    """DB class: add, find and update users in the ``users`` table."""

    def __init__(self, database_url: Optional[str] = None) -> None:
        """Remember the database URL; connect lazily, on first use."""
        self._url = (database_url or os.environ.get("DATABASE_URL")
                     or DEFAULT_DATABASE_URL)
        self.__engine: Optional[Engine] = None
        self.__session: Optional[scoped_session] = None
        self.__lock = threading.Lock()
        self.__lookups: dict = {}
        self.__compiled: dict = {}
        self._reader: Optional[Engine] = None
        self._row_cache: Optional[InvalidatedCache] = None
        self.__held = threading.local()

    @property
    def _engine(self) -> Engine:
        """Return the engine, creating it and the schema on first use."""
        if self.__engine is None:
            with self.__lock:
                if self.__engine is None:
                    engine = build_engine(self._url)
                    create_schema(engine)
                    self.__session = scoped_session(sessionmaker(
                        bind=engine, expire_on_commit=False))
                    self._reader = engine
                    if engine.dialect.name != "sqlite":
                        # One-statement reads and writes: autocommit,
                        # nothing to roll back when a connection goes
                        # back to the pool.
                        self._reader = build_engine(
                            self._url, isolation_level="AUTOCOMMIT",
                            pool_reset_on_return=None,
                            pool_size=HELD_CONNECTIONS, max_overflow=10)
                    if not row_cache_wanted():
                        pass
                    elif engine.dialect.name == "postgresql":
                        self._row_cache = NotifyCache(self._reader,
                                                      ROW_CHANNEL)
                        # A commit of this process empties the cache at
                        # once, before its own notification comes back.
                        event.listen(self.__session.session_factory,
                                     "after_commit", self._forget_rows)
                    elif sqlite_file_path(engine):
                        # Any commit, ours too, moves the WAL-index
                        # header this cache watches.
                        self._row_cache = WalCache(
                            sqlite_file_path(engine))
                    self.__engine = engine
        return self.__engine

    @property
    def _session(self) -> Session:
        """Memoized session object: one per thread (a scoped session)."""
        self._engine
        return self.__session()

    def _done(self) -> None:
        """End this thread's session; returned objects become detached."""
        self.__session.remove()

    def ensure_schema(self) -> None:
        """Connect now and create missing tables (raises when unreachable)."""
        self._engine

    def add_user(self, email: str, hashed_password: str) -> User:
        """Save a new user and return it (IntegrityError on a taken email)."""
        if isinstance(hashed_password, bytes):
            hashed_password = hashed_password.decode("utf-8")
        user = User(email=email, hashed_password=hashed_password)
        with self._transaction() as session:
            session.add(user)
        return user

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Session]:
        """Yield this thread's session; commit when the block ends,
        roll back on any error, and end the session either way."""
        session = self._session
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            self._done()

    def find_user_by(self, **kwargs: Any) -> User:
        """Return the first user matching every keyword argument.

        Raises NoResultFound when none matches and InvalidRequestError
        when no argument or an unknown attribute is given.
        """
        _check_attributes(kwargs, InvalidRequestError)
        shape = tuple(sorted((name, kwargs[name] is None) for name in kwargs))
        statement = self._lookup(shape)
        params = {name: value for name, value in kwargs.items()
                  if value is not None}
        self._engine
        if self._row_cache is not None and shape == SESSION_ID_SHAPE \
                and isinstance(params["session_id"], str):
            row = self._cached_user_row(statement, params["session_id"])
        else:
            row = self._find_row(shape, statement, params)
        if row is None:
            raise NoResultFound("no user matches {}".format(sorted(kwargs)))
        return User(**dict(zip(COLUMNS, row)))

    def _find_row(self, shape: tuple, statement: Any, params: dict) -> Any:
        """Return the first row of a look-up, or None."""
        row = self._fetch_fast(shape, statement, params)
        if row is _FAILED:
            row = self._fetch_one(statement, params)
        return row

    def _cached_user_row(self, statement: Any, session_id: str) -> Any:
        """Return the user row of a session id: cached, or read (and
        cached until the row changes or another row takes that id)."""
        cache = self._row_cache
        hit, row, stamp = cache.lookup(session_id)
        if hit:
            return row
        row = self._find_row(SESSION_ID_SHAPE, statement,
                             {"session_id": session_id})
        if row is not None:
            row = tuple(row)
            cache.keep(session_id, row, (
                "users:{}".format(row[ID_INDEX]),
                "users.session_id:" + session_id), stamp)
        return row

    def _forget_rows(self, _session: Any = None) -> None:
        """Empty this process's row cache (after a write of its own)."""
        if self._row_cache is not None:
            self._row_cache.forget()

    def _fetch_fast(self, shape: tuple, statement: Any,
                    params: dict) -> Any:
        """Run a one-statement look-up (or write) straight on a DBAPI
        connection; return its first row.

        This is the hot path (every authenticated request): the SQL is
        compiled by SQLAlchemy once per shape for this dialect, then
        executed without the Connection/Result layers: on SQLite on a
        pooled connection of the engine, on server databases on a
        connection of the autocommit reader engine (no BEGIN/ROLLBACK
        round trips), usually the one this thread keeps (no pool
        check-out; see ``_connection``). Returns the
        row, None when nothing matched, or ``_FAILED`` when anything
        went wrong, in which case the caller asks again through
        SQLAlchemy, which raises the proper errors and recovers dropped
        connections.
        """
        compiled = self.__compiled.get(shape)
        if compiled is None:
            compiled = statement.compile(dialect=self._engine.dialect)
            self.__compiled[shape] = compiled
        values = compiled.construct_params(params)
        if compiled.positional:
            values = tuple(values[name] for name in compiled.positiontup)
        try:
            conn, held = self._connection()
        except Exception:
            return _FAILED
        try:
            cursor = conn.cursor()
            cursor.execute(compiled.string, values)
            row = cursor.fetchone()
            cursor.close()
        except Exception:
            conn.invalidate()
            if held:
                self.__held.item = None
            return _FAILED
        finally:
            if not held:
                conn.close()
        return row

    def _connection(self) -> tuple:
        """Return a DBAPI connection for a one-statement call, and
        whether this thread keeps it (else the caller gives it back).

        On server databases a thread keeps its connection of the
        autocommit reader engine while fewer than ``HELD_CONNECTIONS``
        are kept in the process (a server's usual 4-8 threads); threads
        beyond check one out per call, so however many threads a server
        starts, the pool never runs dry. SQLite: a pooled connection of
        the engine.
        """
        if self._reader is self._engine:
            return self._engine.raw_connection(), False
        item = getattr(self.__held, "item", None)
        if item is not None and item.pid == os.getpid():
            return item.conn, True
        if self._reader.pool.checkedout() < HELD_CONNECTIONS:
            item = self.__held.item = _Held(self._reader)
            return item.conn, True
        return self._reader.raw_connection(), False

    def _fetch_one(self, statement: Select, params: dict) -> Any:
        """Run a look-up through SQLAlchemy (errors wrapped as DBAPIError).

        A connection the database dropped (restart) invalidates the pool;
        the look-up is then retried once on a fresh connection.
        """
        for attempt in (1, 2):
            try:
                with self._reader.connect() as conn:
                    return conn.execute(statement, params).first()
            except DBAPIError as err:
                if attempt == 2 or not err.connection_invalidated:
                    raise
        return None

    def _lookup(self, shape: tuple) -> Select:
        """Return the cached SELECT for a set of (column, is None) filters.

        Look-ups are the hot path (every authenticated request), so they
        skip the ORM session: one Core statement, compiled once, and a
        detached ``User`` built from the row.
        """
        statement = self.__lookups.get(shape)
        if statement is None:
            table = User.__table__
            clauses = [table.c[name].is_(None) if is_none
                       else table.c[name] == bindparam(name)
                       for name, is_none in shape]
            statement = select(table).where(*clauses).limit(1)
            self.__lookups[shape] = statement
        return statement

    def update_user(self, user_id: int, **kwargs: Any) -> None:
        """Update a user's attributes (ValueError for unknown ones).

        Raises NoResultFound when no user has that id, and ValueError
        when the change would break a constraint (a taken email).
        """
        if not self.update_user_if(user_id, {}, **kwargs):
            raise NoResultFound("no user with id {}".format(user_id))

    def update_user_if(self, user_id: int, expected: dict,
                       **kwargs: Any) -> bool:
        """Update a user only while its columns hold the expected values.

        One atomic UPDATE (compare-and-set): returns False when no row
        with that id still matches ``expected``, so of two concurrent
        callers expecting the same value only one succeeds.
        """
        _check_attributes(kwargs, ValueError)
        if expected:
            _check_attributes(expected, ValueError)
        if "id" in kwargs:
            raise ValueError("the id of a user cannot change")
        statement = update(User).where(User.id == user_id)
        for name, value in expected.items():
            statement = statement.where(getattr(User, name) == value)
        try:
            with self._transaction() as session:
                result = session.execute(statement.values(**kwargs))
        except IntegrityError as err:
            raise ValueError("update breaks a constraint") from err
        return result.rowcount == 1

    def _write(self, *statements: Any) -> list:
        """Run statements in one transaction; return their row counts."""
        with self._transaction() as session:
            return [session.execute(statement).rowcount
                    for statement in statements]

    def start_session(self, user_id: int, key: str, now: float) -> bool:
        """Make ``key`` the user's session, started and seen ``now``.

        Sets ``users.session_id`` and the timestamps; returns False (and
        writes nothing) when no user has that id, e.g. one deleted since
        it was looked up. On PostgreSQL one autocommit statement (the
        UPDATE in a CTE feeding the timestamps' upsert); elsewhere one
        transaction of two.
        """
        self._engine
        if self._reader is not self._engine:
            params = {"user_id": user_id, "key": key, "now": now}
            statement = self._start_statement()
            try:
                row = self._find_row(START_SHAPE, statement, params)
            finally:
                self._forget_rows()
            return row is not None
        with self._transaction() as session:
            moved = session.execute(update(User).where(
                User.id == user_id).values(session_id=key)).rowcount
            if moved == 1:
                session.execute(self._upsert_times(user_id, now))
        return moved == 1

    def _start_statement(self) -> Any:
        """Return PostgreSQL's one-statement session start:
        ``WITH moved AS (UPDATE users ... WHERE id = :user_id RETURNING
        id) INSERT INTO auth_service_sessions SELECT ... FROM moved ON
        CONFLICT (user_id) DO UPDATE ... RETURNING user_id``."""
        statement = self.__lookups.get(START_SHAPE)
        if statement is None:
            users, times = User.__table__, SessionTimes.__table__
            moved = update(users).where(
                users.c.id == bindparam("user_id", type_=Integer)
            ).values(session_id=bindparam("key", type_=String)
                     ).returning(users.c.id).cte("moved")
            now = bindparam("now", type_=Float)
            insert = postgresql.insert(times).from_select(
                ["user_id", "created_at", "seen_at"],
                select(moved.c.id, now, now))
            statement = insert.on_conflict_do_update(
                index_elements=["user_id"],
                set_={"created_at": insert.excluded.created_at,
                      "seen_at": insert.excluded.seen_at}
            ).returning(times.c.user_id)
            self.__lookups[START_SHAPE] = statement
        return statement

    def _upsert_times(self, user_id: int, now: float) -> Any:
        """Return an INSERT ... ON CONFLICT UPDATE of a user's session
        times (one statement, so concurrent logins cannot collide)."""
        dialect = (postgresql if self._engine.dialect.name == "postgresql"
                   else sqlite)
        statement = dialect.insert(SessionTimes.__table__).values(
            user_id=user_id, created_at=now, seen_at=now)
        return statement.on_conflict_do_update(
            index_elements=["user_id"],
            set_={"created_at": now, "seen_at": now})

    def find_session(self, key: str) -> Optional[tuple]:
        """Return (user, created_at, seen_at) of a session key, or None.

        Times are None for a session started before they were kept.
        """
        statement = self.__lookups.get(SESSION_SHAPE)
        if statement is None:
            users, times = User.__table__, SessionTimes.__table__
            statement = select(users, times.c.created_at, times.c.seen_at
                               ).select_from(users.outerjoin(
                                   times, times.c.user_id == users.c.id)
                               ).where(users.c.session_id == bindparam(
                                   "key")).limit(1)
            self.__lookups[SESSION_SHAPE] = statement
        params = {"key": key}
        row = self._fetch_fast(SESSION_SHAPE, statement, params)
        if row is _FAILED:
            row = self._fetch_one(statement, params)
        if row is None:
            return None
        values = tuple(row)
        count = len(COLUMNS)
        return (User(**dict(zip(COLUMNS, values[:count]))),
                values[count], values[count + 1])

    def touch_session(self, user_id: int, key: str, now: float) -> None:
        """Record that the session ``key`` of a user was used ``now``."""
        times = SessionTimes.__table__
        still = select(User.id).where(User.id == user_id,
                                      User.session_id == key)
        self._write(update(times).where(
            times.c.user_id == user_id, times.c.user_id.in_(still)
        ).values(seen_at=now))

    def end_session(self, user_id: int, key: Optional[str] = None) -> bool:
        """End a user's session (only while it is ``key``, when given)."""
        statement = update(User).where(User.id == user_id)
        if key is not None:
            statement = statement.where(User.session_id == key)
        times = SessionTimes.__table__
        counts = self._write(statement.values(session_id=None),
                             delete(times).where(times.c.user_id == user_id))
        return counts[0] == 1

    def purge_sessions(self, started_before: Optional[float],
                       seen_before: Optional[float]) -> int:
        """End every session started or last seen before the given times.

        Returns how many sessions were ended.
        """
        times = SessionTimes.__table__
        tests = []
        if started_before is not None:
            tests.append(times.c.created_at < started_before)
        if seen_before is not None:
            tests.append(times.c.seen_at < seen_before)
        if not tests:
            return 0
        stale = select(times.c.user_id).where(or_(*tests))
        counts = self._write(
            update(User).where(User.id.in_(stale), User.session_id.is_not(
                None)).values(session_id=None),
            delete(times).where(or_(*tests)))
        return counts[0]

    def decoy_hash(self, number: int) -> Optional[str]:
        """Return the password hash of the user a number points at.

        The user is the first whose id is at least ``number`` modulo the
        highest id, plus one: the same number finds the same user while
        the table is unchanged. None when there is no user.
        """
        self._engine
        users = User.__table__
        top = select(func.max(users.c.id)).scalar_subquery()
        statement = select(users.c.hashed_password).where(
            users.c.id >= bindparam("number", type_=BigInteger) % top + 1
        ).order_by(users.c.id).limit(1)
        row = self._fetch_one(statement, {"number": number})
        return row[0] if row is not None else None

    def add_outbox(self, email: str, now: float) -> None:
        """Queue a password-reset e-mail in the outbox table."""
        self._write(OutboxMail.__table__.insert().values(
            email=email, created_at=now))

    def outbox(self, limit: int = 100) -> list:
        """Return up to ``limit`` waiting (id, email, created_at) rows,
        oldest first."""
        self._engine
        table = OutboxMail.__table__
        with self._reader.connect() as conn:
            return [tuple(row) for row in conn.execute(
                select(table.c.id, table.c.email, table.c.created_at)
                .order_by(table.c.id)
                .limit(limit))]

    def remove_outbox(self, mail_id: int) -> None:
        """Delete an outbox row once its job is on the queue."""
        table = OutboxMail.__table__
        self._write(delete(table).where(table.c.id == mail_id))


def _check_attributes(kwargs: dict, error: type) -> None:
    """Raise the given error unless every key is a column of ``users``."""
    if not kwargs:
        raise error("no user attribute given")
    columns = User.__table__.columns
    for name in kwargs:
        if name not in columns:
            raise error("users have no attribute {!r}".format(name))


def create_schema(engine: Engine) -> None:
    """Create missing tables and indexes; never drop or alter anything.

    Several processes may start on a fresh database at once; whoever
    loses the race to create a table just checks again.
    """
    for _attempt in range(3):
        try:
            Base.metadata.create_all(engine)
            for table in Base.metadata.sorted_tables:
                for index in table.indexes:
                    index.create(engine, checkfirst=True)
            if engine.dialect.name == "postgresql":
                create_notify_triggers(engine)
            return
        except DBAPIError as err:
            last = err
            LOG.debug("schema creation raced, retrying: %s", err)
    raise last


def create_notify_triggers(engine: Engine) -> None:
    """PostgreSQL: create the triggers that NOTIFY ROW_CHANNEL when a
    user row changes, unless they exist (under an advisory lock, so that
    processes starting at once do not race). Payloads: ``users:<id>``
    for a row updated or deleted, ``users.session_id:<id>`` for a
    session id a row takes, ``*`` for a TRUNCATE."""
    with engine.begin() as conn:
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock({})".format(
            NOTIFY_LOCK_ID))
        found = conn.exec_driver_sql(
            "SELECT 1 FROM pg_trigger WHERE tgname = 'auth_users_changed' "
            "AND tgrelid = 'users'::regclass").first()
        if found is None:
            conn.exec_driver_sql(NOTIFY_FUNCTION)
            for statement in NOTIFY_TRIGGERS:
                conn.exec_driver_sql(statement)

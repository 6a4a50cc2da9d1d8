#!/usr/bin/env python3
"""One-statement reads on the hot path (each authenticated request).

A one-row lookup through the ORM costs about 450 us here, through a Core
``connection.execute`` about 140 us, and the same SQL on a pooled DBAPI
connection about 40 us: the rest is bookkeeping (sessions, cache keys,
result objects). ``FastRead`` compiles its SELECT once per engine and
runs it on the calling thread's connection of the database's
autocommit reader engine (see models.db), through public SQLAlchemy API
only: ``compile()``, ``Engine.raw_connection()``, the column types'
``result_processor`` (values come back converted as Core does), and
``DBAPIError.instance`` for errors (a connection the database dropped
is invalidated and the read retried once on a new one).
"""
import os
import threading
from typing import Any, Callable, Iterable, List, Optional

from sqlalchemy import Engine, exc
from sqlalchemy.sql import Select

from models import db


class _Plan:
    """A statement compiled for one engine."""

    def __init__(self, statement: Select, engine: Engine) -> None:
        """Compile the statement and take its columns' types."""
        compiled = statement.compile(dialect=engine.dialect)
        self.engine = engine
        self.sql = compiled.string
        self.names = (tuple(compiled.positiontup) if compiled.positional
                      else None)
        self.types = [column.type.dialect_impl(engine.dialect)
                      for column in statement.selected_columns]
        self.processors: Optional[list] = None

    def convert(self, rows: List[tuple], description: Any) -> List[tuple]:
        """Apply the columns' result processors to the rows."""
        if self.processors is None:
            dialect = self.engine.dialect
            self.processors = [
                (index, processor) for index, processor in enumerate(
                    type_.result_processor(dialect, column[1])
                    for type_, column in zip(self.types, description))
                if processor is not None]
        if not self.processors:
            return rows
        converted = []
        for row in rows:
            row = list(row)
            for index, process in self.processors:
                row[index] = process(row[index])
            converted.append(tuple(row))
        return converted


class FastRead:
    """A SELECT with bound text parameters, run as one DBAPI call.

    With ``tokens`` (a function giving the ``'<table>:<id>'`` names of
    the rows a result row was read from), results that found rows are
    cached until one of those rows changes (PostgreSQL) or anything is
    committed (SQLite); see ``models.db``. Only for a SELECT whose
    parameters pick at most one row by a unique key: an insert can then
    never add to a cached result.
    """

    def __init__(self, statement: Select,
                 tokens: Optional[Callable[[tuple], Iterable[str]]] = None
                 ) -> None:
        """Keep the statement; it is compiled on first use per engine."""
        self.statement = statement
        self.tokens = tokens
        self._plan: Optional[_Plan] = None

    def rows(self, **params: str) -> List[tuple]:
        """Run the SELECT with these parameters; return its rows."""
        return self._run(params, every=True)

    def first(self, **params: str) -> Optional[tuple]:
        """Run the SELECT; return its first row, or None."""
        found = self._run(params, every=False)
        return found[0] if found else None

    def _run(self, params: dict, every: bool) -> List[tuple]:
        """Return the rows: cached, or read."""
        engines = db.engines()
        cache = engines.row_cache
        if cache is None or self.tokens is None:
            return self._read(engines.reader, params, every)
        key = (self, every, tuple(sorted(params.items())))
        hit, rows, stamp = cache.lookup(key)
        if hit:
            return list(rows)
        rows = self._read(engines.reader, params, every)
        if rows:
            cache.keep(key, tuple(rows), [token for row in rows
                                          for token in self.tokens(row)],
                       stamp)
        return rows

    def _read(self, reader: Engine, params: dict,
              every: bool) -> List[tuple]:
        """Run the SELECT, retrying once on a dropped connection."""
        plan = self._plan
        if plan is None or plan.engine is not reader:
            plan = self._plan = _Plan(self.statement, reader)
        args = (params if plan.names is None
                else tuple(params[name] for name in plan.names))
        try:
            return self._fetch(plan, args, every)
        except exc.DBAPIError as err:
            if not err.connection_invalidated:
                raise
        return self._fetch(plan, args, every)

    @staticmethod
    def _fetch(plan: _Plan, args: Any, every: bool) -> List[tuple]:
        """Run the SQL once on this thread's connection of the reader."""
        dbapi_error = plan.engine.dialect.loaded_dbapi.Error
        conn = cursor = None
        try:
            conn = _thread_connection(plan.engine)
            cursor = conn.cursor()
            cursor.execute(plan.sql, args)
            if every:
                fetched = cursor.fetchall()
            else:
                first = cursor.fetchone()
                fetched = [] if first is None else [first]
            rows = plan.convert(fetched, cursor.description)
            cursor.close()
            return rows
        except dbapi_error as err:
            dropped = conn is not None and plan.engine.dialect.is_disconnect(
                err, conn.dbapi_connection, cursor)
            if conn is not None:
                _drop_thread_connection(conn, err if dropped else None)
            raise exc.DBAPIError.instance(
                plan.sql, args, err, dbapi_error, hide_parameters=True,
                dialect=plan.engine.dialect,
                connection_invalidated=dropped) from err


_local = threading.local()


def _thread_connection(engine: Engine) -> Any:
    """Return this thread's connection of the engine's pool.

    Each thread keeps one connection checked out of the reader's pool
    between reads: a check-out and check-in cost about 25 us, as much as
    the query. It never holds a transaction between reads (autocommit,
    and every cursor is closed), so what it reads is never stale. A new
    engine (``models.db.reset``) or a new process (a fork) gets a new
    connection.
    """
    conn = getattr(_local, "conn", None)
    if conn is not None:
        if _local.engine is engine and _local.pid == os.getpid():
            return conn
        if _local.pid == os.getpid():
            conn.close()
    _local.conn = engine.raw_connection()
    _local.engine, _local.pid = engine, os.getpid()
    return _local.conn


def _drop_thread_connection(conn: Any, error: Optional[Exception]) -> None:
    """Give a failed connection back (invalidated if the database
    dropped it); the thread checks out another one on its next read."""
    if error is not None:
        conn.invalidate(error)
    conn.close()
    _local.conn = None

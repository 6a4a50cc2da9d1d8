#!/usr/bin/env python3
"""The schema of the users API, owned by Alembic (``migrations/``).

``ensure_schema()`` upgrades a database to the newest revision, which
creates missing tables and never drops anything. Concurrent starts are
serialised: a PostgreSQL advisory lock, or a lock file beside a SQLite
file.
"""
import contextlib
import fcntl
from pathlib import Path
from typing import Iterator, Optional

from sqlalchemy import Engine, inspect

from models.db import StorageError

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
VERSION_TABLE = "api_alembic_version"
ADVISORY_LOCK_ID = 7204501


def alembic_config() -> object:
    """Build the Alembic configuration of this project's migrations."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("version_table", VERSION_TABLE)
    return config


def head_revision(config: object) -> str:
    """Return the newest migration revision."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(config).get_current_head()


def current_revision(conn: object) -> Optional[str]:
    """Return the revision the database is at, or None when unversioned."""
    if not inspect(conn).has_table(VERSION_TABLE):
        return None
    row = conn.exec_driver_sql(
        "SELECT version_num FROM {}".format(VERSION_TABLE)).first()
    return row[0] if row else None


@contextlib.contextmanager
def sqlite_file_lock(target: Engine) -> Iterator[None]:
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
    """Upgrade the database to the head revision (StorageError if not)."""
    from alembic import command

    config = alembic_config()
    head = head_revision(config)
    try:
        with target.connect() as conn:
            if current_revision(conn) == head:
                return
        with sqlite_file_lock(target), target.begin() as conn:
            if target.dialect.name == "postgresql":
                conn.exec_driver_sql(
                    "SELECT pg_advisory_xact_lock({})".format(
                        ADVISORY_LOCK_ID))
            if current_revision(conn) != head:
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
    except Exception as err:
        raise StorageError("cannot prepare the database {}: {}".format(
            target.url.render_as_string(hide_password=True),
            str(err).splitlines()[0] if str(err) else type(err).__name__))

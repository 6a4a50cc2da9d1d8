#!/usr/bin/env python3
"""The Base of every stored object: an active record on SQLAlchemy 2.

``Base`` keeps the interface of the original file-backed models (build
from kwargs, ``save``, ``remove``, ``get``, ``search``, ``all``, ``count``,
``to_json``) but each object is a row in an indexed SQL table, written
and read in short transactions that are safe across threads and processes.
"""
import uuid
from datetime import datetime, timezone
from typing import Any, Iterable, List, Optional, Tuple, TypeVar

from sqlalchemy import (DateTime, String, bindparam, delete, func, select,
                        tuple_)
from sqlalchemy.orm import (DeclarativeBase, Mapped, mapped_column,
                            make_transient_to_detached)
from sqlalchemy.types import TypeDecorator

from models import db
from models.fast_read import FastRead

TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"
T = TypeVar("T", bound="Base")


def utcnow() -> datetime:
    """Return the current time as a timezone-aware UTC datetime."""
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """A DateTime column that always gives back aware UTC datetimes.

    PostgreSQL stores the offset; SQLite stores naive UTC text, so values
    are converted to UTC on the way in and marked UTC on the way out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Optional[datetime],
                           dialect: Any) -> Optional[datetime]:
        """Convert a datetime to UTC before it is stored."""
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        value = value.astimezone(timezone.utc)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Optional[datetime],
                             dialect: Any) -> Optional[datetime]:
        """Return a stored datetime as an aware UTC datetime."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def storable_text(value: str) -> bool:
    """Tell whether a string can be stored as text by every database.

    PostgreSQL refuses NUL characters, and no driver can encode lone
    surrogates (as a JSON "\\ud800" escape gives) in UTF-8.
    """
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_timestamp(value: Any) -> Optional[datetime]:
    """Read a datetime given as a datetime or a TIMESTAMP_FORMAT string."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if isinstance(value, str):
        try:
            parsed = datetime.strptime(value, TIMESTAMP_FORMAT)
        except ValueError:
            return None
        return parsed.replace(tzinfo=timezone.utc)
    return None


class Model(DeclarativeBase):
    """The SQLAlchemy declarative root that holds the tables' metadata."""


class Base(Model):
    """A stored object with an id and creation and update times."""

    __abstract__ = True

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime,
                                                 nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime,
                                                 nullable=False)

    def __init__(self, *args: list, **kwargs: dict) -> None:
        """Build an object from keyword values, as read back from storage.

        ``id`` defaults to a new uuid4 string; ``created_at`` and
        ``updated_at`` to now, and accept datetimes or timestamp strings.
        """
        given_id = kwargs.get("id")
        self.id = given_id if isinstance(given_id, str) else str(
            uuid.uuid4())
        now = utcnow()
        self.created_at = parse_timestamp(kwargs.get("created_at")) or now
        self.updated_at = parse_timestamp(kwargs.get("updated_at")) or now

    def __eq__(self, other: object) -> bool:
        """Two objects are equal when of the same class with the same id."""
        if type(self) is not type(other):
            return False
        return self.id == other.id

    def __hash__(self) -> int:
        """Hash by class and id, consistently with equality."""
        return hash((type(self).__name__, self.id))

    @classmethod
    def _column_keys(cls) -> List[str]:
        """Return the attribute names of the class's columns."""
        keys = cls.__dict__.get("_column_keys_cache")
        if keys is None:
            keys = [attr.key for attr in cls.__mapper__.column_attrs]
            cls._column_keys_cache = keys
        return keys

    @classmethod
    def _row_keys(cls) -> List[str]:
        """Return the attribute names of the table's columns, in order.

        ``select(cls.__table__)`` rows carry the values in this order.
        """
        keys = cls.__dict__.get("_row_keys_cache")
        if keys is None:
            by_column = {attr.columns[0].key: attr.key
                         for attr in cls.__mapper__.column_attrs}
            keys = [by_column[column.key] for column in cls.__table__.c]
            cls._row_keys_cache = keys
        return keys

    @classmethod
    def from_row(cls: type[T], row: tuple) -> T:
        """Build a detached object from a ``select(cls.__table__)`` row.

        The object is what a closed ORM session would leave: every
        column loaded, no pending change, its identity known, so it can
        be changed and saved (an UPDATE) or removed like a loaded one.
        """
        obj = cls.__mapper__.class_manager.new_instance()
        values = obj.__dict__
        for key, value in zip(cls._row_keys(), row):
            values[key] = value
        make_transient_to_detached(obj)
        return obj

    @classmethod
    def _row_tokens(cls, row: tuple) -> Tuple[str]:
        """Name a ``select(cls.__table__)`` row for the row cache."""
        index = cls.__dict__.get("_id_index")
        if index is None:
            index = cls._id_index = cls._row_keys().index("id")
        return (cls.__tablename__ + ":" + row[index],)

    @classmethod
    def _prepared(cls, columns: tuple) -> FastRead:
        """Return the prepared SELECT of the rows whose given columns
        (attribute names) equal bound values, oldest first."""
        cache = cls.__dict__.get("_prepared_cache")
        if cache is None:
            cache = {}
            cls._prepared_cache = cache
        found = cache.get(columns)
        if found is None:
            table = cls.__table__
            attrs = cls.__mapper__.column_attrs
            query = select(table)
            for key in columns:
                query = query.where(attrs[key].columns[0] == bindparam(key))
            unique = any(attrs[key].columns[0].primary_key
                         or attrs[key].columns[0].unique
                         for key in columns)
            found = FastRead(query.order_by(table.c.created_at,
                                               table.c.id),
                             cls._row_tokens if unique else None)
            cache[columns] = found
        return found

    def to_json(self, for_serialization: bool = False) -> dict:
        """Return a dict of the public attributes, datetimes as strings.

        Names starting with ``_`` (such as the password hash) are left
        out unless ``for_serialization`` asks for the full record.
        """
        result = {}
        for key in self._column_keys():
            if key.startswith("_") and not for_serialization:
                continue
            value = getattr(self, key)
            if isinstance(value, datetime):
                value = value.strftime(TIMESTAMP_FORMAT)
            result[key] = value
        return result

    def save(self) -> None:
        """Store the object (insert or update) with updated_at set to now."""
        self.updated_at = utcnow()
        with db.session() as session:
            session.add(self)
            session.commit()

    def remove(self) -> None:
        """Delete the object's row from storage."""
        cls = type(self)
        with db.session() as session:
            session.execute(delete(cls).where(cls.id == self.id))
            session.commit()

    @classmethod
    def load_from_file(cls) -> None:
        """Load the stored objects of the class (the file store's API).

        Rows are read from the database when asked for, so there is
        nothing to load: objects another process saved are seen at once.
        """

    @classmethod
    def save_to_file(cls) -> None:
        """Write the objects of the class out (the file store's API).

        Every ``save()`` and ``remove()`` is committed when it returns,
        so there is nothing pending to write.
        """

    @classmethod
    def count(cls) -> int:
        """Return how many objects of this class are stored."""
        with db.session() as session:
            return session.scalar(select(func.count()).select_from(cls))

    @classmethod
    def all(cls: type[T]) -> Iterable[T]:
        """Return every stored object of this class, oldest first."""
        return cls.search()

    @classmethod
    def page(cls: type[T], limit: int,
             after: Optional[Tuple[datetime, str]] = None
             ) -> Tuple[List[T], bool]:
        """Return up to ``limit`` objects in (created_at, id) order,
        those after the ``(created_at, id)`` key ``after`` when given,
        and whether more objects follow.

        Keyset pagination: the database seeks the key in the
        (created_at, id) index, so a deep page costs what the first
        one does (no OFFSET that reads and drops the rows before it).
        """
        table = cls.__table__
        key = tuple_(table.c.created_at, table.c.id)
        query = select(table).order_by(table.c.created_at, table.c.id)
        if after is not None:
            query = query.where(key > tuple_(
                bindparam("after_created", after[0],
                          type_=table.c.created_at.type),
                bindparam("after_id", after[1], type_=table.c.id.type)))
        with db.session() as session:
            rows = session.execute(query.limit(limit + 1)).all()
        return [cls.from_row(row) for row in rows[:limit]], len(rows) > limit

    @classmethod
    def get(cls: type[T], id: str) -> Optional[T]:
        """Return the object with this id, or None when there is none."""
        if not isinstance(id, str) or not id or not storable_text(id):
            return None
        row = cls._prepared(("id",)).first(id=id)
        return None if row is None else cls.from_row(row)

    @classmethod
    def search(cls: type[T], attributes: Optional[dict] = None) -> List[T]:
        """Return the objects whose attributes equal all the given values.

        An empty dict matches every object; an attribute the class does
        not have, or a value no database can store, matches nothing.
        """
        attributes = attributes or {}
        keys = set(cls._column_keys())
        for key, value in attributes.items():
            if key not in keys:
                return []
            if isinstance(value, str) and not storable_text(value):
                return []
        if all(isinstance(value, str) for value in attributes.values()):
            return [cls.from_row(row) for row in cls._prepared(
                tuple(sorted(attributes))).rows(**attributes)]
        query = select(cls).filter_by(**attributes).order_by(
            cls.created_at, cls.id)
        with db.session() as session:
            return list(session.scalars(query))

#!/usr/bin/env python3
"""SQLite files readable by their owner only, for both apps' storage."""
import os
from typing import Optional

from sqlalchemy.engine import Engine


def sqlite_file_path(engine: Engine) -> Optional[str]:
    """Return the file of a SQLite engine; None for another database, an
    in-memory one or a ``file:`` URI."""
    if engine.dialect.name != "sqlite":
        return None
    path = engine.url.database
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    return path


def create_private_file(engine: Engine) -> None:
    """Create a missing SQLite file readable by its owner only (its WAL
    and shared-memory files take the same permissions)."""
    path = sqlite_file_path(engine)
    if path:
        try:
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        except OSError:
            pass  # SQLite reports it when it opens the file

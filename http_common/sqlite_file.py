#!/usr/bin/env python3
"""SQLite files readable by their owner only, for both apps' storage."""
import os

from sqlalchemy.engine import Engine


def create_private_file(engine: Engine) -> None:
    """Create a missing SQLite file readable by its owner only (its WAL
    and shared-memory files take the same permissions)."""
    path = engine.url.database
    if path and path != ":memory:" and not path.startswith("file:"):
        try:
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        except OSError:
            pass  # SQLite reports it when it opens the file

#!/usr/bin/env python3
"""Alembic environment of the users API: runs migrations online.

The app passes its open connection in ``config.attributes``; the alembic
command line gets one from DATABASE_URL (see models/db.py).
"""
import sys
from pathlib import Path

from alembic import context
from sqlalchemy import create_engine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from models.base import Model  # noqa: E402
from models.db import database_url  # noqa: E402
from models.schema import VERSION_TABLE  # noqa: E402

import models.user  # noqa: E402,F401
import models.user_session  # noqa: E402,F401


def run_migrations(connection: object) -> None:
    """Run the pending migrations on an open connection."""
    context.configure(connection=connection,
                      target_metadata=Model.metadata,
                      version_table=VERSION_TABLE,
                      render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    """Migrate the connection given by the app, or one from the env."""
    given = context.config.attributes.get("connection")
    if given is not None:
        run_migrations(given)
        return
    with create_engine(database_url()).begin() as connection:
        run_migrations(connection)


main()

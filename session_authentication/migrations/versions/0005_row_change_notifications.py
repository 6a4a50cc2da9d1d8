#!/usr/bin/env python3
"""PostgreSQL: NOTIFY every API process when a user or session row changes.

Each process keeps the rows it read on the hot path (a user by id or
e-mail, a session with its user) in a cache that these notifications
invalidate (``http_common/pg_notify_cache.py``). The payload names the
row, ``<table>:<id>``; ``*`` (a TRUNCATE) means every row. Inserts need
none: only rows that were found are cached. An update of a session's
``last_seen_at`` alone sends none: cached sessions are used only
without an idle timeout, where that column is not read. SQLite: nothing
(the cache is for PostgreSQL, whose round trips it saves).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

CHANNEL = "api_rows_changed"
FUNCTION = """
CREATE OR REPLACE FUNCTION api_rows_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_LEVEL = 'STATEMENT' THEN
        PERFORM pg_notify('{channel}', '*');
    ELSE
        PERFORM pg_notify('{channel}', TG_TABLE_NAME || ':' || OLD.id);
    END IF;
    RETURN NULL;
END
$$
""".format(channel=CHANNEL)
TRIGGERS = [
    ("api_users_changed", "AFTER UPDATE OR DELETE ON api_users "
     "FOR EACH ROW"),
    ("api_users_truncated", "AFTER TRUNCATE ON api_users "
     "FOR EACH STATEMENT"),
    ("api_user_sessions_deleted", "AFTER DELETE ON api_user_sessions "
     "FOR EACH ROW"),
    ("api_user_sessions_changed", "AFTER UPDATE ON api_user_sessions "
     "FOR EACH ROW WHEN ((OLD.id, OLD.user_id, OLD.session_id, "
     "OLD.created_at) IS DISTINCT FROM (NEW.id, NEW.user_id, "
     "NEW.session_id, NEW.created_at))"),
    ("api_user_sessions_truncated", "AFTER TRUNCATE ON api_user_sessions "
     "FOR EACH STATEMENT"),
]


def upgrade() -> None:
    """Create the function and the triggers (PostgreSQL only)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(FUNCTION)
    for name, when in TRIGGERS:
        op.execute("CREATE TRIGGER {} {} EXECUTE FUNCTION "
                   "api_rows_changed()".format(name, when))


def downgrade() -> None:
    """Drop the triggers and the function."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, when in TRIGGERS:
        table = when.split(" ON ")[1].split()[0]
        op.execute("DROP TRIGGER IF EXISTS {} ON {}".format(name, table))
    op.execute("DROP FUNCTION IF EXISTS api_rows_changed()")

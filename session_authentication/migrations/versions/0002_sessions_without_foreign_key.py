#!/usr/bin/env python3
"""Drop the foreign key of api_user_sessions.user_id.

The seed's ``UserSession`` takes any ``user_id`` string, and
``SessionDBAuth().create_session("abcde")`` returns a session id; the
key refused such rows. Deleting a user deletes its sessions explicitly.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

COLUMNS = ("id", "created_at", "updated_at", "user_id", "session_id")


def upgrade() -> None:
    """Recreate api_user_sessions without the foreign key, rows kept."""
    op.create_table(
        "api_user_sessions_new",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.String(36), nullable=False),
        sa.Column("session_id", sa.String(64), nullable=False),
    )
    op.execute("INSERT INTO api_user_sessions_new ({0}) SELECT {0} FROM "
               "api_user_sessions".format(", ".join(COLUMNS)))
    op.drop_table("api_user_sessions")
    op.rename_table("api_user_sessions_new", "api_user_sessions")
    op.create_index("ix_api_user_sessions_session_id", "api_user_sessions",
                    ["session_id"], unique=True)
    op.create_index("ix_api_user_sessions_user_id", "api_user_sessions",
                    ["user_id"])


def downgrade() -> None:
    """Nothing to undo by hand: the key is not put back (rows may
    name users that do not exist)."""

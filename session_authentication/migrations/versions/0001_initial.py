#!/usr/bin/env python3
"""Create the users and user sessions tables of the users API.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create api_users and api_user_sessions with their indexes."""
    op.create_table(
        "api_users",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("email", sa.String(254), nullable=True),
        sa.Column("password", sa.String(128), nullable=True),
        sa.Column("first_name", sa.String(255), nullable=True),
        sa.Column("last_name", sa.String(255), nullable=True),
    )
    op.create_index("ix_api_users_email", "api_users", ["email"],
                    unique=True)
    op.create_table(
        "api_user_sessions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.String(36),
                  sa.ForeignKey("api_users.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("session_id", sa.String(64), nullable=False),
    )
    op.create_index("ix_api_user_sessions_session_id", "api_user_sessions",
                    ["session_id"], unique=True)
    op.create_index("ix_api_user_sessions_user_id", "api_user_sessions",
                    ["user_id"])


def downgrade() -> None:
    """Drop both tables (only ever run by hand)."""
    op.drop_table("api_user_sessions")
    op.drop_table("api_users")

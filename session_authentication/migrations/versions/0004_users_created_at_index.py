#!/usr/bin/env python3
"""Index of api_users on (created_at, id): the key of the list's pages.

``GET /api/v1/users?limit=N&after=<cursor>`` reads the users after a
(created_at, id) pair in that order; without this index each page was
a scan and a sort of the whole table.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the index."""
    op.create_index("ix_api_users_created_at_id", "api_users",
                    ["created_at", "id"])


def downgrade() -> None:
    """Drop the index."""
    op.drop_index("ix_api_users_created_at_id", table_name="api_users")

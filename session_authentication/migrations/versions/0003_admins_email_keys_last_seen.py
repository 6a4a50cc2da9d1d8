#!/usr/bin/env python3
"""Admin flag and case-insensitive e-mail key of users; last activity
of sessions.

``api_users.is_admin`` (false for every existing user: make admins with
``bin/users admin EMAIL``); ``api_users.email_key``, the trimmed,
case-folded e-mail, unique, so that ``A@x.io`` and ``a@x.io`` are one
account (when existing users already differ only by case, the oldest
keeps the key and the others keep logging in by their exact e-mail);
``api_user_sessions.last_seen_at`` for the idle timeout.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def email_key(email: str) -> str:
    """Return the comparison key of an e-mail (as models.user does)."""
    return email.strip().casefold()


def upgrade() -> None:
    """Add the columns, fill the e-mail keys, index them."""
    op.add_column("api_users", sa.Column(
        "is_admin", sa.Boolean(), nullable=False,
        server_default=sa.false()))
    op.add_column("api_users", sa.Column("email_key", sa.String(254),
                                         nullable=True))
    op.add_column("api_user_sessions", sa.Column(
        "last_seen_at", sa.DateTime(timezone=True), nullable=True))
    users = sa.table("api_users", sa.column("id"), sa.column("email"),
                     sa.column("email_key"), sa.column("created_at"))
    connection = op.get_bind()
    taken = set()
    rows = connection.execute(
        sa.select(users.c.id, users.c.email)
        .where(users.c.email.is_not(None))
        .order_by(users.c.created_at, users.c.id)).all()
    for user_id, email in rows:
        key = email_key(email)
        if key in taken or len(key) > 254:
            continue
        taken.add(key)
        connection.execute(users.update().where(users.c.id == user_id)
                           .values(email_key=key))
    op.create_index("ix_api_users_email_key", "api_users", ["email_key"],
                    unique=True)


def downgrade() -> None:
    """Nothing to undo by hand: the columns stay (only ever run by
    hand, and older code ignores them)."""

"""sessions that end, user names compared as people read them, one scheduler at a time

Revision ID: 0011
Revises: 0009

- account.session_generation: every login session carries the account's generation;
  logout, deactivation and a password change raise it, which ends every earlier session.
- account.username_key: the user name NFKC-normalised and case-folded, unique, so two
  accounts cannot differ only by case or by a compatibility form.
- scheduler_lease: the leader lease; only the scheduler holding it runs jobs.
- scheduler_job_run: each job's due time, claimed once, so no job runs twice for it.
"""

from __future__ import annotations

import unicodedata

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0009"
branch_labels = None
depends_on = None


def _key(username: str) -> str:
    return unicodedata.normalize("NFKC", username).casefold()


def upgrade() -> None:
    with op.batch_alter_table("account") as batch:
        batch.add_column(sa.Column("session_generation", sa.Integer(), nullable=False,
                                   server_default="0"))
        batch.add_column(sa.Column("username_key", sa.String(length=160), nullable=True))
    conn = op.get_bind()
    taken: set[str] = set()
    for account_id, username in conn.execute(
            sa.text("SELECT id, username FROM account ORDER BY id")).all():
        key = _key(username)
        if key in taken:  # an older pair that differs only by case keeps both accounts
            key = f"{key}#{account_id}"
        taken.add(key)
        conn.execute(sa.text("UPDATE account SET username_key = :k WHERE id = :i"),
                     {"k": key, "i": account_id})
    with op.batch_alter_table("account") as batch:
        batch.alter_column("username_key", existing_type=sa.String(length=160), nullable=False)
        batch.create_unique_constraint("uq_account_username_key", ["username_key"])
    op.create_table(
        "scheduler_lease",
        sa.Column("name", sa.String(length=64), primary_key=True),
        sa.Column("holder", sa.String(length=200), nullable=True),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("renewed_at", sa.DateTime(), nullable=True),
    )
    op.create_table(
        "scheduler_job_run",
        sa.Column("job_id", sa.String(length=64), primary_key=True),
        sa.Column("due_at", sa.DateTime(), primary_key=True),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("claimed_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("scheduler_job_run")
    op.drop_table("scheduler_lease")
    with op.batch_alter_table("account") as batch:
        batch.drop_constraint("uq_account_username_key", type_="unique")
        batch.drop_column("username_key")
        batch.drop_column("session_generation")

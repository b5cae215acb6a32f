"""incremental recompute: what each run read up to, and the indexes that find what changed

Revision ID: 0008
Revises: 0007

A run records its scope (full or incremental), how many subjects it recomputed, and the
highest ids of the fact tables and the audit trail it saw (taken while it held the write
lock, so nothing below them can commit later). The next run starts from there. The
indexes serve the incremental run's questions: which records end or are repaired on the
days since the last run, and which subjects changed in the register.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

RUN_COLUMNS = ("max_record_id", "max_list_entry_id", "max_objection_id", "max_audit_id")


def upgrade() -> None:
    with op.batch_alter_table("run") as batch:
        batch.add_column(sa.Column("scope", sa.String(length=16), nullable=False,
                                   server_default="full"))
        batch.add_column(sa.Column("recomputed", sa.Integer(), nullable=False,
                                   server_default="0"))
        for name in RUN_COLUMNS:
            batch.add_column(sa.Column(name, sa.Integer(), nullable=True))
    op.create_index("ix_record_ends_on", "record", ["ends_on"])
    op.create_index("ix_record_repaired_on", "record", ["repaired_on"])
    op.create_index("ix_subject_updated_at", "subject", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_subject_updated_at", table_name="subject")
    op.drop_index("ix_record_repaired_on", table_name="record")
    op.drop_index("ix_record_ends_on", table_name="record")
    with op.batch_alter_table("run") as batch:
        for name in reversed(RUN_COLUMNS):
            batch.drop_column(name)
        batch.drop_column("recomputed")
        batch.drop_column("scope")

"""sealed facts: the Merkle log of every fact's content, and its root in each digest

Revision ID: 0012
Revises: 0014

`fact_seal` holds one leaf per fact written or changed (record, list entry, objection,
subject, consent change, rulebook and rulebook event), in the order of the audit chain;
each "facts.sealed" audit event holds the Merkle root of the seals it wrote. A digest now
also publishes the log's size and root. The facts already stored are sealed here, with
one audit event per batch, so that `audit verify` can check them from now on.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fact_seal",
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("fact_key", sa.String(length=64), nullable=False),
        sa.Column("leaf_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("position"),
    )
    op.create_index("ix_fact_seal_fact", "fact_seal", ["kind", "fact_key", "position"])
    with op.batch_alter_table("audit_digest") as batch:
        batch.add_column(sa.Column("log_size", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("log_root", sa.String(length=64), nullable=True))
    _seal_stored_facts()


def _seal_stored_facts() -> None:
    from sqlmodel import Session

    from app.services.audit import seals

    with Session(bind=op.get_bind()) as session:
        seals.seal_everything(session)
        session.flush()


def downgrade() -> None:
    with op.batch_alter_table("audit_digest") as batch:
        batch.drop_column("log_root")
        batch.drop_column("log_size")
    op.drop_index("ix_fact_seal_fact", table_name="fact_seal")
    op.drop_table("fact_seal")

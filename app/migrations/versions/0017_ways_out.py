"""a resident's ways out: applications for repair, objections to list entries

Revision ID: 0017
Revises: 0011

- repair_request: a subject's application to have a record marked repaired, decided by
  the recording department within the scheme's `repair.decide_within`.
- entry_objection: a subject's objection to a list entry, within the list's deadlines.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "repair_request",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("record_id", sa.Integer(), sa.ForeignKey("record.id"), nullable=False),
        sa.Column("subject_id", sa.String(length=18), sa.ForeignKey("subject.subject_id"),
                  nullable=False),
        sa.Column("department_code", sa.String(length=64), nullable=False),
        sa.Column("filed_on", sa.Date(), nullable=False),
        sa.Column("filed_at", sa.DateTime(), nullable=False),
        sa.Column("filed_by", sa.String(length=80), nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_on", sa.Date(), nullable=True),
        sa.Column("decided_by", sa.String(length=80), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
    )
    op.create_index("ix_repair_request_record_id", "repair_request", ["record_id"])
    op.create_index("ix_repair_request_subject_id", "repair_request", ["subject_id"])
    op.create_index("ix_repair_request_queue", "repair_request",
                    ["department_code", "status", "deadline"])
    op.create_table(
        "entry_objection",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("list_entry_id", sa.Integer(), sa.ForeignKey("list_entry.id"), nullable=False),
        sa.Column("subject_id", sa.String(length=18), sa.ForeignKey("subject.subject_id"),
                  nullable=False),
        sa.Column("list_code", sa.String(length=64), nullable=False),
        sa.Column("filed_on", sa.Date(), nullable=False),
        sa.Column("filed_at", sa.DateTime(), nullable=False),
        sa.Column("filed_by", sa.String(length=80), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=False),
        sa.Column("decided_on", sa.Date(), nullable=True),
        sa.Column("decided_by", sa.String(length=80), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
    )
    op.create_index("ix_entry_objection_list_entry_id", "entry_objection", ["list_entry_id"])
    op.create_index("ix_entry_objection_subject_id", "entry_objection", ["subject_id"])
    op.create_index("ix_entry_objection_queue", "entry_objection", ["decided_on", "deadline"])


def downgrade() -> None:
    op.drop_table("entry_objection")
    op.drop_table("repair_request")

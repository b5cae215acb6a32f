"""a subject's language: the one their notices are written in

Revision ID: 0014
Revises: 0013

Empty (NULL) until the register's `language` column or the resident's own choice sets it;
then the scheme's first language applies.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subject") as batch:
        batch.add_column(sa.Column("language", sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("subject") as batch:
        batch.drop_column("language")

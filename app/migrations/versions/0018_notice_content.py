"""a notice's structured content: its kind's values, rendered in the subject's language

Revision ID: 0018
Revises: 0015

`content` holds the values a notice's words are made of (JSON); `title` and `body` keep
the English text. Notices made before this revision have no content and read in English.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notice") as batch:
        batch.add_column(sa.Column("content", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notice") as batch:
        batch.drop_column("content")

"""the register's dated legal representative, and the reason for a consent change

Revision ID: 0013
Revises: 0017

`subject.legal_representative_since`: the day the register named the organisation's
current legal representative. Measures that reach legal representatives reach that person
only from this day (NULL: named before the register kept the date, as before).
`consent_change.reason`: why an admin changed a subject's consent for them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subject") as batch_op:
        batch_op.add_column(sa.Column("legal_representative_since", sa.Date(), nullable=True))
    with op.batch_alter_table("consent_change") as batch_op:
        batch_op.add_column(sa.Column("reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("consent_change") as batch_op:
        batch_op.drop_column("reason")
    with op.batch_alter_table("subject") as batch_op:
        batch_op.drop_column("legal_representative_since")

"""Merge the feature areas' migration branches into one head.

Revision ID: 0007
Revises: 0002, 0004, 0005, 0006_authors
"""

from __future__ import annotations

revision = "0007"
down_revision = ("0002", "0004", "0005", "0006_authors")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

"""Context source registrations, as their owners wrote them (validated), per tenant.

Revision ID: 0002_csources
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_csources"
down_revision = "0001"
branch_labels = ("csources",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "csource_registrations",
        sa.Column("tenant_id", sa.Integer, nullable=False),
        sa.Column("id", sa.Text, nullable=False),
        # The registration with its @context (names are compacted again on every read).
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("modified_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="csource_registrations_pk"),
    )


def downgrade() -> None:
    op.drop_table("csource_registrations")

"""City indicators: the answers people give to the national assessment's requirements.

Revision ID: 0003_indicators_answers
Revises: 0002_indicators
Create Date: 2026-12-03

* ``indicator_assessment_answers``: a requirement of an assessment methodology answered by a
  person (met or not), with its source, the source's date, who entered it and when, and a
  note. Append-only (triggers refuse updates and deletes): a correction is a newer row; the
  newest answer dated on or before a period's end is the one that period's assessment uses.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_indicators_answers"
down_revision = "0002_indicators"
branch_labels = None
depends_on = None

Key = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TABLE = "indicator_assessment_answers"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", Key, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.Text, nullable=False),
        sa.Column("methodology", sa.Text, nullable=False),
        sa.Column("requirement", sa.Text, nullable=False),
        sa.Column("met", sa.Integer, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("source_date", sa.Text, nullable=False),
        sa.Column("entered_by", sa.Text, nullable=False),
        sa.Column("entered_at", sa.BigInteger, nullable=False),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
    )
    op.create_index(f"{TABLE}_key", TABLE, ["tenant", "methodology", "requirement"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE} "
            "FOR EACH ROW EXECUTE FUNCTION indicator_append_only()"
        )
    else:
        for action in ("update", "delete"):
            op.execute(
                f"CREATE TRIGGER {TABLE}_no_{action} BEFORE {action.upper()} ON {TABLE} "
                f"BEGIN SELECT RAISE(ABORT, '{TABLE} is append-only'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER {TABLE}_append_only ON {TABLE}")
    op.drop_table(TABLE)

"""Programme monitor: append-only revisions, deliverable evaluations and flag explanations.

Revision ID: 0002_programme
Revises: 0001
Create Date: 2026-12-01

* ``programme_revisions``: every change of a programme (projects, contracts, payments,
  milestones, deliverables) as one row: its number ``seq`` in the programme (unique with it, so
  two writers cannot both append revision n), the operation, the object, the fields it sets
  (JSON text, money as strings), who, when, why and on which document. The current state is
  compiled from these rows (``qala.programme.revisions``).
* ``programme_evaluations``: each evaluation of a deliverable against the hub's data (expected,
  matching and reporting counts, the delivered share as exact decimal text, the evidence).
* ``programme_explanations``: auditors' explanations of flags, keyed by the flag's key.

All three are append-only: triggers refuse UPDATE and DELETE, as for the audit log.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_programme"
down_revision = "0001"
branch_labels = ("programme",)
depends_on = None

Key = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

TABLES = ("programme_revisions", "programme_evaluations", "programme_explanations")


def upgrade() -> None:
    op.create_table(
        "programme_revisions",
        sa.Column("id", Key, primary_key=True, autoincrement=True),
        sa.Column("programme", sa.Text, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("tenant", sa.Text),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("document", sa.Text),
        sa.Column("op", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("target", sa.Text, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.UniqueConstraint("programme", "seq", name="programme_revisions_seq"),
    )
    op.create_index(
        "programme_revisions_target", "programme_revisions", ["programme", "kind", "target"]
    )
    op.create_table(
        "programme_evaluations",
        sa.Column("id", Key, primary_key=True, autoincrement=True),
        sa.Column("programme", sa.Text, nullable=False),
        sa.Column("deliverable", sa.Text, nullable=False),
        sa.Column("project", sa.Text, nullable=False),
        sa.Column("tenant", sa.Text, nullable=False),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.Column("target", sa.BigInteger, nullable=False),
        sa.Column("matching", sa.BigInteger, nullable=False),
        sa.Column("reporting", sa.BigInteger, nullable=False),
        sa.Column("delivered_share", sa.Text, nullable=False),
        sa.Column("coverage_share", sa.Text),
        sa.Column("met", sa.SmallInteger, nullable=False),
        sa.Column("evidence", sa.Text, nullable=False),
    )
    op.create_index(
        "programme_evaluations_deliverable",
        "programme_evaluations",
        ["programme", "deliverable", "at"],
    )
    op.create_table(
        "programme_explanations",
        sa.Column("id", Key, primary_key=True, autoincrement=True),
        sa.Column("programme", sa.Text, nullable=False),
        sa.Column("flag", sa.Text, nullable=False),
        sa.Column("rule", sa.Text, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("document", sa.Text),
    )
    op.create_index("programme_explanations_flag", "programme_explanations", ["programme", "flag"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION programme_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$"
        )
        for table in TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION programme_append_only()"
            )
    else:
        for table in TABLES:
            for action in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
                )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
        op.execute("DROP FUNCTION programme_append_only()")
    for table in reversed(TABLES):
        op.drop_table(table)

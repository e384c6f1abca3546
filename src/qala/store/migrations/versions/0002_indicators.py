"""City indicators: computed values, reported values and targets.

Revision ID: 0002_indicators
Revises: 0001
Create Date: 2026-12-02

* ``indicator_values``: one row per (tenant, indicator, period, calculator, version): the value
  a calculator version gave (``kind`` measured or not-computable; ``value`` NULL when not
  computable, with ``reason``), its provenance and data quality (JSON text), the fingerprint
  of the inputs it was computed from (entity counts, newest observation, observation counts,
  statistics used) and when. Recomputing with the same version replaces that row; a new
  calculator version adds its own row, so a change of method never rewrites old values.
* ``indicator_reported``: values a person entered for what the hub cannot measure — value,
  unit, source, the source's date, who entered it and when. Append-only (triggers refuse
  updates and deletes): a correction is a newer row, and the newest row of an indicator and
  period is the one in force.
* ``indicator_targets``: a city's target for an indicator (value, the date it is due, the
  baseline), who set it and when; one per (tenant, indicator).

Times are microseconds since the epoch (UTC); periods are labels (``2026``, ``2026-Q1``,
``2026-03``) of the city's calendar.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_indicators"
down_revision = "0001"
branch_labels = ("indicators",)
depends_on = None

Key = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Double = sa.Float(precision=53)
APPEND_ONLY = ("indicator_reported",)


def upgrade() -> None:
    op.create_table(
        "indicator_values",
        sa.Column("id", Key, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.Text, nullable=False),
        sa.Column("indicator", sa.Text, nullable=False),
        sa.Column("period", sa.Text, nullable=False),
        sa.Column("calculator", sa.Text, nullable=False),
        sa.Column("version", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("value", Double),
        sa.Column("unit", sa.Text, nullable=False),
        sa.Column("flagged", sa.Integer, nullable=False, server_default="0"),
        sa.Column("reason", sa.Text),
        sa.Column("provenance", sa.Text, nullable=False),
        sa.Column("quality", sa.Text),
        sa.Column("fingerprint", sa.Text, nullable=False),
        sa.Column("computed_at", sa.BigInteger, nullable=False),
        sa.Column("computed_by", sa.Text, nullable=False),
        sa.UniqueConstraint(
            "tenant", "indicator", "period", "calculator", "version", name="indicator_values_key"
        ),
    )
    op.create_index("indicator_values_period", "indicator_values", ["tenant", "period"])
    op.create_table(
        "indicator_reported",
        sa.Column("id", Key, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.Text, nullable=False),
        sa.Column("indicator", sa.Text, nullable=False),
        sa.Column("period", sa.Text, nullable=False),
        sa.Column("value", Double, nullable=False),
        sa.Column("unit", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("source_date", sa.Text, nullable=False),
        sa.Column("entered_by", sa.Text, nullable=False),
        sa.Column("entered_at", sa.BigInteger, nullable=False),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
    )
    op.create_index(
        "indicator_reported_key", "indicator_reported", ["tenant", "indicator", "period"]
    )
    op.create_table(
        "indicator_targets",
        sa.Column("tenant", sa.Text, primary_key=True),
        sa.Column("indicator", sa.Text, primary_key=True),
        sa.Column("value", Double, nullable=False),
        sa.Column("due", sa.Text, nullable=False),
        sa.Column("baseline", Double),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("set_by", sa.Text, nullable=False),
        sa.Column("set_at", sa.BigInteger, nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION indicator_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$"
        )
        for table in APPEND_ONLY:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION indicator_append_only()"
            )
    else:
        for table in APPEND_ONLY:
            for action in ("update", "delete"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{action} BEFORE {action.upper()} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
                )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
        op.execute("DROP FUNCTION indicator_append_only()")
    for table in ("indicator_targets", "indicator_reported", "indicator_values"):
        op.drop_table(table)

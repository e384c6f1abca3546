"""NGSI-LD subscriptions: definitions with their delivery state, the notification outbox and
per-tenant version counters (cheap cache invalidation across server processes).

Revision ID: 0002_subscriptions
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_subscriptions"
down_revision = "0001"
branch_labels = ("subscriptions",)
depends_on = None

Key = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "subscriptions",
        sa.Column("tenant_id", sa.Integer, nullable=False),
        sa.Column("id", sa.Text, nullable=False),
        # The subscription as its owner wrote it (validated), with its @context.
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("modified_at", sa.BigInteger, nullable=False),
        # Copies of body members the delivery worker filters on (0/1, µs since the epoch).
        sa.Column("is_active", sa.Integer, nullable=False, server_default="1"),
        sa.Column("expires_at", sa.BigInteger),
        sa.Column("time_interval_us", sa.BigInteger),
        sa.Column("throttling_us", sa.BigInteger),
        sa.Column("next_periodic_at", sa.BigInteger),
        # Delivery state, written by the worker only.
        sa.Column("times_sent", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("times_failed", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("last_notification", sa.BigInteger),
        sa.Column("last_success", sa.BigInteger),
        sa.Column("last_failure", sa.BigInteger),
        sa.Column("last_failure_reason", sa.Text),
        sa.Column("consecutive_failures", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_send_at", sa.BigInteger),
        # Which server process delivers this subscription's notifications, until when.
        sa.Column("lease_owner", sa.Text),
        sa.Column("lease_until", sa.BigInteger),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="subscriptions_pk"),
    )
    op.create_table(
        "subscription_outbox",
        sa.Column("id", Key, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.Integer, nullable=False),
        sa.Column("subscription_id", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        # Ids are never reused (notification ids and ordering derive from them).
        sqlite_autoincrement=True,
    )
    op.create_index(
        "subscription_outbox_sub", "subscription_outbox", ["tenant_id", "subscription_id", "id"]
    )
    op.create_table(
        "subscription_versions",
        sa.Column("tenant_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("version", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("subscription_versions")
    op.drop_index("subscription_outbox_sub", table_name="subscription_outbox")
    op.drop_table("subscription_outbox")
    op.drop_table("subscriptions")

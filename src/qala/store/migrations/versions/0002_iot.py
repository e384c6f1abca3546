"""Device ingestion: IoT Agent service groups and devices, with their ingestion counters.

Revision ID: 0002_iot
Revises: 0001
Create Date: 2026-11-25

* ``iot_services``: service groups (``/iot/services``). An apikey belongs to one tenant; MQTT
  topics carry only the apikey, so it names the tenant. ``config`` keeps the rest of the
  group's provisioning document (JSON text). ``unknown_devices`` counts measures sent with the
  group's apikey for devices that are not provisioned.
* ``iot_devices``: devices (``/iot/devices``), unique per tenant and device id; ``apikey`` is
  the device's own or its group's. The ``err_*`` columns count rejected messages by kind; the
  counters are added to (never read-modify-written), so several processes may flush them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_iot"
down_revision = "0001"
branch_labels = ("iot",)
depends_on = None

Key = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

#: Kinds of rejected messages, one counter column each (``err_<kind>``).
ERROR_KINDS = (
    "invalid_json",
    "invalid_payload",
    "wrong_apikey",
    "type_mismatch",
    "unknown_attribute",
    "invalid_timestamp",
    "rejected",
)


def _counter(name: str) -> sa.Column:
    return sa.Column(name, sa.BigInteger, nullable=False, server_default="0")


def upgrade() -> None:
    op.create_table(
        "iot_services",
        sa.Column("id", Key, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.Text, nullable=False),
        sa.Column("apikey", sa.Text, nullable=False),
        sa.Column("resource", sa.Text, nullable=False),
        sa.Column("entity_type", sa.Text),
        sa.Column("config", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("modified_at", sa.BigInteger, nullable=False),
        _counter("unknown_devices"),
        sa.Column("last_error", sa.Text),
        sa.Column("last_error_at", sa.BigInteger),
        sa.UniqueConstraint("apikey", name="iot_services_apikey"),
    )
    op.create_index("iot_services_tenant", "iot_services", ["tenant"])
    op.create_table(
        "iot_devices",
        sa.Column("id", Key, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.Text, nullable=False),
        sa.Column("device_id", sa.Text, nullable=False),
        sa.Column("apikey", sa.Text, nullable=False),
        sa.Column("entity_name", sa.Text, nullable=False),
        sa.Column("entity_type", sa.Text, nullable=False),
        sa.Column("config", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("modified_at", sa.BigInteger, nullable=False),
        _counter("messages"),
        _counter("measures"),
        sa.Column("last_measure_at", sa.BigInteger),
        *[_counter(f"err_{kind}") for kind in ERROR_KINDS],
        sa.Column("last_error_kind", sa.Text),
        sa.Column("last_error", sa.Text),
        sa.Column("last_error_at", sa.BigInteger),
        sa.UniqueConstraint("tenant", "device_id", name="iot_devices_tenant_device"),
    )
    op.create_index("iot_devices_device", "iot_devices", ["device_id"])
    op.create_index("iot_devices_apikey", "iot_devices", ["apikey"])


def downgrade() -> None:
    op.drop_table("iot_devices")
    op.drop_table("iot_services")

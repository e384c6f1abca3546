"""Open311 back office: service requests, their history, mySociety updates, supporters.

Revision ID: 0002_open311
Revises: 0001
Create Date: 2026-11-27

* ``open311_counters``: the next request number of each tenant (one row per city, bumped in
  the transaction that files a request, so numbers are dense and never reused).
* ``open311_requests``: one row per request, ``(tenant, num)``; ``num`` is the public
  ``service_request_id``. ``token`` (unique) answers ``GET tokens/{token}``. ``personal``
  (JSON: names, email, phone, device and account ids) is for staff only; ``attributes``,
  ``extra`` and ``media_urls`` are JSON. ``status`` is open/closed, ``extended_status``
  mySociety's (IN_PROGRESS, FIXED…). Times are microseconds since the epoch (UTC).
* ``open311_events``: the history of each request — filed, status changes, notes,
  assignments, merges — with who and when; ``public`` marks what ``extensions=true`` shows.
  Append-only: triggers refuse updates and deletes.
* ``open311_updates``: mySociety's ``servicerequestupdates``, received (POST) and published
  (status changes made here); ``update_id`` is unique per tenant, so a repeated update is
  refused. ``uid`` identifies the row for the statements that must follow its insert.
  Append-only too.
* ``open311_supporters``: residents' "+1", once per request and supporter key (a keyed hash,
  no personal data in clear).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_open311"
down_revision = "0001"
branch_labels = ("open311",)
depends_on = None

Key = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Double = sa.Float(precision=53)
APPEND_ONLY = ("open311_events", "open311_updates")


def upgrade() -> None:
    op.create_table(
        "open311_counters",
        sa.Column("tenant", sa.Text, primary_key=True),
        sa.Column("next", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "open311_requests",
        sa.Column("tenant", sa.Text, primary_key=True),
        sa.Column("num", sa.BigInteger, primary_key=True),
        sa.Column("token", sa.Text, nullable=False, unique=True),
        sa.Column("service_code", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("extended_status", sa.Text, nullable=False),
        sa.Column("status_notes", sa.Text),
        sa.Column("description", sa.Text),
        sa.Column("agency", sa.Text),
        sa.Column("assigned_to", sa.Text),
        sa.Column("service_notice", sa.Text),
        sa.Column("lang", sa.Text, nullable=False),
        sa.Column("requested_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.Column("expected_at", sa.BigInteger),
        sa.Column("closed_at", sa.BigInteger),
        sa.Column("address", sa.Text),
        sa.Column("address_id", sa.Text),
        sa.Column("zipcode", sa.Text),
        sa.Column("lat", Double),
        sa.Column("long", Double),
        sa.Column("pinpointed", sa.Integer, nullable=False, server_default="1"),
        sa.Column("media_urls", sa.Text, nullable=False, server_default="[]"),
        sa.Column("attributes", sa.Text, nullable=False, server_default="{}"),
        sa.Column("extra", sa.Text, nullable=False, server_default="{}"),
        sa.Column("personal", sa.Text, nullable=False, server_default="{}"),
        sa.Column("external_id", sa.Text),
        sa.Column("client", sa.Text),
        sa.Column("duplicate_of", sa.BigInteger),
        sa.Column("entity_id", sa.Text),
    )
    op.create_index("open311_requests_requested", "open311_requests", ["tenant", "requested_at"])
    op.create_index("open311_requests_updated", "open311_requests", ["tenant", "updated_at"])
    op.create_index(
        "open311_requests_service", "open311_requests", ["tenant", "service_code", "status", "lat"]
    )
    op.create_table(
        "open311_events",
        sa.Column("id", Key, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.Text, nullable=False),
        sa.Column("request_num", sa.BigInteger, nullable=False),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("status", sa.Text),
        sa.Column("extended_status", sa.Text),
        sa.Column("text", sa.Text),
        sa.Column("public", sa.Integer, nullable=False),
        sa.Column("detail", sa.Text),
    )
    op.create_index("open311_events_request", "open311_events", ["tenant", "request_num", "at"])
    op.create_table(
        "open311_updates",
        sa.Column("uid", sa.Text, primary_key=True),
        sa.Column("tenant", sa.Text, nullable=False),
        sa.Column("update_id", sa.Text, nullable=False),
        sa.Column("request_num", sa.BigInteger, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.Column("received_at", sa.BigInteger, nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("media_url", sa.Text),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("personal", sa.Text, nullable=False, server_default="{}"),
        sa.UniqueConstraint("tenant", "update_id", name="open311_updates_update_id"),
    )
    op.create_index("open311_updates_at", "open311_updates", ["tenant", "at"])
    op.create_table(
        "open311_supporters",
        sa.Column("tenant", sa.Text, primary_key=True),
        sa.Column("request_num", sa.BigInteger, primary_key=True),
        sa.Column("supporter", sa.Text, primary_key=True),
        sa.Column("at", sa.BigInteger, nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION open311_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$"
        )
        for table in APPEND_ONLY:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION open311_append_only()"
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
        op.execute("DROP FUNCTION open311_append_only()")
    for table in ("open311_supporters", "open311_updates", "open311_events"):
        op.drop_table(table)
    op.drop_table("open311_requests")
    op.drop_table("open311_counters")

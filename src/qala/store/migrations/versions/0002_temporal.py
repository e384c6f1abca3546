"""Temporal history: attribute instances, their series catalogue, entity events, hourly rollups.

Revision ID: 0002_temporal
Revises: 0001
Create Date: 2026-11-25

Layout (see ``qala.temporal.schema`` and docs/temporal.md):

* ``temporal_instances``: one compact row per attribute instance, keyed by a 64-bit *series id*
  (a hash of tenant, entity, attribute and datasetId), the instance's hour ``h`` (``ts`` in
  whole hours since the epoch) and time ``ts``. On SQLite it is a ``WITHOUT ROWID`` table
  clustered on ``(sid, h, ts, iid)``: one B-tree, no secondary index, a series' instances are
  contiguous on disk, and hourly aggregation groups by ``(sid, h)`` in index order without
  sorting. On PostgreSQL it is a heap with a B-tree on ``(sid, h, ts)`` and a BRIN index on
  ``ts`` (rows arrive in time order, so BRIN is tiny and serves retention scans).
* ``temporal_series``: series id -> (tenant, entity, attribute, datasetId); written once per
  new attribute instance, append-only (a series re-created after a deletion appears twice;
  readers use DISTINCT). Clustered by (tenant, entity) on SQLite, indexed so on PostgreSQL.
* ``temporal_entities``: entity events (creation, change of types, deletion), append-only.
* ``temporal_hourly``: hourly aggregates of instances older than the retention horizon.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_temporal"
down_revision = "0001"
branch_labels = ("temporal",)
depends_on = None


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.execute(
            "CREATE TABLE temporal_instances ("
            "sid INTEGER NOT NULL, h INTEGER NOT NULL, ts INTEGER NOT NULL, "
            "iid INTEGER NOT NULL, k INTEGER NOT NULL, num REAL, val TEXT, doc TEXT, "
            "created_at INTEGER NOT NULL, modified_at INTEGER, "
            "PRIMARY KEY (sid, h, ts, iid)) WITHOUT ROWID"
        )
        op.execute(
            "CREATE TABLE temporal_hourly ("
            "sid INTEGER NOT NULL, hour INTEGER NOT NULL, n INTEGER NOT NULL, "
            "nnum INTEGER NOT NULL, sum REAL, sumsq REAL, min REAL, max REAL, "
            "PRIMARY KEY (sid, hour)) WITHOUT ROWID"
        )
    else:
        op.execute(
            "CREATE TABLE temporal_instances ("
            "sid BIGINT NOT NULL, h INTEGER NOT NULL, ts BIGINT NOT NULL, iid BIGINT NOT NULL, "
            "k SMALLINT NOT NULL, num DOUBLE PRECISION, val TEXT, doc TEXT, "
            "created_at BIGINT NOT NULL, modified_at BIGINT) "
            "WITH (autovacuum_vacuum_scale_factor = 0.02)"
        )
        op.execute("CREATE INDEX temporal_instances_sid_h ON temporal_instances (sid, h, ts)")
        op.execute(
            "CREATE INDEX temporal_instances_ts ON temporal_instances USING brin (ts) "
            "WITH (pages_per_range = 32)"
        )
        op.execute(
            "CREATE TABLE temporal_hourly ("
            "sid BIGINT NOT NULL, hour BIGINT NOT NULL, n BIGINT NOT NULL, "
            "nnum BIGINT NOT NULL, sum DOUBLE PRECISION, sumsq DOUBLE PRECISION, "
            "min DOUBLE PRECISION, max DOUBLE PRECISION, PRIMARY KEY (sid, hour))"
        )
    if sqlite:
        # Clustered by entity: an entity's series are written and read together.
        op.execute(
            "CREATE TABLE temporal_series ("
            "tenant_id INTEGER NOT NULL, entity_id TEXT NOT NULL, sid INTEGER NOT NULL, "
            "created_at INTEGER NOT NULL, attr TEXT NOT NULL, dataset_id TEXT, "
            "PRIMARY KEY (tenant_id, entity_id, sid, created_at)) WITHOUT ROWID"
        )
    else:
        op.create_table(
            "temporal_series",
            sa.Column("sid", sa.BigInteger, nullable=False),
            sa.Column("tenant_id", sa.Integer, nullable=False),
            sa.Column("entity_id", sa.Text, nullable=False),
            sa.Column("attr", sa.Text, nullable=False),
            sa.Column("dataset_id", sa.Text),
            sa.Column("created_at", sa.BigInteger, nullable=False),
        )
        op.create_index("temporal_series_entity", "temporal_series", ["tenant_id", "entity_id"])
    op.create_table(
        "temporal_entities",
        sa.Column("tenant_id", sa.Integer, nullable=False),
        sa.Column("entity_id", sa.Text, nullable=False),
        sa.Column("at", sa.BigInteger, nullable=False),
        sa.Column("types", sa.Text),  # JSON array of expanded types; NULL for a deletion
        sa.Column("deleted", sa.SmallInteger, nullable=False, server_default="0"),
    )
    op.create_index(
        "temporal_entities_entity", "temporal_entities", ["tenant_id", "entity_id", "at"]
    )


def downgrade() -> None:
    op.drop_table("temporal_entities")
    op.drop_table("temporal_series")
    op.drop_table("temporal_hourly")
    op.drop_table("temporal_instances")

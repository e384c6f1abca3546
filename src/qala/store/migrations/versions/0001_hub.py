"""The city data hub: tenants, entities, their types and geometry index, JSON-LD contexts.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Key = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.create_table(
        "tenants",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.Text, nullable=False, unique=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("settings", sa.Text, nullable=False, server_default="{}"),
    )
    op.create_table(
        "entities",
        sa.Column("pk", Key, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.Integer, nullable=False),
        sa.Column("entity_id", sa.Text, nullable=False),
        sa.Column("types", sa.Text, nullable=False),
        sa.Column("scope", sa.Text),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("modified_at", sa.BigInteger, nullable=False),
        sa.Column("owner", sa.Text),
        sa.Column("data", sa.Text().with_variant(JSONB(), "postgresql"), nullable=False),
        sa.UniqueConstraint("tenant_id", "entity_id", name="entities_tenant_entity"),
    )
    op.create_index("entities_tenant", "entities", ["tenant_id", "pk"])
    op.create_table(
        "entity_types",
        sa.Column("tenant_id", sa.Integer, nullable=False),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("entity_pk", Key, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "type", "entity_pk", name="entity_types_pk"),
    )
    op.create_index("entity_types_entity", "entity_types", ["entity_pk"])
    op.create_table(
        "entity_geo",
        sa.Column("id", Key, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.Integer, nullable=False),
        sa.Column("entity_pk", Key, nullable=False),
        sa.Column("attr", sa.Text, nullable=False),
        sa.Column("minx", sa.Double, nullable=False),
        sa.Column("miny", sa.Double, nullable=False),
        sa.Column("maxx", sa.Double, nullable=False),
        sa.Column("maxy", sa.Double, nullable=False),
    )
    op.create_index("entity_geo_entity", "entity_geo", ["entity_pk"])
    if sqlite:
        op.execute("CREATE VIRTUAL TABLE entity_geo_rtree USING rtree(id, minx, maxx, miny, maxy)")
        op.execute(
            "CREATE TRIGGER entity_geo_ins AFTER INSERT ON entity_geo BEGIN "
            "INSERT INTO entity_geo_rtree(id, minx, maxx, miny, maxy) "
            "VALUES (new.id, new.minx, new.maxx, new.miny, new.maxy); END"
        )
        op.execute(
            "CREATE TRIGGER entity_geo_del AFTER DELETE ON entity_geo BEGIN "
            "DELETE FROM entity_geo_rtree WHERE id = old.id; END"
        )
    else:
        op.execute(
            "CREATE INDEX entity_geo_box ON entity_geo USING gist "
            "(box(point(minx, miny), point(maxx, maxy)))"
        )
    op.create_table(
        "jsonld_contexts",
        sa.Column("local_id", sa.Text, primary_key=True),
        sa.Column("url", sa.Text, nullable=False, unique=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("last_usage", sa.BigInteger),
        sa.Column("hits", sa.BigInteger, nullable=False, server_default="0"),
    )


def downgrade() -> None:
    op.drop_table("jsonld_contexts")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE entity_geo_rtree")
    op.drop_table("entity_geo")
    op.drop_table("entity_types")
    op.drop_table("entities")
    op.drop_table("tenants")

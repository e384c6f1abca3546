"""The hub's tables, described once with SQLAlchemy Core.

Migrations (``qala/store/migrations``) create them; this module is the reference the store's SQL
is written against. Times are microseconds since the epoch (UTC) in BIGINT columns on both
backends, so range scans and partitioning work the same everywhere.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Double,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

JSONDoc = Text().with_variant(JSONB(), "postgresql")
Key = BigInteger().with_variant(Integer(), "sqlite")

tenants = Table(
    "tenants",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False, unique=True),
    Column("created_at", BigInteger, nullable=False),
    Column("settings", Text, nullable=False, server_default="{}"),
)

entities = Table(
    "entities",
    metadata,
    Column("pk", Key, primary_key=True, autoincrement=True),
    Column("tenant_id", Integer, nullable=False),
    Column("entity_id", Text, nullable=False),
    Column("types", Text, nullable=False),  # JSON array of expanded type IRIs
    Column("scope", Text),  # JSON array of scopes, or NULL
    Column("created_at", BigInteger, nullable=False),
    Column("modified_at", BigInteger, nullable=False),
    Column("owner", Text),
    Column("data", JSONDoc, nullable=False),  # the attributes (see qala.hub.model)
    UniqueConstraint("tenant_id", "entity_id", name="entities_tenant_entity"),
)
Index("entities_tenant", entities.c.tenant_id, entities.c.pk)

# One row per (entity, type): type queries scan this index in entity order and stop early.
entity_types = Table(
    "entity_types",
    metadata,
    Column("tenant_id", Integer, nullable=False),
    Column("type", Text, nullable=False),
    Column("entity_pk", Key, nullable=False),
    PrimaryKeyConstraint("tenant_id", "type", "entity_pk", name="entity_types_pk"),
)
Index("entity_types_entity", entity_types.c.entity_pk)

# One row per GeoProperty instance: its bounding box, for the spatial prefilter. SQLite mirrors
# it into an R*Tree (``entity_geo_rtree``, kept by triggers); PostgreSQL indexes the box with GiST.
entity_geo = Table(
    "entity_geo",
    metadata,
    Column("id", Key, primary_key=True, autoincrement=True),
    Column("tenant_id", Integer, nullable=False),
    Column("entity_pk", Key, nullable=False),
    Column("attr", Text, nullable=False),
    Column("minx", Double, nullable=False),
    Column("miny", Double, nullable=False),
    Column("maxx", Double, nullable=False),
    Column("maxy", Double, nullable=False),
)
Index("entity_geo_entity", entity_geo.c.entity_pk)

jsonld_contexts = Table(
    "jsonld_contexts",
    metadata,
    Column("local_id", Text, primary_key=True),
    Column("url", Text, nullable=False, unique=True),
    Column("kind", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("last_usage", BigInteger),
    Column("hits", BigInteger, nullable=False, server_default="0"),
)

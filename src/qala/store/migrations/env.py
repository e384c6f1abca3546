"""Alembic environment: migrations run on a connection handed in by ``qala.store.migrate``."""

from __future__ import annotations

from alembic import context

from qala.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - always called through qala.store.migrate
    raise RuntimeError("run migrations with `qala db upgrade` or by starting the server")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()

"""The NGSI-LD API (``/ngsi-ld/v1``): entities, purge, batch operations, discovery, @contexts."""

from __future__ import annotations

from qala.capabilities import Capability
from qala.ngsild.routes import batch, contexts, discovery, entities, purge

PREFIX = "/ngsi-ld/v1"


def capability() -> Capability:
    return Capability(
        name="ngsi-ld",
        routers=[
            (entities.missing_id_router, PREFIX),  # before: it matches URLs without an id
            (entities.router, PREFIX),
            (purge.router, PREFIX),
            (batch.router, PREFIX),
            (discovery.router, PREFIX),
            (contexts.router, PREFIX),
        ],
    )

"""The NGSI-LD temporal API (``/temporal/entities`` and ``/temporal/entityOperations/query``).

:mod:`~qala.temporal.routes.reads` answers the queries, :mod:`~qala.temporal.routes.writes`
adds, corrects and deletes history. ``ROUTERS`` lists them in the order they are mounted: the
routes that only explain a URL with an empty entity id or attribute name first (they must match
before the others), then the reads, then the writes.
"""

from fastapi import APIRouter

from qala.temporal.routes import reads, writes

ROUTERS: tuple[APIRouter, ...] = (writes.missing_segment_router, reads.router, writes.router)

__all__ = ["ROUTERS", "reads", "writes"]

"""Administration as a capability: the tenants (cities) and their settings, ``/qala/v1/tenants``
(the routes are in ``admin.routes``)."""

from __future__ import annotations

from qala.admin import routes
from qala.capabilities import Capability

PREFIX = "/qala/v1"


def capability() -> Capability:
    return Capability(name="admin", routers=[(routes.router, PREFIX)])

"""The context source capability: ``/ngsi-ld/v1/csourceRegistrations`` and
``/ngsi-ld/v1/csourceSubscriptions``."""

from __future__ import annotations

from qala.capabilities import Capability
from qala.csources.routes import router

PREFIX = "/ngsi-ld/v1"


def capability() -> Capability:
    return Capability(name="csources", routers=[(router, PREFIX)])
